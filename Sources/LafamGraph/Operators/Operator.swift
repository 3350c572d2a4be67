import LafamONNX
import LafamTensor

/// An ONNX op bound to one node's attributes and opset version. The same value answers the
/// static question (output types and shapes from input facts), runs the kernel, and declares
/// what the graph's analyses need to know about it, so an op's behaviour lives in one place.
/// Its gradient rule, if it has one, is its `Differentiable` conformance, written beside `run`.
///
/// Every declaration has a safe default, so an op that declares nothing is still handled
/// correctly (never split across a batch, never specialised).
public protocol Operator: Sendable {
    /// How many inputs a node of this op may list, omitted optional ones ("") included: ONNX's
    /// schema for the node's opset. A node outside it is refused when the graph is built, so an
    /// input is never silently ignored. No default: every op states it.
    var inputArity: ClosedRange<Int> { get }

    /// Output facts from input facts (nil for an omitted optional input). Throws `OpError` for
    /// inputs this op cannot accept (type, rank, count).
    func infer(_ inputs: [ValueFacts?]) throws -> [ValueFacts]

    /// Computes the outputs. Inputs have passed `infer`, so types and ranks are as checked there.
    func run(_ inputs: [Tensor?]) throws -> [Tensor]

    /// How this node treats the images of a batch, given its inputs' facts and which of them
    /// carry the batch at axis 0 (`Graph.isBatchSeparable`). Default: `.mixesImages`.
    func batchBehaviour(_ inputs: [ValueFacts?], carryingBatch: [Bool]) -> BatchBehaviour

    /// This op prepared for inputs whose shapes are all known (a graph specialised to concrete
    /// input shapes): work that depends only on shapes, such as choosing a convolution algorithm,
    /// is done here once instead of on every run. Default: the op itself.
    func specialized(for inputs: [ValueFacts?]) throws -> any Operator

    /// Which pixels of input 0's spatial axes an output pixel of a channels-first map reads,
    /// for analyses that follow pixels through the graph (`Graph.cellWindow(of:)`: the input
    /// window of a detector grid's cell). Default: `.unknown`, so a chain through this op has no
    /// cell window.
    func spatialReach(_ inputs: [ValueFacts?]) -> SpatialReach

    /// Where the scale and zero point of output `k` are when it holds quantized integers
    /// (`Graph.quantization(of:)`: taps and gradients give such a tensor's real values).
    /// Default: nil, the output is not quantized (or the op does not say).
    func outputQuantization(_ k: Int) -> QuantizationSource?
}

extension Operator {
    /// Default: `.mixesImages`, so a graph with this op runs its batch whole.
    public func batchBehaviour(_ inputs: [ValueFacts?], carryingBatch: [Bool]) -> BatchBehaviour { .mixesImages }
    /// Default: the op itself, unchanged.
    public func specialized(for inputs: [ValueFacts?]) throws -> any Operator { self }
    /// Default: `.unknown`.
    public func spatialReach(_ inputs: [ValueFacts?]) -> SpatialReach { .unknown }
    /// Default: nil.
    public func outputQuantization(_ k: Int) -> QuantizationSource? { nil }
}

/// Where a quantized output's scale and zero point are (`Operator.outputQuantization`).
public enum QuantizationSource: Sendable, Equatable {
    /// Inputs of the node: the scale, the zero point (0 when the node omits it) and the axis a
    /// 1-D scale runs along.
    case inputs(scale: Int, zeroPoint: Int, axis: Int)
    /// Outputs of the node (DynamicQuantizeLinear computes them).
    case outputs(scale: Int, zeroPoint: Int)
    /// Those of the node's input `input`: ops that move integers without changing them.
    case sameAs(input: Int)
}

/// Which input pixels an output pixel of a channels-first map reads (`Operator.spatialReach`).
public enum SpatialReach: Sendable, Equatable {
    /// Not declared, or not a fixed window (global pooling, resizing, reshaping).
    case unknown
    /// Output pixel (y, x) reads pixel (y, x) of each input that has spatial axes: activations,
    /// elementwise arithmetic, per-channel affine maps, a softmax over channels.
    case pointwise
    /// A sliding window over input 0 (Conv, pooling): per spatial axis, its kernel size, stride,
    /// dilation and begin padding; output pixel i starts at input pixel i·stride − pad.
    case window(kernel: [Int], strides: [Int], dilations: [Int], padsBegin: [Int])
}

/// How an op treats the images of a batch (the values computed from a batched graph input).
public enum BatchBehaviour: Sendable, Equatable {
    /// Each image's outputs depend on that image alone, and the outputs keep the batch at axis 0
    /// wherever the op's shape rule says so: a batch may be split, run in parts and joined.
    case perImage
    /// Images are combined or rearranged (a softmax or a concatenation along axis 0, a batch
    /// used as weights, …), or the op does not say: the batch must run whole.
    case mixesImages
}

/// An error raised by an op while checking or running a node; the graph adds the node's name.
public struct OpError: Error, CustomStringConvertible, Sendable {
    /// What is wrong with the node or its inputs, in words.
    public let reason: String
    /// True when the input is valid ONNX that lafam does not implement (as opposed to invalid).
    public let isUnsupported: Bool
    /// An error for input that is invalid ONNX or invalid for this op.
    public init(_ reason: String) { self.reason = reason; isUnsupported = false }
    /// An error for valid ONNX that lafam does not implement.
    public init(unsupported reason: String) { self.reason = reason; isUnsupported = true }
    /// The reason, as given.
    public var description: String { reason }

    /// The library error for this failure at `node`.
    package func error(node: String, opType: String) -> LafamError {
        isUnsupported ? .unsupported("node '\(node)' (\(opType)): \(reason)") : .invalidNode(node: node, opType: opType, reason: reason)
    }

    /// `body`'s result, with an `OpError` or a `TensorError` it throws reported at `node`.
    package static func reported<T>(at node: String, opType: String, _ body: () throws -> T) throws -> T {
        do {
            return try body()
        } catch let e as OpError {
            throw e.error(node: node, opType: opType)
        } catch let e as TensorError {
            throw LafamError.invalidNode(node: node, opType: opType, reason: e.reason)
        }
    }
}

/// A node as an op factory sees it: attributes with typed accessors, and the opset in force.
public struct NodeContext: Sendable {
    /// The node's name, for messages.
    public let name: String
    /// The ONNX operator, such as "Conv".
    public let opType: String
    /// The opset version of the node's domain in force; factories dispatch on it.
    public let opset: Int
    /// How many inputs the node lists, omitted optional ones ("") included.
    public let inputCount: Int
    /// How many outputs the node lists.
    public let outputCount: Int
    /// The node's attributes by name.
    public let attributes: [String: ONNXAttribute]

    /// A context from a node's name, operator, opset, input and output counts and attributes.
    public init(name: String, opType: String, opset: Int, inputCount: Int, outputCount: Int, attributes: [String: ONNXAttribute]) {
        self.name = name
        self.opType = opType
        self.opset = opset
        self.inputCount = inputCount
        self.outputCount = outputCount
        self.attributes = attributes
    }

    /// The integer attribute `key`, or `value` when absent; throws `OpError` when it is another type.
    public func int(_ key: String, default value: Int) throws -> Int {
        switch attributes[key] {
        case nil: return value
        case .int(let v)?: return v
        default: throw OpError("attribute '\(key)' must be an integer")
        }
    }

    /// The float attribute `key` (an integer is converted), or `value` when absent; throws `OpError`
    /// when it is another type.
    public func float(_ key: String, default value: Float) throws -> Float {
        switch attributes[key] {
        case nil: return value
        case .float(let v)?: return v
        case .int(let v)?: return Float(v)
        default: throw OpError("attribute '\(key)' must be a float")
        }
    }

    /// The string attribute `key`, or `value` when absent; throws `OpError` when it is another type.
    public func string(_ key: String, default value: String) throws -> String {
        switch attributes[key] {
        case nil: return value
        case .string(let v)?: return v
        default: throw OpError("attribute '\(key)' must be a string")
        }
    }

    /// The integer-list attribute `key` (a single integer as a one-element list), or nil when
    /// absent; throws `OpError` when it is another type.
    public func ints(_ key: String) throws -> [Int]? {
        switch attributes[key] {
        case nil: return nil
        case .ints(let v)?: return v
        case .int(let v)?: return [v]
        default: throw OpError("attribute '\(key)' must be a list of integers")
        }
    }

    /// The float-list attribute `key` (a single float as a one-element list), or nil when absent;
    /// throws `OpError` when it is another type.
    public func floats(_ key: String) throws -> [Float]? {
        switch attributes[key] {
        case nil: return nil
        case .floats(let v)?: return v
        case .float(let v)?: return [v]
        default: throw OpError("attribute '\(key)' must be a list of floats")
        }
    }

    /// The tensor attribute `key`, or nil when absent; throws `OpError` when it is another type.
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
