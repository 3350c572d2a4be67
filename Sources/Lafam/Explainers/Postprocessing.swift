/// How a raw (layer-resolution) map becomes the final map at input resolution.
public enum Postprocessing: String, Sendable, CaseIterable {
    /// The LaFAM paper's: min-max (eps 1e-8) at layer resolution, then upsampling (nearest by default).
    case paper
    /// pytorch-grad-cam's: min-max (eps 1e-7), half-pixel bilinear resize, min-max again.
    case pytorchGradCAM = "pytorch-grad-cam"

    /// Applies this style to B×h×w raw maps for an input of height × width.
    public func apply(_ raw: Tensor, height: Int, width: Int, upsampling: SaliencyMaps.Upsampling) -> Tensor {
        switch self {
        case .paper:
            return SaliencyMaps.upsample(SaliencyMaps.minMaxNormalize(raw, epsilon: 1e-8), height: height, width: width, mode: upsampling)
        case .pytorchGradCAM:
            let scaled = SaliencyMaps.minMaxNormalize(raw, epsilon: 1e-7)
            return SaliencyMaps.minMaxNormalize(SaliencyMaps.upsample(scaled, height: height, width: width, mode: .bilinear), epsilon: 1e-7)
        }
    }
}

/// Resolves an explainer's target layer: the named node/tensor or the model's default target.
func resolveTarget(_ target: String?, in model: Model, method: String) throws -> String {
    if let target { return model.graph.values[try model.graph.resolveTensor(target)].name }
    guard let t = model.defaultTarget else { throw ExplainerError.noDefaultTarget(method: method) }
    return model.graph.values[t].name
}

/// The input's spatial size, from the model's input layout.
func inputSize(_ input: Tensor, model: Model) throws -> (height: Int, width: Int) {
    guard input.rank == 4 else { throw LafamError.invalidArgument("a 4-D image batch is needed as input, got shape \(input.shape)") }
    return ImageLayout.detect(model.inputs[0].shape).spatialSize(input.shape)
}

/// Checks that an activation is a float32 N×C×H×W tensor.
func requireFeatureMap(_ a: Tensor, name: String, method: String) throws {
    guard a.rank == 4, a.dtype == .float32 else {
        throw LafamError.invalidArgument("\(method) needs a 4-D float32 N×C×H×W activation; '\(name)' is \(a.dtype) with shape \(a.shape)")
    }
}

/// Tensor `name` of `model` (an activation or its gradient) as an N×C×H×W feature map: a 4-D
/// tensor as it is; a vision transformer's token tensor folded to its patch grid, the class and
/// other leading tokens dropped, and a channels-last `[N, H, W, C]` map transposed
/// (`Graph.tokenLayout(of:)`, or the layout `given` by the caller).
func featureMap(_ a: Tensor, name: String, model: Model, method: String, tokens given: TokenLayout? = nil) throws -> Tensor {
    if a.rank == 3 || a.rank == 4, a.dtype == .float32,
       let layout = given ?? model.graph.valueIndex[name].flatMap(model.graph.tokenLayout(of:)) {
        do { return try layout.fold(a) } catch let e as TensorError {
            throw LafamError.invalidArgument("\(method): '\(name)' does not fit the token layout (\(layout)): \(e.reason)")
        }
    }
    guard a.rank == 4, a.dtype == .float32 else {
        throw LafamError.invalidArgument("\(method) needs a 4-D float32 N×C×H×W activation or a vision transformer's token tensor "
            + "after a patch embedding; '\(name)' is \(a.dtype) with shape \(a.shape)")
    }
    return a
}
