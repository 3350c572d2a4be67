import CKernels

/// ONNX Conv (1-D to 3-D, channels first): im2col + SGEMM per image and group; 1×1 stride-1 unpadded convs use
/// the input directly as the GEMM operand; depthwise convs (one input channel per group) use a
/// direct kernel, since GEMM on a 1-channel group is mostly overhead; 3×3 stride-1 convs with
/// constant weights may run by Winograd (`Winograd.swift`, chosen by the executor), and 3×3 stems
/// with ≤ 4 input channels by a direct AVX2 kernel (`smallInputConv`).
struct Conv: Operator {
    let window: Window?
    let kernelAttr: [Int]?
    let group: Int
    let node: NodeContext

    init(_ node: NodeContext) throws {
        self.node = node
        kernelAttr = try node.ints("kernel_shape")
        group = try node.int("group", default: 1)
        guard group >= 1 else { throw OpError("group must be ≥ 1, got \(group)") }
        // The window needs the kernel size, which may come from the weight's shape.
        window = try kernelAttr.map { try Window(node, kernel: $0) }
    }

    private func window(for weightShape: [Int]) throws -> Window {
        if let window { return window }
        return try Window(node, kernel: Array(weightShape[2...]))
    }

    func infer(_ inputs: [ValueFacts?]) throws -> [ValueFacts] {
        let x = try required(inputs, 0, "X"), w = try required(inputs, 1, "W")
        try expect(x, [.float32], "X"); try expect(w, [.float32], "W")
        if let r = x.rank, !(3...5).contains(r) { throw OpError(unsupported: "X has rank \(r); 1-D to 3-D convolutions (rank 3 to 5) are supported") }
        if let r = w.rank, let xr = x.rank, r != xr { throw OpError("W must have rank \(xr) like X, got rank \(r) \(w.shape!.shapeString)") }
        if let b = optional(inputs, 2) { try expect(b, [.float32], "B"); try expectRank(b, 1, "B") }
        guard let xs = x.shape, let ws = w.shape else { return [facts(.float32, x.shape.map { $0.map { _ in .unknown } })] }
        if let c = xs[1].value, let wc = ws[1].value, c != wc * group {
            throw OpError("X has \(c) channels, but W expects \(wc) per group × group \(group) = \(wc * group)")
        }
        if let m = ws[0].value, m % group != 0 { throw OpError("W has \(m) output channels, not divisible by group \(group)") }
        var kernel = kernelAttr
        if kernel == nil, let k = Array(ws[2...]).concrete { kernel = k }
        guard let kernel else { return [facts(.float32, [xs[0], ws[0]] + xs.dropFirst(2).map { _ in .unknown })] }
        if let k = Array(ws[2...]).concrete, k != kernel { throw OpError("kernel_shape \(kernel) does not match W's spatial shape \(k)") }
        let spatial = try Window(node, kernel: kernel).outputDims(Array(xs[2...]))
        return [facts(.float32, [xs[0], ws[0]] + spatial)]
    }

    func run(_ inputs: [Tensor?]) throws -> [Tensor] { try run(inputs, epilogue: ConvEpilogue()) }

    /// Per-image sizes of this conv on an input and weight of these shapes.
    func geometry(input x: [Int], weight w: [Int]) throws -> ConvGeometry {
        ConvGeometry(c: x[1], m: w[0], cg: w[1], group: group, v: try window(for: w).volume(Array(x[2...])))
    }

    /// The convolution with `epilogue` applied in its output pass (see `OutputPassFusion`), by
    /// Winograd F(2×2, 3×3) when `winograd` holds W's transform.
    func run(_ inputs: [Tensor?], epilogue: ConvEpilogue, winograd: WinogradWeights? = nil) throws -> [Tensor] {
        let x = required(inputs, 0), w = required(inputs, 1)
        let bias = optional(inputs, 2)
        let (n, c, m, cg) = (x.shape[0], x.shape[1], w.shape[0], w.shape[1])
        let geometry = try self.geometry(input: x.shape, weight: w.shape)
        let v = geometry.v
        let (inCount, outCount) = (v.inputCount, v.outputCount)
        let xs = x.floats, ws = w.floats
        let bs = bias?.floats
        let residual = epilogue.residual?.floats
        let workers = geometry.multiplyAdds >= ConvGeometry.parallelWorkThreshold ? KernelThreads.count : 1
        let pieces = geometry.pieces(workers: workers)
        let ow = v.out[2], k = cg * v.kernelCount
        let direct = winograd != nil || geometry.suitsSmallInputKernel
        let colSize = geometry.isDepthwise || geometry.isPointwise || direct ? 0 : k * pieces.map { $0.columns.count }.max()!
        let cols = UnsafeMutablePointer<Float>.allocate(capacity: colSize * workers)
        defer { cols.deallocate() }
        // Every element is written below (GEMM with beta 0, or the depthwise kernel's own zeroing),
        // so the buffer is not cleared first.
        let out = [Float](unsafeUninitializedCapacity: n * m * outCount) { op, initialized in
            initialized = n * m * outCount
            xs.withUnsafeBufferPointer { xp in
                ws.withUnsafeBufferPointer { wp in
                    if let winograd {
                        winogradConv(geometry, weights: winograd, x: xp.baseAddress!, out: op.baseAddress!, images: n, workers: workers) { b, channels, columns in
                            finishOutput(bias: bs, residual: residual.map { ($0, b * m * outCount) }, activation: epilogue.activation,
                                         channels: channels, plane: outCount, columns: columns, out: op.baseAddress! + b * m * outCount)
                        }
                        return
                    }
                    if geometry.suitsSmallInputKernel {
                        smallInputConv(geometry, x: xp.baseAddress!, w: wp.baseAddress!, out: op.baseAddress!, images: n, workers: workers,
                                       bias: bs, residual: residual, activation: epilogue.activation)
                        return
                    }
                    for b in 0..<n {
                        let xi = xp.baseAddress! + b * c * inCount
                        let oi = op.baseAddress! + b * m * outCount
                        // Worker w takes pieces w, w + workers, …; pieces write disjoint outputs.
                        KernelThreads.run(workers) { worker in
                            for piece in stride(from: worker, to: pieces.count, by: workers).map({ pieces[$0] }) {
                                let (g, wOffset, xOffset, oOffset) = geometry.restricted(to: piece.channels)
                                let (pw, px, po) = (wp.baseAddress! + wOffset, xi + xOffset, oi + oOffset)
                                if geometry.isDepthwise {
                                    // Without a residual a depthwise kernel may finish the output itself.
                                    let finish = residual == nil ? KernelClamp(epilogue.activation).map {
                                        KernelFinish(bias: bs, firstChannel: piece.channels.lowerBound, clamp: $0)
                                    } : nil
                                    if depthwiseConv(g, x: px, w: pw, out: po, finish: finish) { continue }
                                } else if geometry.isPointwise {
                                    pointwiseConv(g, x: px, w: pw, out: po, columns: piece.columns)
                                } else {
                                    gemmConv(g, x: px, w: pw, out: po, rows: (piece.columns.lowerBound / ow)..<(piece.columns.upperBound / ow),
                                             col: cols + worker * colSize)
                                }
                                finishOutput(bias: bs, residual: residual.map { ($0, b * m * outCount) }, activation: epilogue.activation,
                                             channels: piece.channels, plane: outCount, columns: piece.columns, out: oi)
                            }
                        }
                    }
                }
            }
        }
        let spatialOut = Array(v.out.suffix(x.rank - 2))
        return [Tensor(shape: [n, m] + spatialOut, floats: out)]
    }
}

/// Sizes of one convolution, per image, over three spatial axes (see `WindowVolume`).
struct ConvGeometry {
    let c, m, cg, group: Int
    let v: WindowVolume

    var outputsPerGroup: Int { m / group }
    var isDepthwise: Bool { cg == 1 && group == c && group > 1 }
    var isPointwise: Bool {
        v.kernelCount == 1 && v.stride == [1, 1, 1] && v.padBegin == [0, 0, 0] && v.out == v.size
    }
}

extension ConvGeometry {
    /// A 2-D 3×3 undilated ungrouped conv with at most 4 input channels (a stem) and a row
    /// stride of 1 or 2, on a CPU with AVX2: `smallInputConv` computes it directly.
    var suitsSmallInputKernel: Bool {
        cpuHasAVX2FMA && group == 1 && c <= 4 && v.kernel == [1, 3, 3] && v.dilation == [1, 1, 1]
            && v.size[0] == 1 && v.out[0] == 1 && v.stride[2] <= 2
    }
}

/// A stem conv (`suitsSmallInputKernel`) of `images` images by the AVX2 kernel of `CKernels`,
/// whose K = 9·C would make im2col's GEMM short and slow (MobileNetV2's stem 0.64 → 0.2 ms):
/// the padded input is laid out once per image, then output channels are split across workers.
/// Without a residual, and for an activation it computes, the kernel adds the bias and applies
/// the activation as it stores.
func smallInputConv(_ g: ConvGeometry, x: UnsafePointer<Float>, w: UnsafePointer<Float>, out: UnsafeMutablePointer<Float>, images: Int,
                    workers: Int, bias: [Float]?, residual: [Float]?, activation: ConvEpilogue.Activation?) {
    let v = g.v
    let (h, wd, oh, ow, sy, sx) = (v.size[1], v.size[2], v.out[1], v.out[2], v.stride[1], v.stride[2])
    let scratch = UnsafeMutablePointer<Float>.allocate(capacity: lafam_conv3x3_small_scratch(g.c, oh, ow, sy, sx))
    defer { scratch.deallocate() }
    let clamp = residual == nil ? KernelClamp(activation) : nil
    for b in 0..<images {
        let xi = x + b * g.c * v.inputCount, oi = out + b * g.m * v.outputCount
        lafam_conv3x3_small_prepare(xi, scratch, g.c, h, wd, oh, ow, sy, sx, v.padBegin[1], v.padBegin[2])
        KernelThreads.run(workers) { worker in
            let channels = KernelThreads.share(g.m, worker: worker, of: workers)
            guard !channels.isEmpty else { return }
            let first = oi + channels.lowerBound * v.outputCount
            let kernelBias = clamp == nil ? nil : bias.map { Array($0[channels]) }
            let kernelClamp = clamp ?? .none
            lafam_conv3x3_small(scratch, w + channels.lowerBound * g.c * 9, first, g.c, channels.count, oh, ow, sy, sx,
                                kernelBias, kernelClamp.flag, kernelClamp.low, kernelClamp.high)
            if clamp == nil {
                finishOutput(bias: bias, residual: residual.map { ($0, b * g.m * v.outputCount) }, activation: activation, channels: channels,
                             plane: v.outputCount, columns: 0..<v.outputCount, out: oi)
            }
        }
    }
}

/// What a Conv's output pass applies after the bias: a residual addend of the output's shape,
/// then an activation.
struct ConvEpilogue {
    enum Activation: Sendable {
        case relu
        case clip(Float, Float)
        case hardSwish
        /// x · Sigmoid(x), as a Sigmoid node and a Mul node compute it.
        case silu
    }
    var residual: Tensor? = nil
    var activation: Activation? = nil
}

extension ConvEpilogue.Activation {
    /// The activation as a clamp to [low, high] (Relu: [0, ∞)), for the C kernels; nil for
    /// HardSwish and SiLU, which they do not compute.
    var bounds: (low: Float, high: Float)? {
        switch self {
        case .relu: return (0, .infinity)
        case let .clip(low, high): return (low, high)
        case .hardSwish, .silu: return nil
        }
    }
}

/// An activation as the C kernels' arguments: a clamp flag and the bounds.
struct KernelClamp {
    let flag: Int32
    let low, high: Float

    static let none = KernelClamp(flag: 0, low: 0, high: 0)

    private init(flag: Int32, low: Float, high: Float) {
        (self.flag, self.low, self.high) = (flag, low, high)
    }

    /// nil when the kernels do not compute `activation` (HardSwish, SiLU); `none` for no activation.
    init?(_ activation: ConvEpilogue.Activation?) {
        guard let activation else { self = .none; return }
        guard let (low, high) = activation.bounds else { return nil }
        self.init(flag: 1, low: low, high: high)
    }
}

/// Calls `body` with a pointer to `value`, or with nil when there is none (a C kernel's optional
/// per-channel bias).
@inline(__always)
func withOptionalPointer<R>(to value: Float?, _ body: (UnsafePointer<Float>?) -> R) -> R {
    guard let value else { return body(nil) }
    return withUnsafePointer(to: value) { body($0) }
}

/// One image's output pass over `columns` of the planes of `channels`: out = activation(out + bias
/// + residual), each step skipped when absent, with the same float operations in the same order
/// as the unfused Add, Relu and Clip.
func finishOutput(bias: [Float]?, residual: ([Float], offset: Int)?, activation: ConvEpilogue.Activation?,
                  channels: Range<Int>, plane: Int, columns: Range<Int>, out: UnsafeMutablePointer<Float>) {
    let count = columns.count
    // On AVX2 CPUs, one C loop per row for the activations it computes.
    let clamp = cpuHasAVX2FMA ? KernelClamp(activation) : nil
    func rows(_ residualBase: UnsafePointer<Float>?) {
        for ch in channels {
            let p = out + ch * plane + columns.lowerBound
            if let clamp {
                withOptionalPointer(to: bias?[ch]) { b in
                    lafam_finish_row(p, count, b, residualBase.map { $0 + ch * plane + columns.lowerBound }, clamp.flag, clamp.low, clamp.high)
                }
                continue
            }
            if let bias {
                let value = bias[ch]
                for i in 0..<count { p[i] += value }
            }
            if let residualBase {
                let r = residualBase + ch * plane + columns.lowerBound
                switch activation {
                case nil: for i in 0..<count { p[i] = p[i] + r[i] }
                case .relu: for i in 0..<count { p[i] = Swift.max(p[i] + r[i], 0) }
                case let .clip(lo, hi): for i in 0..<count { p[i] = Swift.min(Swift.max(p[i] + r[i], lo), hi) }
                case .hardSwish: for i in 0..<count { p[i] = hardSwish(p[i] + r[i]) }
                case .silu: for i in 0..<count { let v = p[i] + r[i]; p[i] = v * sigmoid(v) }
                }
            } else {
                switch activation {
                case nil: break
                case .relu: for i in 0..<count { p[i] = Swift.max(p[i], 0) }
                case let .clip(lo, hi): for i in 0..<count { p[i] = Swift.min(Swift.max(p[i], lo), hi) }
                case .hardSwish: for i in 0..<count { p[i] = hardSwish(p[i]) }
                case .silu: for i in 0..<count { p[i] = p[i] * sigmoid(p[i]) }
                }
            }
        }
    }
    if let (r, offset) = residual {
        r.withUnsafeBufferPointer { rows($0.baseAddress! + offset) }
    } else {
        rows(nil)
    }
}

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

/// Visits every (output channel, tap, output row) of a depthwise convolution whose input row is
/// inside the image: `body(inputRow, outputRow, weight, lo, hi)` with flat offsets such that
/// output column ox (lo ≤ ox < hi) reads input element `inputRow + ox · stride`.
@inline(__always)
func forEachDepthwiseRow(_ g: ConvGeometry, _ body: (_ inputRow: Int, _ outputRow: Int, _ weight: Int, _ lo: Int, _ hi: Int) -> Void) {
    let v = g.v
    let (d, h, wd) = (v.size[0], v.size[1], v.size[2])
    let (od, oh, ow) = (v.out[0], v.out[1], v.out[2])
    let multiplier = g.m / g.c
    for oc in 0..<g.m {
        let inputChannel = (oc / multiplier) * d * h * wd, outputChannel = oc * od * oh * ow
        var tap = oc * v.kernelCount
        for kz in 0..<v.kernel[0] {
            for ky in 0..<v.kernel[1] {
                for kx in 0..<v.kernel[2] {
                    defer { tap += 1 }
                    let dx = kx * v.dilation[2] - v.padBegin[2]
                    let (lo, hi) = validRange(offset: dx, stride: v.stride[2], inSize: wd, outSize: ow)
                    if lo >= hi { continue }
                    for oz in 0..<od {
                        let iz = oz * v.stride[0] + kz * v.dilation[0] - v.padBegin[0]
                        if iz < 0 || iz >= d { continue }
                        for oy in 0..<oh {
                            let iy = oy * v.stride[1] + ky * v.dilation[1] - v.padBegin[1]
                            if iy < 0 || iy >= h { continue }
                            body(inputChannel + (iz * h + iy) * wd + dx, outputChannel + (oz * oh + oy) * ow, tap, lo, hi)
                        }
                    }
                }
            }
        }
    }
}

/// The output pass (`finishOutput` without a residual) for a kernel to apply as it stores each
/// output: + bias of the output's channel, then the clamp. `firstChannel` is the bias index of
/// the kernel's first output channel.
struct KernelFinish {
    let bias: [Float]?
    let firstChannel: Int
    let clamp: KernelClamp
}

/// Direct depthwise convolution: each output channel reads one input channel (channel
/// multiplier M/C allowed), tap by tap over whole output rows, so the inner loop is a
/// multiply-add along a row. Returns whether it applied `finish` (only the AVX2 3×3 kernel does).
@discardableResult
func depthwiseConv(_ g: ConvGeometry, x: UnsafePointer<Float>, w: UnsafePointer<Float>, out: UnsafeMutablePointer<Float>,
                   finish: KernelFinish? = nil) -> Bool {
    if g.v.kernel == [1, 3, 3] && g.v.dilation == [1, 1, 1] {
        return depthwise3x3(g, x: x, w: w, out: out, finish: finish)
    }
    if g.v.size[0] == 1 && g.v.out[0] == 1 && g.v.stride == [1, 1, 1] && g.v.dilation == [1, 1, 1] {
        depthwiseStride1(g, x: x, w: w, out: out)
        return false
    }
    out.update(repeating: 0, count: g.m * g.v.outputCount)
    let stride = g.v.stride[2]
    forEachDepthwiseRow(g) { inputRow, outputRow, tap, lo, hi in
        let weight = w[tap], src = x + inputRow, dst = out + outputRow
        if stride == 1 {
            for ox in lo..<hi { dst[ox] += weight * src[ox] }
        } else {
            for ox in lo..<hi { dst[ox] += weight * src[ox * stride] }
        }
    }
    return false
}

extension Conv: Differentiable {
    /// dX: per group col = W_gᵀ·dY_g, then col2im (depthwise: the direct kernel's adjoint);
    /// dW: dY_g · im2col(X_g)ᵀ summed over the batch; dB: dY summed over batch and space.
    func backward(_ inputs: [Tensor?], outputs: [Tensor], gradients: [Tensor?], wanted: [Bool]) throws -> [Tensor?] {
        guard let g = gradients[0] else { return wanted.map { _ in nil } }
        let x = required(inputs, 0), w = required(inputs, 1)
        let (n, c, m, cg) = (x.shape[0], x.shape[1], w.shape[0], w.shape[1])
        let v = try window(for: w.shape).volume(Array(x.shape[2...]))
        let geometry = ConvGeometry(c: c, m: m, cg: cg, group: group, v: v)
        let (inCount, outCount, k, mg) = (v.inputCount, v.outputCount, cg * v.kernelCount, m / group)
        let gs = g.floats, xs = x.floats, ws = w.floats
        var dx: [Float]? = wanted[0] ? [Float](repeating: 0, count: x.count) : nil
        var dw: [Float]? = wanted.count > 1 && wanted[1] ? [Float](repeating: 0, count: w.count) : nil
        let col = UnsafeMutablePointer<Float>.allocate(capacity: k * outCount)
        defer { col.deallocate() }
        gs.withUnsafeBufferPointer { gp in
            ws.withUnsafeBufferPointer { wp in
                xs.withUnsafeBufferPointer { xp in
                    for b in 0..<n {
                        let gi = gp.baseAddress! + b * m * outCount
                        if dx != nil {
                            dx!.withUnsafeMutableBufferPointer { dp in
                                let di = dp.baseAddress! + b * c * inCount
                                if geometry.isDepthwise {
                                    depthwiseConvBackwardInput(geometry, dy: gi, w: wp.baseAddress!, dx: di)
                                } else {
                                    gemmConvAdjoint(v, groups: group, outputs: mg, inputs: cg, w: wp.baseAddress!, dy: gi, dx: di, col: col)
                                }
                            }
                        }
                        if dw != nil {
                            dw!.withUnsafeMutableBufferPointer { dp in
                                for grp in 0..<group {
                                    im2col(v, channels: cg, x: xp.baseAddress! + b * c * inCount + grp * cg * inCount, col: col)
                                    sgemm(transB: true, m: mg, n: k, k: outCount, a: gi + grp * mg * outCount, lda: outCount,
                                          b: col, ldb: outCount, beta: 1, c: dp.baseAddress! + grp * mg * k, ldc: k)
                                }
                            }
                        }
                    }
                }
            }
        }
        var result: [Tensor?] = [dx.map { Tensor(shape: x.shape, floats: $0) }, dw.map { Tensor(shape: w.shape, floats: $0) }]
        if inputs.count > 2, let bias = inputs[2] {
            var db: [Float]? = nil
            if wanted[2] {
                db = [Float](repeating: 0, count: m)
                for b in 0..<n { for ch in 0..<m { let base = (b * m + ch) * outCount; db![ch] += gs[base..<(base + outCount)].reduce(0, +) } }
            }
            result.append(db.map { Tensor(shape: bias.shape, floats: $0) })
        }
        return result
    }
}

/// The common 3×3 depthwise case (any stride and padding): all nine taps of an output pixel are
/// summed in registers and stored once, with the input rows of the window looked up once per
/// output row; taps that fall into the padding read a zero row or are skipped at the borders.
func depthwise3x3(_ g: ConvGeometry, x: UnsafePointer<Float>, w: UnsafePointer<Float>, out: UnsafeMutablePointer<Float>,
                  finish: KernelFinish? = nil, avx2: Bool = cpuHasAVX2FMA) -> Bool {
    let v = g.v
    let (h, wd, oh, ow) = (v.size[1], v.size[2], v.out[1], v.out[2])
    let (sy, sx, py, px) = (v.stride[1], v.stride[2], v.padBegin[1], v.padBegin[2])
    let multiplier = g.m / g.c
    // Output columns whose three taps all lie inside the row.
    let lo = min(ow, max(0, (px + sx - 1) / sx)), hi = max(lo, min(ow, (wd - 3 + px) / sx + 1))
    let zeros = [Float](repeating: 0, count: wd + 2)
    // With AVX2 and FMA, a C kernel does each channel (8 lanes in one register, one padded copy
    // of the plane, so no scalar borders or row ends: MobileNetV2 3.0 → 1.x ms).
    let avx2Scratch = avx2 && sx <= 2 ? UnsafeMutablePointer<Float>.allocate(capacity: lafam_depthwise3x3_scratch(oh, ow, sy, sx)) : nil
    defer { avx2Scratch?.deallocate() }
    let clamp = finish?.clamp ?? .none
    zeros.withUnsafeBufferPointer { zp in
        for oc in 0..<g.m {
            let xc = x + (oc / multiplier) * h * wd
            let k = w + oc * 9
            let (k0, k1, k2, k3, k4, k5, k6, k7, k8) = (k[0], k[1], k[2], k[3], k[4], k[5], k[6], k[7], k[8])
            let kv = (SIMD8(repeating: k0), SIMD8(repeating: k1), SIMD8(repeating: k2), SIMD8(repeating: k3), SIMD8(repeating: k4),
                      SIMD8(repeating: k5), SIMD8(repeating: k6), SIMD8(repeating: k7), SIMD8(repeating: k8))
            let oc0 = out + oc * oh * ow
            if let scratch = avx2Scratch {
                withOptionalPointer(to: finish?.bias?[finish!.firstChannel + oc]) { b in
                    lafam_depthwise3x3_channel(xc, k, oc0, scratch, h, wd, oh, ow, sy, sx, py, px, b, clamp.flag, clamp.low, clamp.high)
                }
                continue
            }
            for oy in 0..<oh {
                let iy = oy * sy - py
                func row(_ r: Int) -> UnsafePointer<Float> { r >= 0 && r < h ? xc + r * wd : zp.baseAddress! }
                let (r0, r1, r2) = (row(iy), row(iy + 1), row(iy + 2))
                let dst = oc0 + oy * ow
                var start = lo
                if sx == 1 {
                    // Eight outputs at a time; each lane sums in the scalar loop's order (same result).
                    @inline(__always) func load(_ r: UnsafePointer<Float>, _ i: Int) -> SIMD8<Float> {
                        UnsafeRawPointer(r + i).loadUnaligned(as: SIMD8<Float>.self)
                    }
                    while start + 8 <= hi {
                        let i = start - px
                        var sum = kv.0 * load(r0, i) + kv.1 * load(r0, i + 1)
                        sum += kv.2 * load(r0, i + 2)
                        sum += kv.3 * load(r1, i)
                        sum += kv.4 * load(r1, i + 1)
                        sum += kv.5 * load(r1, i + 2)
                        sum += kv.6 * load(r2, i)
                        sum += kv.7 * load(r2, i + 1)
                        sum += kv.8 * load(r2, i + 2)
                        UnsafeMutableRawPointer(dst + start).storeBytes(of: sum, as: SIMD8<Float>.self)
                        start += 8
                    }
                } else if sx == 2 {
                    // Even and odd halves of 16 consecutive inputs are the taps of 8 outputs;
                    // only windows whose 18 inputs lie inside the row are taken here.
                    @inline(__always) func load(_ r: UnsafePointer<Float>, _ i: Int) -> SIMD16<Float> {
                        UnsafeRawPointer(r + i).loadUnaligned(as: SIMD16<Float>.self)
                    }
                    while start + 8 <= hi && 2 * start - px + 18 <= wd {
                        let i = 2 * start - px
                        let (a0, a2, b0, b2, c0, c2) = (load(r0, i), load(r0, i + 2), load(r1, i), load(r1, i + 2), load(r2, i), load(r2, i + 2))
                        var sum = kv.0 * a0.evenHalf + kv.1 * a0.oddHalf
                        sum += kv.2 * a2.evenHalf
                        sum += kv.3 * b0.evenHalf
                        sum += kv.4 * b0.oddHalf
                        sum += kv.5 * b2.evenHalf
                        sum += kv.6 * c0.evenHalf
                        sum += kv.7 * c0.oddHalf
                        sum += kv.8 * c2.evenHalf
                        UnsafeMutableRawPointer(dst + start).storeBytes(of: sum, as: SIMD8<Float>.self)
                        start += 8
                    }
                }
                for ox in start..<hi {
                    let i = ox * sx - px
                    dst[ox] = k0 * r0[i] + k1 * r0[i + 1] + k2 * r0[i + 2]
                        + k3 * r1[i] + k4 * r1[i + 1] + k5 * r1[i + 2]
                        + k6 * r2[i] + k7 * r2[i + 1] + k8 * r2[i + 2]
                }
                // Border columns: only the taps inside the row.
                func border(_ columns: Range<Int>) {
                    for ox in columns {
                        var sum: Float = 0
                        for kx in 0..<3 {
                            let i = ox * sx - px + kx
                            if i < 0 || i >= wd { continue }
                            sum += k[kx] * r0[i] + k[3 + kx] * r1[i] + k[6 + kx] * r2[i]
                        }
                        dst[ox] = sum
                    }
                }
                border(0..<lo)
                border(hi..<ow)
            }
        }
    }
    return avx2Scratch != nil && finish != nil
}

/// Stride-1 undilated 1-D/2-D depthwise convolution of any window (ConvNeXt's 7×7): each input
/// channel is copied once into rows padded with zeros left and right, so that eight outputs of a
/// row are summed in registers over all taps (in the taps' order; padding adds exact zeros) and
/// stored once, instead of a pass over the output plane per tap.
func depthwiseStride1(_ g: ConvGeometry, x: UnsafePointer<Float>, w: UnsafePointer<Float>, out: UnsafeMutablePointer<Float>) {
    let v = g.v
    let (h, wd, oh, ow) = (v.size[1], v.size[2], v.out[1], v.out[2])
    let (kh, kw, py, px) = (v.kernel[1], v.kernel[2], v.padBegin[1], v.padBegin[2])
    let multiplier = g.m / g.c
    let blocks = (ow + 7) / 8, paddedWidth = blocks * 8 + kw - 1
    let padded = UnsafeMutablePointer<Float>.allocate(capacity: h * paddedWidth)
    defer { padded.deallocate() }
    padded.initialize(repeating: 0, count: h * paddedWidth)
    let copied = min(wd, paddedWidth - px)
    for oc in 0..<g.m {
        if oc % multiplier == 0 {
            let xc = x + (oc / multiplier) * h * wd
            for iy in 0..<h { (padded + iy * paddedWidth + px).update(from: xc + iy * wd, count: copied) }
        }
        let k = w + oc * kh * kw
        for oy in 0..<oh {
            let dst = out + (oc * oh + oy) * ow
            // Window rows inside the image.
            let taps = max(0, py - oy)..<max(max(0, py - oy), min(kh, h + py - oy))
            for block in 0..<blocks {
                var sum = SIMD8<Float>(repeating: 0)
                for ky in taps {
                    let row = padded + (oy + ky - py) * paddedWidth + block * 8, kr = k + ky * kw
                    for kx in 0..<kw { sum += SIMD8(repeating: kr[kx]) * UnsafeRawPointer(row + kx).loadUnaligned(as: SIMD8<Float>.self) }
                }
                let first = block * 8
                if first + 8 <= ow {
                    UnsafeMutableRawPointer(dst + first).storeBytes(of: sum, as: SIMD8<Float>.self)
                } else {
                    for lane in 0..<(ow - first) { dst[first + lane] = sum[lane] }
                }
            }
        }
    }
}

/// The adjoint of `depthwiseConv` with respect to its input.
func depthwiseConvBackwardInput(_ g: ConvGeometry, dy: UnsafePointer<Float>, w: UnsafePointer<Float>, dx: UnsafeMutablePointer<Float>) {
    let stride = g.v.stride[2]
    forEachDepthwiseRow(g) { inputRow, outputRow, tap, lo, hi in
        let weight = w[tap], dst = dx + inputRow, src = dy + outputRow
        for ox in lo..<hi { dst[ox * stride] += weight * src[ox] }
    }
}
