extension Tensor {
    /// Why this tensor differs from `expected` under numpy's `allclose` rule — exact shape and
    /// dtype first, then |a − e| ≤ atol + rtol·|e| per element (NaN equals NaN) — or nil when
    /// it does not.
    public func mismatch(from expected: Tensor, rtol: Float, atol: Float) -> String? {
        guard shape == expected.shape else { return "shape \(shape) ≠ expected \(expected.shape)" }
        guard dtype == expected.dtype else { return "dtype \(dtype) ≠ expected \(expected.dtype)" }
        func close<T: BinaryFloatingPoint>(_ a: [T], _ e: [T]) -> String? {
            let (rtol, atol) = (T(rtol), T(atol))
            for i in a.indices where !(a[i] == e[i] || abs(a[i] - e[i]) <= atol + rtol * abs(e[i]) || (a[i].isNaN && e[i].isNaN)) {
                return "element \(i): \(a[i]) ≠ expected \(e[i])"
            }
            return nil
        }
        func equal<T: Equatable>(_ a: [T], _ e: [T]) -> String? {
            a.indices.first(where: { a[$0] != e[$0] }).map { "element \($0): \(a[$0]) ≠ expected \(e[$0])" }
        }
        switch (storage, expected.storage) {
        case let (.float(a), .float(e)): return close(a, e)
        case let (.double(a), .double(e)): return close(a, e)
        case let (.int64(a), .int64(e)): return equal(a, e)
        case let (.bool(a), .bool(e)): return equal(a, e)
        case let (.string(a), .string(e)): return equal(a, e)
        default:
            return "dtype \(dtype) ≠ expected \(expected.dtype)"
        }
    }
}
