extension Tensor {
    /// Why this tensor differs from `expected` under numpy's `allclose` rule — exact shape and
    /// dtype first, then |a − e| ≤ atol + rtol·|e| per element (NaN equals NaN) — or nil when
    /// it does not.
    public func mismatch(from expected: Tensor, rtol: Float, atol: Float) -> String? {
        guard shape == expected.shape else { return "shape \(shape) ≠ expected \(expected.shape)" }
        guard dtype == expected.dtype else { return "dtype \(dtype) ≠ expected \(expected.dtype)" }
        switch (storage, expected.storage) {
        case let (.float(a), .float(e)):
            for i in a.indices where !(a[i] == e[i] || abs(a[i] - e[i]) <= atol + rtol * abs(e[i]) || (a[i].isNaN && e[i].isNaN)) {
                return "element \(i): \(a[i]) ≠ expected \(e[i])"
            }
        case let (.int64(a), .int64(e)):
            if let i = a.indices.first(where: { a[$0] != e[$0] }) { return "element \(i): \(a[i]) ≠ expected \(e[i])" }
        case let (.bool(a), .bool(e)):
            if let i = a.indices.first(where: { a[$0] != e[$0] }) { return "element \(i): \(a[i]) ≠ expected \(e[i])" }
        default:
            return "dtype \(dtype) ≠ expected \(expected.dtype)"
        }
        return nil
    }
}
