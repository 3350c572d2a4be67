import LafamTensor

/// An op's gradient rule (reverse mode), written beside its kernel: given the forward inputs and
/// outputs and dL/d(each output), it returns dL/d(each input that is wanted). The runtime's
/// autodiff (`Model.gradients`) pulls gradients back through the graph with these rules; a node
/// whose op does not conform stops gradients with an error naming it.
public protocol Differentiable {
    /// - Parameters:
    ///   - inputs: the forward inputs (nil for omitted optional inputs).
    ///   - outputs: the forward outputs.
    ///   - gradients: dL/d(output k), nil where no gradient flows into that output.
    ///   - wanted: which inputs need a gradient.
    /// - Returns: dL/d(input i) for wanted inputs (nil elsewhere), each of the input's shape.
    func backward(_ inputs: [Tensor?], outputs: [Tensor], gradients: [Tensor?], wanted: [Bool]) throws -> [Tensor?]
}
