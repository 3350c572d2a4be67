import CKernels
import LafamGraph
import LafamTensor

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

/// Direct depthwise convolution of any window, stride and dilation: each output channel reads
/// one input channel (channel multiplier M/C allowed), tap by tap over whole output rows, so the
/// inner loop is a multiply-add along a row.
func depthwiseDirect(_ g: ConvGeometry, x: UnsafePointer<Float>, w: UnsafePointer<Float>, out: UnsafeMutablePointer<Float>) {
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

/// The adjoint of the depthwise convolutions with respect to their input.
func depthwiseConvBackwardInput(_ g: ConvGeometry, dy: UnsafePointer<Float>, w: UnsafePointer<Float>, dx: UnsafeMutablePointer<Float>) {
    let stride = g.v.stride[2]
    forEachDepthwiseRow(g) { inputRow, outputRow, tap, lo, hi in
        let weight = w[tap], dst = dx + inputRow, src = dy + outputRow
        for ox in lo..<hi { dst[ox * stride] += weight * src[ox] }
    }
}
