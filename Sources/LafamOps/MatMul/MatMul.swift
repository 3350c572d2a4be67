import LafamGraph
import LafamTensor

/// MatMul with numpy semantics: 1-D operands are promoted and the promoted axis removed,
/// leading (batch) axes broadcast. With `hasBias` (made by `fuse-matmul-bias`, never read from a
/// file) a third input of n elements is added to every output row, the GEMM accumulating onto it.
struct MatMul: Operator {
    var inputArity: ClosedRange<Int> { hasBias ? 3...3 : 2...2 }

    /// True when a third input, a bias over the output's last axis, is added.
    var hasBias = false

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
        if hasBias {
            let bias = try required(inputs, 2, "bias")
            guard bias.dtype == .float32, let n = pb.last!.value, bias.shape?.concrete.map(Tensor.count(of:)) == n else {
                throw OpError("the bias is not \(pb.last!) float32 values")
            }
        }
        return [facts(.float32, out)]
    }

    func batchBehaviour(_ inputs: [ValueFacts?], carryingBatch: [Bool]) -> BatchBehaviour {
        // Images as rows of A, or as the batch of a batched product (both operands of one rank > 2).
        let (ra, rb) = (inputs[0]?.rank, inputs[1]?.rank)
        if carryingBatch[0], ra == nil || ra! < 2 || (carryingBatch[1] && ra != rb) { return .mixesImages }
        if carryingBatch[1], rb == nil || rb! <= 2 || (carryingBatch[0] && ra != rb) { return .mixesImages }
        return .perImage
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
        var out: [Float]
        if hasBias {
            // Every row starts as the bias; the GEMMs below add A·B to it (beta 1).
            let bias = required(inputs, 2).floats
            out = [Float](unsafeUninitializedCapacity: batches * m * n) { p, count in
                for row in 0..<(batches * m) { (p.baseAddress! + row * n).initialize(from: bias, count: n) }
                count = batches * m * n
            }
        } else {
            out = [Float](repeating: 0, count: batches * m * n)
        }
        let beta: Float = hasBias ? 1 : 0
        let av = a.floats, bv = b.floats
        av.withUnsafeBufferPointer { ap in
            bv.withUnsafeBufferPointer { bp in
                out.withUnsafeMutableBufferPointer { op in
                    // One B for every batch of a contiguous A (a Linear layer on [N, H, W, C]):
                    // a single GEMM over all batches' rows instead of many short ones.
                    if batchA == batch && sb.allSatisfy({ $0 == 0 }) {
                        return sgemm(m: batches * m, n: n, k: k, a: ap.baseAddress!, lda: k, b: bp.baseAddress!, ldb: n,
                                     beta: beta, c: op.baseAddress!, ldc: n)
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
                              b: bp.baseAddress! + offB * k * n, ldb: n, beta: beta, c: op.baseAddress! + i * m * n, ldc: n)
                    }
                }
            }
        }
        var shape = batch
        if a.rank > 1 { shape.append(m) }
        if b.rank > 1 { shape.append(n) }
        return [Tensor(uncheckedShape: shape, floats: out)]
    }
}

extension MatMul: Differentiable {
    /// dA = dY·Bᵀ and dB = Aᵀ·dY per batch entry, summed over broadcast batch axes; a bias's
    /// gradient is dY summed over the rows.
    func backward(_ inputs: [Tensor?], outputs: [Tensor], gradients: [Tensor?], wanted: [Bool]) throws -> [Tensor?] {
        guard let g = gradients[0] else { return wanted.map { _ in nil } }
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
            wanted[0] ? try reduceToShape(Tensor(uncheckedShape: batch + [m, k], floats: da), pa).viewed(as: a.shape) : nil,
            wanted[1] ? try reduceToShape(Tensor(uncheckedShape: batch + [k, n], floats: db), pb).viewed(as: b.shape) : nil,
        ] + (hasBias ? [wanted[2] ? try reduceToShape(g, [n]).viewed(as: required(inputs, 2).shape) : nil] : [])
    }
}
