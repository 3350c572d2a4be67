/// Turns a saliency map (Floats in [0, 1], row-major, `width * height`
/// values) into a colour image using `colormap`. Values outside [0, 1] are
/// clamped and NaN is drawn as 0. Throws if the sizes do not match.
public func colorize(map: [Float], width: Int, height: Int, colormap: Colormap) throws -> RGBImage {
    try checkMap(map, width: width, height: height, function: "colorize")
    let table = colormap.table
    var out = [UInt8](repeating: 0, count: width * height * 3)
    for i in 0..<(width * height) {
        let t = Colormap.index(for: map[i]) * 3
        out[3 * i] = table[t]
        out[3 * i + 1] = table[t + 1]
        out[3 * i + 2] = table[t + 2]
    }
    return RGBImage(uncheckedWidth: width, height: height, pixels: out)
}

/// Draws a saliency map over a photo: the map (`mapWidth * mapHeight` Floats
/// in [0, 1], row-major) is resized to the photo's size with bilinear
/// interpolation using half-pixel centres (like OpenCV `INTER_LINEAR` and
/// PyTorch `interpolate(..., align_corners=False)`), coloured with `colormap`
/// and blended as `(1 - alpha) * photo + alpha * colour`, rounded.
/// The result has the photo's size.
public func overlay(map: [Float], mapWidth: Int, mapHeight: Int, on photo: RGBImage,
                    colormap: Colormap, alpha: Float = 0.5) throws -> RGBImage {
    try checkMap(map, width: mapWidth, height: mapHeight, function: "overlay")
    guard !photo.isEmpty else {
        throw ImagingError.invalidArgument("overlay: the photo is empty (\(photo.width)x\(photo.height))")
    }
    guard alpha.isFinite, alpha >= 0, alpha <= 1 else {
        throw ImagingError.invalidArgument("overlay: alpha must be between 0 and 1, got \(alpha)")
    }
    let resized = resizeMapBilinear(map, width: mapWidth, height: mapHeight,
                                    toWidth: photo.width, toHeight: photo.height)
    let table = colormap.table
    var out = photo.pixels
    let keep = 1 - alpha
    resized.withUnsafeBufferPointer { map in
        table.withUnsafeBufferPointer { tb in
            out.withUnsafeMutableBufferPointer { px in
                for i in 0..<map.count {
                    let t = Colormap.index(for: map[i]) * 3
                    for c in 0..<3 {
                        let v = keep * Float(px[3 * i + c]) + alpha * Float(tb[t + c])
                        px[3 * i + c] = UInt8(min(v + 0.5, 255)) // v >= 0: round half up
                    }
                }
            }
        }
    }
    return RGBImage(uncheckedWidth: photo.width, height: photo.height, pixels: out)
}

/// Places images left to right, top-aligned, with `spacing` pixels between
/// them; shorter images are padded below with `background` (white by
/// default). An empty list gives a 0x0 image.
public func sideBySide(_ images: [RGBImage], spacing: Int = 0,
                       background: (r: UInt8, g: UInt8, b: UInt8) = (255, 255, 255)) -> RGBImage {
    let gap = max(0, spacing)
    guard !images.isEmpty else { return RGBImage(width: 0, height: 0) }
    let height = images.map(\.height).max() ?? 0
    let width = images.map(\.width).reduce(0, +) + gap * (images.count - 1)
    var canvas = RGBImage(width: width, height: height, fill: background)
    var x0 = 0
    for image in images {
        Figure.paste(image, into: &canvas, x: x0, y: 0)
        x0 += image.width + gap
    }
    return canvas
}

/// Rescales each value of a map to [0, 1] with `(v - min) / (max - min)`
/// (a constant map becomes all zeros); non-finite values become 0.
public func normalizedToUnitRange(_ map: [Float]) -> [Float] {
    let finite = map.filter { $0.isFinite }
    guard let lo = finite.min(), let hi = finite.max(), hi > lo else {
        return [Float](repeating: 0, count: map.count)
    }
    let range = hi - lo
    return map.map { $0.isFinite ? ($0 - lo) / range : 0 }
}

// MARK: - internals

func checkMap(_ map: [Float], width: Int, height: Int, function: String) throws {
    guard width > 0, height > 0 else {
        throw ImagingError.invalidArgument("\(function): map size must be positive, got \(width)x\(height)")
    }
    let (count, overflow) = width.multipliedReportingOverflow(by: height)
    guard !overflow, map.count == count else {
        throw ImagingError.invalidArgument(
            "\(function): a \(width)x\(height) map needs \(width)*\(height) values, got \(map.count)")
    }
}

/// Bilinear resize of a single-channel Float map with half-pixel centres:
/// output pixel (x, y) samples the source at ((x + 0.5) * w / W - 0.5, ...),
/// clamped to the edge pixels.
func resizeMapBilinear(_ map: [Float], width: Int, height: Int, toWidth: Int, toHeight: Int) -> [Float] {
    if width == toWidth && height == toHeight { return map }
    func taps(_ inSize: Int, _ outSize: Int) -> [(i0: Int, i1: Int, f: Float)] {
        let scale = Double(inSize) / Double(outSize)
        return (0..<outSize).map { o in
            var s = (Double(o) + 0.5) * scale - 0.5
            s = min(max(s, 0), Double(inSize - 1))
            let i0 = Int(s)
            return (i0, min(i0 + 1, inSize - 1), Float(s - Double(i0)))
        }
    }
    let xs = taps(width, toWidth), ys = taps(height, toHeight)
    var out = [Float](repeating: 0, count: toWidth * toHeight)
    map.withUnsafeBufferPointer { src in
        xs.withUnsafeBufferPointer { xs in
            out.withUnsafeMutableBufferPointer { dst in
                for y in 0..<toHeight {
                    let ty = ys[y]
                    let r0 = ty.i0 * width, r1 = ty.i1 * width
                    for x in 0..<toWidth {
                        let tx = xs[x]
                        let top = src[r0 + tx.i0] * (1 - tx.f) + src[r0 + tx.i1] * tx.f
                        let bottom = src[r1 + tx.i0] * (1 - tx.f) + src[r1 + tx.i1] * tx.f
                        dst[y * toWidth + x] = top * (1 - ty.f) + bottom * ty.f
                    }
                }
            }
        }
    }
    return out
}
