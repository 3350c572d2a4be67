/// LaFAM (Karjauv & Albayrak): the mean of a conv layer's activation maps over channels,
/// min-max normalised per image at layer resolution, upsampled to the input size. Label-free,
/// so it explains self-supervised models too; costs one forward pass.
public struct LaFAM: Explainer {
    /// How channels are combined. `mean` is the paper's; `relu-mean` (the author's later advice
    /// for signed features) clips negatives first; `abs-mean` averages magnitudes.
    public enum Reduction: String, Sendable, CaseIterable {
        /// The plain mean over channels (the paper's).
        case mean
        /// The mean of the channels with negatives clipped to 0.
        case reluMean = "relu-mean"
        /// The mean of the channels' absolute values.
        case absMean = "abs-mean"
        /// Each channel minus its mean over the image's positions, negatives clipped, then the mean:
        /// for ViT features whose channels never switch off (the LaFAM authors' refinement).
        case centeredReluMean = "centered-relu-mean"
    }

    /// How channels are combined (default `.mean`).
    public var reduction: Reduction
    /// The resize to input resolution (default nearest, as in the paper).
    public var upsampling: SaliencyMaps.Upsampling
    /// Added to max − min in the per-image min-max normalisation (default 1e-8).
    public var epsilon: Float
    /// Top of the colour scale as a quantile of each map (e.g. 0.99), nil for the maximum (the
    /// paper's min-max): `SaliencyMaps.quantileNormalize`.
    public var scaleQuantile: Float?
    /// The token layout of the target when the graph does not tell it (`Graph.tokenLayout(of:)`).
    public var tokens: TokenLayout?

    /// LaFAM with the given reduction, upsampling, normalisation and token layout.
    public init(reduction: Reduction = .mean, upsampling: SaliencyMaps.Upsampling = .nearest, epsilon: Float = 1e-8,
                scaleQuantile: Float? = nil, tokens: TokenLayout? = nil) {
        self.reduction = reduction
        self.upsampling = upsampling
        self.epsilon = epsilon
        self.scaleQuantile = scaleQuantile
        self.tokens = tokens
    }

    /// The method's name: `lafam`.
    public var name: String { "lafam" }

    /// Explains a batch with one forward pass tapping the target layer: a 4-D float32 N×C×H×W
    /// activation, or a vision transformer's token tensor (folded to its patch grid).
    public func explain(_ input: Tensor, model: Model, target: String?) throws -> Explanation {
        let targetName = try resolveTarget(target, in: model, method: name)
        let size = try inputSize(input, model: model)
        let result = try model.run(input, taps: [targetName])
        let raw = try channelMean(try featureMap(result.taps[targetName]!, name: targetName, model: model, method: "LaFAM", tokens: tokens),
                                  name: targetName)
        let normalized = scaleQuantile.map { SaliencyMaps.quantileNormalize(raw, quantile: $0, epsilon: epsilon) }
            ?? SaliencyMaps.minMaxNormalize(raw, epsilon: epsilon)
        let maps = SaliencyMaps.upsample(normalized, height: size.height, width: size.width, mode: upsampling)
        return try Explanation(method: name, targetTensor: targetName, raw: raw, maps: maps, outputs: result.outputs)
    }

    /// B×C×H×W → B×H×W by the chosen reduction over axis 1.
    public func channelMean(_ a: Tensor, name: String) throws -> Tensor {
        try requireFeatureMap(a, name: name, method: "LaFAM")
        let (b, c, plane) = (a.shape[0], a.shape[1], a.shape[2] * a.shape[3])
        let v = a.floats
        var out = [Float](repeating: 0, count: b * plane)
        for n in 0..<b {
            for ch in 0..<c {
                let base = (n * c + ch) * plane
                let centre = reduction == .centeredReluMean ? v[base..<(base + plane)].reduce(0, +) / Float(plane) : 0
                for i in 0..<plane {
                    let x = v[base + i]
                    switch reduction {
                    case .mean: out[n * plane + i] += x
                    case .reluMean: out[n * plane + i] += max(x, 0)
                    case .absMean: out[n * plane + i] += abs(x)
                    case .centeredReluMean: out[n * plane + i] += max(x - centre, 0)
                    }
                }
            }
        }
        let inv = 1 / Float(c)
        return Tensor(uncheckedShape: [b, a.shape[2], a.shape[3]], floats: out.map { $0 * inv })
    }
}
