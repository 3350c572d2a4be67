/// Gemm: Y = alpha·op(A)·op(B) + beta·C, with C broadcast to M×N (optional from opset 11).
struct Gemm: Operator {
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
        return [Tensor(shape: [m, n], floats: out)]
    }
}

/// MatMul with numpy semantics: 1-D operands are promoted and the promoted axis removed,
/// leading (batch) axes broadcast.
struct MatMul: Operator {
    func infer(_ inputs: [ValueFacts?]) throws -> [ValueFacts] {
        let a = try required(inputs, 0, "A"), b = try required(inputs, 1, "B")
        try expect(a, [.float32], "A"); try expect(b, [.float32], "B")
        guard let sa = a.shape, let sb = b.shape else { return [facts(.float32, nil)] }
        guard !sa.isEmpty, !sb.isEmpty else { throw OpError("operands must have rank ≥ 1") }
        let pa = sa.count == 1 ? [.known(1)] + sa : sa
        let pb = sb.count == 1 ? sb + [.known(1)] : sb
        if let p = pa.last!.value, let q = pb[pb.count - 2].value, p != q {
            throw OpError("inner dimensions differ: \(sa.shapeString) × \(sb.shapeString)")
        }
        var out = try broadcast(Array(pa.dropLast(2)), Array(pb.dropLast(2)))
        if sa.count > 1 { out.append(pa[pa.count - 2]) }
        if sb.count > 1 { out.append(pb.last!) }
        return [facts(.float32, out)]
    }

    func run(_ inputs: [Tensor?]) throws -> [Tensor] {
        let a = required(inputs, 0), b = required(inputs, 1)
        let pa = a.rank == 1 ? [1] + a.shape : a.shape
        let pb = b.rank == 1 ? b.shape + [1] : b.shape
        let m = pa[pa.count - 2], k = pa.last!, n = pb.last!
        let batchA = Array(pa.dropLast(2)), batchB = Array(pb.dropLast(2))
        let batch = try broadcast(batchA, batchB)
        let batches = Tensor.count(of: batch)
        let sa = broadcastStrides(batchA, to: batch), sb = broadcastStrides(batchB, to: batch)
        var out = [Float](repeating: 0, count: batches * m * n)
        let av = a.floats, bv = b.floats
        av.withUnsafeBufferPointer { ap in
            bv.withUnsafeBufferPointer { bp in
                out.withUnsafeMutableBufferPointer { op in
                    // One B for every batch of a contiguous A (a Linear layer on [N, H, W, C]):
                    // a single GEMM over all batches' rows instead of many short ones.
                    if batchA == batch && sb.allSatisfy({ $0 == 0 }) {
                        return sgemm(m: batches * m, n: n, k: k, a: ap.baseAddress!, lda: k, b: bp.baseAddress!, ldb: n,
                                     c: op.baseAddress!, ldc: n)
                    }
                    var index = [Int](repeating: 0, count: batch.count)
                    for i in 0..<batches {
                        var offA = 0, offB = 0, rest = i
                        for axis in stride(from: batch.count - 1, through: 0, by: -1) {
                            index[axis] = rest % batch[axis]
                            rest /= batch[axis]
                            offA += index[axis] * sa[axis]
                            offB += index[axis] * sb[axis]
                        }
                        sgemm(m: m, n: n, k: k, a: ap.baseAddress! + offA * m * k, lda: k,
                              b: bp.baseAddress! + offB * k * n, ldb: n, c: op.baseAddress! + i * m * n, ldc: n)
                    }
                }
            }
        }
        var shape = batch
        if a.rank > 1 { shape.append(m) }
        if b.rank > 1 { shape.append(n) }
        return [Tensor(shape: shape, floats: out)]
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
            result[0] = Tensor(shape: a.shape, floats: da)
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
            result[1] = Tensor(shape: b.shape, floats: db)
        }
        if inputs.count > 2, let c = inputs[2] {
            result.append(wanted[2] ? reduceToShape(Tensor(shape: g.shape, floats: gs.map { $0 * beta }), c.shape) : nil)
        }
        return result
    }
}

extension MatMul: Differentiable {
    /// dA = dY·Bᵀ and dB = Aᵀ·dY per batch entry, summed over broadcast batch axes.
    func backward(_ inputs: [Tensor?], outputs: [Tensor], gradients: [Tensor?], wanted: [Bool]) throws -> [Tensor?] {
        guard let g = gradients[0] else { return [nil, nil] }
        let a = required(inputs, 0), b = required(inputs, 1)
        let pa = a.rank == 1 ? [1] + a.shape : a.shape
        let pb = b.rank == 1 ? b.shape + [1] : b.shape
        let (m, k, n) = (pa[pa.count - 2], pa.last!, pb.last!)
        let batch = try broadcast(Array(pa.dropLast(2)), Array(pb.dropLast(2)))
        let batches = Tensor.count(of: batch)
        let sa = broadcastStrides(Array(pa.dropLast(2)), to: batch), sb = broadcastStrides(Array(pb.dropLast(2)), to: batch)
        var da = [Float](repeating: 0, count: batches * m * k), db = [Float](repeating: 0, count: batches * k * n)
        let gs = g.floats, av = a.floats, bv = b.floats
        for i in 0..<batches {
            var offA = 0, offB = 0, rest = i
            for axis in stride(from: batch.count - 1, through: 0, by: -1) {
                let idx = rest % batch[axis]
                rest /= batch[axis]
                offA += idx * sa[axis]; offB += idx * sb[axis]
            }
            gs.withUnsafeBufferPointer { gp in
                if wanted[0] {
                    bv.withUnsafeBufferPointer { bp in
                        da.withUnsafeMutableBufferPointer { dp in
                            sgemm(transB: true, m: m, n: k, k: n, a: gp.baseAddress! + i * m * n, lda: n,
                                  b: bp.baseAddress! + offB * k * n, ldb: n, c: dp.baseAddress! + i * m * k, ldc: k)
                        }
                    }
                }
                if wanted[1] {
                    av.withUnsafeBufferPointer { ap in
                        db.withUnsafeMutableBufferPointer { dp in
                            sgemm(transA: true, m: k, n: n, k: m, a: ap.baseAddress! + offA * m * k, lda: k,
                                  b: gp.baseAddress! + i * m * n, ldb: n, c: dp.baseAddress! + i * k * n, ldc: n)
                        }
                    }
                }
            }
        }
        return [
            wanted[0] ? reduceToShape(Tensor(shape: batch + [m, k], floats: da), pa).reshaped(a.shape) : nil,
            wanted[1] ? reduceToShape(Tensor(shape: batch + [k, n], floats: db), pb).reshaped(b.shape) : nil,
        ]
    }
}
