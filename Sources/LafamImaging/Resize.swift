import LafamTensor

// PIL-compatible bilinear resizing of RGB8 images.
//
// This reproduces Pillow's `Image.resize(size, Image.BILINEAR)` for RGB
// images (libImaging/Resample.c, Pillow 4.0 to at least 10.x; checked
// against Pillow 9.4), which is what torchvision's `Resize` does for PIL
// images. The algorithm, re-implemented from its description:
//
// * Separable convolution with the triangle filter `max(0, 1 - |x|)`.
//   For an axis going from `inSize` to `outSize` pixels,
//   `scale = inSize / outSize` and `filterscale = max(scale, 1)`; the filter is
//   stretched by `filterscale`, so when downscaling it covers `scale` source
//   pixels on each side (antialiasing), and when upscaling it is plain linear
//   interpolation. Output pixel `i` is centred at source coordinate
//   `center = (i + 0.5) * scale`; it uses source pixels
//   `xmin = Int(center - support + 0.5)` (clamped to >= 0) up to, not
//   including, `Int(center + support + 0.5)` (clamped to `inSize`), where
//   `support = filterscale`. Pixel `j` gets weight
//   `filter((j - center + 0.5) / filterscale)`, and the weights are divided by
//   their sum. All of this is computed in Double.
// * Weights are then converted to fixed point with 22 fractional bits
//   (`PRECISION_BITS = 32 - 8 - 2`), rounding half away from zero.
// * Each output sample is `(2^21 + sum(weight * source)) >> 22`, clamped to
//   0...255, in integer arithmetic - so the result is rounded to 8 bits after
//   EACH pass.
// * Order: the horizontal pass runs first (only over the source rows the
//   vertical pass will need), then the vertical pass. A pass is skipped when
//   that axis keeps its size; if neither changes, the image is copied.
//
// Re-implementing the same integer arithmetic makes the result bit-identical
// to Pillow in practice; the tests require at most 1 grey level of
// difference against fixtures made by Pillow.

/// Per-axis resampling plan: for each output index, the first source index,
/// the number of taps, and the fixed-point weights.
struct PILResampleAxis {
    static let precisionBits = 22

    let outSize: Int
    let ksize: Int
    /// `bounds[2*i]` = first source index, `bounds[2*i+1]` = number of taps.
    var bounds: [Int]
    /// `outSize * ksize` weights, 22-bit fixed point.
    var weights: [Int32]

    init(inSize: Int, outSize: Int) {
        let scale = Double(inSize) / Double(outSize)
        let filterscale = max(scale, 1.0)
        let support = 1.0 * filterscale // the bilinear filter's support is 1
        let ksize = Int(support.rounded(.up)) * 2 + 1
        var bounds = [Int](repeating: 0, count: outSize * 2)
        var weights = [Int32](repeating: 0, count: outSize * ksize)
        var k = [Double](repeating: 0, count: ksize)
        let ss = 1.0 / filterscale
        let one = Double(1 << PILResampleAxis.precisionBits)
        for i in 0..<outSize {
            let center = (Double(i) + 0.5) * scale
            var xmin = Int(center - support + 0.5) // truncation toward zero, like C
            if xmin < 0 { xmin = 0 }
            var xmax = Int(center + support + 0.5)
            if xmax > inSize { xmax = inSize }
            xmax -= xmin
            var total = 0.0
            for j in 0..<ksize { k[j] = 0 }
            if xmax > 0 {
                for j in 0..<xmax {
                    var t = (Double(j + xmin) - center + 0.5) * ss
                    if t < 0 { t = -t }
                    let w = t < 1.0 ? 1.0 - t : 0.0
                    k[j] = w
                    total += w
                }
                if total != 0 {
                    for j in 0..<xmax { k[j] /= total }
                }
            }
            bounds[2 * i] = xmin
            bounds[2 * i + 1] = max(xmax, 0)
            for j in 0..<ksize {
                let v = k[j]
                weights[i * ksize + j] = Int32(v < 0 ? (-0.5 + v * one) : (0.5 + v * one))
            }
        }
        self.outSize = outSize
        self.ksize = ksize
        self.bounds = bounds
        self.weights = weights
    }
}

@inline(__always)
private func clip8(_ v: Int) -> UInt8 {
    let s = v >> PILResampleAxis.precisionBits
    return s <= 0 ? 0 : (s >= 255 ? 255 : UInt8(s))
}

extension RGBImage {
    /// Resizes to `width` x `height` exactly like Pillow's
    /// `Image.resize((width, height), Image.BILINEAR)` on an RGB image
    /// (antialiased triangle filter, fixed-point arithmetic, horizontal pass
    /// first, 8-bit rounding between passes; see the notes in Resize.swift).
    ///
    /// Throws if the target size is not positive or this image is empty.
    public func resized(width outWidth: Int, height outHeight: Int) throws -> RGBImage {
        guard outWidth > 0, outHeight > 0 else {
            throw ImagingError.invalidArgument("resize: target size must be positive, got \(outWidth)x\(outHeight)")
        }
        guard !isEmpty else {
            throw ImagingError.invalidArgument("resize: cannot resize an empty \(width)x\(height) image")
        }
        // The output and the intermediate rows, sized by the caller: within the memory budget.
        guard let bytes = try? Sizes.product(of: [outWidth, max(outHeight, height), 3]) else {
            throw ImagingError.invalidArgument("resize: target size \(outWidth)x\(outHeight) is too large")
        }
        try MemoryBudget.current.check(count: bytes, width: 2, for: "resizing an image to \(outWidth)x\(outHeight)")
        let needHorizontal = outWidth != width
        let needVertical = outHeight != height
        if !needHorizontal && !needVertical { return self }

        let vertical = PILResampleAxis(inSize: height, outSize: outHeight)
        var source = pixels
        var sourceWidth = width
        var verticalBounds = vertical.bounds

        if needHorizontal {
            // Only the rows the vertical pass reads: firstRow ..< lastRow.
            let firstRow = vertical.bounds[0]
            let lastRow = vertical.bounds[2 * (outHeight - 1)] + vertical.bounds[2 * (outHeight - 1) + 1]
            let rows = lastRow - firstRow
            for i in 0..<outHeight { verticalBounds[2 * i] -= firstRow }
            let horizontal = PILResampleAxis(inSize: width, outSize: outWidth)
            var temp = [UInt8](repeating: 0, count: outWidth * rows * 3)
            let half = 1 << (PILResampleAxis.precisionBits - 1)
            source.withUnsafeBufferPointer { src in
                temp.withUnsafeMutableBufferPointer { dst in
                    horizontal.weights.withUnsafeBufferPointer { kk in
                        for y in 0..<rows {
                            let srcRow = (y + firstRow) * width * 3
                            let dstRow = y * outWidth * 3
                            for x in 0..<outWidth {
                                let xmin = horizontal.bounds[2 * x]
                                let taps = horizontal.bounds[2 * x + 1]
                                let kBase = x * horizontal.ksize
                                var s0 = half, s1 = half, s2 = half
                                for j in 0..<taps {
                                    let w = Int(kk[kBase + j])
                                    let p = srcRow + (xmin + j) * 3
                                    s0 += Int(src[p]) * w
                                    s1 += Int(src[p + 1]) * w
                                    s2 += Int(src[p + 2]) * w
                                }
                                let d = dstRow + x * 3
                                dst[d] = clip8(s0)
                                dst[d + 1] = clip8(s1)
                                dst[d + 2] = clip8(s2)
                            }
                        }
                    }
                }
            }
            source = temp
            sourceWidth = outWidth
        }

        guard needVertical else {
            return RGBImage(uncheckedWidth: sourceWidth, height: height, pixels: source)
        }
        var out = [UInt8](repeating: 0, count: sourceWidth * outHeight * 3)
        let half = 1 << (PILResampleAxis.precisionBits - 1)
        source.withUnsafeBufferPointer { src in
            out.withUnsafeMutableBufferPointer { dst in
                vertical.weights.withUnsafeBufferPointer { kk in
                    let rowBytes = sourceWidth * 3
                    for y in 0..<outHeight {
                        let ymin = verticalBounds[2 * y]
                        let taps = verticalBounds[2 * y + 1]
                        let kBase = y * vertical.ksize
                        for i in 0..<rowBytes {
                            var s = half
                            for j in 0..<taps {
                                s += Int(src[(ymin + j) * rowBytes + i]) * Int(kk[kBase + j])
                            }
                            dst[y * rowBytes + i] = clip8(s)
                        }
                    }
                }
            }
        }
        return RGBImage(uncheckedWidth: sourceWidth, height: outHeight, pixels: out)
    }
}
