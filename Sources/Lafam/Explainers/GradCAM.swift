/// The Grad-CAM family: maps from a layer's activations A and the gradient G = ∂y/∂A of a
/// target y (a class logit by default), computed with lafam's autodiff. Raw maps, per image:
/// - `gradcam`:   ReLU(Σ_k α_k A_k), α_k = mean over space of G_k (Selvaraju et al.)
/// - `gradcam++`: α_k = Σ_ij a_ij·ReLU(G_k,ij), a = G² / (2G² + Σ_ij A_k · G³ + 1e-6), 0 where G = 0
/// - `hirescam`:  ReLU(Σ_k G_k ⊙ A_k)
/// - `xgradcam`:  α_k = Σ_ij G_k A_k / (Σ_ij A_k + 1e-7)
/// - `layercam`:  ReLU(Σ_k ReLU(G_k) ⊙ A_k)
/// as pytorch-grad-cam 1.5.7 computes them.
public struct GradCAM: Explainer {
    /// Which member of the family computes the map; the raw value is its command-line name.
    public enum Variant: String, Sendable, CaseIterable {
        /// Grad-CAM: channels weighted by their mean gradient.
        case gradcam
        /// Grad-CAM++: channels weighted by their positive gradients, each pixel's weight built from
    /// the gradient's second and third powers.
        case gradcamPlusPlus = "gradcam++"
        /// HiResCAM, XGrad-CAM and LayerCAM (see the type's description).
        case hirescam, xgradcam, layercam
    }

    /// The variant computed (default `.gradcam`).
    public var variant: Variant
    /// What is differentiated: by default the logit of each image's top class.
    public var gradientTarget: GradientTarget
    /// How the raw map is normalised and brought to input resolution (default `.paper`).
    public var postprocessing: Postprocessing
    /// The resize the `.paper` postprocessing uses (default nearest).
    public var upsampling: SaliencyMaps.Upsampling
    /// The token layout of the targets when the graph does not tell it (`Graph.tokenLayout(of:)`).
    public var tokens: TokenLayout?

    /// A Grad-CAM explainer of `variant` for the gradient `target`.
    public init(_ variant: Variant = .gradcam, target: GradientTarget = .logit(classes: nil),
                postprocessing: Postprocessing = .paper, upsampling: SaliencyMaps.Upsampling = .nearest,
                tokens: TokenLayout? = nil) {
        self.variant = variant
        gradientTarget = target
        self.postprocessing = postprocessing
        self.upsampling = upsampling
        self.tokens = tokens
    }

    /// The variant's name: `gradcam`, `gradcam++`, `hirescam`, `xgradcam` or `layercam`.
    public var name: String { variant.rawValue }

    /// Explains a batch at one target layer (nil: the model's default target).
    public func explain(_ input: Tensor, model: Model, target: String?) throws -> Explanation {
        try explain(input, model: model, targets: [target])[0]
    }

    /// One explanation per target layer from a single forward and backward pass.
    public func explain(_ input: Tensor, model: Model, targets: [String?]) throws -> [Explanation] {
        let names = try targets.map { try resolveTarget($0, in: model, method: name) }
        let size = try inputSize(input, model: model)
        let result = try model.gradients(input, target: gradientTarget, withRespectTo: names)
        return try names.map { layer in
            // Token tensors fold to their patch grid, activation and gradient alike (one analysis).
            let layout = tokens ?? model.graph.valueIndex[layer].flatMap(model.graph.tokenLayout(of:))
            let a = try featureMap(result.values[layer]!, name: layer, model: model, method: variant.rawValue, tokens: layout)
            let g = try featureMap(result.gradients[layer]!, name: layer, model: model, method: variant.rawValue, tokens: layout)
            let raw = rawMap(activations: a, gradients: g)
            let maps = postprocessing.apply(raw, height: size.height, width: size.width, upsampling: upsampling)
            return try Explanation(method: name, targetTensor: layer, raw: raw, maps: maps, outputs: result.outputs, classes: result.classes)
        }
    }

    /// The variant's map at layer resolution, B×H×W, after the final ReLU.
    public func rawMap(activations a: Tensor, gradients g: Tensor) -> Tensor {
        let (b, c, h, w) = (a.shape[0], a.shape[1], a.shape[2], a.shape[3])
        let plane = h * w
        let av = a.floats, gv = g.floats
        var out = [Float](repeating: 0, count: b * plane)
        for n in 0..<b {
            for k in 0..<c {
                let base = (n * c + k) * plane
                let A = av[base..<(base + plane)], G = gv[base..<(base + plane)]
                switch variant {
                case .hirescam, .layercam:
                    for i in 0..<plane {
                        let grad = variant == .layercam ? max(G[base + i], 0) : G[base + i]
                        out[n * plane + i] += grad * A[base + i]
                    }
                    continue
                case .gradcam, .gradcamPlusPlus, .xgradcam:
                    let weight = channelWeight(A, G)
                    for i in 0..<plane { out[n * plane + i] += weight * A[base + i] }
                }
            }
        }
        return Tensor(uncheckedShape: [b, h, w], floats: out.map { max($0, 0) })
    }

    /// α_k for the channel-weighted variants.
    private func channelWeight(_ A: ArraySlice<Float>, _ G: ArraySlice<Float>) -> Float {
        let n = Float(A.count)
        switch variant {
        case .gradcam:
            return G.reduce(0, +) / n
        case .xgradcam:
            let sumA = A.reduce(0, +)
            return zip(A, G).reduce(0) { $0 + $1.0 * $1.1 } / (sumA + 1e-7)
        default:
            let sumA = A.reduce(0, +)
            return G.reduce(0) { total, grad in
                guard grad != 0 else { return total }
                let g2 = grad * grad, g3 = g2 * grad
                return total + g2 / (2 * g2 + sumA * g3 + 1e-6) * max(grad, 0)
            }
        }
    }
}

/// Plain input-gradient saliency (Simonyan et al.): max over colour channels of |∂y/∂x|; the
/// raw map is already at input resolution.
public struct InputGradient: Explainer {
    /// What is differentiated: by default the logit of each image's top class.
    public var gradientTarget: GradientTarget
    /// Input-gradient saliency for the gradient `target`.
    public init(target: GradientTarget = .logit(classes: nil)) { gradientTarget = target }
    /// The method's name: `gradient`.
    public var name: String { "gradient" }

    /// Explains a batch with one forward and one backward pass; `target` is ignored, since the
    /// map is always of the model's first input.
    public func explain(_ input: Tensor, model: Model, target: String?) throws -> Explanation {
        let size = try inputSize(input, model: model)
        let inputName = model.inputs[0].name
        let result = try model.gradients(input, target: gradientTarget, withRespectTo: [inputName])
        let g = result.gradients[inputName]!.floats
        let layout = ImageLayout.detect(model.inputs[0].shape)
        let (b, plane) = (input.shape[0], size.height * size.width)
        let channels = input.count / max(b * plane, 1)
        var raw = [Float](repeating: 0, count: b * plane)
        for n in 0..<b {
            for c in 0..<channels {
                for i in 0..<plane {
                    let index = layout == .nchw ? (n * channels + c) * plane + i : (n * plane + i) * channels + c
                    raw[n * plane + i] = max(raw[n * plane + i], abs(g[index]))
                }
            }
        }
        let rawMap = Tensor(uncheckedShape: [b, size.height, size.width], floats: raw)
        return try Explanation(method: name, targetTensor: inputName, raw: rawMap,
                           maps: SaliencyMaps.minMaxNormalize(rawMap), outputs: result.outputs, classes: result.classes)
    }
}
