/// ONNX Conv (2-D, NCHW): im2col + SGEMM per image and group; 1×1 stride-1 unpadded convs use
/// the input directly as the GEMM operand; depthwise convs (one input channel per group) use a
/// direct kernel, since GEMM on a 1-channel group is mostly overhead.
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
        if let r = x.rank, r != 4 { throw OpError("only 2-D convolution (4-D NCHW input) is supported, X has rank \(r)") }
        try expectRank(w, 4, "W")
        if let b = optional(inputs, 2) { try expect(b, [.float32], "B"); try expectRank(b, 1, "B") }
        guard let xs = x.shape, let ws = w.shape else { return [facts(.float32, x.shape.map { _ in [Dim](repeating: .unknown, count: 4) })] }
        if let c = xs[1].value, let wc = ws[1].value, c != wc * group {
            throw OpError("X has \(c) channels, but W expects \(wc) per group × group \(group) = \(wc * group)")
        }
        if let m = ws[0].value, m % group != 0 { throw OpError("W has \(m) output channels, not divisible by group \(group)") }
        var kernel = kernelAttr
        if kernel == nil, let k = Array(ws[2...]).concrete { kernel = k }
        guard let kernel else { return [facts(.float32, [xs[0], ws[0], .unknown, .unknown])] }
        if let k = Array(ws[2...]).concrete, k != kernel { throw OpError("kernel_shape \(kernel) does not match W's spatial shape \(k)") }
        let spatial = try Window(node, kernel: kernel).outputDims(Array(xs[2...]))
        return [facts(.float32, [xs[0], ws[0]] + spatial)]
    }

    func run(_ inputs: [Tensor?]) throws -> [Tensor] {
        let x = required(inputs, 0), w = required(inputs, 1)
        let bias = optional(inputs, 2)
        let (n, c, h, wd) = (x.shape[0], x.shape[1], x.shape[2], x.shape[3])
        let (m, cg, kh, kw) = (w.shape[0], w.shape[1], w.shape[2], w.shape[3])
        let win = try window(for: w.shape)
        let rows = try win.resolve(axis: 0, size: h), cols = try win.resolve(axis: 1, size: wd)
        let geometry = ConvGeometry(c: c, h: h, w: wd, m: m, cg: cg, kh: kh, kw: kw,
                                    strideH: win.strides[0], strideW: win.strides[1],
                                    dilationH: win.dilations[0], dilationW: win.dilations[1],
                                    padTop: rows.begin, padLeft: cols.begin, oh: rows.out, ow: cols.out, group: group)
        var out = [Float](repeating: 0, count: n * m * rows.out * cols.out)
        let xs = x.floats, ws = w.floats
        let bs = bias?.floats
        xs.withUnsafeBufferPointer { xp in
            ws.withUnsafeBufferPointer { wp in
                out.withUnsafeMutableBufferPointer { op in
                    for b in 0..<n {
                        let xi = xp.baseAddress! + b * c * h * wd
                        let oi = op.baseAddress! + b * m * rows.out * cols.out
                        if geometry.isDepthwise {
                            depthwiseConv(geometry, x: xi, w: wp.baseAddress!, out: oi)
                        } else {
                            gemmConv(geometry, x: xi, w: wp.baseAddress!, out: oi)
                        }
                        if let bs { addBias(bs, channels: m, plane: rows.out * cols.out, out: oi) }
                    }
                }
            }
        }
        return [Tensor(shape: [n, m, rows.out, cols.out], floats: out)]
    }
}

/// Sizes of one 2-D convolution, per image.
struct ConvGeometry {
    let c, h, w, m, cg, kh, kw: Int
    let strideH, strideW, dilationH, dilationW, padTop, padLeft, oh, ow, group: Int

    var outputsPerGroup: Int { m / group }
    var isDepthwise: Bool { cg == 1 && group == c && group > 1 }
    var isPointwise: Bool {
        kh == 1 && kw == 1 && strideH == 1 && strideW == 1 && padTop == 0 && padLeft == 0 && oh == h && ow == w
    }
}

func addBias(_ bias: [Float], channels: Int, plane: Int, out: UnsafeMutablePointer<Float>) {
    for ch in 0..<channels {
        let v = bias[ch]
        let p = out + ch * plane
        for i in 0..<plane { p[i] += v }
    }
}

/// Per group: out[M/g × OH·OW] = W[M/g × Cg·KH·KW] · col[Cg·KH·KW × OH·OW].
func gemmConv(_ g: ConvGeometry, x: UnsafePointer<Float>, w: UnsafePointer<Float>, out: UnsafeMutablePointer<Float>) {
    let plane = g.oh * g.ow
    let k = g.cg * g.kh * g.kw
    let mg = g.outputsPerGroup
    if g.isPointwise {
        for grp in 0..<g.group {
            sgemm(m: mg, n: plane, k: g.cg, a: w + grp * mg * k, lda: k,
                  b: x + grp * g.cg * g.h * g.w, ldb: plane, c: out + grp * mg * plane, ldc: plane)
        }
        return
    }
    let col = UnsafeMutablePointer<Float>.allocate(capacity: k * plane)
    defer { col.deallocate() }
    for grp in 0..<g.group {
        im2col(g, x: x + grp * g.cg * g.h * g.w, col: col)
        sgemm(m: mg, n: plane, k: k, a: w + grp * mg * k, lda: k, b: col, ldb: plane,
              c: out + grp * mg * plane, ldc: plane)
    }
}

/// Unfolds the Cg input channels of one group into rows of (channel, ky, kx), columns of output
/// positions; padding positions read as zero.
func im2col(_ g: ConvGeometry, x: UnsafePointer<Float>, col: UnsafeMutablePointer<Float>) {
    let plane = g.oh * g.ow
    var row = 0
    for ch in 0..<g.cg {
        let xc = x + ch * g.h * g.w
        for ky in 0..<g.kh {
            for kx in 0..<g.kw {
                let dst = col + row * plane
                row += 1
                let dx = kx * g.dilationW - g.padLeft
                // Output columns whose input column lies inside the image.
                let (lo, hi) = validRange(offset: dx, stride: g.strideW, inSize: g.w, outSize: g.ow)
                for oy in 0..<g.oh {
                    let iy = oy * g.strideH + ky * g.dilationH - g.padTop
                    let d = dst + oy * g.ow
                    guard iy >= 0 && iy < g.h && lo < hi else {
                        d.update(repeating: 0, count: g.ow)
                        continue
                    }
                    if lo > 0 { d.update(repeating: 0, count: lo) }
                    if hi < g.ow { (d + hi).update(repeating: 0, count: g.ow - hi) }
                    let src = xc + iy * g.w + dx
                    if g.strideW == 1 {
                        (d + lo).update(from: src + lo, count: hi - lo)
                    } else {
                        for ox in lo..<hi { d[ox] = src[ox * g.strideW] }
                    }
                }
            }
        }
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

/// Direct depthwise convolution: each output channel reads one input channel
/// (channel multiplier M/C allowed). Loops run tap by tap over whole output rows so the inner
/// loop is a contiguous multiply-add.
func depthwiseConv(_ g: ConvGeometry, x: UnsafePointer<Float>, w: UnsafePointer<Float>, out: UnsafeMutablePointer<Float>) {
    let multiplier = g.m / g.c
    let plane = g.oh * g.ow
    out.update(repeating: 0, count: g.m * plane)
    for oc in 0..<g.m {
        let xc = x + (oc / multiplier) * g.h * g.w
        let wc = w + oc * g.kh * g.kw
        let oc0 = out + oc * plane
        for ky in 0..<g.kh {
            for kx in 0..<g.kw {
                let weight = wc[ky * g.kw + kx]
                let dx = kx * g.dilationW - g.padLeft
                let (lo, hi) = validRange(offset: dx, stride: g.strideW, inSize: g.w, outSize: g.ow)
                if lo >= hi { continue }
                for oy in 0..<g.oh {
                    let iy = oy * g.strideH + ky * g.dilationH - g.padTop
                    if iy < 0 || iy >= g.h { continue }
                    let src = xc + iy * g.w + dx
                    let dst = oc0 + oy * g.ow
                    if g.strideW == 1 {
                        for ox in lo..<hi { dst[ox] += weight * src[ox] }
                    } else {
                        for ox in lo..<hi { dst[ox] += weight * src[ox * g.strideW] }
                    }
                }
            }
        }
    }
}
