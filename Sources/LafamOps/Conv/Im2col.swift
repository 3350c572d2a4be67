import LafamGraph
import LafamTensor

/// A 1×1 stride-1 unpadded convolution on `columns` of the plane, group by group:
/// out[M/g × columns] = W[M/g × Cg] · x[Cg × columns], reading the input directly.
func pointwiseConv(_ g: ConvGeometry, x: UnsafePointer<Float>, w: UnsafePointer<Float>, out: UnsafeMutablePointer<Float>, columns: Range<Int>) {
    let plane = g.v.outputCount, mg = g.outputsPerGroup
    for grp in 0..<g.group {
        sgemm(m: mg, n: columns.count, k: g.cg, a: w + grp * mg * g.cg, lda: g.cg,
              b: x + grp * g.cg * plane + columns.lowerBound, ldb: plane, c: out + grp * mg * plane + columns.lowerBound, ldc: plane)
    }
}

/// Floats of im2col matrix per tile of output rows (1 MB, but see `im2colMinimumColumns`): the
/// scratch buffer does not grow with the image (ResNet-50's stem: 7 MB untiled).
let im2colTileBudget = 1 << 18
/// Output positions per im2col tile at least: each tile's GEMM packs the weights again, which
/// for deep layers (ResNet-50's 256×2304 at 14×14) cost more than the larger tile's cache misses.
let im2colMinimumColumns = 512

/// Per group, through im2col, for output `rows`: out[M/g × rows] = W[M/g × Cg·K] · col[Cg·K × rows].
func gemmConv(_ g: ConvGeometry, x: UnsafePointer<Float>, w: UnsafePointer<Float>, out: UnsafeMutablePointer<Float>,
              rows: Range<Int>, col: UnsafeMutablePointer<Float>) {
    let plane = g.v.outputCount, ow = g.v.out[2]
    let columns = rows.count * ow, offset = rows.lowerBound * ow
    let k = g.cg * g.v.kernelCount
    let mg = g.outputsPerGroup
    for grp in 0..<g.group {
        im2col(g.v, channels: g.cg, x: x + grp * g.cg * g.v.inputCount, col: col, rows: rows)
        sgemm(m: mg, n: columns, k: k, a: w + grp * mg * k, lda: k, b: col, ldb: columns,
              c: out + grp * mg * plane + offset, ldc: plane)
    }
}

/// Visits the rows of an im2col matrix for `channels` input channels: rows of (channel, kz, ky,
/// kx), each split into output rows of `out[2]` columns. `body(column, input, lo, hi)` gets the
/// flat offset of that stretch of the column matrix and, when its input row lies inside the
/// image, the flat input offset such that column ox (lo ≤ ox < hi) reads `input + ox · stride`;
/// columns outside lo..<hi, and whole stretches with a nil input, are padding.
@inline(__always)
func forEachPatchRow(_ v: WindowVolume, channels: Int, rows: Range<Int>? = nil,
                     _ body: (_ column: Int, _ input: Int?, _ lo: Int, _ hi: Int) -> Void) {
    let (d, h, w) = (v.size[0], v.size[1], v.size[2])
    let (oh, ow) = (v.out[1], v.out[2])
    // Output rows (oz · oh + oy) to visit; the column matrix holds only their positions.
    let rows = rows ?? 0..<(v.out[0] * oh)
    let plane = rows.count * ow
    var row = 0
    for ch in 0..<channels {
        let channel = ch * d * h * w
        for kz in 0..<v.kernel[0] {
            for ky in 0..<v.kernel[1] {
                for kx in 0..<v.kernel[2] {
                    let base = row * plane
                    row += 1
                    let dx = kx * v.dilation[2] - v.padBegin[2]
                    let (lo, hi) = validRange(offset: dx, stride: v.stride[2], inSize: w, outSize: ow)
                    for r in rows {
                        let (oz, oy) = r.quotientAndRemainder(dividingBy: oh)
                        let iz = oz * v.stride[0] + kz * v.dilation[0] - v.padBegin[0]
                        let iy = oy * v.stride[1] + ky * v.dilation[1] - v.padBegin[1]
                        let inside = iz >= 0 && iz < d && iy >= 0 && iy < h && lo < hi
                        body(base + (r - rows.lowerBound) * ow, inside ? channel + (iz * h + iy) * w + dx : nil, lo, hi)
                    }
                }
            }
        }
    }
}

/// Unfolds `channels` input channels into the column matrix (rows of (channel, kz, ky, kx),
/// columns of output positions, all or those of output `rows`); padding positions read as zero.
func im2col(_ v: WindowVolume, channels: Int, x: UnsafePointer<Float>, col: UnsafeMutablePointer<Float>, rows: Range<Int>? = nil) {
    let ow = v.out[2], stride = v.stride[2]
    forEachPatchRow(v, channels: channels, rows: rows) { column, input, lo, hi in
        let dst = col + column
        guard let input else {
            dst.update(repeating: 0, count: ow)
            return
        }
        if lo > 0 { dst.update(repeating: 0, count: lo) }
        if hi < ow { (dst + hi).update(repeating: 0, count: ow - hi) }
        let src = x + input
        if stride == 1 {
            (dst + lo).update(from: src + lo, count: hi - lo)
        } else {
            for ox in lo..<hi { dst[ox] = src[ox * stride] }
        }
    }
}

/// The adjoint of `im2col`: adds each column entry back to the input position it was read from.
func col2im(_ v: WindowVolume, channels: Int, col: UnsafePointer<Float>, x: UnsafeMutablePointer<Float>) {
    let stride = v.stride[2]
    forEachPatchRow(v, channels: channels) { column, input, lo, hi in
        guard let input else { return }
        let src = col + column, dst = x + input
        for ox in lo..<hi { dst[ox * stride] += src[ox] }
    }
}

/// The adjoint of `gemmConv` for one image, group by group: col = W_gᵀ·dy_g, then col2im into
/// dx_g (accumulating). For Conv's input gradient and ConvTranspose's forward pass; `outputs`
/// and `inputs` are the per-group channel counts of the forward convolution.
func gemmConvAdjoint(_ v: WindowVolume, groups: Int, outputs mg: Int, inputs cg: Int, w: UnsafePointer<Float>,
                     dy: UnsafePointer<Float>, dx: UnsafeMutablePointer<Float>, col: UnsafeMutablePointer<Float>) {
    let k = cg * v.kernelCount
    for grp in 0..<groups {
        sgemm(transA: true, m: k, n: v.outputCount, k: mg, a: w + grp * mg * k, lda: k,
              b: dy + grp * mg * v.outputCount, ldb: v.outputCount, c: col, ldc: v.outputCount)
        col2im(v, channels: cg, col: col, x: dx + grp * cg * v.inputCount)
    }
}

/// The output positions o in [lo, hi) for which o·stride + offset lies in [0, inSize).
@inline(__always)
func validRange(offset: Int, stride: Int, inSize: Int, outSize: Int) -> (Int, Int) {
    let lo = offset >= 0 ? 0 : (-offset + stride - 1) / stride
    let last = inSize - 1 - offset
    let hi = last < 0 ? 0 : min(outSize, last / stride + 1)
    return (min(lo, outSize), max(min(lo, outSize), hi))
}
