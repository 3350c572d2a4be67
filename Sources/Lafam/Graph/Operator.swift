/// What is known about a value before running: its element type, its shape (with symbolic or
/// unknown dimensions) and, for constants and small shape vectors, its contents.
public struct ValueFacts: Sendable {
    public var dtype: DType
    /// nil when even the rank is unknown.
    public var shape: [Dim]?
    /// The value itself, when it is a constant (initializer, Constant node, or folded).
    public var constant: Tensor?
    /// For rank-0/1 int64 shape vectors: the elements, each possibly symbolic (`Shape` of an
    /// input with a dynamic batch yields `[batch, 3, 224, 224]`). Lets `Reshape` infer shapes
    /// through Shape/Gather/Concat chains that cannot be folded to constants.
    public var elements: [Dim]?

    public init(dtype: DType, shape: [Dim]?, constant: Tensor? = nil, elements: [Dim]? = nil) {
        self.dtype = dtype
        self.shape = shape
        self.constant = constant
        self.elements = elements
        if let constant, elements == nil, constant.dtype == .int64, constant.rank <= 1 {
            self.elements = constant.int64s.map { .known(Int($0)) }
        }
    }

    public init(_ tensor: Tensor) {
        self.init(dtype: tensor.dtype, shape: tensor.shape.map { .known($0) }, constant: tensor)
    }

    public var rank: Int? { shape?.count }
}

/// An error raised by an op while checking or running a node; the graph adds the node's name.
public struct OpError: Error, CustomStringConvertible {
    public let reason: String
    /// True when the input is valid ONNX that lafam does not implement (as opposed to invalid).
    public let isUnsupported: Bool
    public init(_ reason: String) { self.reason = reason; isUnsupported = false }
    public init(unsupported reason: String) { self.reason = reason; isUnsupported = true }
    public var description: String { reason }

    /// The library error for this failure at `node`.
    func error(node: String, opType: String) -> LafamError {
        isUnsupported ? .unsupported("node '\(node)' (\(opType)): \(reason)") : .invalidNode(node: node, opType: opType, reason: reason)
    }
}

/// An ONNX op bound to one node's attributes and opset version. The same object answers the
/// static question (output types and shapes from input facts) and runs the kernel, so an op's
/// shape rule and forward computation live side by side.
public protocol Operator: Sendable {
    /// Output facts from input facts (nil for an omitted optional input). Throws `OpError` for
    /// inputs this op cannot accept (type, rank, count).
    func infer(_ inputs: [ValueFacts?]) throws -> [ValueFacts]
    /// Computes the outputs. Inputs have passed `infer`, so types and ranks are as checked there.
    func run(_ inputs: [Tensor?]) throws -> [Tensor]
}

/// A node as an op factory sees it: attributes with typed accessors, and the opset in force.
public struct NodeContext: Sendable {
    public let name: String
    public let opType: String
    public let opset: Int
    public let inputCount: Int
    public let outputCount: Int
    public let attributes: [String: ONNXAttribute]

    public func int(_ key: String, default value: Int) throws -> Int {
        switch attributes[key] {
        case nil: return value
        case .int(let v)?: return v
        default: throw OpError("attribute '\(key)' must be an integer")
        }
    }

    public func float(_ key: String, default value: Float) throws -> Float {
        switch attributes[key] {
        case nil: return value
        case .float(let v)?: return v
        case .int(let v)?: return Float(v)
        default: throw OpError("attribute '\(key)' must be a float")
        }
    }

    public func string(_ key: String, default value: String) throws -> String {
        switch attributes[key] {
        case nil: return value
        case .string(let v)?: return v
        default: throw OpError("attribute '\(key)' must be a string")
        }
    }

    public func ints(_ key: String) throws -> [Int]? {
        switch attributes[key] {
        case nil: return nil
        case .ints(let v)?: return v
        case .int(let v)?: return [v]
        default: throw OpError("attribute '\(key)' must be a list of integers")
        }
    }

    public func floats(_ key: String) throws -> [Float]? {
        switch attributes[key] {
        case nil: return nil
        case .floats(let v)?: return v
        case .float(let v)?: return [v]
        default: throw OpError("attribute '\(key)' must be a list of floats")
        }
    }

    public func tensor(_ key: String) throws -> Tensor? {
        switch attributes[key] {
        case nil: return nil
        case .tensor(let t)?: return t
        default: throw OpError("attribute '\(key)' must be a tensor")
        }
    }

    /// Rejects attributes that change the semantics in ways lafam does not implement.
    public func require(_ key: String, in allowed: Set<String>, default value: String) throws -> String {
        let v = try string(key, default: value)
        guard allowed.contains(v) else {
            throw OpError(unsupported: "attribute \(key)=\"\(v)\" is not supported (supported: \(allowed.sorted().joined(separator: ", ")))")
        }
        return v
    }
}

/// Maps op types of the default ONNX domain to factories. Each factory reads its node's
/// attributes and dispatches on `NodeContext.opset` where the op's semantics changed.
public struct OperatorRegistry {
    public typealias Factory = (NodeContext) throws -> Operator
    public private(set) var factories: [String: Factory] = [:]

    public init() {}

    public mutating func register(_ opType: String, _ factory: @escaping Factory) {
        factories[opType] = factory
    }

    public var opTypes: [String] { factories.keys.sorted() }
}
