import LafamGraph
import LafamTensor

/// LayerNormalization (opset 17): normalise over the axes from `axis` to the end; optional
/// Mean and InvStdDev outputs.
struct LayerNorm: Operator {
    var inputArity: ClosedRange<Int> { 2...3 }

    let axis: Int
    let epsilon: Float

    init(_ node: NodeContext) throws {
        axis = try node.int("axis", default: -1)
        epsilon = try node.float("epsilon", default: 1e-5)
    }

    /// A layer norm over the axes from `axis` on (as `fuse-layer-norm` makes one).
    init(axis: Int, epsilon: Float) {
        self.axis = axis
        self.epsilon = epsilon
    }

    func infer(_ inputs: [ValueFacts?]) throws -> [ValueFacts] {
        let x = try required(inputs, 0, "X"), scale = try required(inputs, 1, "Scale")
        try expect(x, [.float32], "X"); try expect(scale, [.float32], "Scale")
        if let b = optional(inputs, 2) { try expect(b, [.float32], "B") }
        guard let s = x.shape else { return [facts(.float32, nil), facts(.float32, nil), facts(.float32, nil)] }
        let a = try normalizeAxis(axis, rank: s.count)
        // Scale and B broadcast to the normalised axes without changing them.
        let normalised = Array(s[a...])
        for (name, p) in [("Scale", Optional(scale)), ("B", optional(inputs, 2))] {
            guard let ps = p?.shape else { continue }
            guard ps.count <= normalised.count, try broadcast(normalised, ps) == normalised || ps.concrete == nil || normalised.concrete == nil else {
                throw OpError("\(name) \(ps.shapeString) does not broadcast to the normalised shape \(normalised.shapeString)")
            }
        }
        let reduced = Array(s.prefix(a)) + [Dim](repeating: .known(1), count: s.count - a)
        return [facts(.float32, s), facts(.float32, reduced), facts(.float32, reduced)]
    }

    func batchBehaviour(_ inputs: [ValueFacts?], carryingBatch: [Bool]) -> BatchBehaviour {
        // Normalised over the axes from `axis` on: per image unless that includes axis 0.
        alongAxisBatchBehaviour(axis, inputs, carryingBatch: carryingBatch)
    }

    func run(_ inputs: [Tensor?]) throws -> [Tensor] {
        let x = required(inputs, 0)
        let a = try normalizeAxis(axis, rank: x.rank)
        let inner = x.shape[a...].reduce(1, *)
        let outer = x.count / max(inner, 1)
        let normShape = Array(x.shape[a...])
        // Scale and bias broadcast to the normalised axes.
        let scale = try parameter(required(inputs, 1), "Scale", normalised: normShape)
        let bias = try optional(inputs, 2).map { try parameter($0, "B", normalised: normShape) }
        var out = x.floats
        let (means, invStd) = statistics(out, inner: inner)
        for o in 0..<outer {
            let base = o * inner
            for i in 0..<inner {
                let v = (out[base + i] - means[o]) * invStd[o] * scale[i]
                out[base + i] = bias.map { v + $0[i] } ?? v
            }
        }
        let reduced = Array(x.shape.prefix(a)) + [Int](repeating: 1, count: x.rank - a)
        return [Tensor(uncheckedShape: x.shape, floats: out), Tensor(uncheckedShape: reduced, floats: means), Tensor(uncheckedShape: reduced, floats: invStd)]
    }

    /// A scale or bias broadcast over the normalised axes (it may not enlarge them).
    private func parameter(_ p: Tensor, _ name: String, normalised shape: [Int]) throws -> [Float] {
        guard p.rank <= shape.count, try broadcast(shape, p.shape) == shape else {
            throw OpError("\(name) \(p.shape) does not broadcast to the normalised shape \(shape)")
        }
        return broadcastMap([Float](repeating: 0, count: shape.reduce(1, *)), shape, p.floats, p.shape, shape, +)
    }

    /// Mean and 1/√(variance + ε) of each run of `inner` elements (accumulated in float64).
    func statistics(_ x: [Float], inner: Int) -> (means: [Float], invStd: [Float]) {
        let outer = x.count / max(inner, 1)
        var means = [Float](repeating: 0, count: outer), invStd = [Float](repeating: 0, count: outer)
        for o in 0..<outer {
            let run = x[(o * inner)..<((o + 1) * inner)]
            let mean = run.reduce(0.0) { $0 + Double($1) } / Double(inner)
            let variance = run.reduce(0.0) { $0 + (Double($1) - mean) * (Double($1) - mean) } / Double(inner)
            means[o] = Float(mean)
            invStd[o] = Float(1 / (variance + Double(epsilon)).squareRoot())
        }
        return (means, invStd)
    }
}

extension LayerNorm: Differentiable {
    /// With x̂ = (x − μ)·σ⁻¹ and dx̂ = dY·γ: dX = σ⁻¹ (dx̂ − mean(dx̂) − x̂ · mean(dx̂ · x̂)).
    func backward(_ inputs: [Tensor?], outputs: [Tensor], gradients: [Tensor?], wanted: [Bool]) throws -> [Tensor?] {
        guard wanted[0], let g = gradients[0] else { return wanted.map { _ in nil } }
        let x = required(inputs, 0)
        let a = try normalizeAxis(axis, rank: x.rank)
        let inner = x.shape[a...].reduce(1, *), outer = x.count / max(inner, 1)
        let normShape = Array(x.shape[a...])
        let scale = try parameter(required(inputs, 1), "Scale", normalised: normShape)
        let xs = x.floats, gs = g.floats
        let (means, invStd) = statistics(xs, inner: inner)
        var dx = [Float](repeating: 0, count: x.count)
        for o in 0..<outer {
            let base = o * inner
            var meanD: Double = 0, meanDX: Double = 0
            for i in 0..<inner {
                let xhat = Double((xs[base + i] - means[o]) * invStd[o]), dxhat = Double(gs[base + i] * scale[i])
                meanD += dxhat; meanDX += dxhat * xhat
            }
            meanD /= Double(inner); meanDX /= Double(inner)
            for i in 0..<inner {
                let xhat = Double((xs[base + i] - means[o]) * invStd[o]), dxhat = Double(gs[base + i] * scale[i])
                dx[base + i] = Float(Double(invStd[o]) * (dxhat - meanD - xhat * meanDX))
            }
        }
        return [Tensor(uncheckedShape: x.shape, floats: dx)] + wanted.dropFirst().map { _ in nil }
    }
}
