import Foundation
import LafamGraph
import LafamTensor

/// Local Response Normalization across channels:
/// y = x / (bias + alpha/size · Σ x²)^beta over the channel window [c − ⌊(size−1)/2⌋, c + ⌈(size−1)/2⌉].
struct LRN: Operator {
    var inputArity: ClosedRange<Int> { 1...1 }

    let size: Int
    let alpha: Float, beta: Float, bias: Float

    init(_ node: NodeContext) throws {
        size = try node.int("size", default: 0)
        guard size > 0, size <= Int(Int32.max) else { throw OpError("attribute size is required and must be from 1 to \(Int32.max)") }
        alpha = try node.float("alpha", default: 1e-4)
        beta = try node.float("beta", default: 0.75)
        bias = try node.float("bias", default: 1)
    }

    func infer(_ inputs: [ValueFacts?]) throws -> [ValueFacts] {
        let x = try required(inputs, 0, "X")
        try expect(x, [.float32], "X")
        if let r = x.rank, r < 3 { throw OpError("X must have rank ≥ 3, got \(r)") }
        return [facts(.float32, x.shape)]
    }

    func batchBehaviour(_ inputs: [ValueFacts?], carryingBatch: [Bool]) -> BatchBehaviour {
        firstInputBatchBehaviour(carryingBatch)
    }

    func run(_ inputs: [Tensor?]) throws -> [Tensor] {
        let x = required(inputs, 0)
        let channels = x.shape[1], plane = x.shape.dropFirst(2).reduce(1, *)
        let xs = x.floats
        var out = [Float](repeating: 0, count: x.count)
        let before = (size - 1) / 2, after = size - 1 - before
        for n in 0..<x.shape[0] {
            for c in 0..<channels {
                let lo = max(0, c - before), hi = min(channels - 1, c + after)
                for i in 0..<plane {
                    var sum: Float = 0
                    for k in lo...hi { let v = xs[(n * channels + k) * plane + i]; sum += v * v }
                    let idx = (n * channels + c) * plane + i
                    out[idx] = xs[idx] / Foundation.pow(bias + alpha / Float(size) * sum, beta)
                }
            }
        }
        return [Tensor(uncheckedShape: x.shape, floats: out)]
    }
}
