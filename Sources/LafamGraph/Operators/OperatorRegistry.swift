/// Maps (domain, op type) to factories. Each factory reads its node's attributes and dispatches
/// on `NodeContext.opset` where the op's semantics changed. The default ONNX domain is "" (files
/// may also write "ai.onnx").
public struct OperatorRegistry: Sendable {
    /// Makes the op for one node from its context; throws `OpError` for attributes it cannot accept.
    public typealias Factory = @Sendable (NodeContext) throws -> any Operator

    private struct Key: Hashable, Sendable {
        let domain: String
        let opType: String
    }

    private var factories: [Key: Factory] = [:]

    /// An empty registry.
    public init() {}

    /// Binds `opType` of `domain` (default: the ONNX default domain) to `factory`, replacing any
    /// earlier binding.
    public mutating func register(_ opType: String, domain: String = "", _ factory: @escaping Factory) {
        factories[Key(domain: Self.normalised(domain), opType: opType)] = factory
    }

    /// The factory for `opType` in `domain`, if registered.
    public func factory(_ opType: String, domain: String = "") -> Factory? {
        factories[Key(domain: Self.normalised(domain), opType: opType)]
    }

    /// The registered op types of `domain`, sorted.
    public func opTypes(domain: String = "") -> [String] {
        factories.keys.filter { $0.domain == Self.normalised(domain) }.map(\.opType).sorted()
    }

    private static func normalised(_ domain: String) -> String { domain == "ai.onnx" ? "" : domain }
}
