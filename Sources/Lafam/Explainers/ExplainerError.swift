import LafamTensor
/// What an explainer cannot do with this model unless the caller says more.
public enum ExplainerError: Error, CustomStringConvertible, Equatable, Sendable {
    /// No target layer was named and the model has no 4-D activation to choose by default.
    case noDefaultTarget(method: String)
    /// No embedding was named and the model has no pooled feature vector or 4-D activation.
    case noDefaultEmbedding(method: String)
    /// The maps of these images (batch indices) hold NaN or an infinity.
    case nonFiniteMap(method: String, images: [Int])

    /// The message, one printable line (control characters from file-provided names escaped).
    public var description: String { message.escapingControlCharacters }

    private var message: String {
        switch self {
        case let .noDefaultTarget(method):
            return "\(method): the model has no 4-D activation to explain by default; name a target layer"
        case let .noDefaultEmbedding(method):
            return "\(method): the model has no pooled embedding to compare by default; name an embedding tensor"
        case let .nonFiniteMap(method, images):
            let which = images.count == 1 ? "image \(images[0])" : "images " + images.prefix(8).map(String.init).joined(separator: ", ") + (images.count > 8 ? ", …" : "")
            return "\(method): the map of \(which) holds NaN or infinite values (the model computes them from this input); it is not written"
        }
    }
}
