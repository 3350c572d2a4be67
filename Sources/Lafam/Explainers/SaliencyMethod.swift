import Lafam

/// The explainer chosen on the command line, over one or more target nodes.
struct MultiNodeExplainer {
    let method: RunCommand.Method
    let lafam: LaFAM
    let target: GradientTarget
    let postprocessing: Postprocessing
    let upsampling: SaliencyMaps.Upsampling
    let relax: RELAX?
    var relaxEmbedding: String? = nil

    /// One explanation per node (the default target when `nodes` is empty).
    func explain(_ input: Tensor, model: Model, nodes: [String]) throws -> [Explanation] {
        let targets: [String?] = nodes.isEmpty ? [nil] : nodes
        switch method {
        case .lafam:
            return try targets.map { try lafam.explain(input, model: model, target: $0) }
        case .eigencam:
            let e = EigenCAM(postprocessing: postprocessing, upsampling: upsampling)
            return try targets.map { try e.explain(input, model: model, target: $0) }
        case .relax:
            // RELAX explains an embedding, not a layer: --embedding (or a single --node) names it.
            return [try relax!.explain(input, model: model, target: relaxEmbedding ?? nodes.first)]
        case .gradient:
            return [try InputGradient(target: target).explain(input, model: model, target: nil)]
        case .gradcam, .gradcamPlusPlus, .hirescam, .xgradcam, .layercam:
            let variant = GradCAM.Variant(rawValue: method.rawValue)!
            // All layers from one forward and one backward pass.
            return try GradCAM(variant, target: target, postprocessing: postprocessing, upsampling: upsampling)
                .explain(input, model: model, targets: targets)
        }
    }
}
