/// What an explainer cannot do with this model unless the caller says more.
public enum ExplainerError: Error, CustomStringConvertible, Equatable, Sendable {
    /// No target layer was named and the model has no 4-D activation to choose by default.
    case noDefaultTarget(method: String)
    /// No embedding was named and the model has no pooled feature vector or 4-D activation.
    case noDefaultEmbedding(method: String)

    public var description: String {
        switch self {
        case let .noDefaultTarget(method):
            return "\(method): the model has no 4-D activation to explain by default; name a target layer"
        case let .noDefaultEmbedding(method):
            return "\(method): the model has no pooled embedding to compare by default; name an embedding tensor"
        }
    }
}
