import LafamGraph
import LafamTensor

/// Gemm: Y = alpha·op(A)·op(B) + beta·C, with C broadcast to M×N (optional from opset 11).
struct Gemm: Operator {
    var inputArity: ClosedRange<Int> { 2...3 }

    let transA: Bool, transB: Bool
    let alpha: Float, beta: Float

    init(_ node: NodeContext) throws {
        transA = try node.int("transA", default: 0) != 0
        transB = try node.int("transB", default: 0) != 0
        alpha = try node.float("alpha", default: 1)
        beta = try node.float("beta", default: 1)
        // Legacy Gemm (< 7) with broadcast=0 requires C to be M×N, which the broadcasting rule accepts too.
    }

    func infer(_ inputs: [ValueFacts?]) throws -> [ValueFacts] {
        let a = try required(inputs, 0, "A"), b = try required(inputs, 1, "B")
        try expect(a, [.float32], "A"); try expect(b, [.float32], "B")
        try expectRank(a, 2, "A"); try expectRank(b, 2, "B")
        guard let sa = a.shape, let sb = b.shape else { return [facts(.float32, [.unknown, .unknown])] }
        let (m, ka) = transA ? (sa[1], sa[0]) : (sa[0], sa[1])
        let (kb, n) = transB ? (sb[1], sb[0]) : (sb[0], sb[1])
        if let p = ka.value, let q = kb.value, p != q {
            throw OpError("inner dimensions differ: A is \(sa.shapeString)\(transA ? "ᵀ" : ""), B is \(sb.shapeString)\(transB ? "ᵀ" : "")")
        }
        if let c = optional(inputs, 2) {
            try expect(c, [.float32], "C")
            if let sc = c.shape {
                let out = try broadcast([m, n], sc)
                if out.count != 2 || (out[1].value != nil && n.value != nil && out[1] != n) {
                    throw OpError("C \(sc.shapeString) does not broadcast to \([m, n].shapeString)")
                }
            }
        }
        return [facts(.float32, [m, n])]
    }

    func batchBehaviour(_ inputs: [ValueFacts?], carryingBatch: [Bool]) -> BatchBehaviour {
        // Images as rows of A; with A transposed they would be columns.
        transA ? .mixesImages : firstInputBatchBehaviour(carryingBatch)
    }

    func run(_ inputs: [Tensor?]) throws -> [Tensor] {
        let a = required(inputs, 0), b = required(inputs, 1)
        let m = transA ? a.shape[1] : a.shape[0], k = transA ? a.shape[0] : a.shape[1]
        let n = transB ? b.shape[0] : b.shape[1]
        var out: [Float]
        var betaUsed: Float = 0
        if let c = optional(inputs, 2), beta != 0 {
            let cs = try broadcast([m, n], c.shape)
            guard cs == [m, n] else { throw OpError("C \(c.shape) does not broadcast to [\(m), \(n)]") }
            out = broadcastMap([Float](repeating: 0, count: m * n), [m, n], c.floats, c.shape, [m, n], +)
            betaUsed = beta
        } else {
            out = [Float](repeating: 0, count: m * n)
        }
        let av = a.floats, bv = b.floats
        av.withUnsafeBufferPointer { ap in
            bv.withUnsafeBufferPointer { bp in
                out.withUnsafeMutableBufferPointer { op in
                    sgemm(transA: transA, transB: transB, m: m, n: n, k: k, alpha: alpha,
                          a: ap.baseAddress!, lda: a.shape[1], b: bp.baseAddress!, ldb: b.shape[1],
                          beta: betaUsed, c: op.baseAddress!, ldc: n)
                }
            }
        }
        return [Tensor(uncheckedShape: [m, n], floats: out)]
    }
}

extension Gemm: Differentiable {
    /// With P = op(A), Q = op(B): dP = α·dY·Qᵀ, dQ = α·Pᵀ·dY, dC = β·dY reduced to C's shape.
    func backward(_ inputs: [Tensor?], outputs: [Tensor], gradients: [Tensor?], wanted: [Bool]) throws -> [Tensor?] {
        guard let g = gradients[0] else { return wanted.map { _ in nil } }
        let a = required(inputs, 0), b = required(inputs, 1)
        let (m, n) = (g.shape[0], g.shape[1]), k = transA ? a.shape[0] : a.shape[1]
        var result: [Tensor?] = [nil, nil]
        let gs = g.floats, av = a.floats, bv = b.floats
        if wanted[0] {
            // dA (as stored) = transA ? α·Q·dYᵀ (k×m) : α·dY·Qᵀ (m×k).
            var da = [Float](repeating: 0, count: a.count)
            da.withUnsafeMutableBufferPointer { dp in
                if transA {
                    sgemm(transA: transB, transB: true, m: k, n: m, k: n, alpha: alpha, a: bv, lda: b.shape[1], b: gs, ldb: n, c: dp.baseAddress!, ldc: m)
                } else {
                    sgemm(transA: false, transB: !transB, m: m, n: k, k: n, alpha: alpha, a: gs, lda: n, b: bv, ldb: b.shape[1], c: dp.baseAddress!, ldc: k)
                }
            }
            result[0] = Tensor(uncheckedShape: a.shape, floats: da)
        }
        if wanted[1] {
            // dB (as stored) = transB ? α·dYᵀ·P (n×k) : α·Pᵀ·dY (k×n).
            var db = [Float](repeating: 0, count: b.count)
            db.withUnsafeMutableBufferPointer { dp in
                if transB {
                    sgemm(transA: true, transB: transA, m: n, n: k, k: m, alpha: alpha, a: gs, lda: n, b: av, ldb: a.shape[1], c: dp.baseAddress!, ldc: k)
                } else {
                    sgemm(transA: !transA, transB: false, m: k, n: n, k: m, alpha: alpha, a: av, lda: a.shape[1], b: gs, ldb: n, c: dp.baseAddress!, ldc: n)
                }
            }
            result[1] = Tensor(uncheckedShape: b.shape, floats: db)
        }
        if inputs.count > 2, let c = inputs[2] {
            result.append(wanted[2] ? try reduceToShape(Tensor(uncheckedShape: g.shape, floats: gs.map { $0 * beta }), c.shape) : nil)
        }
        return result
    }
}
