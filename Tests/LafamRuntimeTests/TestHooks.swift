@testable import LafamOps
@testable import LafamRuntime

// What the graph passes made of a model, for the tests that check them.

extension Model {
    /// The graph a run of `x` keeping `taps` executes: specialised to x's shape, passes applied.
    func executedGraph(_ x: Tensor, taps: [String] = []) throws -> Graph {
        let keep = Set(try taps.map { try graph.resolveTensor($0) }).union(graph.outputs)
        return try specialisation(for: try checkedShapes([inputs[0].name: x])).plan(keeping: keep).graph
    }

    /// Names of the values a run of `x` does not materialise because a pass hid them.
    func hiddenValues(_ x: Tensor) throws -> [String] {
        let specialised = try specialisation(for: try checkedShapes([inputs[0].name: x])).graph
        let executed = try executedGraph(x)
        return specialised.values.indices.filter { specialised.values[$0].producer != nil && executed.values[$0].producer == nil }
            .map { specialised.values[$0].name }
    }
}

extension Graph {
    /// The Conv nodes (and their ops) that run.
    var convs: [(node: Graph.Node, conv: Conv)] {
        nodes.compactMap { node in (node.op as? Conv).map { (node, $0) } }
    }

    /// Regions a pass made: fused Convs (residual and activation) and fused SiLUs, by what they
    /// compute ("add", "relu", "addclip", "silu", …).
    var fusedRegions: [(node: Graph.Node, kind: String)] {
        nodes.compactMap { node in
            if node.opType == "SiLU" { return (node, "silu") }
            guard let conv = node.op as? Conv, !conv.epilogue.isEmpty else { return nil }
            return (node, (conv.epilogue.hasResidual ? "add" : "") + (conv.epilogue.activation?.name.lowercased() ?? ""))
        }
    }
}

/// Every pass that changes which nodes run (Winograd only changes how a Conv computes).
let fusionPasses: Set<String> = ["fold-channel-affine", "fuse-silu", "fuse-layer-norm", "fuse-matmul-bias", "fuse-conv-output-pass"]

extension Conv {
    /// This conv specialised to the inputs' shapes, with `epilogue` (a residual is the fourth
    /// input), computed by `algorithm` (default: the one specialisation chooses).
    func run(_ inputs: [Tensor], epilogue: ConvEpilogue, algorithm: ConvAlgorithm? = nil) throws -> Tensor {
        let facts = inputs.prefix(3).map { ValueFacts(dtype: .float32, shape: $0.shape.map { .known($0) }) }
        var conv = (try specialized(for: facts) as! Conv).fused(epilogue)
        if let algorithm { conv = conv.computed(by: algorithm)! }
        return try conv.run(inputs)[0]
    }
}

extension Operator {
    /// This op as a Conv (for tests that build one directly).
    var conv: Conv { self as! Conv }
}

extension ConvAlgorithm {
    /// The case's name, for assertions.
    var name: String {
        switch self {
        case .im2col: return "im2col"
        case .pointwise: return "pointwise"
        case .depthwise3x3: return "depthwise3x3"
        case .depthwiseStride1: return "depthwiseStride1"
        case .depthwiseDirect: return "depthwiseDirect"
        case .smallInput: return "smallInput"
        case .winograd: return "winograd"
        }
    }
}
