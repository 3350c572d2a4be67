import LafamGraph
import LafamTensor

/// The operands of an integer matrix product, centred on their zero points: A [..., M, K] and
/// B [K, N] or [..., K, N] with A's leading axes; B's zero point may vary per column.
private struct IntegerProduct {
    let a: [Double], b: [Double]
    let m: Int, k: Int, n: Int
    /// The leading axes of A (the output's), and whether B has them too.
    let batch: [Int], batchedB: Bool

    init(a q: Tensor, aZero: Tensor?, b r: Tensor, bZero: Tensor?, transA: Bool = false, transB: Bool = false) throws {
        guard q.rank >= 2, r.rank >= 2 else { throw OpError(unsupported: "integer matrix products of 1-D operands are not supported (A \(q.shape), B \(r.shape))") }
        guard aZero.map({ $0.count == 1 }) ?? true else { throw OpError("A's zero point must be one value, got \(aZero!.shape)") }
        let rows = transA ? q.shape[q.rank - 1] : q.shape[q.rank - 2], depth = transA ? q.shape[q.rank - 2] : q.shape[q.rank - 1]
        let (inner, columns) = transB ? (r.shape[r.rank - 1], r.shape[r.rank - 2]) : (r.shape[r.rank - 2], r.shape[r.rank - 1])
        guard depth == inner else { throw OpError("inner dimensions differ: A is \(q.shape), B is \(r.shape)") }
        batch = Array(q.shape.dropLast(2))
        batchedB = r.rank > 2
        guard !batchedB || Array(r.shape.dropLast(2)) == batch else {
            throw OpError(unsupported: "broadcasting the batch axes of an integer matrix product is not supported (A \(q.shape), B \(r.shape))")
        }
        (m, k, n) = (rows, depth, columns)
        let av = try centred(q, zeroPoint: aZero, axis: 0, what: "A")
        let bv = try centred(r, zeroPoint: bZero, axis: transB ? r.rank - 2 : r.rank - 1, what: "B")
        // Transposed operands are copied into the usual layout once (QGemm's are 2-D).
        a = transA ? Self.transposed(av, rows: k, columns: m) : av
        b = transB ? Self.transposed(bv, rows: n, columns: k) : bv
    }

    /// The columns × rows transpose of a rows × columns matrix.
    private static func transposed(_ v: [Double], rows: Int, columns: Int) -> [Double] {
        var out = [Double](repeating: 0, count: v.count)
        for i in 0..<rows { for j in 0..<columns { out[j * rows + i] = v[i * columns + j] } }
        return out
    }

    /// The output shape, A's leading axes then M × N.
    var shape: [Int] { batch + [m, n] }

    /// Σ_k A·B per output element, exact (float64 sums of integer products below 2⁵³).
    func accumulate() -> [Double] {
        let batches = batch.reduce(1, *)
        var out = [Double](repeating: 0, count: batches * m * n)
        a.withUnsafeBufferPointer { ap in
            b.withUnsafeBufferPointer { bp in
                out.withUnsafeMutableBufferPointer { op in
                    if !batchedB {
                        return dgemm(m: batches * m, n: n, k: k, a: ap.baseAddress!, lda: k, b: bp.baseAddress!, ldb: n, c: op.baseAddress!, ldc: n)
                    }
                    for i in 0..<batches {
                        dgemm(m: m, n: n, k: k, a: ap.baseAddress! + i * m * k, lda: k, b: bp.baseAddress! + i * k * n, ldb: n,
                              c: op.baseAddress! + i * m * n, ldc: n)
                    }
                }
            }
        }
        return out
    }

    /// dL/dA (A's integers read as numbers, in A's own layout) for dL/d(acc) `g`: g · Bᵀ.
    func gradientOfA(_ g: [Float], transA: Bool) -> [Float] {
        let batches = batch.reduce(1, *)
        var da = [Float](repeating: 0, count: batches * m * k)
        for i in 0..<batches {
            let bo = batchedB ? i * k * n : 0
            for row in 0..<m {
                for col in 0..<n {
                    let gv = g[(i * m + row) * n + col]
                    guard gv != 0 else { continue }
                    for d in 0..<k {
                        let index = transA ? i * m * k + d * m + row : (i * m + row) * k + d
                        da[index] += gv * Float(b[bo + d * n + col])
                    }
                }
            }
        }
        return da
    }
}

/// The scale a column's accumulators are multiplied by: numerator · b_scale (per tensor or per
/// column) / y_scale, in float32 in that order, as onnxruntime computes it.
private func columnScales(_ numerator: Float, bScale: Tensor, yScale: Float?, columns n: Int) throws -> [Float] {
    let b = bScale.floats
    guard b.count == 1 || b.count == n else { throw OpError("B's scale has \(b.count) elements for \(n) columns") }
    return (0..<n).map { j in
        let s = numerator * b[b.count == 1 ? 0 : j]
        return yScale.map { s / $0 } ?? s
    }
}

/// QLinearMatMul (opset 10): int8/uint8 A and B multiplied in integer arithmetic and requantized
/// as onnxruntime does, round(acc · a_scale · b_scale / y_scale) + y_zero_point (B's scale and
/// zero point per tensor or per column).
struct QLinearMatMul: Operator {
    var inputArity: ClosedRange<Int> { 8...8 }

    func infer(_ inputs: [ValueFacts?]) throws -> [ValueFacts] {
        let (a, b, y) = try expectQLinearOperands(inputs, names: ("a", "b", "y"), perAxisB: true)
        return [facts(y.dtype, try MatMul().infer([facts(.float32, a.shape), facts(.float32, b.shape)])[0].shape)]
    }

    func batchBehaviour(_ inputs: [ValueFacts?], carryingBatch: [Bool]) -> BatchBehaviour {
        carryingBatch.enumerated().allSatisfy { $0.offset == 0 || !$0.element } && (inputs[0]?.rank ?? 0) > 2 ? .perImage : .mixesImages
    }

    func outputQuantization(_ k: Int) -> QuantizationSource? { .inputs(scale: 6, zeroPoint: 7, axis: 1) }

    func run(_ inputs: [Tensor?]) throws -> [Tensor] {
        let product = try IntegerProduct(a: required(inputs, 0), aZero: optional(inputs, 2), b: required(inputs, 3), bZero: optional(inputs, 5))
        let yZero = required(inputs, 7)
        let scales = try columnScales(try scalar(inputs, 1), bScale: required(inputs, 4), yScale: try scalar(inputs, 6), columns: product.n)
        return [requantized(product.accumulate(), shape: product.shape, to: yZero.dtype, zeroPoint: try zeroPointScalar(inputs, 7), scales: scales, run: 1)]
    }
}

extension QLinearMatMul: Differentiable {
    /// y = k_j Σ (a − a_zp)(b − b_zp) per column j (integers read as numbers): dL/da = (dL/dy ⊙ k) · (b − b_zp)ᵀ.
    func backward(_ inputs: [Tensor?], outputs: [Tensor], gradients: [Tensor?], wanted: [Bool]) throws -> [Tensor?] {
        guard wanted[0], let g = gradients[0] else { return wanted.map { _ in nil } }
        let a = required(inputs, 0)
        let product = try IntegerProduct(a: a, aZero: optional(inputs, 2), b: required(inputs, 3), bZero: optional(inputs, 5))
        let scales = try columnScales(try scalar(inputs, 1), bScale: required(inputs, 4), yScale: try scalar(inputs, 6), columns: product.n)
        let gv = g.floats, scaled = gv.indices.map { gv[$0] * scales[$0 % product.n] }
        return [Tensor(uncheckedShape: a.shape, floats: product.gradientOfA(scaled, transA: false))] + wanted.dropFirst().map { _ in nil }
    }
}

/// MatMulInteger (opset 10): Σ (a − a_zero_point)(b − b_zero_point), int32, for uint8/int8
/// operands (B's zero point per tensor or per column).
struct MatMulInteger: Operator {
    var inputArity: ClosedRange<Int> { 2...4 }

    func infer(_ inputs: [ValueFacts?]) throws -> [ValueFacts] {
        let a = try required(inputs, 0, "A"), b = try required(inputs, 1, "B")
        try expect(a, QuantizedType.operands, "A"); try expect(b, QuantizedType.operands, "B")
        try expectZeroPoint(optional(inputs, 2), matching: a.dtype, "a_zero_point")
        try expectZeroPoint(optional(inputs, 3), matching: b.dtype, "b_zero_point")
        return [facts(.int32, try MatMul().infer([facts(.float32, a.shape), facts(.float32, b.shape)])[0].shape)]
    }

    func batchBehaviour(_ inputs: [ValueFacts?], carryingBatch: [Bool]) -> BatchBehaviour {
        carryingBatch.enumerated().allSatisfy { $0.offset == 0 || !$0.element } && (inputs[0]?.rank ?? 0) > 2 ? .perImage : .mixesImages
    }

    func run(_ inputs: [Tensor?]) throws -> [Tensor] {
        let product = try IntegerProduct(a: required(inputs, 0), aZero: optional(inputs, 2), b: required(inputs, 1), bZero: optional(inputs, 3))
        return [Tensor(uncheckedShape: product.shape, storage: .int64(product.accumulate().map { Int64($0) }), dtype: .int32)]
    }
}

extension MatMulInteger: Differentiable {
    /// dL/da = dL/dy · (b − b_zp)ᵀ (integers read as numbers).
    func backward(_ inputs: [Tensor?], outputs: [Tensor], gradients: [Tensor?], wanted: [Bool]) throws -> [Tensor?] {
        guard wanted[0], let g = gradients[0] else { return wanted.map { _ in nil } }
        let a = required(inputs, 0)
        let product = try IntegerProduct(a: a, aZero: optional(inputs, 2), b: required(inputs, 1), bZero: optional(inputs, 3))
        return [Tensor(uncheckedShape: a.shape, floats: product.gradientOfA(g.floats, transA: false))] + wanted.dropFirst().map { _ in nil }
    }
}

/// com.microsoft QGemm (onnxruntime's quantizer writes it for Gemm in QOperator models): acc =
/// C (int32, broadcast) + Σ (A − a_zp)(B − b_zp) over op(A) [M, K] and op(B) [K, N]; with
/// y_zero_point, requantized to its type by round(acc · alpha · a_scale · b_scale / y_scale) +
/// y_zero_point, else float32 acc · alpha · a_scale · b_scale (B's scale and zero point per
/// tensor or per column), as onnxruntime computes it.
struct QGemm: Operator {
    var inputArity: ClosedRange<Int> { 6...9 }

    let transA: Bool, transB: Bool, alpha: Float
    /// Whether y is quantized (the node lists y_zero_point) rather than float32.
    let quantizesY: Bool

    init(_ node: NodeContext) throws {
        transA = try node.int("transA", default: 0) != 0
        transB = try node.int("transB", default: 0) != 0
        alpha = try node.float("alpha", default: 1)
        quantizesY = node.inputCount > 8
    }

    func outputQuantization(_ k: Int) -> QuantizationSource? { quantizesY ? .inputs(scale: 7, zeroPoint: 8, axis: 1) : nil }

    func infer(_ inputs: [ValueFacts?]) throws -> [ValueFacts] {
        let a = try required(inputs, 0, "A"), b = try required(inputs, 3, "B")
        try expect(a, QuantizedType.operands, "A"); try expect(b, QuantizedType.operands, "B")
        try expectScale(optional(inputs, 1), "a_scale"); try expectZeroPoint(optional(inputs, 2), matching: a.dtype, "a_zero_point")
        try expectScale(optional(inputs, 4), "b_scale", perAxis: true); try expectZeroPoint(optional(inputs, 5), matching: b.dtype, "b_zero_point")
        if let c = optional(inputs, 6) { try expect(c, [.int32], "C") }
        let y = optional(inputs, 8)
        if let y { try expect(y, QuantizedType.operands, "y_zero_point"); try expectScale(optional(inputs, 7), "y_scale") }
        try expectRank(a, 2, "A"); try expectRank(b, 2, "B")
        let shape = a.shape.flatMap { sa in b.shape.map { sb in [transA ? sa[1] : sa[0], transB ? sb[0] : sb[1]] } }
        return [facts(y?.dtype ?? .float32, shape ?? [.unknown, .unknown])]
    }

    func batchBehaviour(_ inputs: [ValueFacts?], carryingBatch: [Bool]) -> BatchBehaviour {
        transA || carryingBatch.dropFirst().contains(true) ? .mixesImages : firstInputBatchBehaviour(carryingBatch)
    }

    func run(_ inputs: [Tensor?]) throws -> [Tensor] {
        let product = try IntegerProduct(a: required(inputs, 0), aZero: optional(inputs, 2), b: required(inputs, 3), bZero: optional(inputs, 5),
                                         transA: transA, transB: transB)
        var acc = product.accumulate()
        if let c = optional(inputs, 6) {
            guard try broadcast([product.m, product.n], c.shape) == [product.m, product.n] else {
                throw OpError("C \(c.shape) does not broadcast to [\(product.m), \(product.n)]")
            }
            acc = broadcastMap(acc, product.shape, c.int64s.map(Double.init), c.shape, product.shape, +)
        }
        let yZero = optional(inputs, 8)
        let scales = try columnScales(try alpha * scalar(inputs, 1), bScale: required(inputs, 4),
                                      yScale: yZero == nil ? nil : try scalar(inputs, 7), columns: product.n)
        guard let yZero else {
            return [Tensor(uncheckedShape: product.shape, floats: acc.indices.map { Float(acc[$0]) * scales[$0 % product.n] })]
        }
        return [requantized(acc, shape: product.shape, to: yZero.dtype, zeroPoint: try zeroPointScalar(inputs, 8), scales: scales, run: 1)]
    }
}

extension QGemm: Differentiable {
    /// y = k_j (C + Σ (A − a_zp)(B − b_zp)) per column j (integers read as numbers): dL/dA =
    /// (dL/dy ⊙ k) · (B − b_zp)ᵀ, laid out as A is.
    func backward(_ inputs: [Tensor?], outputs: [Tensor], gradients: [Tensor?], wanted: [Bool]) throws -> [Tensor?] {
        guard wanted[0], let g = gradients[0] else { return wanted.map { _ in nil } }
        let a = required(inputs, 0)
        let product = try IntegerProduct(a: a, aZero: optional(inputs, 2), b: required(inputs, 3), bZero: optional(inputs, 5),
                                         transA: transA, transB: transB)
        let scales = try columnScales(try alpha * scalar(inputs, 1), bScale: required(inputs, 4),
                                      yScale: optional(inputs, 8) == nil ? nil : try scalar(inputs, 7), columns: product.n)
        let gv = g.floats, scaled = gv.indices.map { gv[$0] * scales[$0 % product.n] }
        return [Tensor(uncheckedShape: a.shape, floats: product.gradientOfA(scaled, transA: transA))] + wanted.dropFirst().map { _ in nil }
    }
}
