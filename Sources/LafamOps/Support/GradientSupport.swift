// Helpers shared by the ops' gradient rules (`Differentiable` conformances).

import LafamGraph
import LafamTensor

/// Sums a gradient over the axes along which a tensor of `shape` was broadcast, so that it
/// has that shape again (the adjoint of numpy broadcasting).
func reduceToShape(_ g: Tensor, _ shape: [Int]) throws -> Tensor {
    if g.shape == shape { return g }
    let strides = broadcastStrides(shape, to: g.shape)
    let positions = try stridedIndices(g.shape, strides: strides, offset: 0)
    return Tensor(uncheckedShape: shape, floats: scatterAdd(g.floats, to: positions, count: Tensor.count(of: shape)))
}

/// The adjoint of `Tensor.Storage.take`: adds each `values[i]` at `indices[i]` (negative
/// indices, which read the fill value, receive nothing).
func scatterAdd(_ values: [Float], to indices: [Int], count: Int) -> [Float] {
    var out = [Float](repeating: 0, count: count)
    for (i, j) in indices.enumerated() where j >= 0 { out[j] += values[i] }
    return out
}

/// Applies `f(x, y, g)` elementwise over a unary op's input, output and output gradient.
@inline(__always)
func pullback(_ x: Tensor, _ y: Tensor, _ g: Tensor, _ f: (Float, Float, Float) -> Float) -> Tensor {
    let xs = x.floats, ys = y.floats, gs = g.floats
    return Tensor(uncheckedShape: x.shape, floats: [Float](unsafeUninitializedCapacity: xs.count) { buf, n in
        for i in 0..<xs.count { buf[i] = f(xs[i], ys[i], gs[i]) }
        n = xs.count
    })
}

/// Gradient rules of ops that only move elements: the gradient is scattered back through the
/// same index map the forward pass gathered with.
protocol IndexMapping: Differentiable {
    /// For each output, the flat input index of each of its elements (−1 for fill values).
    func indexMaps(_ inputs: [Tensor?]) throws -> [[Int]]
}

extension IndexMapping {
    func backward(_ inputs: [Tensor?], outputs: [Tensor], gradients: [Tensor?], wanted: [Bool]) throws -> [Tensor?] {
        guard wanted.first == true, let x = inputs[0] else { return wanted.map { _ in nil } }
        var total = [Float](repeating: 0, count: x.count)
        for (k, map) in try indexMaps(inputs).enumerated() {
            guard k < gradients.count, let g = gradients[k] else { continue }
            let gs = g.floats
            for (i, j) in map.enumerated() where j >= 0 { total[j] += gs[i] }
        }
        return [Tensor(uncheckedShape: x.shape, floats: total)] + wanted.dropFirst().map { _ in nil }
    }
}

/// Gradient rule of ops whose output is the input viewed with another shape.
protocol ShapeView: Differentiable {}

extension ShapeView {
    func backward(_ inputs: [Tensor?], outputs: [Tensor], gradients: [Tensor?], wanted: [Bool]) throws -> [Tensor?] {
        guard wanted.first == true, let x = inputs[0], let g = gradients[0] else { return wanted.map { _ in nil } }
        return [g.viewed(as: x.shape)] + wanted.dropFirst().map { _ in nil }
    }
}

/// `values` of `shape` broadcast to `out` (numpy rules), as a flat array.
func expand<T>(_ values: [T], _ shape: [Int], to out: [Int]) throws -> [T] {
    shape == out ? values : try stridedIndices(out, strides: broadcastStrides(shape, to: out), offset: 0).map { values[$0] }
}

/// A bias's gradient: `g` ([N, C, plane...]) summed over the batch and the plane, per channel.
func channelSums(_ g: [Float], batch n: Int, channels m: Int, plane: Int) -> [Float] {
    var sums = [Float](repeating: 0, count: m)
    for b in 0..<n { for ch in 0..<m { let base = (b * m + ch) * plane; sums[ch] += g[base..<(base + plane)].reduce(0, +) } }
    return sums
}
