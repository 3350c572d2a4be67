import LafamGraph
import LafamTensor

/// MaxPool and AveragePool over 1 to 3 spatial axes of channels-first input, with pads,
/// strides, dilations, ceil_mode, auto_pad and count_include_pad (AveragePool).
struct Pool: Operator {
    var inputArity: ClosedRange<Int> { 1...1 }

    let isMax: Bool
    let window: Window
    let countIncludePad: Bool
    /// MaxPool's optional Indices output, flat over the input, in row-major (storage_order 0)
    /// or column-major spatial order (1).
    let wantsIndices: Bool
    let columnMajorIndices: Bool

    init(_ node: NodeContext, max: Bool) throws {
        isMax = max
        window = try Window(node, kernel: nil)
        // A window lying wholly in the padding has no input to pool (as onnxruntime, refused).
        for (i, k) in window.kernel.enumerated() where window.pads[i] >= k || window.pads[i + window.spatialRank] >= k {
            throw OpError("pads \(window.pads) must be smaller than kernel_shape \(window.kernel) on every axis (axis \(i))")
        }
        countIncludePad = try node.int("count_include_pad", default: 0) != 0
        wantsIndices = max && node.outputCount > 1
        columnMajorIndices = try node.int("storage_order", default: 0) != 0
    }

    /// Its window over X.
    func spatialReach(_ inputs: [ValueFacts?]) -> SpatialReach {
        guard let xs = inputs.first??.shape, xs.count >= 3 else { return .unknown }
        return window.reach(spatial: Array(xs[2...]))
    }

    func infer(_ inputs: [ValueFacts?]) throws -> [ValueFacts] {
        let x = try required(inputs, 0, "X")
        // 8-bit integers (MaxPool only) pool exactly through float32.
        try expect(x, isMax ? [.float32, .int8, .uint8] : [.float32], "X")
        if let r = x.rank, r != window.spatialRank + 2 {
            throw OpError("X has rank \(r), a \(window.spatialRank)-D window needs rank \(window.spatialRank + 2)")
        }
        let shape = try x.shape.map { [$0[0], $0[1]] + (try window.outputDims(Array($0[2...]))) }
        return [facts(x.dtype, shape)] + (wantsIndices ? [facts(.int64, shape)] : [])
    }

    func batchBehaviour(_ inputs: [ValueFacts?], carryingBatch: [Bool]) -> BatchBehaviour {
        firstInputBatchBehaviour(carryingBatch)
    }

    func run(_ inputs: [Tensor?]) throws -> [Tensor] {
        let x = required(inputs, 0)
        let v = try window.volume(Array(x.shape[2...]))
        let planes = x.shape[0] * x.shape[1]
        var out = [Float](repeating: 0, count: planes * v.outputCount)
        let xs = x.dtype == .float32 ? x.floats : x.asDoubles.map(Float.init)
        let taps = (tapRanges(v, axis: 0), tapRanges(v, axis: 1), tapRanges(v, axis: 2))
        xs.withUnsafeBufferPointer { xp in
            out.withUnsafeMutableBufferPointer { op in
                for p in 0..<planes {
                    let (src, dst) = (xp.baseAddress! + p * v.inputCount, op.baseAddress! + p * v.outputCount)
                    if isMax {
                        pool(v, taps, src: src, dst: dst, initial: -.infinity, combine: { $1 > $0 ? $1 : $0 }) { best, _ in best }
                    } else {
                        let includePad = countIncludePad
                        pool(v, taps, src: src, dst: dst, initial: 0, combine: +) { sum, window in
                            let divisor = includePad ? window.padded : window.inside
                            return divisor > 0 ? sum / Float(divisor) : 0
                        }
                    }
                }
            }
        }
        let shape = Array(x.shape.prefix(2)) + v.out.suffix(x.rank - 2)
        let pooled = try Tensor(uncheckedShape: shape, floats: out).converted(to: x.dtype)
        guard wantsIndices else { return [pooled] }
        return [pooled, Tensor(uncheckedShape: shape, int64s: maxIndices(v, xs, planes: planes))]
    }

    /// The flat input index of each output's maximum (the first one on ties).
    private func maxIndices(_ v: WindowVolume, _ xs: [Float], planes: Int) -> [Int64] {
        let (d, h, w) = (v.size[0], v.size[1], v.size[2])
        let (zs, ys, xr) = (tapRanges(v, axis: 0), tapRanges(v, axis: 1), tapRanges(v, axis: 2))
        var out: [Int64] = []
        out.reserveCapacity(planes * v.outputCount)
        for p in 0..<planes {
            for z in zs {
                for y in ys {
                    for x in xr {
                        var best = -Float.infinity, at = (0, 0, 0), found = false
                        for kz in z.taps {
                            for ky in y.taps {
                                for kx in x.taps {
                                    let c = (z.start + kz * v.dilation[0], y.start + ky * v.dilation[1], x.start + kx * v.dilation[2])
                                    let value = xs[p * v.inputCount + (c.0 * h + c.1) * w + c.2]
                                    if !found || value > best { (best, at, found) = (value, c, true) }
                                }
                            }
                        }
                        let spatial = columnMajorIndices ? at.0 + d * (at.1 + h * at.2) : (at.0 * h + at.1) * w + at.2
                        out.append(Int64(p * v.inputCount + spatial))
                    }
                }
            }
        }
        return out
    }

    typealias Taps = [(start: Int, taps: Range<Int>, padded: Int)]

    /// One channel plane: each output is `finish(fold of combine over the window's taps inside
    /// the input, window sizes)`, where the sizes are the taps inside the input and inside the
    /// padded input (max ignores padding; average divides by either, per count_include_pad).
    @inline(__always)
    private func pool(_ v: WindowVolume, _ taps: (Taps, Taps, Taps), src: UnsafePointer<Float>, dst: UnsafeMutablePointer<Float>,
                      initial: Float, combine: (Float, Float) -> Float, finish: (Float, (inside: Int, padded: Int)) -> Float) {
        let (h, w) = (v.size[1], v.size[2])
        let (zs, ys, xs) = taps
        let (dz, dy, dx) = (v.dilation[0], v.dilation[1], v.dilation[2])
        var o = 0
        for z in zs {
            for y in ys {
                for x in xs {
                    var acc = initial
                    for kz in z.taps {
                        for ky in y.taps {
                            let row = src + ((z.start + kz * dz) * h + y.start + ky * dy) * w + x.start
                            for kx in x.taps { acc = combine(acc, row[kx * dx]) }
                        }
                    }
                    dst[o] = finish(acc, (z.taps.count * y.taps.count * x.taps.count, z.padded * y.padded * x.padded))
                    o += 1
                }
            }
        }
    }

    /// For each output position along `axis`: the window's first input index, the range of taps
    /// that land inside the input, and the taps inside the padded input (count_include_pad).
    func tapRanges(_ v: WindowVolume, axis: Int) -> Taps {
        (0..<v.out[axis]).map { o in
            let start = o * v.stride[axis] - v.padBegin[axis]
            let (lo, hi) = validRange(offset: start, stride: v.dilation[axis], inSize: v.size[axis], outSize: v.kernel[axis])
            return (start, lo..<hi, taps(v, axis: axis, start: start))
        }
    }

    /// Window taps along one axis that lie inside the padded input (the count_include_pad divisor).
    @inline(__always)
    func taps(_ v: WindowVolume, axis: Int, start: Int) -> Int {
        let extent = (v.kernel[axis] - 1) * v.dilation[axis] + 1
        let end = min(start + extent, v.size[axis] + v.padEnd[axis])
        return (end - start + v.dilation[axis] - 1) / v.dilation[axis]
    }
}

extension Pool: Differentiable {
    /// MaxPool routes each output gradient to the window's first maximum; AveragePool spreads it
    /// over the window's taps divided by the forward divisor.
    func backward(_ inputs: [Tensor?], outputs: [Tensor], gradients: [Tensor?], wanted: [Bool]) throws -> [Tensor?] {
        guard wanted[0], let g = gradients[0] else { return [nil] }
        let x = required(inputs, 0)
        let v = try window.volume(Array(x.shape[2...]))
        let planes = x.shape[0] * x.shape[1]
        let (d, h, w) = (v.size[0], v.size[1], v.size[2])
        let xs = x.floats, gs = g.floats
        var dx = [Float](repeating: 0, count: x.count)
        for p in 0..<planes {
            let src = p * v.inputCount
            var o = p * v.outputCount
            for oz in 0..<v.out[0] {
                let z0 = oz * v.stride[0] - v.padBegin[0]
                for oy in 0..<v.out[1] {
                    let y0 = oy * v.stride[1] - v.padBegin[1]
                    for ox in 0..<v.out[2] {
                        let x0 = ox * v.stride[2] - v.padBegin[2]
                        var taps: [Int] = []
                        for kz in 0..<v.kernel[0] {
                            let iz = z0 + kz * v.dilation[0]
                            if iz < 0 || iz >= d { continue }
                            for ky in 0..<v.kernel[1] {
                                let iy = y0 + ky * v.dilation[1]
                                if iy < 0 || iy >= h { continue }
                                for kx in 0..<v.kernel[2] {
                                    let ix = x0 + kx * v.dilation[2]
                                    if ix >= 0 && ix < w { taps.append(src + (iz * h + iy) * w + ix) }
                                }
                            }
                        }
                        if isMax {
                            if let best = taps.max(by: { xs[$0] < xs[$1] || (xs[$0] == xs[$1] && $0 > $1) }) { dx[best] += gs[o] }
                        } else {
                            let divisor = countIncludePad
                                ? self.taps(v, axis: 0, start: z0) * self.taps(v, axis: 1, start: y0) * self.taps(v, axis: 2, start: x0)
                                : taps.count
                            if divisor > 0 { for t in taps { dx[t] += gs[o] / Float(divisor) } }
                        }
                        o += 1
                    }
                }
            }
        }
        return [Tensor(uncheckedShape: x.shape, floats: dx)]
    }
}
