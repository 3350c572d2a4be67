/// ONNX tensor element types. Kernels compute in four storage classes (`Tensor.Storage`):
/// float32, float16 and bfloat16 in `Float`; float64 in `Double`; every integer type in `Int64`
/// (uint64 as its bit pattern); bool and string as themselves. A narrow type's values are
/// rounded or wrapped to it after every op (`Tensor.conformed(to:)`), so results are those of
/// computing in the type itself.
public enum DType: String, Sendable, CaseIterable, CustomStringConvertible {
    case float32, float64, float16, bfloat16
    case int8, int16, int32, int64, uint8, uint16, uint32, uint64
    case bool, string

    public var description: String { rawValue }

    /// The ONNX `TensorProto.DataType` code of this type.
    public var onnxCode: Int {
        switch self {
        case .float32: return 1
        case .uint8: return 2
        case .int8: return 3
        case .uint16: return 4
        case .int16: return 5
        case .int32: return 6
        case .int64: return 7
        case .string: return 8
        case .bool: return 9
        case .float16: return 10
        case .float64: return 11
        case .uint32: return 12
        case .uint64: return 13
        case .bfloat16: return 16
        }
    }

    /// The type of an ONNX `TensorProto.DataType` code, or nil for types lafam does not hold
    /// (complex numbers, 8-bit and 4-bit floats).
    public init?(onnxCode code: Int) {
        guard let t = DType.allCases.first(where: { $0.onnxCode == code }) else { return nil }
        self = t
    }

    public enum StorageClass: Sendable { case float, double, int64, bool, string }

    public var storageClass: StorageClass {
        switch self {
        case .float32, .float16, .bfloat16: return .float
        case .float64: return .double
        case .bool: return .bool
        case .string: return .string
        default: return .int64
        }
    }

    public var isFloatingPoint: Bool { storageClass == .float || storageClass == .double }
    public var isInteger: Bool { storageClass == .int64 }
    public var isUnsigned: Bool { [.uint8, .uint16, .uint32, .uint64].contains(self) }

    public static let floatingPoint: Set<DType> = [.float32, .float64, .float16, .bfloat16]
    public static let integers: Set<DType> = [.int8, .int16, .int32, .int64, .uint8, .uint16, .uint32, .uint64]
    public static let numeric: Set<DType> = floatingPoint.union(integers)
    /// Types ONNX allows for index-like inputs (axes, pads, indices, starts/ends).
    public static let indices: Set<DType> = [.int32, .int64]
}

/// A dense, row-major (C order) tensor. Elements live in one contiguous Swift array, so kernels
/// work on `UnsafeBufferPointer`s without per-element boxing; copies are copy-on-write.
public struct Tensor: Sendable {
    public enum Storage: Sendable {
        case float([Float])
        case double([Double])
        case int64([Int64])
        case bool([Bool])
        case string([String])

        package var storageClass: DType.StorageClass {
            switch self {
            case .float: return .float
            case .double: return .double
            case .int64: return .int64
            case .bool: return .bool
            case .string: return .string
            }
        }

        /// The element type a kernel's result in this storage has unless it says otherwise.
        package var naturalType: DType {
            switch self {
            case .float: return .float32
            case .double: return .float64
            case .int64: return .int64
            case .bool: return .bool
            case .string: return .string
            }
        }

        package var count: Int {
            switch self {
            case .float(let a): return a.count
            case .double(let a): return a.count
            case .int64(let a): return a.count
            case .bool(let a): return a.count
            case .string(let a): return a.count
            }
        }
    }

    public var shape: [Int]
    public private(set) var storage: Storage
    public private(set) var dtype: DType

    /// A tensor of `dtype` (by default the storage's natural type: float32, float64, int64, bool
    /// or string). The elements must already be values of `dtype`; `conformed(to:)` makes them so.
    public init(shape: [Int], storage: Storage, dtype: DType? = nil) {
        self.shape = shape
        self.storage = storage
        self.dtype = dtype ?? storage.naturalType
        precondition(Self.count(of: shape) == storage.count, "tensor shape \(shape) does not match its \(storage.count) elements")
        precondition(self.dtype.storageClass == storage.storageClass, "\(self.dtype) elements cannot live in \(storage.naturalType) storage")
    }

    public init(shape: [Int], floats: [Float]) { self.init(shape: shape, storage: .float(floats)) }
    public init(shape: [Int], doubles: [Double]) { self.init(shape: shape, storage: .double(doubles)) }
    public init(shape: [Int], int64s: [Int64]) { self.init(shape: shape, storage: .int64(int64s)) }
    public init(shape: [Int], bools: [Bool]) { self.init(shape: shape, storage: .bool(bools)) }
    public init(shape: [Int], strings: [String]) { self.init(shape: shape, storage: .string(strings)) }

    /// A tensor of `shape` filled with `value`.
    public init(shape: [Int], repeating value: Float) {
        self.init(shape: shape, floats: [Float](repeating: value, count: Self.count(of: shape)))
    }

    public static func scalar(_ v: Float) -> Tensor { Tensor(shape: [], floats: [v]) }
    public static func scalar(_ v: Int64) -> Tensor { Tensor(shape: [], int64s: [v]) }

    /// Number of elements of a shape (1 for a scalar).
    public static func count(of shape: [Int]) -> Int { shape.reduce(1, *) }

    public var count: Int { Self.count(of: shape) }
    public var rank: Int { shape.count }

    /// The float32 elements. Kernels call this only after type checking, so a mismatch is a bug.
    public var floats: [Float] {
        if case .float(let a) = storage { return a }
        preconditionFailure("expected a float tensor, found \(dtype)")
    }

    public var doubles: [Double] {
        if case .double(let a) = storage { return a }
        preconditionFailure("expected a float64 tensor, found \(dtype)")
    }

    /// The elements of an integer tensor of any width (uint64 as bit patterns).
    public var int64s: [Int64] {
        if case .int64(let a) = storage { return a }
        preconditionFailure("expected an integer tensor, found \(dtype)")
    }

    public var bools: [Bool] {
        if case .bool(let a) = storage { return a }
        preconditionFailure("expected a bool tensor, found \(dtype)")
    }

    public var strings: [String] {
        if case .string(let a) = storage { return a }
        preconditionFailure("expected a string tensor, found \(dtype)")
    }

    /// The elements converted to Int, for shape-like inputs (axes, pads, indices) of any numeric type.
    public var asInts: [Int] {
        switch storage {
        case .int64(let a): return a.map { Int($0) }
        case .float(let a): return a.map { Int($0) }
        case .double(let a): return a.map { Int($0) }
        case .bool(let a): return a.map { $0 ? 1 : 0 }
        case .string: preconditionFailure("string tensors have no numeric values")
        }
    }

    /// The elements as Double (uint64 read unsigned), for scalars that kernels read from inputs.
    public var asDoubles: [Double] {
        switch storage {
        case .float(let a): return a.map(Double.init)
        case .double(let a): return a
        case .int64(let a): return dtype == .uint64 ? a.map { Double(UInt64(bitPattern: $0)) } : a.map(Double.init)
        case .bool(let a): return a.map { $0 ? 1 : 0 }
        case .string: preconditionFailure("string tensors have no numeric values")
        }
    }

    /// The same elements viewed with another shape of equal element count.
    public func reshaped(_ newShape: [Int]) -> Tensor {
        Tensor(shape: newShape, storage: storage, dtype: dtype)
    }

    /// The same elements as `target`, which must share this tensor's storage class: integers
    /// wrap to the target's width (two's complement, as C and numpy do), floats round to nearest
    /// even float16 or bfloat16. A kernel computes a narrow type in its storage class and the
    /// executor conforms the result, so each op's output is exactly a value of its type.
    public func conformed(to target: DType) -> Tensor {
        if target == dtype { return self }
        precondition(target.storageClass == storage.storageClass, "cannot conform \(dtype) elements to \(target)")
        switch storage {
        case .int64(let a):
            let wrap: ((Int64) -> Int64)?
            switch target {
            case .int8: wrap = { Int64(Int8(truncatingIfNeeded: $0)) }
            case .int16: wrap = { Int64(Int16(truncatingIfNeeded: $0)) }
            case .int32: wrap = { Int64(Int32(truncatingIfNeeded: $0)) }
            case .uint8: wrap = { Int64(UInt8(truncatingIfNeeded: $0)) }
            case .uint16: wrap = { Int64(UInt16(truncatingIfNeeded: $0)) }
            case .uint32: wrap = { Int64(UInt32(truncatingIfNeeded: $0)) }
            default: wrap = nil
            }
            return Tensor(shape: shape, storage: .int64(wrap.map { a.map($0) } ?? a), dtype: target)
        case .float(let a):
            switch target {
            case .float16: return Tensor(shape: shape, storage: .float(a.map { Float(Float16($0)) }), dtype: target)
            case .bfloat16: return Tensor(shape: shape, storage: .float(a.map(roundedToBFloat16)), dtype: target)
            default: return Tensor(shape: shape, storage: storage, dtype: target)
            }
        default:
            return Tensor(shape: shape, storage: storage, dtype: target)
        }
    }

    /// Row-major strides of a shape, in elements.
    public static func strides(of shape: [Int]) -> [Int] {
        var strides = [Int](repeating: 1, count: shape.count)
        var acc = 1
        for i in stride(from: shape.count - 1, through: 0, by: -1) {
            strides[i] = acc
            acc *= shape[i]
        }
        return strides
    }
}

/// `v` rounded to the nearest bfloat16 (ties to even; NaN stays NaN).
package func roundedToBFloat16(_ v: Float) -> Float {
    if v.isNaN { return v }
    let bits = v.bitPattern
    let rounded = bits &+ 0x7FFF &+ ((bits >> 16) & 1)
    return Float(bitPattern: rounded & 0xFFFF_0000)
}
