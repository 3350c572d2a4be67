import Foundation

/// Sizes computed from untrusted numbers — dimensions, attributes and headers read from files,
/// options given on the command line. Every product, sum and byte count of such numbers goes
/// through here: a negative dimension or a result beyond `Int.max` throws `TensorError` instead
/// of trapping; callers add what the number belongs to (node, tensor, file).
public enum Sizes {
    /// The number of elements of `shape` (1 for a scalar).
    public static func elementCount(_ shape: [Int]) throws -> Int {
        var count = 1
        for d in shape {
            guard d >= 0 else { throw TensorError("shape \(shape) has a negative dimension") }
            count = try product(count, d, "shape \(shape) has more elements than can be addressed")
        }
        return count
    }

    /// a · b.
    public static func product(_ a: Int, _ b: Int, _ what: @autoclosure () -> String = "a size overflows") throws -> Int {
        let (value, overflow) = a.multipliedReportingOverflow(by: b)
        guard !overflow else { throw TensorError(what()) }
        return value
    }

    /// a + b.
    public static func sum(_ a: Int, _ b: Int, _ what: @autoclosure () -> String = "a size overflows") throws -> Int {
        let (value, overflow) = a.addingReportingOverflow(b)
        guard !overflow else { throw TensorError(what()) }
        return value
    }

    /// The product of all `factors`.
    public static func product(of factors: [Int], _ what: @autoclosure () -> String = "a size overflows") throws -> Int {
        try factors.reduce(1) { try product($0, $1, what()) }
    }

    /// Bytes of `count` elements of `width` bytes each.
    public static func bytes(count: Int, width: Int) throws -> Int {
        try product(count, width, "\(count) elements of \(width) bytes overflow")
    }

    /// `value` as an Int when it is a finite float within Int's range (rounded toward zero).
    public static func integer(_ value: Double, _ what: @autoclosure () -> String) throws -> Int {
        guard value.isFinite, let v = Int(exactly: value.rounded(.towardZero)) else { throw TensorError(what()) }
        return v
    }

    /// A human-readable byte count: "512 B", "3.0 MB", "32.0 GB".
    public static func describe(bytes: Int) -> String {
        let units = ["B", "KB", "MB", "GB", "TB", "PB", "EB"]
        var value = Double(bytes), unit = 0
        while value >= 1024 && unit < units.count - 1 { value /= 1024; unit += 1 }
        return unit == 0 ? "\(bytes) B" : String(format: "%.1f %@", value, units[unit])
    }
}
