import Foundation
import CKernels
import LafamGraph
import LafamTensor

/// Softmax, LogSoftmax and Hardmax. From opset 13 they normalise along `axis` (default −1);
/// before, the input is viewed as a 2-D matrix split at `axis` (default 1) and each row is
/// normalised.
struct Softmax: Operator {
    var inputArity: ClosedRange<Int> { 1...1 }

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

    func batchBehaviour(_ inputs: [ValueFacts?], carryingBatch: [Bool]) -> BatchBehaviour {
        // Along `axis` (from opset 13) or over the axes from `axis` on: per image unless that is axis 0.
        alongAxisBatchBehaviour(axis, inputs, carryingBatch: carryingBatch)
    }

    /// `.pointwise` over the channels of a map (axis 1 from opset 13); a softmax over the
    /// spatial axes reads every pixel.
    func spatialReach(_ inputs: [ValueFacts?]) -> SpatialReach {
        guard !flattens, let r = inputs.first??.rank, r >= 3, (try? normalizeAxis(axis, rank: r)) == 1 else { return .unknown }
        return .pointwise
    }

    func run(_ inputs: [Tensor?]) throws -> [Tensor] {
        let x = required(inputs, 0)
        let a = try normalizeAxis(axis, rank: x.rank)
        let (outer, len, inner): (Int, Int, Int) = flattens
            ? (x.shape.prefix(a).reduce(1, *), x.shape[a...].reduce(1, *), 1)
            : (x.shape.prefix(a).reduce(1, *), x.shape[a], x.shape[(a + 1)...].reduce(1, *))
        var out = x.floats
        if kind == .softmax, inner == 1, len > 0, cpuHasAVX2FMA {
            out.withUnsafeMutableBufferPointer { lafam_softmax_rows($0.baseAddress!, outer, len) }
            return [Tensor(uncheckedShape: x.shape, floats: out)]
        }
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
        return [Tensor(uncheckedShape: x.shape, floats: out)]
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
        guard kind != .hardmax else { return [Tensor(uncheckedShape: y.shape, floats: dx)] }
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
        return [Tensor(uncheckedShape: y.shape, floats: dx)]
    }
}
