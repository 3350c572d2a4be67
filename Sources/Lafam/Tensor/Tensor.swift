/// Element types the interpreter computes with: float32 for activations and weights,
/// int64 and bool for shape arithmetic and masks.
public enum DType: String, Sendable, CustomStringConvertible {
    case float32, int64, bool

    public var description: String { rawValue }

    /// The ONNX `TensorProto.DataType` code of this type.
    public var onnxCode: Int {
        switch self {
        case .float32: return 1
        case .int64: return 7
        case .bool: return 9
        }
    }
}

/// A dense, row-major (C order) tensor. Elements live in one contiguous Swift array, so kernels
/// work on `UnsafeBufferPointer`s without per-element boxing; copies are copy-on-write.
public struct Tensor: Sendable {
    public enum Storage: Sendable {
        case float([Float])
        case int64([Int64])
        case bool([Bool])
    }

    public var shape: [Int]
    public var storage: Storage

    public init(shape: [Int], storage: Storage) {
        self.shape = shape
        self.storage = storage
        precondition(Self.count(of: shape) == storageCount, "tensor shape \(shape) does not match its \(storageCount) elements")
    }

    public init(shape: [Int], floats: [Float]) { self.init(shape: shape, storage: .float(floats)) }
    public init(shape: [Int], int64s: [Int64]) { self.init(shape: shape, storage: .int64(int64s)) }
    public init(shape: [Int], bools: [Bool]) { self.init(shape: shape, storage: .bool(bools)) }

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

    public var dtype: DType {
        switch storage {
        case .float: return .float32
        case .int64: return .int64
        case .bool: return .bool
        }
    }

    private var storageCount: Int {
        switch storage {
        case .float(let a): return a.count
        case .int64(let a): return a.count
        case .bool(let a): return a.count
        }
    }

    /// The float32 elements. Kernels call this only after type checking, so a mismatch is a bug.
    public var floats: [Float] {
        if case .float(let a) = storage { return a }
        preconditionFailure("expected a float32 tensor, found \(dtype)")
    }

    public var int64s: [Int64] {
        if case .int64(let a) = storage { return a }
        preconditionFailure("expected an int64 tensor, found \(dtype)")
    }

    public var bools: [Bool] {
        if case .bool(let a) = storage { return a }
        preconditionFailure("expected a bool tensor, found \(dtype)")
    }

    /// The elements converted to Int, for shape-like inputs (axes, pads, indices) of any integer type.
    public var asInts: [Int] {
        switch storage {
        case .int64(let a): return a.map { Int($0) }
        case .float(let a): return a.map { Int($0) }
        case .bool(let a): return a.map { $0 ? 1 : 0 }
        }
    }

    /// The same elements viewed with another shape of equal element count.
    public func reshaped(_ newShape: [Int]) -> Tensor {
        Tensor(shape: newShape, storage: storage)
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
