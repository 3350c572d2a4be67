import LafamGraph
import LafamTensor

/// Comparisons (Equal, Less, Greater, LessOrEqual, GreaterOrEqual) with broadcasting: bool result.
struct Compare: Operator {
    var inputArity: ClosedRange<Int> { 2...2 }

    enum Kind { case equal, less, greater, lessOrEqual, greaterOrEqual }
    let kind: Kind

    func infer(_ inputs: [ValueFacts?]) throws -> [ValueFacts] {
        let a = try required(inputs, 0, "A"), b = try required(inputs, 1, "B")
        guard a.dtype == b.dtype else { throw OpError("type mismatch: \(a.dtype) and \(b.dtype)") }
        if (a.dtype == .bool || a.dtype == .string) && kind != .equal { throw OpError("ordering comparisons need numbers, got \(a.dtype)") }
        guard let sa = a.shape, let sb = b.shape else { return [facts(.bool, nil)] }
        var out = facts(.bool, try broadcast(sa, sb))
        if kind == .equal, let x = a.elements, let y = b.elements, x.count == y.count || y.count == 1 {
            out.elements = zip(x, y.count == 1 ? [Dim](repeating: y[0], count: x.count) : y).map(Compare.equal)
        }
        return [out]
    }

    /// Equal on the elements of symbolic shape vectors, as 1 (true), 0 (false) or unknown: a
    /// dimension is never negative, so `batch == -1` is false (the test exported `expand(n, -1, -1)`
    /// makes before a Where).
    static func equal(_ x: Dim, _ y: Dim) -> Dim {
        switch (x, y) {
        case let (.known(p), .known(q)): return .known(p == q ? 1 : 0)
        case let (.symbol(p), .symbol(q)) where p == q: return .known(1)
        case let (.symbol, .known(q)) where q < 0, let (.known(q), .symbol) where q < 0: return .known(0)
        default: return .unknown
        }
    }

    func batchBehaviour(_ inputs: [ValueFacts?], carryingBatch: [Bool]) -> BatchBehaviour {
        elementwiseBatchBehaviour(inputs, carryingBatch: carryingBatch)
    }

    func run(_ inputs: [Tensor?]) throws -> [Tensor] {
        let a = required(inputs, 0), b = required(inputs, 1)
        let shape = try broadcast(a.shape, b.shape)
        @inline(__always) func compare<T: Comparable>(_ x: [T], _ y: [T]) throws -> [Bool] {
            let ix = try stridedIndices(shape, strides: broadcastStrides(a.shape, to: shape), offset: 0)
            let iy = try stridedIndices(shape, strides: broadcastStrides(b.shape, to: shape), offset: 0)
            return zip(ix, iy).map { i, j in
                switch kind {
                case .equal: return x[i] == y[j]
                case .less: return x[i] < y[j]
                case .greater: return x[i] > y[j]
                case .lessOrEqual: return x[i] <= y[j]
                case .greaterOrEqual: return x[i] >= y[j]
                }
            }
        }
        switch (a.storage, b.storage) {
        case let (.float(x), .float(y)): return [Tensor(uncheckedShape: shape, bools: try compare(x, y))]
        case let (.int64(x), .int64(y)) where a.dtype == .uint64:
            return [Tensor(uncheckedShape: shape, bools: try compare(x.map { UInt64(bitPattern: $0) }, y.map { UInt64(bitPattern: $0) }))]
        case let (.int64(x), .int64(y)): return [Tensor(uncheckedShape: shape, bools: try compare(x, y))]
        case let (.double(x), .double(y)): return [Tensor(uncheckedShape: shape, bools: try compare(x, y))]
        case let (.string(x), .string(y)): return [Tensor(uncheckedShape: shape, bools: try compare(x, y))]
        case let (.bool(x), .bool(y)): return [Tensor(uncheckedShape: shape, bools: try compare(x.map { $0 ? 1 : 0 }, y.map { $0 ? 1 : 0 }))]
        default: throw OpError("type mismatch: \(a.dtype) and \(b.dtype)")
        }
    }
}

/// And, Or, Xor with broadcasting, and the one-input Not, on bool tensors.
struct Logical: Operator {
    var inputArity: ClosedRange<Int> { kind == .not ? 1...1 : 2...2 }

    enum Kind { case and, or, xor, not }
    let kind: Kind

    func infer(_ inputs: [ValueFacts?]) throws -> [ValueFacts] {
        let a = try required(inputs, 0, "A")
        try expect(a, [.bool], "A")
        if kind == .not { return [facts(.bool, a.shape)] }
        let b = try required(inputs, 1, "B")
        try expect(b, [.bool], "B")
        guard let sa = a.shape, let sb = b.shape else { return [facts(.bool, nil)] }
        return [facts(.bool, try broadcast(sa, sb))]
    }

    func batchBehaviour(_ inputs: [ValueFacts?], carryingBatch: [Bool]) -> BatchBehaviour {
        elementwiseBatchBehaviour(inputs, carryingBatch: carryingBatch)
    }

    func run(_ inputs: [Tensor?]) throws -> [Tensor] {
        let a = required(inputs, 0)
        if kind == .not { return [Tensor(uncheckedShape: a.shape, bools: a.bools.map { !$0 })] }
        let b = required(inputs, 1)
        let shape = try broadcast(a.shape, b.shape)
        let result: [Bool]
        switch kind {
        case .and: result = broadcastMap(a.bools, a.shape, b.bools, b.shape, shape) { $0 && $1 }
        case .or: result = broadcastMap(a.bools, a.shape, b.bools, b.shape, shape) { $0 || $1 }
        default: result = broadcastMap(a.bools, a.shape, b.bools, b.shape, shape) { $0 != $1 }
        }
        return [Tensor(uncheckedShape: shape, bools: result)]
    }
}
