import LafamTensor

/// The parts of an ONNX ModelProto that lafam uses, as plain Swift values. The protobuf message
/// is freed as soon as these are built (see `ONNXReader`).
public struct ONNXModel: Sendable {
    /// The ONNX IR version the file declares (0 when absent).
    public var irVersion: Int
    /// Opset version per domain; the default domain is stored under "".
    public var opsets: [String: Int]
    /// The tool that wrote the model, such as "pytorch" ("" when absent).
    public var producerName: String
    /// The producing tool's version ("" when absent).
    public var producerVersion: String
    /// The model's own namespace, such as "org.example" ("" when absent).
    public var domain: String
    /// The model's version number as its author set it (0 when absent).
    public var modelVersion: Int
    /// The model's free-text documentation ("" when absent).
    public var docString: String
    /// `metadata_props`, in file order.
    public var metadata: [(key: String, value: String)]
    /// The model's main graph.
    public var graph: ONNXGraph

    /// The opset version of the default (`ai.onnx`) domain.
    public var defaultOpset: Int { opsets[""] ?? 1 }
}

/// An ONNX GraphProto: its nodes in file order, initializers, and declared inputs, outputs
/// and intermediate values.
public struct ONNXGraph: Sendable {
    /// The graph's name ("" when absent).
    public var name: String
    /// The nodes in file order.
    public var nodes: [ONNXNode]
    /// Initializers by name, and their order in the file.
    public var initializers: [String: Tensor]
    /// The initializers' names in file order.
    public var initializerOrder: [String]
    /// The declared graph inputs, initializers included when the file lists them as inputs.
    public var inputs: [ONNXValueInfo]
    /// The declared graph outputs.
    public var outputs: [ONNXValueInfo]
    /// Types and shapes the file declares for intermediate values (`value_info`).
    public var valueInfo: [ONNXValueInfo]
}

/// One ONNX NodeProto: an operator applied to named input tensors, producing named outputs.
public struct ONNXNode: Sendable {
    /// The node's name; an unnamed node is named after its op type and first output.
    public var name: String
    /// The operator, such as "Conv" or "Relu".
    public var opType: String
    /// The operator's domain; "" for the default `ai.onnx` domain.
    public var domain: String
    /// Input tensor names; "" marks an omitted optional input.
    public var inputs: [String]
    /// Output tensor names.
    public var outputs: [String]
    /// The node's attributes by name.
    public var attributes: [String: ONNXAttribute]
}

/// A declared graph input/output/value: element type code (`TensorProto.DataType`) and shape.
public struct ONNXValueInfo: Sendable {
    /// The value's name.
    public var name: String
    /// ONNX element type code, 0 when not declared.
    public var elemType: Int
    /// nil when the rank is not declared.
    public var shape: [Dim]?
    /// False for declared sequence, map, optional and sparse values (lafam runs tensors only).
    public var isTensor: Bool
}

/// The value of one node attribute (AttributeProto).
public enum ONNXAttribute: Sendable {
    /// A single float.
    case float(Float)
    /// A single integer.
    case int(Int)
    /// A single string.
    case string(String)
    /// A tensor, such as the value of a `Constant` node.
    case tensor(Tensor)
    /// A list of floats.
    case floats([Float])
    /// A list of integers, such as `kernel_shape` or `pads`.
    case ints([Int])
    /// A list of strings.
    case strings([String])
    /// Subgraphs, sparse tensors and type protos: recorded so that an op can reject them by name.
    case unsupported(typeCode: Int)
}

/// Human-readable names of ONNX element type codes, for messages.
public func onnxTypeName(_ code: Int) -> String {
    let names = [0: "undefined", 1: "float32", 2: "uint8", 3: "int8", 4: "uint16", 5: "int16", 6: "int32",
                 7: "int64", 8: "string", 9: "bool", 10: "float16", 11: "float64", 12: "uint32",
                 13: "uint64", 14: "complex64", 15: "complex128", 16: "bfloat16"]
    return names[code] ?? "type \(code)"
}
