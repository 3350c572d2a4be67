import LafamGraph
import LafamTensor

/// PRelu: x < 0 ? slope·x : x, slope broadcast to x. Before opset 7 a 1-D slope of C values is
/// per channel (axis 1), which numpy broadcasting would align with the last axis instead.
struct PRelu: Operator {
    var inputArity: ClosedRange<Int> { 2...2 }

    let legacy: Bool
    private let elementwise = Binary(kind: .prelu, variadic: false)

    init(_ node: NodeContext) { legacy = node.opset < 7 }

    private func channelwise(_ slope: [Dim], input: [Dim]) -> [Dim]? {
        guard legacy, input.count > 2, slope.count == 1, slope[0] != .known(1), slope[0] == input[1] else { return nil }
        return [slope[0]] + [Dim](repeating: .known(1), count: input.count - 2)
    }

    /// `.pointwise`: each output pixel reads the same pixel of its inputs.
    func spatialReach(_ inputs: [ValueFacts?]) -> SpatialReach { .pointwise }

    func infer(_ inputs: [ValueFacts?]) throws -> [ValueFacts] {
        var facts = inputs
        if let x = inputs[0]?.shape, let s = optional(inputs, 1)?.shape, let shape = channelwise(s, input: x) { facts[1]!.shape = shape }
        return try elementwise.infer(facts)
    }

    func batchBehaviour(_ inputs: [ValueFacts?], carryingBatch: [Bool]) -> BatchBehaviour {
        elementwiseBatchBehaviour(inputs, carryingBatch: carryingBatch)
    }

    func run(_ inputs: [Tensor?]) throws -> [Tensor] {
        var tensors = inputs
        let x = required(inputs, 0), slope = required(inputs, 1)
        if let shape = channelwise(slope.shape.map { .known($0) }, input: x.shape.map { .known($0) }) {
            tensors[1] = slope.viewed(as: shape.concrete!)
        }
        return try elementwise.run(tensors)
    }
}

extension PRelu: Differentiable {
    func backward(_ inputs: [Tensor?], outputs: [Tensor], gradients: [Tensor?], wanted: [Bool]) throws -> [Tensor?] {
        var tensors = inputs
        let x = required(inputs, 0), slope = required(inputs, 1)
        if let shape = channelwise(slope.shape.map { .known($0) }, input: x.shape.map { .known($0) }) {
            tensors[1] = slope.viewed(as: shape.concrete!)
        }
        var grads = try elementwise.backward(tensors, outputs: outputs, gradients: gradients, wanted: wanted)
        if let ds = grads[1] { grads[1] = ds.viewed(as: slope.shape) }
        return grads
    }
}
