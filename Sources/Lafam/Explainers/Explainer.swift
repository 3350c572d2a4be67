/// A saliency method: turns one forward (or forward + backward) pass over a batch into one map
/// per image. LaFAM is the first; Grad-CAM, RELAX and others plug in through the same protocol.
public protocol Explainer {
    /// Short name used in file names and on the command line (`lafam`, `gradcam`, …).
    var name: String { get }
    /// Explains a batch of preprocessed model inputs (fed to the model's first input).
    /// - Parameters:
    ///   - input: the batch, shaped as the model's first input.
    ///   - model: the model to explain.
    ///   - target: node name, tensor name or abbreviation; nil for the model's default target
    ///     (`Model.defaultTarget`).
    func explain(_ input: Tensor, model: Model, target: String?) throws -> Explanation
}

/// The result of explaining a batch of B images.
public struct Explanation: Sendable {
    /// The explainer's `name`, such as `lafam` or `gradcam`.
    public let method: String
    /// The tensor the maps were computed from.
    public let targetTensor: String
    /// B×h×w map at the target's resolution, before normalisation.
    public let raw: Tensor
    /// B×H×W map at the model input's resolution, values in [0, 1].
    public let maps: Tensor
    /// The model's outputs from the same pass (e.g. logits), by name.
    public let outputs: [String: Tensor]
    /// The class explained per image, for class-targeted methods.
    public let classes: [Int]?
    /// Further B×H×W maps a method produces (RELAX: `uncertainty`, `urelax`), by name.
    public let extras: [String: Tensor]

    /// Throws `ExplainerError.nonFiniteMap` when a map holds NaN or an infinity (non-finite
    /// activations or gradients, or an input that holds them), naming the images: a map is never
    /// returned that cannot be drawn or scored.
    public init(method: String, targetTensor: String, raw: Tensor, maps: Tensor, outputs: [String: Tensor],
                classes: [Int]? = nil, extras: [String: Tensor] = [:]) throws {
        let values = maps.floats, plane = maps.count / max(1, maps.shape.first ?? 1)
        let bad = (0..<(maps.shape.first ?? 0)).filter { b in values[(b * plane)..<((b + 1) * plane)].contains { !$0.isFinite } }
        guard bad.isEmpty else { throw ExplainerError.nonFiniteMap(method: method, images: bad) }
        self.method = method
        self.targetTensor = targetTensor
        self.raw = raw
        self.maps = maps
        self.outputs = outputs
        self.classes = classes
        self.extras = extras
    }
}

/// Where the spatial axes of a 4-D image input are.
public enum ImageLayout: String, Sendable {
    /// Channels first (N×C×H×W) or channels last (N×H×W×C).
    case nchw, nhwc

    /// Channels-first unless the last axis looks like colour channels (1 or 3) and axis 1 does not.
    public static func detect(_ shape: [Dim]) -> ImageLayout {
        guard shape.count == 4 else { return .nchw }
        let channelsFirst = shape[1] == .known(3) || shape[1] == .known(1)
        let channelsLast = shape[3] == .known(3) || shape[3] == .known(1)
        return channelsLast && !channelsFirst ? .nhwc : .nchw
    }

    /// (height, width) of a concrete 4-D shape in this layout.
    public func spatialSize(_ shape: [Int]) -> (height: Int, width: Int) {
        self == .nchw ? (shape[2], shape[3]) : (shape[1], shape[2])
    }
}
