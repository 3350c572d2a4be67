/// A saliency method chosen by name with its options, over one or more target nodes: what the
/// CLI's `run`, `bench` and `eval` commands explain with.
public struct SaliencyMethod {
    /// The methods lafam offers; the raw value is the method's command-line name.
    public enum Name: String, Sendable, CaseIterable {
        /// LaFAM, the five Grad-CAM variants, EigenCAM, input gradient and RELAX.
        case lafam, gradcam, gradcamPlusPlus = "gradcam++", hirescam, xgradcam, layercam, eigencam, gradient, relax

        /// The method's name as its authors write it, for titles and reports.
        public var displayName: String {
            switch self {
            case .lafam: return "LaFAM"
            case .gradcam: return "Grad-CAM"
            case .gradcamPlusPlus: return "Grad-CAM++"
            case .hirescam: return "HiResCAM"
            case .xgradcam: return "XGrad-CAM"
            case .layercam: return "LayerCAM"
            case .eigencam: return "EigenCAM"
            case .gradient: return "input gradient"
            case .relax: return "RELAX"
            }
        }

        /// Whether the method explains a class (a gradient target); the others are label-free.
        public var explainsAClass: Bool {
            switch self {
            case .gradcam, .gradcamPlusPlus, .hirescam, .xgradcam, .layercam, .gradient: return true
            case .lafam, .eigencam, .relax: return false
            }
        }

        /// Whether the method explains a layer named by a node or tensor (RELAX compares
        /// embeddings, the input gradient explains the input).
        public var explainsALayer: Bool { self != .relax && self != .gradient }
    }

    /// Which method runs.
    public var name: Name
    /// LaFAM's settings, used when `name` is `.lafam`.
    public var lafam: LaFAM
    /// What the gradient methods (the Grad-CAM variants and input gradient) differentiate; by
    /// default the logit of each image's top class.
    public var target: GradientTarget
    /// How the Grad-CAM variants and EigenCAM finish their maps (default `.paper`).
    public var postprocessing: Postprocessing
    /// The resize the Grad-CAM variants and EigenCAM use with `.paper` postprocessing (default nearest).
    public var upsampling: SaliencyMaps.Upsampling
    /// RELAX's settings, used when `name` is `.relax`.
    public var relax: RELAX
    /// RELAX's embedding tensor (nil: the model's default embedding).
    public var relaxEmbedding: String?
    /// The token layout of the targets when the graph does not tell it (LaFAM, EigenCAM, Grad-CAM family).
    public var tokens: TokenLayout?

    /// The method `name` with its settings; settings that belong to other methods are ignored.
    public init(_ name: Name, lafam: LaFAM = LaFAM(), target: GradientTarget = .logit(classes: nil),
                postprocessing: Postprocessing = .paper, upsampling: SaliencyMaps.Upsampling = .nearest,
                relax: RELAX = RELAX(), relaxEmbedding: String? = nil, tokens: TokenLayout? = nil) {
        self.name = name
        self.lafam = lafam
        self.target = target
        self.postprocessing = postprocessing
        self.upsampling = upsampling
        self.relax = relax
        self.relaxEmbedding = relaxEmbedding
        self.tokens = tokens
    }

    /// The `targetTensor` of each explanation `explain(_:model:nodes:)` returns, in order, resolved
    /// without running the model: what callers name output files by before computing anything.
    public func targets(model: Model, nodes: [String]) throws -> [String] {
        switch name {
        case .gradient: return [model.inputs[0].name]
        case .relax: return [try relax.embeddingName(relaxEmbedding, in: model)]
        default:
            let targets: [String?] = nodes.isEmpty ? [nil] : nodes
            return try targets.map { try resolveTarget($0, in: model, method: name.rawValue) }
        }
    }

    /// The keys of `Explanation.extras` this method fills: RELAX's uncertainty and U-RELAX maps.
    public var extraMaps: [String] { name == .relax ? ["uncertainty", "urelax"] : [] }

    /// One explanation per node (the default target when `nodes` is empty); `gradient` and
    /// `relax` explain the input and an embedding (`relaxEmbedding`), so they give one explanation
    /// and ignore `nodes`.
    public func explain(_ input: Tensor, model: Model, nodes: [String]) throws -> [Explanation] {
        let targets: [String?] = nodes.isEmpty ? [nil] : nodes
        switch name {
        case .lafam:
            var lafam = self.lafam
            lafam.tokens = tokens ?? lafam.tokens
            return try targets.map { try lafam.explain(input, model: model, target: $0) }
        case .eigencam:
            let e = EigenCAM(postprocessing: postprocessing, upsampling: upsampling, tokens: tokens)
            return try targets.map { try e.explain(input, model: model, target: $0) }
        case .gradient:
            return [try InputGradient(target: target).explain(input, model: model, target: nil)]
        case .relax:
            return [try relax.explain(input, model: model, target: relaxEmbedding)]
        case .gradcam, .gradcamPlusPlus, .hirescam, .xgradcam, .layercam:
            let variant = GradCAM.Variant(rawValue: name.rawValue)!
            // All layers from one forward and one backward pass.
            return try GradCAM(variant, target: target, postprocessing: postprocessing, upsampling: upsampling, tokens: tokens)
                .explain(input, model: model, targets: targets)
        }
    }
}
