import LafamGraph
import LafamTensor

/// Winograd convolution F(2×2, 3×3) for 2-D 3×3 convolutions with stride 1, no dilation and one
/// group (Lavin & Gray, "Fast Algorithms for Convolutional Neural Networks", 2016): each 2×2 block
/// of outputs comes from a 4×4 block of inputs with 16 multiplications per channel pair instead
/// of 36. In matrix form, per point ξ of the 4×4 transform, M[ξ] = U[ξ] · V[ξ], one GEMM of output
/// channels × input channels × tiles, where U = G·g·Gᵀ are the transformed weights (computed once
/// per weight tensor), V = Bᵀ·d·B the transformed input tiles, and the outputs Y = Aᵀ·M·A.
///
/// F(2×2) rather than F(4×4, 3×3) (4× fewer multiplications, ResNet-50 another 3 ms faster)
/// because of rounding: F(2×2)'s transforms are exact sums and halves, and its results are as
/// close to exact as im2col's (3.4e-7 vs 3.0e-7 of the output's magnitude, float64 reference, one
/// 128-channel layer), whereas F(4×4)'s are 23× further off (7× with the best interpolation points
/// tried), which took ResNet-50 and Inception v3 past the 1e-4 tolerance against onnxruntime.
struct WinogradWeights: Sendable {
    /// U[ξ][oc][ic], ξ = 4·row + column of the 4×4 transform.
    let u: [Float]

    /// Transforms `weights` ([outputs, inputs, 3, 3]).
    init(weights: UnsafePointer<Float>, outputs: Int, inputs: Int) {
        let pairs = outputs * inputs
        u = [Float](unsafeUninitializedCapacity: 16 * pairs) { buffer, initialized in
            var columns = [Double](repeating: 0, count: 12)
            for pair in 0..<pairs {
                let w = weights + pair * 9
                // G·w (4×3) in `columns`, then (G·w)·Gᵀ (4×4), in double precision.
                for c in 0..<3 {
                    WinogradTransform.weights({ Double(w[$0 * 3 + c]) }) { columns[$0 * 3 + c] = $1 }
                }
                for r in 0..<4 {
                    WinogradTransform.weights({ columns[r * 3 + $0] }) { buffer[(r * 4 + $0) * pairs + pair] = Float($1) }
                }
            }
            initialized = 16 * pairs
        }
    }

    /// Whether a conv of this geometry over `images` images runs by Winograd: it applies, and the
    /// images have at least `minimumTiles` 2×2 tiles (the GEMMs are tiles wide; ResNet-50's 7×7
    /// layers, 16 tiles per image, measured slower than im2col at batch 1) and the conv
    /// `minimumChannels` inputs and outputs (the transforms cost per channel).
    static func suits(_ g: ConvGeometry, images: Int) -> Bool {
        let v = g.v
        guard g.group == 1, v.kernel == [1, 3, 3], v.stride == [1, 1, 1], v.dilation == [1, 1, 1], v.size[0] == 1, v.out[0] == 1 else { return false }
        guard g.c >= minimumChannels && g.m >= minimumChannels else { return false }
        // Sizes from declared shapes may be huge: an overflowing tile count is certainly enough.
        let (rows, o1) = images.multipliedReportingOverflow(by: (v.out[1] + 1) / 2)
        let (tiles, o2) = rows.multipliedReportingOverflow(by: (v.out[2] + 1) / 2)
        return o1 || o2 || tiles >= minimumTiles
    }

    static let minimumTiles = 40
    static let minimumChannels = 16
}

/// The transforms of F(2×2, 3×3), on vectors of values (one lane per tile or column).
enum WinogradTransform {
    /// G·g for the 3 values g(0), g(1), g(2), passed to out(0, ·) … out(3, ·); G = [1 0 0; ½ ½ ½;
    /// ½ −½ ½; 0 0 1].
    @inline(__always)
    static func weights<V: FloatingPoint>(_ g: (Int) -> V, _ out: (Int, V) -> Void) {
        let (g0, g1, g2) = (g(0), g(1), g(2))
        let half = V(1) / 2
        out(0, g0)
        out(1, (g0 + g1 + g2) * half)
        out(2, (g0 - g1 + g2) * half)
        out(3, g2)
    }

    /// Bᵀ·d for the 4 vectors d(0) … d(3), passed to out(0, ·) … out(3, ·).
    @inline(__always)
    static func input<V: SIMD>(_ d: (Int) -> V, _ out: (Int, V) -> Void) where V.Scalar == Float {
        let (d0, d1, d2, d3) = (d(0), d(1), d(2), d(3))
        out(0, d0 - d2)
        out(1, d1 + d2)
        out(2, d2 - d1)
        out(3, d1 - d3)
    }

    /// Aᵀ·m for the 4 vectors m(0) … m(3), passed to out(0, ·) and out(1, ·).
    @inline(__always)
    static func output<V: SIMD>(_ m: (Int) -> V, _ out: (Int, V) -> Void) where V.Scalar == Float {
        let (m0, m1, m2, m3) = (m(0), m(1), m(2), m(3))
        out(0, m0 + m1 + m2)
        out(1, m1 - m2 - m3)
    }
}

/// Floats of transformed inputs and GEMM results per block of tile rows, so that a block's V and
/// M stay in cache between the transforms and the GEMMs (ResNet-50: 4 ms faster than 2 MB)...
let winogradBlockBudget = 1 << 17
/// ...but at least this many tiles per block, since every block streams all of U: ResNet-50's
/// 7×7 layers at batch 8 (U 16 MB, 8 tiles per block within the budget) 46 → 15 ms.
let winogradMinimumBlockTiles = 256

/// A batch's convolution by Winograd on `workers` threads, the tiles of all `images` together
/// (a 7×7 plane has 16 tiles, too few for efficient GEMMs, 8 images 128); `finish(image,
/// channels, columns)` runs the output pass on each block of an image's finished output rows.
func winogradConv(_ g: ConvGeometry, weights: WinogradWeights, x: UnsafePointer<Float>, out: UnsafeMutablePointer<Float>,
                  images: Int, workers: Int, finish: (_ image: Int, _ channels: Range<Int>, _ columns: Range<Int>) -> Void) {
    let v = g.v
    let (oh, ow) = (v.out[1], v.out[2])
    let (tilesY, tilesX) = ((oh + 1) / 2, (ow + 1) / 2)
    let (c, m) = (g.c, g.m)
    // Rows of tiles of all images, image after image, taken in blocks.
    let allRows = images * tilesY
    let blockRows = min(allRows, max(1, winogradBlockBudget / (16 * (c + m) * tilesX), (winogradMinimumBlockTiles + tilesX - 1) / tilesX))
    let blockTiles = blockRows * tilesX
    let transformed = UnsafeMutablePointer<Float>.allocate(capacity: 16 * c * blockTiles)
    let products = UnsafeMutablePointer<Float>.allocate(capacity: 16 * m * blockTiles + 8)
    let scratchSize = max(8 * winogradInputPitch(tilesX), 10 * (tilesX + 8))
    let scratch = UnsafeMutablePointer<Float>.allocate(capacity: scratchSize * workers)
    defer { transformed.deallocate(); products.deallocate(); scratch.deallocate() }
    weights.u.withUnsafeBufferPointer { up in
        for blockStart in stride(from: 0, to: allRows, by: blockRows) {
            let block = blockStart..<min(allRows, blockStart + blockRows)
            let tiles = block.count * tilesX
            // The block's rows image by image: the tile rows in that image, and the first tile's index in the block.
            var segments: [(image: Int, rows: Range<Int>, first: Int)] = []
            var row = block.lowerBound
            while row < block.upperBound {
                let (image, top) = row.quotientAndRemainder(dividingBy: tilesY)
                let rows = top..<min(tilesY, top + block.upperBound - row)
                segments.append((image, rows, (row - block.lowerBound) * tilesX))
                row += rows.count
            }
            KernelThreads.run(workers) { worker in
                for ic in KernelThreads.share(c, worker: worker, of: workers) {
                    for s in segments {
                        winogradInputTransform(v, x: x + (s.image * c + ic) * v.inputCount, tileRows: s.rows, tilesX: tilesX,
                                               scratch: scratch + worker * scratchSize, out: transformed + ic * tiles + s.first, pointStride: c * tiles)
                    }
                }
            }
            KernelThreads.run(workers) { worker in
                let channels = KernelThreads.share(m, worker: worker, of: workers)
                guard !channels.isEmpty else { return }
                for point in 0..<16 {
                    sgemm(m: channels.count, n: tiles, k: c, a: up.baseAddress! + (point * m + channels.lowerBound) * c, lda: c,
                          b: transformed + point * c * tiles, ldb: tiles,
                          c: products + (point * m + channels.lowerBound) * tiles, ldc: tiles)
                }
                for s in segments {
                    for oc in channels {
                        winogradOutputTransform(products: products + oc * tiles + s.first, pointStride: m * tiles, tileRows: s.rows, tilesX: tilesX,
                                                oh: oh, ow: ow, scratch: scratch + worker * scratchSize, out: out + (s.image * m + oc) * oh * ow)
                    }
                    let outputRows = (2 * s.rows.lowerBound)..<min(oh, 2 * s.rows.upperBound)
                    finish(s.image, channels, (outputRows.lowerBound * ow)..<(outputRows.upperBound * ow))
                }
            }
        }
    }
}

/// V = Bᵀ·d·B for one input channel's tiles in `tileRows`: per row of tiles, the 4 input rows are
/// copied with their zero padding, transformed down the columns (8 columns at a time), then
/// along the resulting rows, 8 tiles at a time. Tile t's point ξ goes to out[ξ · pointStride + t],
/// t counted from the block's first tile.
private func winogradInputTransform(_ v: WindowVolume, x: UnsafePointer<Float>, tileRows: Range<Int>, tilesX: Int,
                                    scratch: UnsafeMutablePointer<Float>, out: UnsafeMutablePointer<Float>, pointStride: Int) {
    let (h, w, padTop, padLeft) = (v.size[1], v.size[2], v.padBegin[1], v.padBegin[2])
    let width = 2 * tilesX + 2, pitch = winogradInputPitch(tilesX)
    let (rows, columns) = (scratch, scratch + 4 * pitch)
    // Columns of a padded row that hold image columns; the others stay zero.
    let lo = min(width, padLeft), hi = max(lo, min(width, padLeft + w))
    scratch.update(repeating: 0, count: 8 * pitch)
    for ty in tileRows {
        for i in 0..<4 {
            let y = 2 * ty - padTop + i, row = rows + i * pitch
            if y >= 0 && y < h {
                (row + lo).update(from: x + y * w + (lo - padLeft), count: hi - lo)
            } else {
                (row + lo).update(repeating: 0, count: hi - lo)
            }
        }
        for j in stride(from: 0, to: width, by: 8) {
            WinogradTransform.input({ load(rows + $0 * pitch + j) as SIMD8<Float> }, { store($1, columns + $0 * pitch + j) })
        }
        let first = out + (ty - tileRows.lowerBound) * tilesX
        for k in 0..<4 {
            let row = columns + k * pitch, base = first + 4 * k * pointStride
            for tx in stride(from: 0, to: tilesX, by: 8) {
                // Column l of 8 tiles: every other element, from the tiles' first column on.
                let (a, b): (SIMD16<Float>, SIMD16<Float>) = (load(row + 2 * tx), load(row + 2 * tx + 2))
                let count = min(8, tilesX - tx)
                WinogradTransform.input({ $0 == 0 ? a.evenHalf : $0 == 1 ? a.oddHalf : $0 == 2 ? b.evenHalf : b.oddHalf }) { l, v in
                    if count == 8 {
                        store(v, base + l * pointStride + tx)
                    } else {
                        for j in 0..<count { base[l * pointStride + tx + j] = v[j] }
                    }
                }
            }
        }
    }
}

/// Floats per scratch row of the input transform: a padded row of tiles, and room for the
/// 8-tile vector reads past its last tile.
private func winogradInputPitch(_ tilesX: Int) -> Int { 2 * tilesX + 28 }

/// Y = Aᵀ·M·A for one output channel's tiles in `tileRows`: per row of tiles, down the columns
/// of M (4 rows into 2) and then along the rows, each 8 tiles at a time, the last step storing
/// the tiles' two columns interleaved into a line that is copied to the output row. `products`
/// has room for reading 8 tiles past its end.
private func winogradOutputTransform(products: UnsafePointer<Float>, pointStride: Int, tileRows: Range<Int>, tilesX: Int,
                                     oh: Int, ow: Int, scratch: UnsafeMutablePointer<Float>, out: UnsafeMutablePointer<Float>) {
    let pitch = tilesX + 8
    let (planar, line) = (scratch, scratch + 8 * pitch)
    for ty in tileRows {
        let first = products + (ty - tileRows.lowerBound) * tilesX
        for l in 0..<4 {
            for tx in stride(from: 0, to: tilesX, by: 8) {
                WinogradTransform.output({ load(first + ($0 * 4 + l) * pointStride + tx) as SIMD8<Float> }) { r, v in
                    store(v, planar + (r * 4 + l) * pitch + tx)
                }
            }
        }
        let y0 = 2 * ty
        for r in 0..<min(2, oh - y0) {
            for tx in stride(from: 0, to: tilesX, by: 8) {
                var pair = SIMD16<Float>()
                WinogradTransform.output({ load(planar + (r * 4 + $0) * pitch + tx) as SIMD8<Float> }) { c, v in
                    if c == 0 { pair.evenHalf = v } else { pair.oddHalf = v }
                }
                store(pair, line + 2 * tx)
            }
            (out + (y0 + r) * ow).update(from: line, count: ow)
        }
    }
}

@inline(__always)
private func load<V: SIMD>(_ p: UnsafePointer<Float>) -> V where V.Scalar == Float {
    UnsafeRawPointer(p).loadUnaligned(as: V.self)
}

@inline(__always)
private func store<V: SIMD>(_ v: V, _ p: UnsafeMutablePointer<Float>) where V.Scalar == Float {
    UnsafeMutableRawPointer(p).storeBytes(of: v, as: V.self)
}
