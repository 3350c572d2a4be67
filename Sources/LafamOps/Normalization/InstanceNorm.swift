import LafamGraph
import LafamTensor

/// InstanceNormalization: per image and channel, normalise over the spatial axes, then scale
/// and shift per channel.
struct InstanceNorm: Operator {
    var inputArity: ClosedRange<Int> { 3...3 }

    let epsilon: Float
    init(_ node: NodeContext) throws { epsilon = try node.float("epsilon", default: 1e-5) }

    func infer(_ inputs: [ValueFacts?]) throws -> [ValueFacts] {
        let x = try required(inputs, 0, "input")
        try expect(x, [.float32], "input")
        if let r = x.rank, r < 3 { throw OpError("input must have rank ≥ 3, got \(r)") }
        for (i, name) in [(1, "scale"), (2, "B")] {
            let p = try required(inputs, i, name)
            try expect(p, [.float32], name)
            try expectRank(p, 1, name)
            if let c = x.shape?[1].value, let k = p.shape?[0].value, c != k { throw OpError("\(name) has \(k) elements, the input has \(c) channels") }
        }
        return [facts(.float32, x.shape)]
    }

    func batchBehaviour(_ inputs: [ValueFacts?], carryingBatch: [Bool]) -> BatchBehaviour {
        firstInputBatchBehaviour(carryingBatch)
    }

    func run(_ inputs: [Tensor?]) throws -> [Tensor] {
        let x = required(inputs, 0)
        let scale = required(inputs, 1).floats, bias = required(inputs, 2).floats
        let channels = x.shape[1], plane = x.shape.dropFirst(2).reduce(1, *)
        var out = x.floats
        for n in 0..<x.shape[0] {
            for c in 0..<channels {
                let base = (n * channels + c) * plane
                var mean: Double = 0, variance: Double = 0
                for i in base..<(base + plane) { mean += Double(out[i]) }
                mean /= Double(plane)
                for i in base..<(base + plane) { let d = Double(out[i]) - mean; variance += d * d }
                variance /= Double(plane)
                let a = scale[c] / Float((variance + Double(epsilon)).squareRoot())
                for i in base..<(base + plane) { out[i] = (out[i] - Float(mean)) * a + bias[c] }
            }
        }
        return [Tensor(uncheckedShape: x.shape, floats: out)]
    }
}
