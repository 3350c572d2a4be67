import Foundation

/// EigenCAM (Muhammad & Yeasin): the projection of a layer's activations on their first
/// principal component, label-free. Per image, X = Aᵀ (positions × channels) with each
/// channel's mean over positions removed; the raw map is ReLU(X·v₁) for the top right singular
/// vector v₁. SVD leaves the sign of v₁ arbitrary; lafam fixes it so that the projection
/// correlates positively with the channel-mean map (the LaFAM map).
public struct EigenCAM: Explainer {
    /// How the raw map is normalised and brought to input resolution (default `.paper`).
    public var postprocessing: Postprocessing
    /// The resize the `.paper` postprocessing uses (default nearest).
    public var upsampling: SaliencyMaps.Upsampling
    /// The token layout of the target when the graph does not tell it (`Graph.tokenLayout(of:)`).
    public var tokens: TokenLayout?

    /// EigenCAM with the given postprocessing, upsampling and token layout.
    public init(postprocessing: Postprocessing = .paper, upsampling: SaliencyMaps.Upsampling = .nearest, tokens: TokenLayout? = nil) {
        self.postprocessing = postprocessing
        self.upsampling = upsampling
        self.tokens = tokens
    }

    /// The method's name: `eigencam`.
    public var name: String { "eigencam" }

    /// Explains a batch with one forward pass tapping the target layer: a 4-D float32 N×C×H×W
    /// activation, or a vision transformer's token tensor (folded to its patch grid).
    public func explain(_ input: Tensor, model: Model, target: String?) throws -> Explanation {
        let layer = try resolveTarget(target, in: model, method: name)
        let size = try inputSize(input, model: model)
        let result = try model.run(input, taps: [layer])
        let a = try featureMap(result.taps[layer]!, name: layer, model: model, method: "EigenCAM", tokens: tokens)
        let raw = Tensor(uncheckedShape: [a.shape[0], a.shape[2], a.shape[3]], floats: projection(a).map { max($0, 0) })
        return try Explanation(method: name, targetTensor: layer, raw: raw,
                           maps: postprocessing.apply(raw, height: size.height, width: size.width, upsampling: upsampling),
                           outputs: result.outputs)
    }

    /// X·v₁ per image (before the ReLU), B·H·W values, with the sign convention above.
    public func projection(_ a: Tensor) -> [Float] {
        let (b, c, plane) = (a.shape[0], a.shape[1], a.shape[2] * a.shape[3])
        let v = a.floats
        var out = [Float](repeating: 0, count: b * plane)
        for n in 0..<b {
            // X: plane × c, centred per channel.
            var x = [Double](repeating: 0, count: plane * c)
            for k in 0..<c {
                let base = (n * c + k) * plane
                let mean = v[base..<(base + plane)].reduce(0.0) { $0 + Double($1) } / Double(plane)
                for i in 0..<plane { x[i * c + k] = Double(v[base + i]) - mean }
            }
            // X·v₁ = σ₁·u₁, u₁ the top eigenvector of the plane × plane Gram matrix X·Xᵀ.
            var gram = [Double](repeating: 0, count: plane * plane)
            for i in 0..<plane {
                for j in i..<plane {
                    var s = 0.0
                    for k in 0..<c { s += x[i * c + k] * x[j * c + k] }
                    gram[i * plane + j] = s
                    gram[j * plane + i] = s
                }
            }
            let (u, lambda) = topEigenvector(gram, size: plane)
            let sigma = lambda.squareRoot()
            var p = u.map { $0 * sigma }
            // Sign: correlate positively with the channel-mean map.
            let meanMap = (0..<plane).map { i in (0..<c).reduce(0.0) { $0 + Double(v[(n * c + $1) * plane + i]) } / Double(c) }
            let centre = meanMap.reduce(0, +) / Double(plane)
            if zip(p, meanMap).reduce(0.0, { $0 + $1.0 * ($1.1 - centre) }) < 0 { p = p.map { -$0 } }
            for i in 0..<plane { out[n * plane + i] = Float(p[i]) }
        }
        return out
    }

    /// Power iteration on a symmetric positive semi-definite matrix: unit eigenvector and eigenvalue.
    private func topEigenvector(_ m: [Double], size: Int) -> ([Double], Double) {
        var u = (0..<size).map { 1 + Double($0 % 7) * 1e-3 }
        var lambda = 0.0
        for _ in 0..<2000 {
            var next = [Double](repeating: 0, count: size)
            for i in 0..<size { for j in 0..<size { next[i] += m[i * size + j] * u[j] } }
            let norm = next.reduce(0) { $0 + $1 * $1 }.squareRoot()
            guard norm > 0 else { return (u.map { _ in 0 }, 0) }
            next = next.map { $0 / norm }
            let change = zip(next, u).reduce(0) { $0 + abs($1.0 - $1.1) }
            u = next
            lambda = norm
            if change < 1e-12 { break }
        }
        return (u, lambda)
    }
}
