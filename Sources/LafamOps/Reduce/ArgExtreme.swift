import LafamGraph
import LafamTensor

/// ArgMax / ArgMin along `axis` (int64 indices), with keepdims and select_last_index.
struct ArgExtreme: Operator {
    var inputArity: ClosedRange<Int> { 1...1 }

    let isMax: Bool
    let axis: Int
    let keepDims: Bool
    let selectLast: Bool

    init(_ node: NodeContext, max: Bool) throws {
        isMax = max
        axis = try node.int("axis", default: 0)
        keepDims = try node.int("keepdims", default: 1) != 0
        selectLast = try node.int("select_last_index", default: 0) != 0
    }

    func infer(_ inputs: [ValueFacts?]) throws -> [ValueFacts] {
        let x = try required(inputs, 0, "data")
        try expect(x, DType.numeric, "data")
        guard let s = x.shape else { return [facts(.int64, nil)] }
        let a = try normalizeAxis(axis, rank: s.count)
        var out = s
        if keepDims { out[a] = .known(1) } else { out.remove(at: a) }
        return [facts(.int64, out)]
    }

    func batchBehaviour(_ inputs: [ValueFacts?], carryingBatch: [Bool]) -> BatchBehaviour {
        alongAxisBatchBehaviour(axis, inputs, carryingBatch: carryingBatch)
    }

    func run(_ inputs: [Tensor?]) throws -> [Tensor] {
        let x = required(inputs, 0)
        let a = try normalizeAxis(axis, rank: x.rank)
        let values = x.asDoubles
        let outer = x.shape[..<a].reduce(1, *), n = x.shape[a], inner = x.shape[(a + 1)...].reduce(1, *)
        var out = [Int64](repeating: 0, count: outer * inner)
        for o in 0..<outer {
            for i in 0..<inner {
                var best = 0
                for k in 1..<max(n, 1) {
                    let v = values[(o * n + k) * inner + i], b = values[(o * n + best) * inner + i]
                    let better = isMax ? (selectLast ? v >= b : v > b) : (selectLast ? v <= b : v < b)
                    if better { best = k }
                }
                out[o * inner + i] = Int64(best)
            }
        }
        var shape = x.shape
        if keepDims { shape[a] = 1 } else { shape.remove(at: a) }
        return [Tensor(uncheckedShape: shape, int64s: out)]
    }
}
