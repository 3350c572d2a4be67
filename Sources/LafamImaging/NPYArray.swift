/// The element values of an `NPYArray`, one case per supported numpy dtype.
public enum NPYData: Equatable, Sendable {
    /// numpy `<f4`.
    case float32([Float])
    /// numpy `<f8`.
    case float64([Double])
    /// numpy `<i8`.
    case int64([Int64])
    /// numpy `<i4`.
    case int32([Int32])
    /// numpy `|u1`.
    case uint8([UInt8])
    /// numpy `|b1`.
    case bool([Bool])

    /// Number of elements.
    public var count: Int {
        switch self {
        case .float32(let v): return v.count
        case .float64(let v): return v.count
        case .int64(let v): return v.count
        case .int32(let v): return v.count
        case .uint8(let v): return v.count
        case .bool(let v): return v.count
        }
    }

    /// numpy's name for the dtype ("float32", "int64", "bool", ...).
    public var dtypeName: String {
        switch self {
        case .float32: return "float32"
        case .float64: return "float64"
        case .int64: return "int64"
        case .int32: return "int32"
        case .uint8: return "uint8"
        case .bool: return "bool"
        }
    }
}

/// An n-dimensional array as stored in a numpy `.npy` file: a shape and its
/// elements in C (row-major) order.
///
/// Reading accepts format versions 1.0, 2.0 and 3.0; dtypes float32, float64,
/// int64, int32, uint8 and bool, little- or big-endian (big-endian data is
/// converted); and C- or Fortran-ordered data (Fortran order is transposed
/// into C order). Writing always produces version 1.0 (2.0 only if the
/// header would not fit), little-endian, C order - what `np.save` writes.
public struct NPYArray: Equatable, Sendable {
    /// Dimensions; `[]` for a 0-d (scalar) array.
    public let shape: [Int]
    /// Elements in C order; `data.count` equals the product of `shape`.
    public let data: NPYData

    /// Throws if a dimension is negative or `data.count` is not the product of `shape`.
    public init(shape: [Int], data: NPYData) throws {
        guard let count = NPYArray.elementCount(shape) else {
            throw ImagingError.invalidArgument("NPYArray: invalid shape \(shape): dimensions must be non-negative and their product must fit in Int")
        }
        guard count == data.count else {
            throw ImagingError.invalidArgument(
                "NPYArray: shape \(shape) needs \(count) elements, got \(data.count) \(data.dtypeName) values")
        }
        self.shape = shape
        self.data = data
    }

    /// A float32 array.
    public init(shape: [Int], floats: [Float]) throws { try self.init(shape: shape, data: .float32(floats)) }

    /// Number of elements (product of `shape`, 1 for a 0-d array).
    public var count: Int { data.count }

    /// The elements as float32 when stored as float32, else nil.
    public var floats: [Float]? {
        if case .float32(let v) = data { return v }
        return nil
    }

    /// All elements converted to Float (bool becomes 0/1; large int64 and
    /// float64 values lose precision).
    public func asFloats() -> [Float] {
        switch data {
        case .float32(let v): return v
        case .float64(let v): return v.map { Float($0) }
        case .int64(let v): return v.map { Float($0) }
        case .int32(let v): return v.map { Float($0) }
        case .uint8(let v): return v.map { Float($0) }
        case .bool(let v): return v.map { $0 ? 1 : 0 }
        }
    }

    /// Reads a `.npy` file. Errors name the path and say what is wrong.
    public static func read(path: String) throws -> NPYArray {
        let bytes = try FileAccess.readAll(path: path, what: ".npy file")
        return try decode(bytes, path: path)
    }

    /// Parses the bytes of a `.npy` file. `path` only labels error messages.
    public static func decode(_ bytes: [UInt8], path: String? = nil) throws -> NPYArray {
        try NPYFormat.decode(bytes, path: path)
    }

    /// The bytes of a version 1.0 (or 2.0 for very long headers) `.npy` file.
    public func encoded() -> [UInt8] { NPYFormat.encode(self) }

    /// Writes the array as a `.npy` file atomically (temporary file in the
    /// same folder, then rename), so `path` never holds a partial file.
    public func write(to path: String) throws {
        try FileAccess.writeAtomically(encoded(), to: path, what: ".npy file")
    }

    /// Product of the dimensions, or nil if one is negative or it overflows.
    static func elementCount(_ shape: [Int]) -> Int? {
        var n = 1
        for d in shape {
            guard d >= 0 else { return nil }
            let (p, o) = n.multipliedReportingOverflow(by: d)
            if o { return nil }
            n = p
        }
        return n
    }
}
