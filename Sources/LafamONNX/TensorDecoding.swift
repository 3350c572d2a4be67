import CONNXProto
import Foundation
import LafamTensor

/// Decodes the elements of a TensorProto into lafam's storage for its element type
/// (`DType`): floats of every width, integers of every width (uint64 as bit patterns), bool
/// and string.
struct ElementDecoder {
    let dtype: DType
    let tensor: String

    init(code: Int, tensor: String) throws {
        guard let t = DType(onnxCode: code) else {
            throw LafamError.unsupported("tensor '\(tensor)' has element type \(onnxTypeName(code)), which lafam does not hold")
        }
        dtype = t
        self.tensor = tensor
    }

    /// Bytes per element in `raw_data` (strings are never stored raw).
    private var width: Int {
        switch dtype {
        case .int8, .uint8, .bool: return 1
        case .int16, .uint16, .float16, .bfloat16: return 2
        case .int32, .uint32, .float32: return 4
        default: return 8
        }
    }

    /// Decodes little-endian fixed-width elements (`raw_data` or an external file's bytes).
    func decode(raw: UnsafeRawBufferPointer, shape: [Int], count: Int) throws -> Tensor {
        guard dtype != .string else {
            throw LafamError.invalidTensor(name: tensor, reason: "string elements must be in string_data, not raw or external bytes")
        }
        let needed = try Sizes.bytes(count: count, width: width)
        guard raw.count == needed else {
            throw LafamError.invalidTensor(name: tensor, reason: "holds \(raw.count) bytes, but shape \(shape) of \(dtype) needs \(needed)")
        }
        func load<T>(_: T.Type) -> [T] { (0..<count).map { raw.loadUnaligned(fromByteOffset: $0 * width, as: T.self) } }
        let storage: Tensor.Storage
        switch dtype {
        case .float32:
            var out = [Float](repeating: 0, count: count)
            out.withUnsafeMutableBytes { dst in dst.copyMemory(from: raw) }
            storage = .float(out)
        case .float64: storage = .double(load(Double.self))
        case .float16: storage = .float(load(Float16.self).map { Float($0) })
        case .bfloat16: storage = .float(load(UInt16.self).map(Self.bfloat16))
        case .int64: storage = .int64(load(Int64.self))
        case .uint64: storage = .int64(load(UInt64.self).map { Int64(bitPattern: $0) })
        case .int32: storage = .int64(load(Int32.self).map { Int64($0) })
        case .uint32: storage = .int64(load(UInt32.self).map { Int64($0) })
        case .int16: storage = .int64(load(Int16.self).map { Int64($0) })
        case .uint16: storage = .int64(load(UInt16.self).map { Int64($0) })
        case .int8: storage = .int64(load(Int8.self).map { Int64($0) })
        case .uint8: storage = .int64(load(UInt8.self).map { Int64($0) })
        case .bool: storage = .bool(raw.map { $0 != 0 })
        case .string: preconditionFailure("handled above")
        }
        return Tensor(uncheckedShape: shape, storage: storage, dtype: dtype)
    }

    /// Decodes the typed repeated fields (`float_data`, `int32_data`, `int64_data`, …); types
    /// narrower than 32 bits (and float16/bfloat16 bit patterns) live in `int32_data`.
    func decodeTyped(_ t: Onnx__TensorProto, shape: [Int], count: Int) throws -> Tensor {
        func checked<T>(_ p: UnsafeMutablePointer<T>?, _ n: Int, _ field: String) throws -> UnsafeBufferPointer<T> {
            guard n == count else {
                throw LafamError.invalidTensor(name: tensor, reason: "\(field) has \(n) elements, shape \(shape) needs \(count)")
            }
            return UnsafeBufferPointer(start: p, count: n)
        }
        let storage: Tensor.Storage
        switch dtype {
        case .float32: storage = .float(Array(try checked(t.float_data, t.n_float_data, "float_data")))
        case .float64: storage = .double(Array(try checked(t.double_data, t.n_double_data, "double_data")))
        case .float16:
            storage = .float(try checked(t.int32_data, t.n_int32_data, "int32_data").map { Float(Float16(bitPattern: UInt16(truncatingIfNeeded: $0))) })
        case .bfloat16: storage = .float(try checked(t.int32_data, t.n_int32_data, "int32_data").map { Self.bfloat16(UInt16(truncatingIfNeeded: $0)) })
        case .int64: storage = .int64(Array(try checked(t.int64_data, t.n_int64_data, "int64_data")))
        case .uint32, .uint64: storage = .int64(try checked(t.uint64_data, t.n_uint64_data, "uint64_data").map { Int64(bitPattern: $0) })
        case .bool: storage = .bool(try checked(t.int32_data, t.n_int32_data, "int32_data").map { $0 != 0 })
        case .string:
            storage = .string(try checked(t.string_data, t.n_string_data, "string_data").map {
                String(decoding: UnsafeBufferPointer(start: $0.data, count: $0.len), as: UTF8.self)
            })
        default: storage = .int64(try checked(t.int32_data, t.n_int32_data, "int32_data").map { Int64($0) })
        }
        // int32_data holds narrow integers as int32 values; conforming wraps any stray high bits.
        return Tensor(uncheckedShape: shape, storage: storage).conformed(to: dtype)
    }

    private static func bfloat16(_ bits: UInt16) -> Float { Float(bitPattern: UInt32(bits) << 16) }
}
