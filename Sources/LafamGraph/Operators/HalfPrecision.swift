import LafamTensor

/// An op that implements float32 computed on a model's float16 or bfloat16 tensors, as
/// onnxruntime's CPU provider runs most ops of a half-precision model: the inputs widened to
/// float32 (exactly), the op computed in float32, each float output rounded to the half type
/// (nearest even). The graph builder wraps a node this way when its op refuses the half type
/// (`GraphBuilder`), so every float32 op serves float16 and bfloat16 models; ops that take the
/// half types themselves (Cast, shape and layout ops) run unwrapped. Gradients are computed
/// in float32 by the wrapped op's rule.
package struct HalfPrecision: Operator, Differentiable {
    /// The float32 op.
    package let inner: any Operator
    /// float16 or bfloat16.
    package let half: DType

    package init(_ inner: any Operator, half: DType) {
        self.inner = inner
        self.half = half
    }

    package var inputArity: ClosedRange<Int> { inner.inputArity }

    /// Input facts with the half type read as float32 (constants widened alike).
    private func widened(_ inputs: [ValueFacts?]) -> [ValueFacts?] {
        inputs.map { f in
            guard let f, f.dtype == half else { return f }
            return ValueFacts(dtype: .float32, shape: f.shape, constant: f.constant.map(widened), elements: f.elements)
        }
    }

    private func widened(_ t: Tensor) -> Tensor { t.dtype == half ? t.conformed(to: .float32) : t }

    package func infer(_ inputs: [ValueFacts?]) throws -> [ValueFacts] {
        try inner.infer(widened(inputs)).map { f in
            f.dtype == .float32 ? ValueFacts(dtype: half, shape: f.shape, constant: f.constant?.conformed(to: half), elements: f.elements) : f
        }
    }

    /// The float32 results; the executor (and constant folding) conform each output to the
    /// half type its facts declare, the one rounding per op.
    package func run(_ inputs: [Tensor?]) throws -> [Tensor] {
        try inner.run(inputs.map { $0.map(widened) })
    }

    package func batchBehaviour(_ inputs: [ValueFacts?], carryingBatch: [Bool]) -> BatchBehaviour {
        inner.batchBehaviour(widened(inputs), carryingBatch: carryingBatch)
    }

    package func specialized(for inputs: [ValueFacts?]) throws -> any Operator {
        HalfPrecision(try inner.specialized(for: widened(inputs)), half: half)
    }

    package func spatialReach(_ inputs: [ValueFacts?]) -> SpatialReach { inner.spatialReach(widened(inputs)) }

    package func backward(_ inputs: [Tensor?], outputs: [Tensor], gradients: [Tensor?], wanted: [Bool]) throws -> [Tensor?] {
        guard let rule = inner as? Differentiable else { throw OpError("this op has no gradient rule") }
        return try rule.backward(inputs.map { $0.map(widened) }, outputs: outputs.map(widened), gradients: gradients, wanted: wanted)
    }

    /// `op` wrapped for `inputs` when it refuses their half type and accepts them read as
    /// float32; nil when no input is half or the op takes them as they are.
    package static func wrapping(_ op: any Operator, for inputs: [ValueFacts?]) -> HalfPrecision? {
        guard let half = inputs.lazy.compactMap({ $0?.dtype }).first(where: { $0 == .float16 || $0 == .bfloat16 }),
              (try? op.infer(inputs)) == nil else { return nil }
        let wrapped = HalfPrecision(op, half: half)
        return (try? wrapped.infer(inputs)) == nil ? nil : wrapped
    }
}
