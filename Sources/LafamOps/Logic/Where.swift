import LafamGraph
import LafamTensor

/// Where(condition, X, Y) with three-way broadcasting.
struct Where: Operator {
    var inputArity: ClosedRange<Int> { 3...3 }

    func infer(_ inputs: [ValueFacts?]) throws -> [ValueFacts] {
        let c = try required(inputs, 0, "condition"), x = try required(inputs, 1, "X"), y = try required(inputs, 2, "Y")
        try expect(c, [.bool], "condition")
        guard x.dtype == y.dtype else { throw OpError("type mismatch: X is \(x.dtype), Y is \(y.dtype)") }
        guard let sc = c.shape, let sx = x.shape, let sy = y.shape else { return [facts(x.dtype, nil)] }
        var out = facts(x.dtype, try broadcast(broadcast(sc, sx), sy))
        // Shape vectors chosen elementwise by a condition known from their facts (`Compare.equal`).
        if let pick = c.elements, let e = x.elements, let f = y.elements, pick.count == e.count, e.count == f.count,
           pick.allSatisfy({ $0 == .known(0) || $0 == .known(1) }) {
            out.elements = pick.indices.map { pick[$0] == .known(1) ? e[$0] : f[$0] }
        }
        return [out]
    }

    func batchBehaviour(_ inputs: [ValueFacts?], carryingBatch: [Bool]) -> BatchBehaviour {
        elementwiseBatchBehaviour(inputs, carryingBatch: carryingBatch)
    }

    func run(_ inputs: [Tensor?]) throws -> [Tensor] {
        let c = required(inputs, 0), x = required(inputs, 1), y = required(inputs, 2)
        let shape = try broadcast(broadcast(c.shape, x.shape), y.shape)
        let cond = c.bools
        let ic = try stridedIndices(shape, strides: broadcastStrides(c.shape, to: shape), offset: 0)
        let ix = try stridedIndices(shape, strides: broadcastStrides(x.shape, to: shape), offset: 0)
        let iy = try stridedIndices(shape, strides: broadcastStrides(y.shape, to: shape), offset: 0)
        // Pick from the concatenation [X, Y]: Y's elements follow X's.
        let picks = ic.indices.map { cond[ic[$0]] ? ix[$0] : x.count + iy[$0] }
        let both = Tensor.Storage.interleave([x.storage, y.storage], blocks: [x.count, y.count], repeats: 1)
        return [Tensor(uncheckedShape: shape, storage: both.take(picks))]
    }
}

extension Where: Differentiable {
    /// X receives the gradient where the condition holds, Y elsewhere (each reduced to its shape).
    func backward(_ inputs: [Tensor?], outputs: [Tensor], gradients: [Tensor?], wanted: [Bool]) throws -> [Tensor?] {
        guard let g = gradients[0] else { return [nil, nil, nil] }
        let c = required(inputs, 0)
        let cond = try expand(c.bools, c.shape, to: g.shape)
        let gs = g.floats
        func part(_ k: Int, _ keep: Bool) throws -> Tensor? {
            guard wanted[k], let x = inputs[k], x.dtype == .float32 else { return nil }
            return try reduceToShape(Tensor(uncheckedShape: g.shape, floats: gs.indices.map { cond[$0] == keep ? gs[$0] : 0 }), x.shape)
        }
        return [nil, try part(1, true), try part(2, false)]
    }
}
