import LafamGraph
import LafamTensor

/// QuantizeLinear: y = saturate(round(x / y_scale) + y_zero_point), rounding half to even, per
/// tensor or per index of `axis` (opset 13 on); y has the zero point's type (int8, uint8, int16,
/// uint16), else `output_dtype` (opset 21), else uint8. Float8 types and blocked quantization
/// (`block_size`, opset 21) are not supported.
struct QuantizeLinear: Operator {
    var inputArity: ClosedRange<Int> { 2...3 }

    let axis: Int
    let outputType: DType?

    init(_ node: NodeContext) throws {
        axis = try node.int("axis", default: 1)
        let blockSize = try node.int("block_size", default: 0)
        guard blockSize == 0 else { throw OpError(unsupported: "blocked quantization (block_size \(blockSize)) is not supported") }
        let code = try node.int("output_dtype", default: 0)
        if code == 0 {
            outputType = nil
        } else {
            guard let t = DType(onnxCode: code), QuantizedType.stored.contains(t) else {
                throw OpError(unsupported: "output_dtype \(code) is not supported (int8, uint8, int16 and uint16 are)")
            }
            outputType = t
        }
    }

    func infer(_ inputs: [ValueFacts?]) throws -> [ValueFacts] {
        let x = try required(inputs, 0, "x")
        try expect(x, [.float32], "x")
        try expectScale(optional(inputs, 1), "y_scale", perAxis: true)
        let type = optional(inputs, 2)?.dtype ?? outputType ?? .uint8
        guard QuantizedType.stored.contains(type) else {
            throw OpError(unsupported: "quantizing to \(type) is not supported (int8, uint8, int16 and uint16 are)")
        }
        if let t = outputType, t != type { throw OpError("output_dtype \(t) differs from y_zero_point's type \(type)") }
        try expectZeroPoint(optional(inputs, 2), matching: type, "y_zero_point")
        return [facts(type, x.shape)]
    }

    func batchBehaviour(_ inputs: [ValueFacts?], carryingBatch: [Bool]) -> BatchBehaviour {
        // Per-axis parameters along axis 0 would pair images with parameters.
        quantizationBatchBehaviour(axis: axis, inputs, carryingBatch: carryingBatch)
    }

    func spatialReach(_ inputs: [ValueFacts?]) -> SpatialReach { .pointwise }

    func outputQuantization(_ k: Int) -> QuantizationSource? { .inputs(scale: 1, zeroPoint: 2, axis: axis) }

    func run(_ inputs: [Tensor?]) throws -> [Tensor] {
        let x = required(inputs, 0), zeroPoint = optional(inputs, 2)
        let parameters = try QuantizationParameters(scale: required(inputs, 1), zeroPoint: zeroPoint, axis: axis, shape: x.shape, what: "y")
        return [parameters.quantize(x.floats, shape: x.shape, to: zeroPoint?.dtype ?? outputType ?? .uint8)]
    }
}

extension QuantizeLinear: Differentiable {
    /// The straight-through estimator (Bengio et al. 2013): y ≈ x / scale + zero point, so
    /// dL/dx = dL/dy / scale, rounding and saturation ignored. Not clipped where y saturates (as
    /// PyTorch's fake quantization is): a quantized model's top logit is often clamped at the
    /// output's largest value, and a clipped estimator would give it no gradient to explain.
    func backward(_ inputs: [Tensor?], outputs: [Tensor], gradients: [Tensor?], wanted: [Bool]) throws -> [Tensor?] {
        guard wanted[0], let g = gradients[0] else { return wanted.map { _ in nil } }
        let parameters = try QuantizationParameters(scale: required(inputs, 1), zeroPoint: optional(inputs, 2), axis: axis, shape: g.shape, what: "y")
        let gv = g.floats
        var dx = [Float](repeating: 0, count: gv.count)
        parameters.forEach(elements: gv.count) { i, p in dx[i] = gv[i] / parameters.scales[p] }
        return [Tensor(uncheckedShape: g.shape, floats: dx)] + wanted.dropFirst().map { _ in nil }
    }
}

/// DequantizeLinear: y = (x − x_zero_point) · x_scale, per tensor or per index of `axis`; x is
/// int8, uint8, int16, uint16 or int32 (a bias), y float32.
struct DequantizeLinear: Operator {
    var inputArity: ClosedRange<Int> { 2...3 }

    let axis: Int

    init(_ node: NodeContext) throws {
        axis = try node.int("axis", default: 1)
        let blockSize = try node.int("block_size", default: 0)
        guard blockSize == 0 else { throw OpError(unsupported: "blocked dequantization (block_size \(blockSize)) is not supported") }
    }

    func infer(_ inputs: [ValueFacts?]) throws -> [ValueFacts] {
        let x = try required(inputs, 0, "x")
        guard QuantizedType.stored.union([.int32]).contains(x.dtype) else {
            throw OpError(unsupported: "dequantizing \(x.dtype) is not supported (int8, uint8, int16, uint16 and int32 are)")
        }
        try expectScale(optional(inputs, 1), "x_scale", perAxis: true)
        try expectZeroPoint(optional(inputs, 2), matching: x.dtype, "x_zero_point")
        return [facts(.float32, x.shape)]
    }

    func batchBehaviour(_ inputs: [ValueFacts?], carryingBatch: [Bool]) -> BatchBehaviour {
        quantizationBatchBehaviour(axis: axis, inputs, carryingBatch: carryingBatch)
    }

    func spatialReach(_ inputs: [ValueFacts?]) -> SpatialReach { .pointwise }

    func run(_ inputs: [Tensor?]) throws -> [Tensor] {
        do {
            return [try required(inputs, 0).dequantized(scale: required(inputs, 1), zeroPoint: optional(inputs, 2), axis: axis)]
        } catch let e as TensorError {
            throw OpError("x: \(e.reason)")
        }
    }
}

extension DequantizeLinear: Differentiable {
    /// dL/dx = dL/dy · scale. The gradient of an integer tensor is taken with respect to its
    /// integers read as numbers, so every quantized op's rule is local.
    func backward(_ inputs: [Tensor?], outputs: [Tensor], gradients: [Tensor?], wanted: [Bool]) throws -> [Tensor?] {
        guard wanted[0], let g = gradients[0] else { return wanted.map { _ in nil } }
        let x = required(inputs, 0), gv = g.floats
        let parameters = try QuantizationParameters(scale: required(inputs, 1), zeroPoint: optional(inputs, 2), axis: axis, shape: x.shape, what: "x")
        var dx = [Float](repeating: 0, count: gv.count)
        parameters.forEach(elements: x.count) { i, p in dx[i] = gv[i] * parameters.scales[p] }
        return [Tensor(uncheckedShape: x.shape, floats: dx)] + wanted.dropFirst().map { _ in nil }
    }
}

/// DynamicQuantizeLinear: x quantized to uint8 with a scale and zero point computed from its
/// own range, extended to include 0: scale = (max − min) / 255 (1 when max = min, as
/// onnxruntime), zero point = saturate(round(−min / scale)), then y as QuantizeLinear.
struct DynamicQuantizeLinear: Operator {
    var inputArity: ClosedRange<Int> { 1...1 }

    func infer(_ inputs: [ValueFacts?]) throws -> [ValueFacts] {
        let x = try required(inputs, 0, "x")
        try expect(x, [.float32], "x")
        return [facts(.uint8, x.shape), facts(.float32, []), facts(.uint8, [])]
    }

    func outputQuantization(_ k: Int) -> QuantizationSource? { k == 0 ? .outputs(scale: 1, zeroPoint: 2) : nil }

    func run(_ inputs: [Tensor?]) throws -> [Tensor] {
        let x = required(inputs, 0), v = x.floats
        let lo = min(0, v.min() ?? 0), hi = max(0, v.max() ?? 0)
        let scale: Float = hi == lo ? 1 : (hi - lo) / 255
        let zeroPoint = saturated((0 - lo / scale).rounded(.toNearestOrEven), (0, 255))
        let zero = Tensor(uncheckedShape: [], storage: .int64([zeroPoint]), dtype: .uint8)
        let parameters = try QuantizationParameters(scale: .scalar(scale), zeroPoint: zero, axis: 0, shape: x.shape, what: "y")
        return [parameters.quantize(v, shape: x.shape, to: .uint8), .scalar(scale), zero]
    }
}

extension DynamicQuantizeLinear: Differentiable {
    /// The straight-through estimator, as QuantizeLinear's: dL/dx = dL/dy / scale; the scale
    /// and zero point carry no gradient back.
    func backward(_ inputs: [Tensor?], outputs: [Tensor], gradients: [Tensor?], wanted: [Bool]) throws -> [Tensor?] {
        guard wanted[0], let g = gradients[0] else { return [nil] }
        let parameters = try QuantizationParameters(scale: outputs[1], zeroPoint: outputs[2], axis: 0, shape: outputs[0].shape, what: "y")
        let dx = g.floats.map { $0 / parameters.scales[0] }
        return [Tensor(uncheckedShape: g.shape, floats: dx)]
    }
}

/// Per image when the parameters are one per tensor or vary along an axis other than 0.
func quantizationBatchBehaviour(axis: Int, _ inputs: [ValueFacts?], carryingBatch: [Bool]) -> BatchBehaviour {
    guard carryingBatch.first == true, !carryingBatch.dropFirst().contains(true) else { return .mixesImages }
    let perAxis = inputs.count > 1 && (inputs[1]?.shape.map { $0.count == 1 && $0[0] != .known(1) } ?? true)
    guard perAxis else { return .perImage }
    guard let rank = inputs[0]?.rank, let a = try? normalizeAxis(axis, rank: rank) else { return .mixesImages }
    return a == 0 ? .mixesImages : .perImage
}
