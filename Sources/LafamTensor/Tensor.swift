/// ONNX tensor element types. Kernels compute in four storage classes (`Tensor.Storage`):
/// float32, float16 and bfloat16 in `Float`; float64 in `Double`; every integer type in `Int64`
/// (uint64 as its bit pattern); bool and string as themselves. A narrow type's values are
/// rounded or wrapped to it after every op (`Tensor.conformed(to:)`), so results are those of
/// computing in the type itself.
public enum DType: String, Sendable, CaseIterable, CustomStringConvertible {
    /// Floating-point types: IEEE single, double and half precision, and bfloat16.
    case float32, float64, float16, bfloat16
    /// Signed and unsigned integers of 8 to 64 bits.
    case int8, int16, int32, int64, uint8, uint16, uint32, uint64
    /// Booleans and strings.
    case bool, string

    /// The type's ONNX-style name, such as `float32` or `uint8` (its raw value).
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

    /// The Swift element type a `DType` is held and computed in: `Float`, `Double`, `Int64`,
    /// `Bool` or `String`.
    public enum StorageClass: Sendable { case float, double, int64, bool, string }

    /// The storage class this type's elements are held in.
    public var storageClass: StorageClass {
        switch self {
        case .float32, .float16, .bfloat16: return .float
        case .float64: return .double
        case .bool: return .bool
        case .string: return .string
        default: return .int64
        }
    }

    /// Bytes one element takes in lafam's storage (integers are held as Int64, float16 and
    /// bfloat16 as Float; a string counts as its 16-byte reference).
    public var storageWidth: Int {
        switch storageClass {
        case .float: return 4
        case .double, .int64: return 8
        case .bool: return 1
        case .string: return 16
        }
    }

    /// Whether this is float32, float64, float16 or bfloat16.
    public var isFloatingPoint: Bool { storageClass == .float || storageClass == .double }
    /// Whether this is a signed or unsigned integer type (bool is not).
    public var isInteger: Bool { storageClass == .int64 }
    /// Whether this is uint8, uint16, uint32 or uint64.
    public var isUnsigned: Bool { [.uint8, .uint16, .uint32, .uint64].contains(self) }

    /// The four floating-point types.
    public static let floatingPoint: Set<DType> = [.float32, .float64, .float16, .bfloat16]
    /// The eight integer types, signed and unsigned.
    public static let integers: Set<DType> = [.int8, .int16, .int32, .int64, .uint8, .uint16, .uint32, .uint64]
    /// Every floating-point and integer type (all but bool and string).
    public static let numeric: Set<DType> = floatingPoint.union(integers)
    /// Types ONNX allows for index-like inputs (axes, pads, indices, starts/ends).
    public static let indices: Set<DType> = [.int32, .int64]
}

/// A dense, row-major (C order) tensor. Elements live in one contiguous Swift array, so kernels
/// work on `UnsafeBufferPointer`s without per-element boxing; copies are copy-on-write.
public struct Tensor: Sendable {
    /// A tensor's elements, row-major, in one array of their storage class's Swift type.
    public enum Storage: Sendable {
        /// float32, float16 or bfloat16 elements.
        case float([Float])
        /// float64 elements.
        case double([Double])
        /// Elements of any integer type (uint64 as its bit pattern).
        case int64([Int64])
        /// bool elements.
        case bool([Bool])
        /// string elements.
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

    /// The size of each axis, outermost first; empty for a scalar.
    public private(set) var shape: [Int]
    /// The elements in row-major order.
    public private(set) var storage: Storage
    /// The element type; it always belongs to `storage`'s storage class.
    public private(set) var dtype: DType

    /// A tensor of `dtype` (by default the storage's natural type: float32, float64, int64, bool
    /// or string) holding `storage`'s elements, which must already be values of `dtype`. Throws
    /// when the shape is invalid or does not match the element count, or when `dtype` does not
    /// live in this storage (float16 and bfloat16 in `.float`, every integer type in `.int64`).
    public init(shape: [Int], storage: Storage, dtype: DType? = nil) throws {
        let type = dtype ?? storage.naturalType
        let count = try Sizes.elementCount(shape)
        guard count == storage.count else {
            throw TensorError("shape \(shape) holds \(count) elements, but \(storage.count) were given")
        }
        guard type.storageClass == storage.storageClass else {
            throw TensorError("\(type) elements cannot be held in \(storage.naturalType) storage")
        }
        self.init(uncheckedShape: shape, storage: storage, dtype: type)
    }

    /// A float32 tensor of `shape` holding `floats`; throws when the shape is invalid or their counts differ.
    public init(shape: [Int], floats: [Float]) throws { try self.init(shape: shape, storage: .float(floats)) }
    /// A float64 tensor of `shape` holding `doubles`; throws when the shape is invalid or their counts differ.
    public init(shape: [Int], doubles: [Double]) throws { try self.init(shape: shape, storage: .double(doubles)) }
    /// An int64 tensor of `shape` holding `int64s`; throws when the shape is invalid or their counts differ.
    public init(shape: [Int], int64s: [Int64]) throws { try self.init(shape: shape, storage: .int64(int64s)) }
    /// A bool tensor of `shape` holding `bools`; throws when the shape is invalid or their counts differ.
    public init(shape: [Int], bools: [Bool]) throws { try self.init(shape: shape, storage: .bool(bools)) }
    /// A string tensor of `shape` holding `strings`; throws when the shape is invalid or their counts differ.
    public init(shape: [Int], strings: [String]) throws { try self.init(shape: shape, storage: .string(strings)) }

    /// A float32 tensor of `shape` filled with `value`; its size is held to the memory budget.
    public init(shape: [Int], repeating value: Float) throws {
        let count = try Sizes.elementCount(shape)
        try MemoryBudget.current.check(count: count, width: 4, for: "a tensor of shape \(shape)")
        self.init(uncheckedShape: shape, floats: [Float](repeating: value, count: count))
    }

    /// lafam's own construction of a tensor whose shape and elements it computed together: a
    /// mismatch is a bug in lafam, so it stops the program.
    package init(uncheckedShape shape: [Int], storage: Storage, dtype: DType? = nil) {
        self.shape = shape
        self.storage = storage
        self.dtype = dtype ?? storage.naturalType
        precondition(Self.count(of: shape) == storage.count, "tensor shape \(shape) does not match its \(storage.count) elements")
        precondition(self.dtype.storageClass == storage.storageClass, "\(self.dtype) elements cannot live in \(storage.naturalType) storage")
    }

    package init(uncheckedShape shape: [Int], floats: [Float]) { self.init(uncheckedShape: shape, storage: .float(floats)) }
    package init(uncheckedShape shape: [Int], doubles: [Double]) { self.init(uncheckedShape: shape, storage: .double(doubles)) }
    package init(uncheckedShape shape: [Int], int64s: [Int64]) { self.init(uncheckedShape: shape, storage: .int64(int64s)) }
    package init(uncheckedShape shape: [Int], bools: [Bool]) { self.init(uncheckedShape: shape, storage: .bool(bools)) }
    package init(uncheckedShape shape: [Int], strings: [String]) { self.init(uncheckedShape: shape, storage: .string(strings)) }
    package init(uncheckedShape shape: [Int], repeating value: Float) {
        self.init(uncheckedShape: shape, floats: [Float](repeating: value, count: Self.count(of: shape)))
    }

    /// A float32 scalar (rank 0, shape `[]`) holding `v`.
    public static func scalar(_ v: Float) -> Tensor { Tensor(uncheckedShape: [], floats: [v]) }
    /// An int64 scalar (rank 0, shape `[]`) holding `v`.
    public static func scalar(_ v: Int64) -> Tensor { Tensor(uncheckedShape: [], int64s: [v]) }

    /// Number of elements of a shape lafam made itself (1 for a scalar); untrusted shapes go
    /// through `Sizes.elementCount`.
    package static func count(of shape: [Int]) -> Int { shape.reduce(1, *) }

    /// The number of elements (1 for a scalar).
    public var count: Int { Self.count(of: shape) }
    /// The number of axes (0 for a scalar).
    public var rank: Int { shape.count }

    // Typed access for lafam's kernels, after their type checks: a mismatch is a bug in lafam.

    package var floats: [Float] {
        if case .float(let a) = storage { return a }
        preconditionFailure("expected a float tensor, found \(dtype)")
    }

    package var doubles: [Double] {
        if case .double(let a) = storage { return a }
        preconditionFailure("expected a float64 tensor, found \(dtype)")
    }

    /// The elements of an integer tensor of any width (uint64 as bit patterns).
    package var int64s: [Int64] {
        if case .int64(let a) = storage { return a }
        preconditionFailure("expected an integer tensor, found \(dtype)")
    }

    package var bools: [Bool] {
        if case .bool(let a) = storage { return a }
        preconditionFailure("expected a bool tensor, found \(dtype)")
    }

    package var strings: [String] {
        if case .string(let a) = storage { return a }
        preconditionFailure("expected a string tensor, found \(dtype)")
    }

    // Typed access for programs: throws when the tensor holds another type.

    /// The elements of a float32, float16 or bfloat16 tensor.
    public func floatValues() throws -> [Float] {
        if case .float(let a) = storage { return a }
        throw TensorError("a \(dtype) tensor has no float32 values")
    }

    /// The elements of a float64 tensor.
    public func doubleValues() throws -> [Double] {
        if case .double(let a) = storage { return a }
        throw TensorError("a \(dtype) tensor has no float64 values")
    }

    /// The elements of an integer tensor of any width (uint64 as bit patterns).
    public func integerValues() throws -> [Int64] {
        if case .int64(let a) = storage { return a }
        throw TensorError("a \(dtype) tensor has no integer values")
    }

    /// The elements of a bool tensor; throws for any other type.
    public func boolValues() throws -> [Bool] {
        if case .bool(let a) = storage { return a }
        throw TensorError("a \(dtype) tensor has no bool values")
    }

    /// The elements of a string tensor; throws for any other type.
    public func stringValues() throws -> [String] {
        if case .string(let a) = storage { return a }
        throw TensorError("a \(dtype) tensor has no string values")
    }

    /// Every numeric element as a Double (uint64 read unsigned, bool as 0 or 1).
    public func numericValues() throws -> [Double] {
        if case .string = storage { throw TensorError("a string tensor has no numeric values") }
        return asDoubles
    }

    /// The elements converted to Int, for shape-like inputs (axes, pads, indices) of any numeric
    /// type. Floats saturate, NaN becoming Int.min, so a bad value fails the caller's range check
    /// instead of trapping here.
    package var asInts: [Int] {
        func integer(_ v: Double) -> Int { v.isNaN ? .min : v >= 0x1p63 ? .max : v < -0x1p63 ? .min : Int(v) }
        switch storage {
        case .int64(let a): return a.map { Int($0) }
        case .float(let a): return a.map { integer(Double($0)) }
        case .double(let a): return a.map(integer)
        case .bool(let a): return a.map { $0 ? 1 : 0 }
        case .string: preconditionFailure("string tensors have no numeric values")
        }
    }

    /// The elements as Double (uint64 read unsigned), for scalars that kernels read from inputs.
    package var asDoubles: [Double] {
        switch storage {
        case .float(let a): return a.map(Double.init)
        case .double(let a): return a
        case .int64(let a): return dtype == .uint64 ? a.map { Double(UInt64(bitPattern: $0)) } : a.map(Double.init)
        case .bool(let a): return a.map { $0 ? 1 : 0 }
        case .string: preconditionFailure("string tensors have no numeric values")
        }
    }

    /// The same elements viewed with another shape of equal element count.
    public func reshaped(_ newShape: [Int]) throws -> Tensor {
        try Tensor(shape: newShape, storage: storage, dtype: dtype)
    }

    /// `reshaped` for a shape lafam computed to have this element count.
    package func viewed(as newShape: [Int]) -> Tensor {
        Tensor(uncheckedShape: newShape, storage: storage, dtype: dtype)
    }

    /// The same elements as `target`, which must share this tensor's storage class: integers
    /// wrap to the target's width (two's complement, as C and numpy do), floats round to nearest
    /// even float16 or bfloat16. A kernel computes a narrow type in its storage class and the
    /// executor conforms the result, so each op's output is exactly a value of its type.
    package func conformed(to target: DType) -> Tensor {
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
            return Tensor(uncheckedShape: shape, storage: .int64(wrap.map { a.map($0) } ?? a), dtype: target)
        case .float(let a):
            switch target {
            case .float16:
                let rounded = [Float](unsafeUninitializedCapacity: a.count) { out, count in
                    a.withUnsafeBufferPointer { src in for i in src.indices { out[i] = roundedToHalf(src[i]) } }
                    count = a.count
                }
                return Tensor(uncheckedShape: shape, storage: .float(rounded), dtype: target)
            case .bfloat16: return Tensor(uncheckedShape: shape, storage: .float(a.map(roundedToBFloat16)), dtype: target)
            default: return Tensor(uncheckedShape: shape, storage: storage, dtype: target)
            }
        default:
            return Tensor(uncheckedShape: shape, storage: storage, dtype: target)
        }
    }

    /// Row-major strides of a shape, in elements.
    package static func strides(of shape: [Int]) -> [Int] {
        var strides = [Int](repeating: 1, count: shape.count)
        var acc = 1
        for i in stride(from: shape.count - 1, through: 0, by: -1) {
            strides[i] = acc
            acc *= shape[i]
        }
        return strides
    }
}

/// `v` rounded to the nearest float16 (ties to even; NaN stays NaN, ±65520 and beyond become ±∞),
/// as Float(Float16(v)).
@inline(__always)
package func roundedToHalf(_ v: Float) -> Float {
    // Float(Float16(v)) is a library call per element on x86 (no F16C in Swift's codegen): this
    // is the same rounding in a few integer operations.
    let magnitude = abs(v)
    guard magnitude < 65520 else { return v.isNaN ? v : (v < 0 ? -.infinity : .infinity) }  // rounds past half's largest
    if magnitude < 0x1p-14 {
        // Half's subnormals: multiples of 2⁻²⁴. Adding 0.75 (whose float32 ulp is 2⁻²⁴) rounds
        // the magnitude to one, half to even, in the hardware's rounding, with no call to rintf.
        let rounded = (magnitude + 0.75) - 0.75
        return v.sign == .minus ? -rounded : rounded
    }
    // 10 of float32's 23 mantissa bits kept, the 13 below rounded half to even.
    let bits = v.bitPattern
    return Float(bitPattern: (bits &+ 0xFFF &+ ((bits >> 13) & 1)) & ~0x1FFF)
}

/// `v` rounded to the nearest bfloat16 (half to even), NaN kept.
package func roundedToBFloat16(_ v: Float) -> Float {
    if v.isNaN { return v }
    let bits = v.bitPattern
    let rounded = bits &+ 0x7FFF &+ ((bits >> 16) & 1)
    return Float(bitPattern: rounded & 0xFFFF_0000)
}
