import LafamGraph
import LafamTensor

// The com.microsoft quantized ops onnxruntime's quantizer writes into QOperator models around
// the convolutions: each computes on the real values its integers stand for and requantizes
// the result, in float32 as onnxruntime's kernels do.

/// com.microsoft QLinearAdd and QLinearMul: C = A + B or A · B on the real values, broadcast
/// (numpy rules), requantized to C's scale and zero point. Add as onnxruntime's AVX2 kernel
/// computes it, in float32 with fused multiply-adds: round(a·r_a + (b·r_b + (c_zp − (r_a·a_zp +
/// r_b·b_zp)))) with r_a = a_s/c_s, r_b = b_s/c_s (a scalar operand's term added unfused); Mul
/// as ONNX's reference: round((a_s·b_s/c_s)(a − a_zp)(b − b_zp)) + c_zp.
struct QLinearBinary: Operator {
    var inputArity: ClosedRange<Int> { 7...8 }

    let isMul: Bool

    func infer(_ inputs: [ValueFacts?]) throws -> [ValueFacts] {
        let (a, b, c) = try expectQLinearOperands(inputs, names: ("A", "B", "C"), perAxisB: false)
        guard b.dtype == a.dtype, c.dtype == a.dtype else { throw OpError("A, B and C are \(a.dtype), \(b.dtype) and \(c.dtype): they must be one type") }
        guard let sa = a.shape, let sb = b.shape else { return [facts(a.dtype, nil)] }
        return [facts(a.dtype, try broadcast(sa, sb))]
    }

    func batchBehaviour(_ inputs: [ValueFacts?], carryingBatch: [Bool]) -> BatchBehaviour {
        elementwiseBatchBehaviour([inputs[0], optional(inputs, 3)], carryingBatch: [carryingBatch[0], carryingBatch.count > 3 && carryingBatch[3]])
    }

    func spatialReach(_ inputs: [ValueFacts?]) -> SpatialReach { .pointwise }

    func outputQuantization(_ k: Int) -> QuantizationSource? { .inputs(scale: 6, zeroPoint: 7, axis: 1) }

    /// The per-element factors: for Add each operand's a_s/c_s, for Mul one a_s·b_s/c_s.
    private func factors(_ inputs: [Tensor?]) throws -> (a: Float, b: Float) {
        let (sa, sb, sc) = (try scalar(inputs, 1), try scalar(inputs, 4), try scalar(inputs, 6))
        return isMul ? (sa * sb / sc, 1) : (sa / sc, sb / sc)
    }

    func run(_ inputs: [Tensor?]) throws -> [Tensor] {
        let a = required(inputs, 0), b = required(inputs, 3)
        let za = try zeroPointScalar(inputs, 2), zb = try zeroPointScalar(inputs, 5), zc = try zeroPointScalar(inputs, 7)
        let (fa, fb) = try factors(inputs), range = QuantizedType.range(a.dtype)
        let shape = try broadcast(a.shape, b.shape)
        let scaled: [Float]
        if isMul {
            let av = a.int64s.map { Float($0 - za) }, bv = b.int64s.map { Float($0 - zb) }
            scaled = broadcastMap(av, a.shape, bv, b.shape, shape) { fa * $0 * $1 }.map { roundedHalfEven($0) + Float(zc) }
        } else {
            var fixed = Float(zc) - (fa * Float(za) + fb * Float(zb))
            let av = a.int64s.map(Float.init), bv = b.int64s.map(Float.init)
            if a.count == 1 {
                fixed += av[0] * fa
                scaled = bv.map { roundedHalfEven(fixed.addingProduct($0, fb)) }
            } else if b.count == 1 {
                fixed += bv[0] * fb
                scaled = av.map { roundedHalfEven(fixed.addingProduct($0, fa)) }
            } else {
                scaled = broadcastMap(av, a.shape, bv, b.shape, shape) { x, y in fixed.addingProduct(y, fb).addingProduct(x, fa) }.map(roundedHalfEven)
            }
        }
        let out = scaled.map { saturated($0, range) }
        return [Tensor(uncheckedShape: shape, storage: .int64(out), dtype: a.dtype)]
    }
}

extension QLinearBinary: Differentiable {
    /// Integers read as numbers: Add's dL/da = dL/dc · a_s/c_s; Mul's dL/da = dL/dc · k (b − b_zp),
    /// each summed over the axes its operand was broadcast along.
    func backward(_ inputs: [Tensor?], outputs: [Tensor], gradients: [Tensor?], wanted: [Bool]) throws -> [Tensor?] {
        guard let g = gradients[0] else { return wanted.map { _ in nil } }
        let a = required(inputs, 0), b = required(inputs, 3)
        let (fa, fb) = try factors(inputs), gv = g.floats
        func gradient(of operand: Tensor, other: Tensor, otherZero: Int64, factor: Float) throws -> Tensor {
            let local: [Float]
            if isMul {
                let ov = other.int64s.map { Float($0 - otherZero) }
                local = broadcastMap(gv, g.shape, ov, other.shape, g.shape) { $0 * factor * $1 }
            } else {
                local = gv.map { $0 * factor }
            }
            return try reduceToShape(Tensor(uncheckedShape: g.shape, floats: local), operand.shape)
        }
        var result = [Tensor?](repeating: nil, count: wanted.count)
        if wanted[0] { result[0] = try gradient(of: a, other: b, otherZero: try zeroPointScalar(inputs, 5), factor: fa) }
        if wanted.count > 3, wanted[3] { result[3] = try gradient(of: b, other: a, otherZero: try zeroPointScalar(inputs, 2), factor: isMul ? fa : fb) }
        return result
    }
}

/// com.microsoft QLinearGlobalAveragePool: the mean over the spatial axes of channels-first
/// (or, with channels_last, channels-last) input, requantized: round(x_s / (y_s · n) · Σ (x −
/// x_zp)) + y_zp over the n pixels.
struct QLinearGlobalAveragePool: Operator {
    var inputArity: ClosedRange<Int> { 5...5 }

    let channelsLast: Bool

    init(_ node: NodeContext) throws { channelsLast = try node.int("channels_last", default: 0) != 0 }

    func infer(_ inputs: [ValueFacts?]) throws -> [ValueFacts] {
        let x = try required(inputs, 0, "X")
        try expect(x, QuantizedType.operands, "X")
        try expectScale(optional(inputs, 1), "x_scale"); try expectZeroPoint(optional(inputs, 2), matching: x.dtype, "x_zero_point")
        try expectScale(optional(inputs, 3), "y_scale"); try expectZeroPoint(optional(inputs, 4), matching: x.dtype, "y_zero_point")
        guard let s = x.shape else { return [facts(x.dtype, nil)] }
        guard s.count >= 3 else { throw OpError("X must have rank 3 or more, got \(s.shapeString)") }
        let ones = [Dim](repeating: .known(1), count: s.count - 2)
        return [facts(x.dtype, channelsLast ? [s[0]] + ones + [s[s.count - 1]] : [s[0], s[1]] + ones)]
    }

    func batchBehaviour(_ inputs: [ValueFacts?], carryingBatch: [Bool]) -> BatchBehaviour { firstInputBatchBehaviour(carryingBatch) }

    func outputQuantization(_ k: Int) -> QuantizationSource? { .inputs(scale: 3, zeroPoint: 4, axis: 1) }

    /// (images, channels, pixels) and the flat index of pixel p of channel c of image b.
    private func layout(_ shape: [Int]) -> (n: Int, c: Int, pixels: Int, index: (Int, Int, Int) -> Int) {
        let n = shape[0], c = channelsLast ? shape[shape.count - 1] : shape[1]
        let pixels = channelsLast ? shape[1..<(shape.count - 1)].reduce(1, *) : shape[2...].reduce(1, *)
        return (n, c, pixels, channelsLast ? { b, ch, p in (b * pixels + p) * c + ch } : { b, ch, p in (b * c + ch) * pixels + p })
    }

    func run(_ inputs: [Tensor?]) throws -> [Tensor] {
        let x = required(inputs, 0), v = x.int64s
        let (n, c, pixels, index) = layout(x.shape)
        let zx = try zeroPointScalar(inputs, 2), zy = try zeroPointScalar(inputs, 4), range = QuantizedType.range(x.dtype)
        let scale = try scalar(inputs, 1) / (try scalar(inputs, 3) * Float(pixels))
        var out = [Int64](repeating: 0, count: n * c)
        for b in 0..<n {
            for ch in 0..<c {
                var sum: Int64 = 0
                for p in 0..<pixels { sum += v[index(b, ch, p)] - zx }
                out[b * c + ch] = requantize(Double(sum), scale: scale, zeroPoint: zy, range: range)
            }
        }
        let ones = [Int](repeating: 1, count: x.rank - 2)
        return [Tensor(uncheckedShape: channelsLast ? [n] + ones + [c] : [n, c] + ones, storage: .int64(out), dtype: x.dtype)]
    }
}

extension QLinearGlobalAveragePool: Differentiable {
    /// Integers read as numbers: each pixel's dL/dx = dL/dy of its channel · x_s / (y_s · n).
    func backward(_ inputs: [Tensor?], outputs: [Tensor], gradients: [Tensor?], wanted: [Bool]) throws -> [Tensor?] {
        guard wanted[0], let g = gradients[0] else { return wanted.map { _ in nil } }
        let x = required(inputs, 0), gv = g.floats
        let (n, c, pixels, index) = layout(x.shape)
        let scale = try scalar(inputs, 1) / (try scalar(inputs, 3) * Float(pixels))
        var dx = [Float](repeating: 0, count: x.count)
        for b in 0..<n { for ch in 0..<c { for p in 0..<pixels { dx[index(b, ch, p)] = gv[b * c + ch] * scale } } }
        return [Tensor(uncheckedShape: x.shape, floats: dx)] + wanted.dropFirst().map { _ in nil }
    }
}

/// com.microsoft QLinearConcat: inputs Y_scale, Y_zero_point, then (X, X_scale, X_zero_point)
/// per tensor; each X requantized to Y's parameters (its integers copied when they are the
/// same), then concatenated along `axis` as Concat does.
struct QLinearConcat: Operator {
    var inputArity: ClosedRange<Int> { 5...(2 + 3 * 1024) }

    let concat: Concat

    init(_ node: NodeContext) throws {
        concat = try Concat(node)
        guard node.inputCount >= 5, (node.inputCount - 2) % 3 == 0 else {
            throw OpError("QLinearConcat takes Y_scale, Y_zero_point and triples of X, X_scale, X_zero_point; got \(node.inputCount) inputs")
        }
    }

    private func parts<T>(_ inputs: [T?]) -> [(x: T?, scale: T?, zero: T?)] {
        stride(from: 2, to: inputs.count, by: 3).map { (inputs[$0], inputs[$0 + 1], $0 + 2 < inputs.count ? inputs[$0 + 2] : nil) }
    }

    func infer(_ inputs: [ValueFacts?]) throws -> [ValueFacts] {
        try expectScale(optional(inputs, 0), "Y_scale")
        let y = try required(inputs, 1, "Y_zero_point")
        try expect(y, QuantizedType.operands, "Y_zero_point")
        for (i, part) in parts(inputs).enumerated() {
            guard let x = part.x else { throw OpError("missing input tensor \(i)") }
            guard x.dtype == y.dtype else { throw OpError("input \(i) is \(x.dtype), Y \(y.dtype): they must be one type") }
            try expectScale(part.scale, "the scale of input \(i)"); try expectZeroPoint(part.zero, matching: x.dtype, "the zero point of input \(i)")
        }
        let float = try concat.infer(parts(inputs).map { $0.x.map { facts(.float32, $0.shape) } })
        return [facts(y.dtype, float[0].shape)]
    }

    func batchBehaviour(_ inputs: [ValueFacts?], carryingBatch: [Bool]) -> BatchBehaviour {
        concat.batchBehaviour(parts(inputs).map(\.x), carryingBatch: stride(from: 2, to: carryingBatch.count, by: 3).map { carryingBatch[$0] })
    }

    func spatialReach(_ inputs: [ValueFacts?]) -> SpatialReach { .unknown }

    func outputQuantization(_ k: Int) -> QuantizationSource? { .inputs(scale: 0, zeroPoint: 1, axis: 1) }

    func run(_ inputs: [Tensor?]) throws -> [Tensor] {
        let yScale = try scalar(inputs, 0), yZero = required(inputs, 1)
        let target = try QuantizationParameters(scale: .scalar(yScale), zeroPoint: yZero, axis: 0, shape: [], what: "Y")
        let requantized: [Tensor?] = try parts(inputs).map { part in
            let x = part.x!, scale = part.scale!
            guard scale.count == 1, (part.zero?.count ?? 1) == 1 else { throw OpError("QLinearConcat's input scales and zero points must each hold one value") }
            if try scale.floats[0] == yScale && (part.zero?.int64s[0] ?? 0) == zeroPointScalar(inputs, 1) { return x }
            return target.quantize(try x.dequantized(scale: scale, zeroPoint: part.zero, axis: 0).floats, shape: x.shape, to: yZero.dtype)
        }
        return try concat.run(requantized)
    }
}

extension QLinearConcat: Differentiable {
    /// Integers read as numbers: each input's slice of dL/dY times x_s / y_s (1 where copied).
    func backward(_ inputs: [Tensor?], outputs: [Tensor], gradients: [Tensor?], wanted: [Bool]) throws -> [Tensor?] {
        let parts = parts(inputs)
        let slices = try concat.backward(parts.map(\.x), outputs: outputs, gradients: gradients,
                                         wanted: stride(from: 2, to: wanted.count, by: 3).map { wanted[$0] })
        let yScale = try scalar(inputs, 0)
        var result = [Tensor?](repeating: nil, count: wanted.count)
        for (i, slice) in slices.enumerated() {
            guard let slice else { continue }
            let factor = parts[i].scale!.floats[0] / yScale
            result[2 + 3 * i] = Tensor(uncheckedShape: slice.shape, floats: slice.floats.map { $0 * factor })
        }
        return result
    }
}

/// The zero point input at `i` as an integer (0 when absent).
private func zeroPoint(_ inputs: [Tensor?], _ i: Int) -> Int64 { optional(inputs, i)?.int64s.first ?? 0 }

/// com.microsoft QLinearSigmoid and QLinearLeakyRelu: the activation on the real values,
/// requantized, as onnxruntime computes it — a table over the 256 integers of X: entry q is
/// QuantizeLinear(f(DequantizeLinear(q))) with Y's scale and zero point.
struct QLinearUnary: Operator {
    var inputArity: ClosedRange<Int> { 4...5 }

    /// The float activation (Sigmoid, or LeakyRelu with the node's alpha).
    let activation: any Activation

    func infer(_ inputs: [ValueFacts?]) throws -> [ValueFacts] {
        let x = try required(inputs, 0, "X")
        try expect(x, QuantizedType.operands, "X")
        try expectScale(optional(inputs, 1), "X_scale"); try expectZeroPoint(optional(inputs, 2), matching: x.dtype, "X_zero_point")
        try expectScale(optional(inputs, 3), "Y_scale"); try expectZeroPoint(optional(inputs, 4), matching: x.dtype, "Y_zero_point")
        return [facts(x.dtype, x.shape)]
    }

    func batchBehaviour(_ inputs: [ValueFacts?], carryingBatch: [Bool]) -> BatchBehaviour {
        carryingBatch.dropFirst().contains(true) ? .mixesImages : .perImage
    }

    func spatialReach(_ inputs: [ValueFacts?]) -> SpatialReach { .pointwise }

    func outputQuantization(_ k: Int) -> QuantizationSource? { .inputs(scale: 3, zeroPoint: 4, axis: 1) }

    /// The real value each integer of X's type stands for, from its lowest.
    private func realValues(_ inputs: [Tensor?], type: DType) throws -> [Float] {
        let (lo, hi) = QuantizedType.range(type)
        let (scale, zero) = (try scalar(inputs, 1), try zeroPointScalar(inputs, 2))
        return (Int64(lo)...Int64(hi)).map { Float($0 - zero) * scale }
    }

    func run(_ inputs: [Tensor?]) throws -> [Tensor] {
        let x = required(inputs, 0), low = Int64(QuantizedType.range(x.dtype).lo)
        let target = try QuantizationParameters(scale: .scalar(try scalar(inputs, 3)), zeroPoint: optional(inputs, 4), axis: 0, shape: [], what: "Y")
        let table = target.quantize(try realValues(inputs, type: x.dtype).map { activation($0) }, shape: [256], to: x.dtype).int64s
        return [Tensor(uncheckedShape: x.shape, storage: .int64(x.int64s.map { table[Int($0 - low)] }), dtype: x.dtype)]
    }
}

extension QLinearUnary: Differentiable {
    /// Integers read as numbers: dL/dx = dL/dy · f′(x's real value) · x_s / y_s.
    func backward(_ inputs: [Tensor?], outputs: [Tensor], gradients: [Tensor?], wanted: [Bool]) throws -> [Tensor?] {
        guard wanted[0], let g = gradients[0] else { return wanted.map { _ in nil } }
        let x = required(inputs, 0), low = Int64(QuantizedType.range(x.dtype).lo)
        let real = try realValues(inputs, type: x.dtype), factor = try scalar(inputs, 1) / scalar(inputs, 3)
        let slope = real.map { activation.gradient(x: $0, y: activation($0), dy: 1) * factor }
        let gv = g.floats, xv = x.int64s
        return [Tensor(uncheckedShape: x.shape, floats: gv.indices.map { gv[$0] * slope[Int(xv[$0] - low)] })] + wanted.dropFirst().map { _ in nil }
    }
}
