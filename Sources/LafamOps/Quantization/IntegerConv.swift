import LafamGraph
import LafamTensor

/// QLinearConv (opset 10): a convolution of int8/uint8 x and w in integer arithmetic, Σ (x −
/// x_zero_point)(w − w_zero_point) + B (int32), requantized to y's type as onnxruntime does:
/// round(acc · x_scale · w_scale / y_scale) + y_zero_point, w's scale and zero point per tensor
/// or per output channel. The window attributes are Conv's.
struct QLinearConv: Operator {
    var inputArity: ClosedRange<Int> { 8...9 }

    /// The float convolution of the same attributes: its geometry, shape rule and gradient.
    let conv: Conv
    /// Constant weights centred once, for a specialised graph.
    let weights: CentredWeights?

    init(_ node: NodeContext) throws { (conv, weights) = (try Conv(node), nil) }
    private init(_ conv: Conv, weights: CentredWeights?) { (self.conv, self.weights) = (conv, weights) }

    func specialized(for inputs: [ValueFacts?]) throws -> any Operator {
        QLinearConv(conv, weights: try CentredWeights(optional(inputs, 3), zeroPoint: optional(inputs, 5)))
    }

    func infer(_ inputs: [ValueFacts?]) throws -> [ValueFacts] {
        let (x, w, y) = try expectQLinearOperands(inputs, names: ("x", "w", "y"), perAxisB: true)
        if let b = optional(inputs, 8) { try expect(b, [.int32], "B"); try expectRank(b, 1, "B") }
        let float = try conv.infer([facts(.float32, x.shape), facts(.float32, w.shape)])
        return [facts(y.dtype, float[0].shape)]
    }

    func batchBehaviour(_ inputs: [ValueFacts?], carryingBatch: [Bool]) -> BatchBehaviour { firstInputBatchBehaviour(carryingBatch) }

    func spatialReach(_ inputs: [ValueFacts?]) -> SpatialReach { conv.spatialReach([inputs[0], optional(inputs, 3)]) }

    func outputQuantization(_ k: Int) -> QuantizationSource? { .inputs(scale: 6, zeroPoint: 7, axis: 1) }

    func run(_ inputs: [Tensor?]) throws -> [Tensor] {
        let x = required(inputs, 0), w = required(inputs, 3), yZero = required(inputs, 7)
        let acc = try integerConvolution(conv, x: x, xZero: optional(inputs, 2), w: w, wZero: optional(inputs, 5), bias: optional(inputs, 8), prepared: weights)
        let xScale = try scalar(inputs, 1), yScale = try scalar(inputs, 6)
        let wScales = required(inputs, 4).floats, m = w.shape[0]
        guard wScales.count == 1 || wScales.count == m else { throw OpError("w_scale has \(wScales.count) elements for \(m) output channels") }
        let scales = (0..<m).map { xScale * wScales[wScales.count == 1 ? 0 : $0] / yScale }
        let plane = acc.shape.dropFirst(2).reduce(1, *)
        return [requantized(acc.values, shape: acc.shape, to: yZero.dtype, zeroPoint: try zeroPointScalar(inputs, 7), scales: scales, run: plane)]
    }
}

extension QLinearConv: Differentiable {
    /// As every quantized op, with respect to the integers read as numbers: y = Σ k_m (x − x_zp)
    /// (w − w_zp) per output channel m, k_m = x_scale · w_scale_m / y_scale, so dL/dx is the
    /// float convolution's input gradient of dL/dy · k_m with the centred weights.
    func backward(_ inputs: [Tensor?], outputs: [Tensor], gradients: [Tensor?], wanted: [Bool]) throws -> [Tensor?] {
        guard wanted[0], let g = gradients[0] else { return wanted.map { _ in nil } }
        let w = required(inputs, 3), m = w.shape[0]
        let xScale = try scalar(inputs, 1), yScale = try scalar(inputs, 6), wScales = required(inputs, 4).floats
        let plane = g.shape.dropFirst(2).reduce(1, *)
        let gv = g.floats
        let scaled = gv.indices.map { i in gv[i] * xScale * wScales[wScales.count == 1 ? 0 : (i / plane) % m] / yScale }
        return [try inputGradient(conv, x: required(inputs, 0), w: w, wZero: optional(inputs, 5), dy: Tensor(uncheckedShape: g.shape, floats: scaled))]
            + wanted.dropFirst().map { _ in nil }
    }
}

/// ConvInteger (opset 10): Σ (x − x_zero_point)(w − w_zero_point) over each window, int32, for
/// uint8/int8 x and w (w's zero point per tensor or per output channel). The window attributes
/// are Conv's.
struct ConvInteger: Operator {
    var inputArity: ClosedRange<Int> { 2...4 }

    let conv: Conv
    /// Constant weights centred once, for a specialised graph.
    let weights: CentredWeights?

    init(_ node: NodeContext) throws { (conv, weights) = (try Conv(node), nil) }
    private init(_ conv: Conv, weights: CentredWeights?) { (self.conv, self.weights) = (conv, weights) }

    func specialized(for inputs: [ValueFacts?]) throws -> any Operator {
        ConvInteger(conv, weights: try CentredWeights(optional(inputs, 1), zeroPoint: optional(inputs, 3)))
    }

    func infer(_ inputs: [ValueFacts?]) throws -> [ValueFacts] {
        let x = try required(inputs, 0, "x"), w = try required(inputs, 1, "w")
        try expect(x, QuantizedType.operands, "x"); try expect(w, QuantizedType.operands, "w")
        try expectZeroPoint(optional(inputs, 2), matching: x.dtype, "x_zero_point")
        try expectZeroPoint(optional(inputs, 3), matching: w.dtype, "w_zero_point")
        let float = try conv.infer([facts(.float32, x.shape), facts(.float32, w.shape)])
        return [facts(.int32, float[0].shape)]
    }

    func batchBehaviour(_ inputs: [ValueFacts?], carryingBatch: [Bool]) -> BatchBehaviour { firstInputBatchBehaviour(carryingBatch) }

    func spatialReach(_ inputs: [ValueFacts?]) -> SpatialReach { conv.spatialReach([inputs[0], optional(inputs, 1)]) }

    func run(_ inputs: [Tensor?]) throws -> [Tensor] {
        let acc = try integerConvolution(conv, x: required(inputs, 0), xZero: optional(inputs, 2), w: required(inputs, 1), wZero: optional(inputs, 3), bias: nil,
                                         prepared: weights)
        return [Tensor(uncheckedShape: acc.shape, storage: .int64(acc.values.map { Int64($0) }), dtype: .int32)]
    }
}

extension ConvInteger: Differentiable {
    /// dL/dx (x's integers read as numbers) is the float convolution's input gradient with the
    /// centred weights.
    func backward(_ inputs: [Tensor?], outputs: [Tensor], gradients: [Tensor?], wanted: [Bool]) throws -> [Tensor?] {
        guard wanted[0], let g = gradients[0] else { return wanted.map { _ in nil } }
        return [try inputGradient(conv, x: required(inputs, 0), w: required(inputs, 1), wZero: optional(inputs, 3), dy: g)]
            + wanted.dropFirst().map { _ in nil }
    }
}

/// The accumulators Σ (x − x_zp)(w − w_zp) (+ bias) of an integer convolution with `conv`'s
/// window, exactly: the centred values are small integers, multiplied in float32 where no sum
/// can leave its exact range, else in float64.
private func integerConvolution(_ conv: Conv, x: Tensor, xZero: Tensor?, w: Tensor, wZero: Tensor?, bias: Tensor?,
                                prepared: CentredWeights?) throws -> (shape: [Int], values: [Double]) {
    let g = try conv.geometry(input: x.shape, weight: w.shape)
    let v = g.v, n = x.shape[0], outCount = v.outputCount
    guard xZero.map({ $0.count == 1 }) ?? true else { throw OpError("x_zero_point must be one value, got \(xZero!.shape)") }
    let xs = try centred(x, zeroPoint: xZero, axis: 1, what: "x").map(Float.init)
    let weights = try prepared ?? CentredWeights(w, zeroPoint: wZero)
    if let bias, bias.count != g.m { throw OpError("B has \(bias.count) elements for \(g.m) output channels") }
    var out: [Double]
    // When no sum can reach 2²⁴ (max |x| · max over output channels of Σ|w| below it bounds every
    // partial sum), float32 holds every one exactly: the float convolution — its fast kernels,
    // never Winograd, whose transforms are not exact — computes the same integers.
    let largestX = xs.reduce(Float(0)) { max($0, abs($1)) }
    if Double(largestX) * weights.largestRow < 0x1p24 {
        let y = try conv.run([Tensor(uncheckedShape: x.shape, floats: xs), Tensor(uncheckedShape: w.shape, floats: weights.values)])[0]
        out = y.floats.map(Double.init)
    } else {
        out = try exactConvolution(g, images: n, x: xs, w: weights.values.map(Double.init))
    }
    if let bias {
        let bv = bias.int64s
        out.withUnsafeMutableBufferPointer { o in
            for plane in 0..<(n * g.m) {
                let b = Double(bv[plane % g.m])
                for i in (plane * outCount)..<((plane + 1) * outCount) { o[i] += b }
            }
        }
    }
    return ([n, g.m] + Array(v.out.suffix(x.rank - 2)), out)
}

/// Σ x·w over each window in float64 (exact below 2⁵³): im2col per image and group, then DGEMM.
private func exactConvolution(_ g: ConvGeometry, images n: Int, x xs: [Float], w ws: [Double]) throws -> [Double] {
    let v = g.v, (inCount, outCount) = (v.inputCount, v.outputCount)
    let k = g.cg * v.kernelCount, mg = g.outputsPerGroup
    try MemoryBudget.current.check(count: k * outCount, width: 12, for: "the column matrix of an integer convolution")
    var out = [Double](repeating: 0, count: n * g.m * outCount)
    let colF = UnsafeMutablePointer<Float>.allocate(capacity: max(1, k * outCount))
    let colD = UnsafeMutablePointer<Double>.allocate(capacity: max(1, k * outCount))
    defer { colF.deallocate(); colD.deallocate() }
    xs.withUnsafeBufferPointer { xp in
        ws.withUnsafeBufferPointer { wp in
            out.withUnsafeMutableBufferPointer { op in
                for b in 0..<n {
                    for grp in 0..<g.group {
                        im2col(v, channels: g.cg, x: xp.baseAddress! + (b * g.c + grp * g.cg) * inCount, col: colF)
                        for i in 0..<(k * outCount) { colD[i] = Double(colF[i]) }
                        dgemm(m: mg, n: outCount, k: k, a: wp.baseAddress! + grp * mg * k, lda: k, b: colD, ldb: outCount,
                              c: op.baseAddress! + (b * g.m + grp * mg) * outCount, ldc: outCount)
                    }
                }
            }
        }
    }
    return out
}

/// dL/dx of an integer convolution with `conv`'s window: the float convolution's input
/// gradient for dL/dy with the centred weights w − w_zp.
private func inputGradient(_ conv: Conv, x: Tensor, w: Tensor, wZero: Tensor?, dy: Tensor) throws -> Tensor? {
    let weights = Tensor(uncheckedShape: w.shape, floats: try centred(w, zeroPoint: wZero, axis: 0, what: "w").map(Float.init))
    let values = Tensor(uncheckedShape: x.shape, floats: x.int64s.map(Float.init))
    return try conv.backward([values, weights], outputs: [], gradients: [dy], wanted: [true, false])[0]
}

/// A convolution's weights w − w_zp as float32 (small integers, exact), and the largest sum of
/// their magnitudes over one output channel, which bounds the accumulators.
struct CentredWeights: Sendable {
    let values: [Float]
    let largestRow: Double

    init(_ w: Tensor, zeroPoint: Tensor?) throws {
        let centredValues = try centred(w, zeroPoint: zeroPoint, axis: 0, what: "w")
        let row = max(1, w.shape.dropFirst().reduce(1, *))
        values = centredValues.map(Float.init)
        largestRow = stride(from: 0, to: centredValues.count, by: row).map { start in
            centredValues[start..<min(start + row, centredValues.count)].reduce(0) { $0 + abs($1) }
        }.max() ?? 0
    }

    /// The weights of facts `w` when they and their zero point are constants; nil otherwise.
    init?(_ w: ValueFacts?, zeroPoint: ValueFacts?) throws {
        guard let weights = w?.constant, zeroPoint == nil || zeroPoint?.constant != nil else { return nil }
        try self.init(weights, zeroPoint: zeroPoint?.constant)
    }
}
