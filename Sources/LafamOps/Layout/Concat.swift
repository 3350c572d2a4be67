import LafamGraph
import LafamTensor

/// Concat along `axis`.
struct Concat: Operator {
    var inputArity: ClosedRange<Int> { 1...Int.max }

    let axis: Int
    init(_ node: NodeContext) throws {
        guard let a = try node.ints("axis")?.first else { throw OpError("attribute axis is required") }
        axis = a
    }

    func infer(_ inputs: [ValueFacts?]) throws -> [ValueFacts] {
        let parts = inputs.compactMap { $0 }
        guard let first = parts.first else { throw OpError("needs at least one input") }
        for p in parts where p.dtype != first.dtype { throw OpError("type mismatch: \(first.dtype) and \(p.dtype)") }
        guard parts.allSatisfy({ $0.shape != nil }) else { return [facts(first.dtype, nil)] }
        let rank = first.rank!
        guard rank >= 1 else { throw OpError("inputs must have rank 1 or more, got a scalar") }
        let a = try normalizeAxis(axis, rank: rank)
        var out = first.shape!
        var total: Int? = 0
        for p in parts {
            guard p.rank == rank else { throw OpError("inputs have ranks \(rank) and \(p.rank!)") }
            for i in 0..<rank where i != a {
                if let x = out[i].value, let y = p.shape![i].value, x != y {
                    throw OpError("shapes \(first.shape!.shapeString) and \(p.shape!.shapeString) differ off the concat axis")
                }
                if out[i].value == nil, p.shape![i].value != nil { out[i] = p.shape![i] }
            }
            total = try p.shape![a].value.flatMap { v in try total.map { try Sizes.sum($0, v, "the concatenated axis overflows") } }
        }
        out[a] = total.map { .known($0) } ?? .unknown
        var result = facts(first.dtype, out)
        if rank == 1, first.dtype == .int64 {
            let elems = parts.map(\.elements)
            if elems.allSatisfy({ $0 != nil }) { result.elements = elems.flatMap { $0! } }
        }
        return [result]
    }

    func batchBehaviour(_ inputs: [ValueFacts?], carryingBatch: [Bool]) -> BatchBehaviour {
        guard let rank = inputs.compactMap({ $0?.rank }).first, let a = try? normalizeAxis(axis, rank: rank), a >= 1 else { return .mixesImages }
        return .perImage
    }

    func run(_ inputs: [Tensor?]) throws -> [Tensor] {
        let parts = inputs.compactMap { $0 }
        let first = parts[0]
        let a = try normalizeAxis(axis, rank: first.rank)
        let outer = first.shape[..<a].reduce(1, *)
        let blocks = parts.map { $0.shape[a...].reduce(1, *) }
        var shape = first.shape
        shape[a] = parts.reduce(0) { $0 + $1.shape[a] }
        return [Tensor(uncheckedShape: shape, storage: .interleave(parts.map(\.storage), blocks: blocks, repeats: outer))]
    }
}

extension Concat: Differentiable {
    /// Each input's gradient is its block of every row of the output gradient.
    func backward(_ inputs: [Tensor?], outputs: [Tensor], gradients: [Tensor?], wanted: [Bool]) throws -> [Tensor?] {
        guard let g = gradients[0] else { return wanted.map { _ in nil } }
        let a = try normalizeAxis(axis, rank: g.rank)
        let outer = g.shape[..<a].reduce(1, *), row = g.shape[a...].reduce(1, *)
        let gs = g.floats
        var offset = 0
        return inputs.enumerated().map { k, x in
            guard let x else { return nil }
            let block = x.shape[a...].reduce(1, *)
            defer { offset += block }
            guard wanted[k] else { return nil }
            var out = [Float](repeating: 0, count: x.count)
            for o in 0..<outer { for i in 0..<block { out[o * block + i] = gs[o * row + offset + i] } }
            return Tensor(uncheckedShape: x.shape, floats: out)
        }
    }
}
