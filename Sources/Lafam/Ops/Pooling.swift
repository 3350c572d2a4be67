/// MaxPool and AveragePool over the two spatial axes of NCHW input, with pads, strides,
/// dilations (MaxPool), ceil_mode, auto_pad and count_include_pad (AveragePool).
struct Pool: Operator {
    let isMax: Bool
    let window: Window
    let countIncludePad: Bool

    init(_ node: NodeContext, max: Bool) throws {
        isMax = max
        window = try Window(node, kernel: nil)
        countIncludePad = try node.int("count_include_pad", default: 0) != 0
        if max && node.outputCount > 1 { throw OpError("the Indices output of MaxPool is not supported") }
        if !max && window.dilations.contains(where: { $0 != 1 }) { throw OpError("AveragePool dilations are not supported") }
    }

    func infer(_ inputs: [ValueFacts?]) throws -> [ValueFacts] {
        let x = try required(inputs, 0, "X")
        try expect(x, [.float32], "X")
        if let r = x.rank, r != 4 { throw OpError("only 2-D pooling (4-D NCHW input) is supported, X has rank \(r)") }
        guard let s = x.shape else { return [facts(.float32, nil)] }
        return [facts(.float32, [s[0], s[1]] + (try window.outputDims(Array(s[2...]))))]
    }

    func run(_ inputs: [Tensor?]) throws -> [Tensor] {
        let x = required(inputs, 0)
        let (planes, h, w) = (x.shape[0] * x.shape[1], x.shape[2], x.shape[3])
        let r = try window.resolve(axis: 0, size: h), c = try window.resolve(axis: 1, size: w)
        let (kh, kw) = (window.kernel[0], window.kernel[1])
        let (sh, sw) = (window.strides[0], window.strides[1])
        let (dh, dw) = (window.dilations[0], window.dilations[1])
        var out = [Float](repeating: 0, count: planes * r.out * c.out)
        let xs = x.floats
        xs.withUnsafeBufferPointer { xp in
            out.withUnsafeMutableBufferPointer { op in
                for p in 0..<planes {
                    let src = xp.baseAddress! + p * h * w
                    let dst = op.baseAddress! + p * r.out * c.out
                    for oy in 0..<r.out {
                        let y0 = oy * sh - r.begin
                        for ox in 0..<c.out {
                            let x0 = ox * sw - c.begin
                            if isMax {
                                var best = -Float.infinity
                                for ky in 0..<kh {
                                    let iy = y0 + ky * dh
                                    if iy < 0 || iy >= h { continue }
                                    for kx in 0..<kw {
                                        let ix = x0 + kx * dw
                                        if ix < 0 || ix >= w { continue }
                                        best = max(best, src[iy * w + ix])
                                    }
                                }
                                dst[oy * c.out + ox] = best
                            } else {
                                // The window clipped to the input, and to the padded input for the divisor.
                                let yLo = max(y0, 0), yHi = min(y0 + kh, h)
                                let xLo = max(x0, 0), xHi = min(x0 + kw, w)
                                var sum: Float = 0
                                if yLo < yHi && xLo < xHi {
                                    for iy in yLo..<yHi { for ix in xLo..<xHi { sum += src[iy * w + ix] } }
                                }
                                let divisor = countIncludePad
                                    ? (min(y0 + kh, h + r.end) - y0) * (min(x0 + kw, w + c.end) - x0)
                                    : (yHi - yLo) * (xHi - xLo)
                                dst[oy * c.out + ox] = divisor > 0 ? sum / Float(divisor) : 0
                            }
                        }
                    }
                }
            }
        }
        return [Tensor(shape: [x.shape[0], x.shape[1], r.out, c.out], floats: out)]
    }
}

/// GlobalAveragePool / GlobalMaxPool: reduce every axis after N and C to size 1.
struct GlobalPool: Operator {
    let isMax: Bool

    func infer(_ inputs: [ValueFacts?]) throws -> [ValueFacts] {
        let x = try required(inputs, 0, "X")
        try expect(x, [.float32], "X")
        if let r = x.rank, r < 3 { throw OpError("X must have rank ≥ 3 (N, C, spatial…), got \(r)") }
        return [facts(.float32, x.shape.map { Array($0.prefix(2)) + [Dim](repeating: .known(1), count: $0.count - 2) })]
    }

    func run(_ inputs: [Tensor?]) throws -> [Tensor] {
        let x = required(inputs, 0)
        let planes = x.shape[0] * x.shape[1]
        let size = x.count / max(planes, 1)
        let xs = x.floats
        let out = [Float](unsafeUninitializedCapacity: planes) { buf, n in
            xs.withUnsafeBufferPointer { xp in
                for p in 0..<planes {
                    let s = xp[(p * size)..<((p + 1) * size)]
                    buf[p] = isMax ? (s.max() ?? 0) : s.reduce(0, +) / Float(size)
                }
            }
            n = planes
        }
        return [Tensor(shape: Array(x.shape.prefix(2)) + [Int](repeating: 1, count: x.rank - 2), floats: out)]
    }
}
