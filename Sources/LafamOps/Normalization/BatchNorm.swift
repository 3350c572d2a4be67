import LafamGraph
import LafamTensor

/// BatchNormalization in inference mode: y = (x − mean) / √(var + ε) · scale + B per channel (axis 1).
struct BatchNorm: ChannelAffine {
    var inputArity: ClosedRange<Int> { 5...5 }

    let epsilon: Float

    init(_ node: NodeContext) throws {
        epsilon = try node.float("epsilon", default: 1e-5)
        if try node.int("training_mode", default: 0) != 0 || node.outputCount > 1 {
            throw OpError(unsupported: "training-mode BatchNormalization (running statistics outputs) is not supported; lafam runs inference only")
        }
        if node.opset < 7, try node.int("is_test", default: 1) == 0, node.outputCount > 1 {
            throw OpError(unsupported: "training-mode BatchNormalization is not supported")
        }
        if node.opset < 9, try node.int("spatial", default: 1) == 0 {
            throw OpError(unsupported: "spatial=0 BatchNormalization is not supported")
        }
    }

    /// `.pointwise`: each output pixel reads the same pixel of its inputs.
    func spatialReach(_ inputs: [ValueFacts?]) -> SpatialReach { .pointwise }

    func infer(_ inputs: [ValueFacts?]) throws -> [ValueFacts] {
        let x = try required(inputs, 0, "X")
        try expect(x, [.float32], "X")
        if let r = x.rank, r < 2 { throw OpError("X must have rank ≥ 2, got \(r)") }
        for (i, name) in ["scale", "B", "mean", "var"].enumerated() {
            let p = try required(inputs, i + 1, name)
            try expect(p, [.float32], name)
            try expectRank(p, 1, name)
            if let c = x.shape?[1].value, let k = p.shape?[0].value, c != k {
                throw OpError("\(name) has \(k) elements, X has \(c) channels")
            }
        }
        return [facts(.float32, x.shape)]
    }

    /// The per-channel affine map y = x·a + b that this BatchNormalization applies.
    func affine(_ inputs: [Tensor?]) -> (a: [Float], b: [Float]) {
        let scale = required(inputs, 1).floats, bias = required(inputs, 2).floats
        let mean = required(inputs, 3).floats, variance = required(inputs, 4).floats
        let a = scale.indices.map { scale[$0] / (variance[$0] + epsilon).squareRoot() }
        return (a, bias.indices.map { bias[$0] - mean[$0] * a[$0] })
    }

    func batchBehaviour(_ inputs: [ValueFacts?], carryingBatch: [Bool]) -> BatchBehaviour {
        firstInputBatchBehaviour(carryingBatch)
    }

    /// The affine map above, when scale, bias, mean and variance are constants.
    func channelAffine(_ inputs: [ValueFacts?], input x: Int, channels: Int) -> (scale: [Float], shift: [Float])? {
        guard x == 0, inputs.count == 5, inputs.dropFirst().allSatisfy({ $0?.constant?.dtype == .float32 }) else { return nil }
        let (a, b) = affine(inputs.map { $0?.constant })
        return a.count == channels ? (a, b) : nil
    }

    func run(_ inputs: [Tensor?]) throws -> [Tensor] {
        let x = required(inputs, 0)
        let (a, b) = affine(inputs)
        let channels = x.shape[1]
        let plane = x.shape.dropFirst(2).reduce(1, *)
        var out = x.floats
        out.withUnsafeMutableBufferPointer { p in
            for n in 0..<x.shape[0] {
                for c in 0..<channels {
                    let (ac, bc) = (a[c], b[c])
                    let base = (n * channels + c) * plane
                    for i in base..<(base + plane) { p[i] = p[i] * ac + bc }
                }
            }
        }
        return [Tensor(uncheckedShape: x.shape, floats: out)]
    }
}

extension BatchNorm: Differentiable {
    /// dX = dY · scale / √(var + ε) per channel.
    func backward(_ inputs: [Tensor?], outputs: [Tensor], gradients: [Tensor?], wanted: [Bool]) throws -> [Tensor?] {
        guard wanted[0], let g = gradients[0] else { return wanted.map { _ in nil } }
        let x = required(inputs, 0)
        let scale = required(inputs, 1).floats, variance = required(inputs, 4).floats
        let channels = x.shape[1], plane = x.shape.dropFirst(2).reduce(1, *)
        var dx = g.floats
        for n in 0..<x.shape[0] {
            for c in 0..<channels {
                let a = scale[c] / (variance[c] + epsilon).squareRoot()
                let base = (n * channels + c) * plane
                for i in base..<(base + plane) { dx[i] *= a }
            }
        }
        return [Tensor(uncheckedShape: x.shape, floats: dx)] + wanted.dropFirst().map { _ in nil }
    }
}
