import LafamGraph
import LafamONNX
import LafamTensor

/// Cast to the `to` attribute's type, and CastLike to the second input's type. Rounding to
/// bfloat16 truncates before opset 19, as ONNX's reference did then.
struct Cast: Operator {
    var inputArity: ClosedRange<Int> { to == nil ? 2...2 : 1...1 }

    let to: DType?
    let truncatingBFloat16: Bool

    init(_ node: NodeContext, like: Bool) throws {
        truncatingBFloat16 = node.opset < 19
        guard !like else { to = nil; return }
        let code = try node.int("to", default: -1)
        guard let t = DType(onnxCode: code) else { throw OpError(unsupported: "cast to \(onnxTypeName(code)) is not supported") }
        to = t
    }

    func infer(_ inputs: [ValueFacts?]) throws -> [ValueFacts] {
        let x = try required(inputs, 0, "input")
        let target = try to ?? required(inputs, 1, "target_type").dtype
        var out = facts(target, x.shape)
        if target == .int64 && x.dtype.isInteger { out.elements = x.elements }
        return [out]
    }

    func batchBehaviour(_ inputs: [ValueFacts?], carryingBatch: [Bool]) -> BatchBehaviour {
        .perImage
    }

    func run(_ inputs: [Tensor?]) throws -> [Tensor] {
        let x = required(inputs, 0)
        return [try x.converted(to: to ?? required(inputs, 1).dtype, truncatingBFloat16: truncatingBFloat16)]
    }
}

extension Cast: Differentiable {
    /// The identity between number types (a quantized op's integers read as numbers, a half
    /// model's float16): dL/dx = dL/dy; none into bool, string or index types.
    func backward(_ inputs: [Tensor?], outputs: [Tensor], gradients: [Tensor?], wanted: [Bool]) throws -> [Tensor?] {
        let x = required(inputs, 0)
        let numeric: Set<DType> = [.float32, .float16, .bfloat16, .float64, .int8, .uint8, .int16, .uint16, .int32]
        guard wanted[0], let g = gradients[0], numeric.contains(x.dtype), numeric.contains(outputs[0].dtype) else { return wanted.map { _ in nil } }
        return [g] + wanted.dropFirst().map { _ in nil }
    }
}
