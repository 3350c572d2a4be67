import LafamTensor
import COpenBLAS
import Synchronization

/// Row-major single-precision GEMM through OpenBLAS: C = alpha·op(A)·op(B) + beta·C, where A is
/// m×k after `op`, B is k×n after `op`, C is m×n.
@inline(__always)
func sgemm(transA: Bool = false, transB: Bool = false, m: Int, n: Int, k: Int,
           alpha: Float = 1, a: UnsafePointer<Float>, lda: Int, b: UnsafePointer<Float>, ldb: Int,
           beta: Float = 0, c: UnsafeMutablePointer<Float>, ldc: Int) {
    guard m > 0, n > 0 else { return }
    // Inside a forward pass OpenBLAS runs on one thread; lafam's threads take a share of the
    // rows (or, for one-row products, the columns) each.
    let workers = KernelThreads.count
    if workers > 1 && m * n * k >= 1 << 20 {
        let splitRows = m >= n || m >= 4 * workers
        let length = splitRows ? m : n
        return KernelThreads.run(workers) { w in
            let part = (w * length / workers)..<((w + 1) * length / workers)
            guard !part.isEmpty else { return }
            let start = part.lowerBound
            if splitRows {
                sgemm(transA: transA, transB: transB, m: part.count, n: n, k: k, alpha: alpha, a: a + (transA ? start : start * lda), lda: lda,
                      b: b, ldb: ldb, beta: beta, c: c + start * ldc, ldc: ldc)
            } else {
                sgemm(transA: transA, transB: transB, m: m, n: part.count, k: k, alpha: alpha, a: a, lda: lda,
                      b: b + (transB ? start * ldb : start), ldb: ldb, beta: beta, c: c + start, ldc: ldc)
            }
        }
    }
    guard k > 0 else {
        // OpenBLAS leaves C untouched for k = 0; the product of empty matrices is zero.
        for i in 0..<m { for j in 0..<n { c[i * ldc + j] *= beta } }
        return
    }
    // A single row or column is a matrix-vector product: GEMV streams the matrix once, where
    // GEMM would first pack it (an 8 MB copy for ResNet-50's classifier at batch 1).
    if m == 1 {
        let (rows, cols) = transB ? (n, k) : (k, n)
        cblas_sgemv(CblasRowMajor, transB ? CblasNoTrans : CblasTrans, blasint(rows), blasint(cols), alpha, b, blasint(ldb),
                    a, blasint(transA ? lda : 1), beta, c, 1)
        return
    }
    if n == 1 {
        let (rows, cols) = transA ? (k, m) : (m, k)
        cblas_sgemv(CblasRowMajor, transA ? CblasTrans : CblasNoTrans, blasint(rows), blasint(cols), alpha, a, blasint(lda),
                    b, blasint(transB ? 1 : ldb), beta, c, blasint(ldc))
        return
    }
    cblas_sgemm(CblasRowMajor, transA ? CblasTrans : CblasNoTrans, transB ? CblasTrans : CblasNoTrans,
                blasint(m), blasint(n), blasint(k), alpha, a, blasint(lda), b, blasint(ldb), beta, c, blasint(ldc))
}

/// The OpenBLAS kernel set in use, for reports.
public enum BLASInfo {
    /// The name of the kernel set OpenBLAS selected for this CPU (or `OPENBLAS_CORETYPE`).
    public static var coreName: String { openblas_get_corename().map { String(cString: $0) } ?? "unknown" }
}

/// OpenBLAS's thread count is one setting for the whole process. lafam parallelises its passes
/// with its own threads (`KernelThreads`), so while any pass runs OpenBLAS must stay on one
/// thread (its idle threads would otherwise spin against lafam's); when the last pass ends, the
/// count the embedding program had is restored. This is lafam's only process-wide setting, the
/// same for every model.
enum OpenBLASThreads {
    private struct State: Sendable {
        var activePasses = 0
        var saved: Int32 = 1
    }

    private static let state = Mutex(State())

    static func whileSingleThreaded<R>(_ body: () throws -> R) rethrows -> R {
        state.withLock { s in
            if s.activePasses == 0 {
                s.saved = openblas_get_num_threads()
                if s.saved != 1 { openblas_set_num_threads(1) }
            }
            s.activePasses += 1
        }
        defer {
            state.withLock { s in
                s.activePasses -= 1
                if s.activePasses == 0 && s.saved != 1 { openblas_set_num_threads(s.saved) }
            }
        }
        return try body()
    }
}
