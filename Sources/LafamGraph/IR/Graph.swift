import LafamONNX
import LafamTensor

/// The in-memory op graph: values named by their ONNX names, nodes in topological order, each
/// node bound to its `Operator`, every value annotated with statically inferred facts.
///
/// Value indices are stable across rewrites (`GraphRewriter`): a rewritten graph keeps every
/// value of the graph it came from (values a rewrite hides simply have no producer any more) and
/// appends the constants it makes, so a tap or a gradient names the same value in both.
public final class Graph: Sendable {
    /// One tensor of the graph (input, initializer or node output), named as in the ONNX file.
    public struct Value: Sendable {
        /// The tensor's ONNX name.
        public let name: String
        /// Index of the producing node; nil for graph inputs, initializers and values a rewrite hid.
        public package(set) var producer: Int?
        /// Inferred type and shape (and contents, for constants).
        public package(set) var facts: ValueFacts?

        package init(name: String, producer: Int?, facts: ValueFacts?) {
            self.name = name
            self.producer = producer
            self.facts = facts
        }
    }

    /// One node of the graph, bound to its op, reading and writing values by index.
    public struct Node: Sendable {
        /// The node's ONNX name (an unnamed node is named after its op type and first output).
        public let name: String
        /// The ONNX operator, such as "Conv".
        public let opType: String
        /// The operator's domain; "" for the default `ai.onnx` domain.
        public let domain: String
        /// Value indices of the inputs; nil marks an omitted optional input.
        public let inputs: [Int?]
        /// Value indices of the outputs, in the node's order.
        public let outputs: [Int]
        /// The node's attributes as read from the file.
        public let attributes: [String: ONNXAttribute]
        /// The opset version of the node's domain that the model imports.
        public let opset: Int
        /// The op bound to this node's attributes and opset.
        public let op: any Operator
        /// True when every output is a load-time constant (the node never runs).
        public package(set) var isFolded: Bool = false

        package init(name: String, opType: String, domain: String, inputs: [Int?], outputs: [Int],
                     attributes: [String: ONNXAttribute], opset: Int, op: any Operator, isFolded: Bool = false) {
            self.name = name
            self.opType = opType
            self.domain = domain
            self.inputs = inputs
            self.outputs = outputs
            self.attributes = attributes
            self.opset = opset
            self.op = op
            self.isFolded = isFolded
        }

        /// The same node computed by another op (a specialised or fused form) from other inputs.
        package func with(op: any Operator, inputs: [Int?]? = nil, outputs: [Int]? = nil) -> Node {
            Node(name: name, opType: opType, domain: domain, inputs: inputs ?? self.inputs, outputs: outputs ?? self.outputs,
                 attributes: attributes, opset: opset, op: op, isFolded: isFolded)
        }
    }

    /// Every value of the graph, addressed by value index.
    public let values: [Value]
    /// The nodes in topological order, addressed by node index.
    public let nodes: [Node]
    /// Graph inputs that must be fed (initializers excluded).
    public let inputs: [Int]
    /// Value indices of the graph outputs, in declared order.
    public let outputs: [Int]
    /// Value index by ONNX tensor name.
    public let valueIndex: [String: Int]
    /// Node index by node name.
    public let nodeIndex: [String: Int]

    package init(values: [Value], nodes: [Node], inputs: [Int], outputs: [Int]) {
        self.values = values
        self.nodes = nodes
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

    /// For each value, the non-folded nodes that read it, in order.
    package var consumers: [[Int]] {
        var result = [[Int]](repeating: [], count: values.count)
        for (n, node) in nodes.enumerated() where !node.isFolded {
            for case let v? in node.inputs where result[v].last != n { result[v].append(n) }
        }
        return result
    }
}
