import LafamGraph
import LafamTensor

/// GlobalAveragePool / GlobalMaxPool: reduce every axis after N and C to size 1.
struct GlobalPool: Operator {
    var inputArity: ClosedRange<Int> { 1...1 }

    let isMax: Bool

    func infer(_ inputs: [ValueFacts?]) throws -> [ValueFacts] {
        let x = try required(inputs, 0, "X")
        try expect(x, [.float32], "X")
        if let r = x.rank, r < 3 { throw OpError("X must have rank ≥ 3 (N, C, spatial…), got \(r)") }
        return [facts(.float32, x.shape.map { Array($0.prefix(2)) + [Dim](repeating: .known(1), count: $0.count - 2) })]
    }

    func batchBehaviour(_ inputs: [ValueFacts?], carryingBatch: [Bool]) -> BatchBehaviour {
        firstInputBatchBehaviour(carryingBatch)
    }

    func run(_ inputs: [Tensor?]) throws -> [Tensor] {
        let x = required(inputs, 0)
        let planes = x.shape[0] * x.shape[1]
        let size = x.count / max(planes, 1)
        let xs = x.floats
        let out = [Float](unsafeUninitializedCapacity: planes) { buf, n in
            xs.withUnsafeBufferPointer { xp in
                for p in 0..<planes {
                    let s = xp[(p * size)..<((p + 1) * size)]
                    // Average in float64: SE blocks pool planes of 10⁴ values, where a float32 sum drifts.
                    buf[p] = isMax ? (s.max() ?? 0) : Float(s.reduce(0.0) { $0 + Double($1) } / Double(size))
                }
            }
            n = planes
        }
        return [Tensor(uncheckedShape: Array(x.shape.prefix(2)) + [Int](repeating: 1, count: x.rank - 2), floats: out)]
    }
}

extension GlobalPool: Differentiable {
    func backward(_ inputs: [Tensor?], outputs: [Tensor], gradients: [Tensor?], wanted: [Bool]) throws -> [Tensor?] {
        guard wanted[0], let g = gradients[0] else { return [nil] }
        let x = required(inputs, 0)
        let planes = x.shape[0] * x.shape[1], size = x.count / max(planes, 1)
        let xs = x.floats, gs = g.floats
        var dx = [Float](repeating: 0, count: x.count)
        for p in 0..<planes {
            let range = (p * size)..<((p + 1) * size)
            if isMax {
                if let best = range.max(by: { xs[$0] < xs[$1] || (xs[$0] == xs[$1] && $0 > $1) }) { dx[best] = gs[p] }
            } else {
                for i in range { dx[i] = gs[p] / Float(size) }
            }
        }
        return [Tensor(uncheckedShape: x.shape, floats: dx)]
    }
}
