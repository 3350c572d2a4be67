/// The interpreter's failures, shared by every layer from the ONNX reader to the runtime. Each
/// message says what went wrong and where (file, node, tensor) in the library's own terms; a
/// front end adds how to fix it with its own options (the CLI names its flags).
public enum LafamError: Error, CustomStringConvertible, Equatable, Sendable {
    /// The model file cannot be read or is not a valid ONNX protobuf.
    case modelFile(path: String, reason: String)
    /// A tensor stored in the model (initializer, Constant, external data) cannot be decoded.
    case invalidTensor(name: String, reason: String)
    /// The graph is malformed (missing input, cycle, duplicate producer, …).
    case invalidGraph(String)
    /// A node's op type has no implementation for its domain/opset.
    case unsupportedOp(opType: String, domain: String, node: String, opset: Int)
    /// A valid ONNX feature lafam does not implement (attribute value, element type, rank,
    /// training mode); the message names the node or tensor.
    case unsupported(String)
    /// A node's attributes, input types or ranks are not acceptable to its op.
    case invalidNode(node: String, opType: String, reason: String)
    /// A node or tensor name given by the caller does not exist.
    case unknownName(String, suggestions: [String])
    /// A node abbreviation matches several nodes.
    case ambiguousName(String, matches: [String])
    /// A caller-supplied value (input tensor, option) is not acceptable.
    case invalidArgument(String)
    /// Something sized by the model or an input would need more memory than the budget allows
    /// (`MemoryBudget`); `bytes` is `Int.max` when the size itself overflows.
    case overMemoryBudget(what: String, bytes: Int, budget: Int)

    /// The message, one printable line (control characters from file-provided names escaped).
    public var description: String { message.escapingControlCharacters }

    private var message: String {
        switch self {
        case let .modelFile(path, reason):
            return "cannot load model '\(path)': \(reason)"
        case let .invalidTensor(name, reason):
            return "tensor '\(name)': \(reason)"
        case let .invalidGraph(message):
            return "invalid graph: \(message)"
        case let .unsupportedOp(opType, domain, node, opset):
            let dom = domain.isEmpty ? "ai.onnx" : domain
            return "unsupported op '\(opType)' (domain \(dom), opset \(opset)) at node '\(node)': lafam does not implement it; see SPEC.md for the supported ops"
        case let .unsupported(message):
            return "\(message); lafam does not implement this (see SPEC.md for what is supported)"
        case let .invalidNode(node, opType, reason):
            return "node '\(node)' (\(opType)): \(reason)"
        case let .unknownName(name, suggestions):
            guard !suggestions.isEmpty else { return "no node or tensor named '\(name)'" }
            return "no node or tensor named '\(name)'; did you mean " + suggestions.map { "'\($0)'" }.joined(separator: ", ") + "?"
        case let .ambiguousName(name, matches):
            let shown = matches.prefix(8).map { "'\($0)'" }.joined(separator: ", ")
            let more = matches.count > 8 ? " and \(matches.count - 8) more" : ""
            return "'\(name)' matches \(matches.count) nodes: \(shown)\(more); give more of the name"
        case let .invalidArgument(message):
            return message
        case let .overMemoryBudget(what, bytes, budget):
            let need = bytes == .max ? "more memory than can be addressed" : Sizes.describe(bytes: bytes)
            return "\(what) would need \(need), more than the memory budget of \(Sizes.describe(bytes: budget)); "
                + "raise the budget (ModelOptions.memoryBudget) if the machine has the memory"
        }
    }
}
