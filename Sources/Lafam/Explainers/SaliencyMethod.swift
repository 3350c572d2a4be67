/// A saliency method chosen by name with its options, over one or more target nodes: what the
/// CLI's `run`, `bench` and `eval` commands explain with.
public struct SaliencyMethod {
    public enum Name: String, Sendable, CaseIterable {
        case lafam, gradcam, gradcamPlusPlus = "gradcam++", hirescam, xgradcam, layercam, eigencam, gradient, relax
    }

    public var name: Name
    public var lafam: LaFAM
    public var target: GradientTarget
    public var postprocessing: Postprocessing
    public var upsampling: SaliencyMaps.Upsampling
    public var relax: RELAX
    /// RELAX's embedding tensor (nil: the model's default embedding).
    public var relaxEmbedding: String?

    public init(_ name: Name, lafam: LaFAM = LaFAM(), target: GradientTarget = .logit(classes: nil),
                postprocessing: Postprocessing = .paper, upsampling: SaliencyMaps.Upsampling = .nearest,
                relax: RELAX = RELAX(), relaxEmbedding: String? = nil) {
        self.name = name
        self.lafam = lafam
        self.target = target
        self.postprocessing = postprocessing
        self.upsampling = upsampling
        self.relax = relax
        self.relaxEmbedding = relaxEmbedding
    }

    /// The `targetTensor` of each explanation `explain(_:model:nodes:)` returns, in order, resolved
    /// without running the model: what callers name output files by before computing anything.
    public func targets(model: Model, nodes: [String]) throws -> [String] {
        switch name {
        case .gradient: return [model.inputs[0].name]
        case .relax: return [try relax.embeddingName(relaxEmbedding ?? nodes.first, in: model)]
        default:
            let targets: [String?] = nodes.isEmpty ? [nil] : nodes
            return try targets.map { try resolveTarget($0, in: model, method: name.rawValue) }
        }
    }

    /// The keys of `Explanation.extras` this method fills: RELAX's uncertainty and U-RELAX maps.
    public var extraMaps: [String] { name == .relax ? ["uncertainty", "urelax"] : [] }

    /// One explanation per node (the default target when `nodes` is empty); `gradient` and
    /// `relax` explain the input and an embedding, so they give one explanation.
    public func explain(_ input: Tensor, model: Model, nodes: [String]) throws -> [Explanation] {
        let targets: [String?] = nodes.isEmpty ? [nil] : nodes
        switch name {
        case .lafam:
            return try targets.map { try lafam.explain(input, model: model, target: $0) }
        case .eigencam:
            let e = EigenCAM(postprocessing: postprocessing, upsampling: upsampling)
            return try targets.map { try e.explain(input, model: model, target: $0) }
        case .gradient:
            return [try InputGradient(target: target).explain(input, model: model, target: nil)]
        case .relax:
            return [try relax.explain(input, model: model, target: relaxEmbedding ?? nodes.first)]
        case .gradcam, .gradcamPlusPlus, .hirescam, .xgradcam, .layercam:
            let variant = GradCAM.Variant(rawValue: name.rawValue)!
            // All layers from one forward and one backward pass.
            return try GradCAM(variant, target: target, postprocessing: postprocessing, upsampling: upsampling)
                .explain(input, model: model, targets: targets)
        }
    }
}
