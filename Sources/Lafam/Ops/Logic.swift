/// Comparisons (Equal, Less, Greater, LessOrEqual, GreaterOrEqual) with broadcasting: bool result.
struct Compare: Operator {
    enum Kind { case equal, less, greater, lessOrEqual, greaterOrEqual }
    let kind: Kind

    func infer(_ inputs: [ValueFacts?]) throws -> [ValueFacts] {
        let a = try required(inputs, 0, "A"), b = try required(inputs, 1, "B")
        guard a.dtype == b.dtype else { throw OpError("type mismatch: \(a.dtype) and \(b.dtype)") }
        if (a.dtype == .bool || a.dtype == .string) && kind != .equal { throw OpError("ordering comparisons need numbers, got \(a.dtype)") }
        guard let sa = a.shape, let sb = b.shape else { return [facts(.bool, nil)] }
        return [facts(.bool, try broadcast(sa, sb))]
    }

    func run(_ inputs: [Tensor?]) throws -> [Tensor] {
        let a = required(inputs, 0), b = required(inputs, 1)
        let shape = try broadcast(a.shape, b.shape)
        @inline(__always) func compare<T: Comparable>(_ x: [T], _ y: [T]) -> [Bool] {
            let ix = stridedIndices(shape, strides: broadcastStrides(a.shape, to: shape), offset: 0)
            let iy = stridedIndices(shape, strides: broadcastStrides(b.shape, to: shape), offset: 0)
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
        case let (.float(x), .float(y)): return [Tensor(shape: shape, bools: compare(x, y))]
        case let (.int64(x), .int64(y)) where a.dtype == .uint64:
            return [Tensor(shape: shape, bools: compare(x.map { UInt64(bitPattern: $0) }, y.map { UInt64(bitPattern: $0) }))]
        case let (.int64(x), .int64(y)): return [Tensor(shape: shape, bools: compare(x, y))]
        case let (.double(x), .double(y)): return [Tensor(shape: shape, bools: compare(x, y))]
        case let (.string(x), .string(y)): return [Tensor(shape: shape, bools: compare(x, y))]
        case let (.bool(x), .bool(y)): return [Tensor(shape: shape, bools: compare(x.map { $0 ? 1 : 0 }, y.map { $0 ? 1 : 0 }))]
        default: throw OpError("type mismatch: \(a.dtype) and \(b.dtype)")
        }
    }
}

/// And, Or, Xor with broadcasting, and the one-input Not, on bool tensors.
struct Logical: Operator {
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

    func run(_ inputs: [Tensor?]) throws -> [Tensor] {
        let a = required(inputs, 0)
        if kind == .not { return [Tensor(shape: a.shape, bools: a.bools.map { !$0 })] }
        let b = required(inputs, 1)
        let shape = try broadcast(a.shape, b.shape)
        let result: [Bool]
        switch kind {
        case .and: result = broadcastMap(a.bools, a.shape, b.bools, b.shape, shape) { $0 && $1 }
        case .or: result = broadcastMap(a.bools, a.shape, b.bools, b.shape, shape) { $0 || $1 }
        default: result = broadcastMap(a.bools, a.shape, b.bools, b.shape, shape) { $0 != $1 }
        }
        return [Tensor(shape: shape, bools: result)]
    }
}

/// Where(condition, X, Y) with three-way broadcasting.
struct Where: Operator {
    func infer(_ inputs: [ValueFacts?]) throws -> [ValueFacts] {
        let c = try required(inputs, 0, "condition"), x = try required(inputs, 1, "X"), y = try required(inputs, 2, "Y")
        try expect(c, [.bool], "condition")
        guard x.dtype == y.dtype else { throw OpError("type mismatch: X is \(x.dtype), Y is \(y.dtype)") }
        guard let sc = c.shape, let sx = x.shape, let sy = y.shape else { return [facts(x.dtype, nil)] }
        return [facts(x.dtype, try broadcast(broadcast(sc, sx), sy))]
    }

    func run(_ inputs: [Tensor?]) throws -> [Tensor] {
        let c = required(inputs, 0), x = required(inputs, 1), y = required(inputs, 2)
        let shape = try broadcast(broadcast(c.shape, x.shape), y.shape)
        let cond = c.bools
        let ic = stridedIndices(shape, strides: broadcastStrides(c.shape, to: shape), offset: 0)
        let ix = stridedIndices(shape, strides: broadcastStrides(x.shape, to: shape), offset: 0)
        let iy = stridedIndices(shape, strides: broadcastStrides(y.shape, to: shape), offset: 0)
        // Pick from the concatenation [X, Y]: Y's elements follow X's.
        let picks = ic.indices.map { cond[ic[$0]] ? ix[$0] : x.count + iy[$0] }
        let both = Tensor.Storage.interleave([x.storage, y.storage], blocks: [x.count, y.count], repeats: 1)
        return [Tensor(shape: shape, storage: both.take(picks))]
    }
}

/// Expand to a shape with bidirectional broadcasting.
struct Expand: Operator {
    func infer(_ inputs: [ValueFacts?]) throws -> [ValueFacts] {
        let x = try required(inputs, 0, "input"), s = try required(inputs, 1, "shape")
        try expect(s, [.int64], "shape")
        guard let xs = x.shape, let target = s.elements else { return [facts(x.dtype, nil)] }
        return [facts(x.dtype, try broadcast(xs, target))]
    }

    func run(_ inputs: [Tensor?]) throws -> [Tensor] {
        let shape = try broadcast(required(inputs, 0).shape, required(inputs, 1).asInts)
        return [Tensor(shape: shape, storage: required(inputs, 0).storage.take(try indexMaps(inputs)[0]))]
    }
}

extension Expand: IndexMapping {
    func indexMaps(_ inputs: [Tensor?]) throws -> [[Int]] {
        let x = required(inputs, 0)
        let shape = try broadcast(x.shape, required(inputs, 1).asInts)
        return [stridedIndices(shape, strides: broadcastStrides(x.shape, to: shape), offset: 0)]
    }
}

/// Tile: repeat the input `repeats[i]` times along each axis.
struct Tile: Operator {
    func infer(_ inputs: [ValueFacts?]) throws -> [ValueFacts] {
        let x = try required(inputs, 0, "input"), r = try required(inputs, 1, "repeats")
        try expect(r, [.int64], "repeats")
        guard let xs = x.shape, let reps = r.constant?.asInts else { return [facts(x.dtype, x.shape.map { $0.map { _ in .unknown } })] }
        guard reps.count == xs.count else { throw OpError("repeats has \(reps.count) values for rank \(xs.count)") }
        return [facts(x.dtype, zip(xs, reps).map { d, k in d.value.map { .known($0 * k) } ?? .unknown })]
    }

    func run(_ inputs: [Tensor?]) throws -> [Tensor] {
        let x = required(inputs, 0), reps = required(inputs, 1).asInts
        return [Tensor(shape: zip(x.shape, reps).map { $0 * $1 }, storage: x.storage.take(try indexMaps(inputs)[0]))]
    }
}

extension Tile: IndexMapping {
    func indexMaps(_ inputs: [Tensor?]) throws -> [[Int]] {
        let x = required(inputs, 0), reps = required(inputs, 1).asInts
        guard reps.count == x.rank, reps.allSatisfy({ $0 >= 0 }) else { throw OpError("repeats \(reps) must hold \(x.rank) non-negative values") }
        let shape = zip(x.shape, reps).map { $0 * $1 }
        let strides = Tensor.strides(of: x.shape)
        var flat = [Int](repeating: 0, count: Tensor.count(of: shape))
        var index = [Int](repeating: 0, count: shape.count)
        for o in flat.indices {
            var rest = o, src = 0
            for axis in stride(from: shape.count - 1, through: 0, by: -1) {
                index[axis] = rest % shape[axis]
                rest /= shape[axis]
                src += (index[axis] % x.shape[axis]) * strides[axis]
            }
            flat[o] = src
        }
        return [flat]
    }
}

/// Range(start, limit, delta) of numeric scalars, all of one type.
struct RangeOp: Operator {
    func infer(_ inputs: [ValueFacts?]) throws -> [ValueFacts] {
        let start = try required(inputs, 0, "start")
        for i in 1...2 { guard try required(inputs, i, "limit/delta").dtype == start.dtype else { throw OpError("start, limit and delta must share a type") } }
        try expect(start, DType.numeric, "start")
        return [facts(start.dtype, [.unknown])]
    }

    func run(_ inputs: [Tensor?]) throws -> [Tensor] {
        let (s, l, d) = (required(inputs, 0), required(inputs, 1), required(inputs, 2))
        func count<T: BinaryFloatingPoint>(_ a: T, _ b: T, _ c: T) throws -> Int {
            guard c != 0 else { throw OpError("delta must not be 0") }
            return max(0, Int(((b - a) / c).rounded(.up)))
        }
        switch s.storage {
        case .int64(let a):
            let (a, b, c) = (a[0], l.int64s[0], d.int64s[0])
            let n = try count(Double(a), Double(b), Double(c))
            return [Tensor(shape: [n], int64s: (0..<n).map { a &+ Int64($0) &* c })]
        case .double(let a):
            let (a, c) = (a[0], d.doubles[0])
            let n = try count(a, l.doubles[0], c)
            return [Tensor(shape: [n], doubles: (0..<n).map { a + Double($0) * c })]
        default:
            let (a, c) = (s.floats[0], d.floats[0])
            let n = try count(a, l.floats[0], c)
            return [Tensor(shape: [n], floats: (0..<n).map { a + Float($0) * c })]
        }
    }
}

extension Where: Differentiable {
    /// X receives the gradient where the condition holds, Y elsewhere (each reduced to its shape).
    func backward(_ inputs: [Tensor?], outputs: [Tensor], gradients: [Tensor?], wanted: [Bool]) throws -> [Tensor?] {
        guard let g = gradients[0] else { return [nil, nil, nil] }
        let c = required(inputs, 0)
        let cond = expand(c.bools, c.shape, to: g.shape)
        let gs = g.floats
        func part(_ k: Int, _ keep: Bool) -> Tensor? {
            guard wanted[k], let x = inputs[k], x.dtype == .float32 else { return nil }
            return reduceToShape(Tensor(shape: g.shape, floats: gs.indices.map { cond[$0] == keep ? gs[$0] : 0 }), x.shape)
        }
        return [nil, part(1, true), part(2, false)]
    }
}
