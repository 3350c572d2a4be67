import LafamTensor

/// The parts of an ONNX ModelProto that lafam uses, as plain Swift values. The protobuf message
/// is freed as soon as these are built (see `ONNXReader`).
public struct ONNXModel: Sendable {
    public var irVersion: Int
    /// Opset version per domain; the default domain is stored under "".
    public var opsets: [String: Int]
    public var producerName: String
    public var producerVersion: String
    public var domain: String
    public var modelVersion: Int
    public var docString: String
    /// `metadata_props`, in file order.
    public var metadata: [(key: String, value: String)]
    public var graph: ONNXGraph

    /// The opset version of the default (`ai.onnx`) domain.
    public var defaultOpset: Int { opsets[""] ?? 1 }
}

public struct ONNXGraph: Sendable {
    public var name: String
    public var nodes: [ONNXNode]
    /// Initializers by name, and their order in the file.
    public var initializers: [String: Tensor]
    public var initializerOrder: [String]
    public var inputs: [ONNXValueInfo]
    public var outputs: [ONNXValueInfo]
    public var valueInfo: [ONNXValueInfo]
}

public struct ONNXNode: Sendable {
    public var name: String
    public var opType: String
    public var domain: String
    /// Input tensor names; "" marks an omitted optional input.
    public var inputs: [String]
    public var outputs: [String]
    public var attributes: [String: ONNXAttribute]
}

/// A declared graph input/output/value: element type code (`TensorProto.DataType`) and shape.
public struct ONNXValueInfo: Sendable {
    public var name: String
    /// ONNX element type code, 0 when not declared.
    public var elemType: Int
    /// nil when the rank is not declared.
    public var shape: [Dim]?
    /// False for declared sequence, map, optional and sparse values (lafam runs tensors only).
    public var isTensor: Bool
}

public enum ONNXAttribute: Sendable {
    case float(Float)
    case int(Int)
    case string(String)
    case tensor(Tensor)
    case floats([Float])
    case ints([Int])
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
