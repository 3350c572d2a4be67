/// The in-memory op graph: values named by their ONNX names, nodes in topological order, each
/// node bound to its `Operator`, every value annotated with statically inferred facts.
public final class Graph: @unchecked Sendable {
    public struct Value: Sendable {
        public let name: String
        /// Index of the producing node; nil for graph inputs and initializers.
        public internal(set) var producer: Int?
        /// Inferred type and shape (and contents, for constants).
        public internal(set) var facts: ValueFacts?
    }

    public struct Node: Sendable {
        public let name: String
        public let opType: String
        public let domain: String
        /// Value indices of the inputs; nil marks an omitted optional input.
        public let inputs: [Int?]
        public let outputs: [Int]
        public let attributes: [String: ONNXAttribute]
        public let opset: Int
        /// True when every output is a load-time constant (the node never runs).
        public internal(set) var isFolded: Bool = false
    }

    public internal(set) var values: [Value]
    public internal(set) var nodes: [Node]
    let operators: [Operator]
    /// Graph inputs that must be fed (initializers excluded).
    public let inputs: [Int]
    public let outputs: [Int]
    /// Value index by ONNX tensor name.
    public let valueIndex: [String: Int]
    /// Node index by node name.
    public let nodeIndex: [String: Int]

    init(values: [Value], nodes: [Node], operators: [Operator], inputs: [Int], outputs: [Int]) {
        self.values = values
        self.nodes = nodes
        self.operators = operators
        self.inputs = inputs
        self.outputs = outputs
        var vi: [String: Int] = [:]
        for (i, v) in values.enumerated() { vi[v.name] = i }
        valueIndex = vi
        var ni: [String: Int] = [:]
        for (i, n) in nodes.enumerated() where ni[n.name] == nil { ni[n.name] = i }
        nodeIndex = ni
    }

    /// The constant value of a value index, if it is known at load time.
    public func constant(_ value: Int) -> Tensor? { values[value].facts?.constant }
}
