import LafamGraph
import LafamTensor

/// Identity, and Dropout in inference mode or with a ratio of 0 (the optional mask output is all true).
struct PassThrough: Operator {
    var inputArity: ClosedRange<Int> { isDropout ? 1...3 : 1...1 }

    let isDropout: Bool
    let node: NodeContext

    init(_ node: NodeContext, dropout: Bool) throws {
        self.node = node
        isDropout = dropout
        if dropout && node.opset < 7, try node.int("is_test", default: 0) == 0, node.outputCount > 1 {
            throw OpError(unsupported: "training-mode Dropout is not supported")
        }
    }

    /// `.pointwise`: each output pixel reads the same pixel of its inputs.
    func spatialReach(_ inputs: [ValueFacts?]) -> SpatialReach { .pointwise }

    func infer(_ inputs: [ValueFacts?]) throws -> [ValueFacts] {
        let x = try required(inputs, 0, "input")
        guard isDropout else { return [x] }
        if let training = optional(inputs, 2) {
            // Training mode with a ratio of exactly 0 drops nothing (torchvision's Swin exports
            // attention dropout so): the identity, as in inference.
            let ratio = optional(inputs, 1)?.constant
            let dropsNothing = ratio.map { $0.count == 1 && $0.asDoubles == [0] } ?? false
            guard let t = training.constant, t.dtype == .bool, !t.bools.contains(true) || dropsNothing else {
                throw OpError(unsupported: "training_mode must be a constant false (or the ratio 0); lafam runs inference only")
            }
        }
        return [facts(x.dtype, x.shape), facts(.bool, x.shape)]
    }

    /// Moves integers unchanged: a quantized input's scale and zero point are its output's.
    func outputQuantization(_ k: Int) -> QuantizationSource? { k == 0 ? .sameAs(input: 0) : nil }

    func batchBehaviour(_ inputs: [ValueFacts?], carryingBatch: [Bool]) -> BatchBehaviour {
        firstInputBatchBehaviour(carryingBatch)
    }

    func run(_ inputs: [Tensor?]) throws -> [Tensor] {
        let x = required(inputs, 0)
        guard isDropout else { return [x] }
        return [x, Tensor(uncheckedShape: x.shape, bools: [Bool](repeating: true, count: x.count))]
    }
}

extension PassThrough: Differentiable {
    func backward(_ inputs: [Tensor?], outputs: [Tensor], gradients: [Tensor?], wanted: [Bool]) throws -> [Tensor?] {
        [wanted[0] ? gradients[0] : nil] + wanted.dropFirst().map { _ in nil }
    }
}
