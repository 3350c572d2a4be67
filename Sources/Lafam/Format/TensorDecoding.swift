import CONNXProto
import Foundation

/// Converts the stored element type of a TensorProto to lafam's compute types: floating types
/// (float32, float64, float16, bfloat16) become float32, integer types become int64, bool stays bool.
struct ElementDecoder {
    enum Target { case float, int64, bool }
    let code: Int
    let width: Int
    let target: Target
    let tensor: String

    init(code: Int, tensor: String) throws {
        self.code = code
        self.tensor = tensor
        switch code {
        case 1: (width, target) = (4, .float)
        case 11: (width, target) = (8, .float)
        case 10, 16: (width, target) = (2, .float)
        case 7, 13: (width, target) = (8, .int64)
        case 6, 12: (width, target) = (4, .int64)
        case 5, 4: (width, target) = (2, .int64)
        case 3, 2: (width, target) = (1, .int64)
        case 9: (width, target) = (1, .bool)
        default:
            throw LafamError.unsupported("tensor '\(tensor)' has element type \(onnxTypeName(code)) (lafam computes in float32, int64 and bool)")
        }
    }

    /// Decodes little-endian fixed-width elements (`raw_data` or an external file's bytes).
    func decode(raw: UnsafeRawBufferPointer, shape: [Int], count: Int) throws -> Tensor {
        guard raw.count == count * width else {
            throw LafamError.invalidTensor(name: tensor, reason: "holds \(raw.count) bytes, but shape \(shape) of \(onnxTypeName(code)) needs \(count * width)")
        }
        switch target {
        case .float:
            var out = [Float](repeating: 0, count: count)
            switch code {
            case 1:
                out.withUnsafeMutableBytes { dst in dst.copyMemory(from: raw) }
            case 11:
                for i in 0..<count { out[i] = Float(Double(bitPattern: raw.loadUnaligned(fromByteOffset: i * 8, as: UInt64.self))) }
            default:
                for i in 0..<count { out[i] = half(raw.loadUnaligned(fromByteOffset: i * 2, as: UInt16.self)) }
            }
            return Tensor(shape: shape, floats: out)
        case .int64:
            var out = [Int64](repeating: 0, count: count)
            for i in 0..<count {
                let o = i * width
                switch code {
                case 7: out[i] = raw.loadUnaligned(fromByteOffset: o, as: Int64.self)
                case 13: out[i] = Int64(bitPattern: raw.loadUnaligned(fromByteOffset: o, as: UInt64.self))
                case 6: out[i] = Int64(raw.loadUnaligned(fromByteOffset: o, as: Int32.self))
                case 12: out[i] = Int64(raw.loadUnaligned(fromByteOffset: o, as: UInt32.self))
                case 5: out[i] = Int64(raw.loadUnaligned(fromByteOffset: o, as: Int16.self))
                case 4: out[i] = Int64(raw.loadUnaligned(fromByteOffset: o, as: UInt16.self))
                case 3: out[i] = Int64(Int8(bitPattern: raw[o]))
                default: out[i] = Int64(raw[o])
                }
            }
            return Tensor(shape: shape, int64s: out)
        case .bool:
            return Tensor(shape: shape, bools: raw.map { $0 != 0 })
        }
    }

    /// Decodes the typed repeated fields (`float_data`, `int32_data`, `int64_data`, …).
    func decodeTyped(_ t: Onnx__TensorProto, shape: [Int], count: Int) throws -> Tensor {
        func checked<T>(_ p: UnsafeMutablePointer<T>?, _ n: Int, _ field: String) throws -> UnsafeBufferPointer<T> {
            guard n == count else {
                throw LafamError.invalidTensor(name: tensor, reason: "\(field) has \(n) elements, shape \(shape) needs \(count)")
            }
            return UnsafeBufferPointer(start: p, count: n)
        }
        switch code {
        case 1: return Tensor(shape: shape, floats: Array(try checked(t.float_data, t.n_float_data, "float_data")))
        case 11: return Tensor(shape: shape, floats: try checked(t.double_data, t.n_double_data, "double_data").map { Float($0) })
        case 10, 16:
            return Tensor(shape: shape, floats: try checked(t.int32_data, t.n_int32_data, "int32_data").map { half(UInt16(truncatingIfNeeded: $0)) })
        case 7: return Tensor(shape: shape, int64s: Array(try checked(t.int64_data, t.n_int64_data, "int64_data")))
        case 12, 13: return Tensor(shape: shape, int64s: try checked(t.uint64_data, t.n_uint64_data, "uint64_data").map { Int64(bitPattern: $0) })
        case 9: return Tensor(shape: shape, bools: try checked(t.int32_data, t.n_int32_data, "int32_data").map { $0 != 0 })
        default: return Tensor(shape: shape, int64s: try checked(t.int32_data, t.n_int32_data, "int32_data").map { Int64($0) })
        }
    }

    /// IEEE half (code 10) or bfloat16 (code 16) bits to Float.
    private func half(_ bits: UInt16) -> Float {
        if code == 16 { return Float(bitPattern: UInt32(bits) << 16) }
        let sign = UInt32(bits & 0x8000) << 16
        let exponent = Int((bits >> 10) & 0x1F)
        let mantissa = UInt32(bits & 0x3FF)
        if exponent == 0 {
            let magnitude = Float(mantissa) * Float(sign: .plus, exponent: -24, significand: 1)
            return sign != 0 ? -magnitude : magnitude
        }
        if exponent == 31 { return Float(bitPattern: sign | 0x7F80_0000 | (mantissa << 13)) }
        return Float(bitPattern: sign | UInt32(exponent + 112) << 23 | (mantissa << 13))
    }
}

/// External tensor data: side files next to the model, each mapped once and shared by every
/// tensor stored in it.
final class ExternalData {
    let baseDirectory: String
    private var files: [String: Data] = [:]

    init(baseDirectory: String) { self.baseDirectory = baseDirectory }

    /// Calls `body` with the bytes that `entries` (location, offset, length) designate.
    func withBytes<T>(for entries: [String: String], tensor: String, _ body: (UnsafeRawBufferPointer) throws -> T) throws -> T {
        guard let location = entries["location"], !location.isEmpty else {
            throw LafamError.invalidTensor(name: tensor, reason: "external data without a 'location'")
        }
        if location.hasPrefix("/") || location.hasPrefix("\\") {
            throw LafamError.invalidTensor(name: tensor, reason: "external data location '\(location)' is an absolute path; only paths inside the model's folder are allowed")
        }
        let components = location.split(whereSeparator: { $0 == "/" || $0 == "\\" })
        if components.contains("..") {
            throw LafamError.invalidTensor(name: tensor, reason: "external data location '\(location)' leaves the model's folder ('..' is not allowed)")
        }
        let data = try file(location, tensor: tensor)
        let offset = try number(entries["offset"], default: 0, key: "offset", tensor: tensor)
        let length = try number(entries["length"], default: data.count - min(offset, data.count), key: "length", tensor: tensor)
        guard offset <= data.count, length <= data.count - offset else {
            throw LafamError.invalidTensor(name: tensor, reason: "external data range \(offset)+\(length) lies beyond the end of '\(location)' (\(data.count) bytes)")
        }
        return try data.withUnsafeBytes { try body(UnsafeRawBufferPointer(rebasing: $0[offset..<(offset + length)])) }
    }

    private func file(_ location: String, tensor: String) throws -> Data {
        if let d = files[location] { return d }
        let path = (baseDirectory as NSString).appendingPathComponent(location)
        guard let d = try? Data(contentsOf: URL(fileURLWithPath: path), options: .alwaysMapped) else {
            throw LafamError.invalidTensor(name: tensor, reason: "external data file '\(path)' cannot be read; keep it beside the model")
        }
        files[location] = d
        return d
    }

    private func number(_ s: String?, default value: Int, key: String, tensor: String) throws -> Int {
        guard let s else { return value }
        guard let v = Int(s), v >= 0 else {
            throw LafamError.invalidTensor(name: tensor, reason: "external data \(key) '\(s)' is not a non-negative integer")
        }
        return v
    }
}
