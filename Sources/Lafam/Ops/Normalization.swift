import Foundation

/// BatchNormalization in inference mode: y = (x − mean) / √(var + ε) · scale + B per channel (axis 1).
struct BatchNorm: Operator {
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
        return [Tensor(shape: x.shape, floats: out)]
    }
}

/// LayerNormalization (opset 17): normalise over the axes from `axis` to the end; optional
/// Mean and InvStdDev outputs.
struct LayerNorm: Operator {
    let axis: Int
    let epsilon: Float

    init(_ node: NodeContext) throws {
        axis = try node.int("axis", default: -1)
        epsilon = try node.float("epsilon", default: 1e-5)
    }

    func infer(_ inputs: [ValueFacts?]) throws -> [ValueFacts] {
        let x = try required(inputs, 0, "X"), scale = try required(inputs, 1, "Scale")
        try expect(x, [.float32], "X"); try expect(scale, [.float32], "Scale")
        if let b = optional(inputs, 2) { try expect(b, [.float32], "B") }
        guard let s = x.shape else { return [facts(.float32, nil), facts(.float32, nil), facts(.float32, nil)] }
        let a = try normalizeAxis(axis, rank: s.count)
        let reduced = Array(s.prefix(a)) + [Dim](repeating: .known(1), count: s.count - a)
        return [facts(.float32, s), facts(.float32, reduced), facts(.float32, reduced)]
    }

    func run(_ inputs: [Tensor?]) throws -> [Tensor] {
        let x = required(inputs, 0)
        let a = try normalizeAxis(axis, rank: x.rank)
        let inner = x.shape[a...].reduce(1, *)
        let outer = x.count / max(inner, 1)
        let normShape = Array(x.shape[a...])
        // Scale and bias broadcast to the normalised axes.
        let scale = broadcastMap([Float](repeating: 0, count: inner), normShape, required(inputs, 1).floats, required(inputs, 1).shape, normShape, +)
        let bias = optional(inputs, 2).map { broadcastMap([Float](repeating: 0, count: inner), normShape, $0.floats, $0.shape, normShape, +) }
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
        return [Tensor(shape: x.shape, floats: out), Tensor(shape: reduced, floats: means), Tensor(shape: reduced, floats: invStd)]
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

/// Local Response Normalization across channels:
/// y = x / (bias + alpha/size · Σ x²)^beta over the channel window [c − ⌊(size−1)/2⌋, c + ⌈(size−1)/2⌉].
struct LRN: Operator {
    let size: Int
    let alpha: Float, beta: Float, bias: Float

    init(_ node: NodeContext) throws {
        size = try node.int("size", default: 0)
        guard size > 0 else { throw OpError("attribute size is required and must be positive") }
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
        return [Tensor(shape: x.shape, floats: out)]
    }
}

/// Softmax, LogSoftmax and Hardmax. From opset 13 they normalise along `axis` (default −1);
/// before, the input is viewed as a 2-D matrix split at `axis` (default 1) and each row is
/// normalised.
struct Softmax: Operator {
    enum Kind { case softmax, logSoftmax, hardmax }
    let kind: Kind
    let axis: Int
    let flattens: Bool

    init(_ node: NodeContext, kind: Kind) throws {
        self.kind = kind
        flattens = node.opset < 13
        axis = try node.int("axis", default: flattens ? 1 : -1)
    }

    func infer(_ inputs: [ValueFacts?]) throws -> [ValueFacts] {
        let x = try required(inputs, 0, "input")
        try expect(x, [.float32], "input")
        if let r = x.rank { _ = try normalizeAxis(axis, rank: r) }
        return [facts(.float32, x.shape)]
    }

    func run(_ inputs: [Tensor?]) throws -> [Tensor] {
        let x = required(inputs, 0)
        let a = try normalizeAxis(axis, rank: x.rank)
        let (outer, len, inner): (Int, Int, Int) = flattens
            ? (x.shape.prefix(a).reduce(1, *), x.shape[a...].reduce(1, *), 1)
            : (x.shape.prefix(a).reduce(1, *), x.shape[a], x.shape[(a + 1)...].reduce(1, *))
        var out = x.floats
        out.withUnsafeMutableBufferPointer { p in
            for o in 0..<outer {
                for i in 0..<inner {
                    let base = o * len * inner + i
                    var m = -Float.infinity, first = 0
                    for k in 0..<len where p[base + k * inner] > m { m = p[base + k * inner]; first = k }
                    switch kind {
                    case .hardmax:
                        for k in 0..<len { p[base + k * inner] = k == first ? 1 : 0 }
                    case .softmax:
                        var sum: Float = 0
                        for k in 0..<len { let e = Foundation.exp(p[base + k * inner] - m); p[base + k * inner] = e; sum += e }
                        for k in 0..<len { p[base + k * inner] /= sum }
                    case .logSoftmax:
                        var sum: Float = 0
                        for k in 0..<len { sum += Foundation.exp(p[base + k * inner] - m) }
                        let offset = m + Foundation.log(sum)
                        for k in 0..<len { p[base + k * inner] -= offset }
                    }
                }
            }
        }
        return [Tensor(shape: x.shape, floats: out)]
    }
}

/// InstanceNormalization: per image and channel, normalise over the spatial axes, then scale
/// and shift per channel.
struct InstanceNorm: Operator {
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
        }
        return [facts(.float32, x.shape)]
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
        return [Tensor(shape: x.shape, floats: out)]
    }
}

// MARK: gradients (inference-mode statistics are constants)

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
        return [Tensor(shape: x.shape, floats: dx)] + wanted.dropFirst().map { _ in nil }
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
        let scale = broadcastMap([Float](repeating: 0, count: inner), normShape, required(inputs, 1).floats, required(inputs, 1).shape, normShape, +)
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
        return [Tensor(shape: x.shape, floats: dx)] + wanted.dropFirst().map { _ in nil }
    }
}

extension Softmax: Differentiable {
    /// Softmax: dX = y ⊙ (dY − Σ dY ⊙ y); LogSoftmax: dX = dY − softmax · Σ dY; Hardmax: 0.
    func backward(_ inputs: [Tensor?], outputs: [Tensor], gradients: [Tensor?], wanted: [Bool]) throws -> [Tensor?] {
        guard wanted[0], let g = gradients[0] else { return [nil] }
        let y = outputs[0]
        let a = try normalizeAxis(axis, rank: y.rank)
        let (outer, len, inner): (Int, Int, Int) = flattens
            ? (y.shape.prefix(a).reduce(1, *), y.shape[a...].reduce(1, *), 1)
            : (y.shape.prefix(a).reduce(1, *), y.shape[a], y.shape[(a + 1)...].reduce(1, *))
        let ys = y.floats, gs = g.floats
        var dx = [Float](repeating: 0, count: y.count)
        guard kind != .hardmax else { return [Tensor(shape: y.shape, floats: dx)] }
        for o in 0..<outer {
            for i in 0..<inner {
                let base = o * len * inner + i
                var dot: Float = 0
                for k in 0..<len { dot += kind == .softmax ? gs[base + k * inner] * ys[base + k * inner] : gs[base + k * inner] }
                for k in 0..<len {
                    let j = base + k * inner
                    dx[j] = kind == .softmax ? ys[j] * (gs[j] - dot) : gs[j] - Foundation.exp(ys[j]) * dot
                }
            }
        }
        return [Tensor(shape: y.shape, floats: dx)]
    }
}
