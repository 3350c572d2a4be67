import LafamTensor

/// How an `RGBImage` becomes a model input tensor, following the LaFAM paper's
/// torchvision pipeline:
///
/// 1. centre-crop to a square with the image's short side (torchvision
///    `CenterCrop`: `top = int(round((h - s) / 2.0))`, `left` likewise, with
///    Python's round-half-to-even),
/// 2. resize to `width` x `height` exactly like Pillow's
///    `Image.resize(size, Image.BILINEAR)` (see `RGBImage.resized`),
/// 3. per channel `(pixel * scale - mean) / std` in Float (with the defaults
///    this is torchvision's `ToTensor()` + `Normalize(mean, std)`), or each
///    image standardised by its own statistics (`perImageStandardisation`),
/// 4. channels in RGB or BGR order, laid out NCHW or NHWC.
public struct Preprocessing: Equatable, Hashable, Sendable {
    /// Order of the colour channels in the output tensor.
    public enum ChannelOrder: String, Sendable, CaseIterable { case rgb, bgr }
    /// Memory layout of the output tensor (`N` is the batch dimension).
    public enum Layout: String, Sendable, CaseIterable { case nchw, nhwc }

    /// ImageNet channel means, R, G, B.
    public static let imagenetMean: [Float] = [0.485, 0.456, 0.406]
    /// ImageNet channel standard deviations, R, G, B.
    public static let imagenetStd: [Float] = [0.229, 0.224, 0.225]

    /// Crop to the centred square of the short side before resizing (default
    /// true). When false the whole image is resized, changing its aspect ratio.
    public var centerCrop: Bool
    /// Output width in pixels (default 224).
    public var width: Int
    /// Output height in pixels (default 224).
    public var height: Int
    /// Multiplier applied to the 0...255 pixel values first (default 1/255).
    public var scale: Float
    /// Subtracted after scaling. Three values given for the R, G and B colours
    /// (whatever `channelOrder` is), or one value for all. Default ImageNet.
    public var mean: [Float]
    /// Divisor after subtracting the mean; same conventions as `mean`.
    /// Default ImageNet. Use `[1]` for none.
    public var std: [Float]
    /// Channel order of the output (default RGB).
    public var channelOrder: ChannelOrder
    /// Layout of the output (default NCHW).
    public var layout: Layout
    /// Standardise each image by its own statistics instead of `scale`, `mean` and `std`:
    /// `(x − mean) / max(std, 1/√n)` over the image's n raw 0…255 values (FaceNet's prewhiten,
    /// TensorFlow's per_image_standardization). Default false.
    public var perImageStandardisation: Bool

    /// A pipeline; the defaults are torchvision's ImageNet evaluation transform at 224×224.
    public init(centerCrop: Bool = true, width: Int = 224, height: Int = 224,
                scale: Float = 1.0 / 255.0,
                mean: [Float] = Preprocessing.imagenetMean, std: [Float] = Preprocessing.imagenetStd,
                channelOrder: ChannelOrder = .rgb, layout: Layout = .nchw, perImageStandardisation: Bool = false) {
        self.centerCrop = centerCrop
        self.width = width
        self.height = height
        self.scale = scale
        self.mean = mean
        self.std = std
        self.channelOrder = channelOrder
        self.layout = layout
        self.perImageStandardisation = perImageStandardisation
    }

    /// Square side and top-left corner of torchvision's centre crop to the
    /// short side of a `width` x `height` image.
    public static func centerCropBox(width: Int, height: Int) -> (x: Int, y: Int, side: Int) {
        let side = min(width, height)
        // (n / 2.0) is an integer or ends in .5; Python's round() goes to even.
        let top = Int((Double(height - side) / 2.0).rounded(.toNearestOrEven))
        let left = Int((Double(width - side) / 2.0).rounded(.toNearestOrEven))
        return (left, top, side)
    }

    /// Shape of the tensor for `batch` images: `[N, 3, H, W]` or `[N, H, W, 3]`.
    public func shape(batch: Int = 1) -> [Int] {
        layout == .nchw ? [batch, 3, height, width] : [batch, height, width, 3]
    }

    /// The part of `image` the model sees (the centre crop, when the pipeline crops) at the photo's
    /// own resolution, scaled down to at most `maxSide` pixels a side: what a map is drawn over, so
    /// that map and photo line up (`overlay(map:…, on: preprocessing.visibleRegion(of: photo))`).
    public func visibleRegion(of image: RGBImage, maxSide: Int = 512) throws -> RGBImage {
        var region = image
        if centerCrop && image.width != image.height {
            let box = Preprocessing.centerCropBox(width: image.width, height: image.height)
            region = try image.cropped(x: box.x, y: box.y, width: box.side, height: box.side)
        }
        let longest = max(region.width, region.height)
        guard maxSide > 0, longest > maxSide else { return region }
        return try region.resized(width: max(1, region.width * maxSide / longest), height: max(1, region.height * maxSide / longest))
    }

    /// Steps 1-2 only: the cropped and resized image the model will see
    /// (handy for drawing overlays on exactly the model's input).
    public func prepareImage(_ image: RGBImage) throws -> RGBImage {
        try validate()
        guard !image.isEmpty else {
            throw ImagingError.invalidArgument("preprocessing: the input image is empty (\(image.width)x\(image.height))")
        }
        var img = image
        if centerCrop && img.width != img.height {
            let box = Preprocessing.centerCropBox(width: img.width, height: img.height)
            img = try img.cropped(x: box.x, y: box.y, width: box.side, height: box.side)
        }
        return try img.resized(width: width, height: height)
    }

    /// The full pipeline for one image: `width * height * 3` Floats in the
    /// configured layout and channel order (batch dimension 1).
    public func tensor(from image: RGBImage) throws -> [Float] {
        try validate()
        var out = [Float](repeating: 0, count: width * height * 3)
        try fill(&out, offset: 0, from: image)
        return out
    }

    /// Several images stacked along the batch dimension: `images.count *
    /// width * height * 3` Floats, shape `shape(batch: images.count)`.
    public func batch(_ images: [RGBImage]) throws -> [Float] {
        try validate()
        guard !images.isEmpty else {
            throw ImagingError.invalidArgument("preprocessing: the batch is empty; pass at least one image")
        }
        let per = width * height * 3
        let total = try Sizes.product(per, images.count, "preprocessing: \(images.count) images of \(width)x\(height) overflow")
        try MemoryBudget.current.check(count: total, width: 4, for: "preprocessing \(images.count) images to \(width)x\(height)")
        var out = [Float](repeating: 0, count: total)
        for (n, image) in images.enumerated() {
            try fill(&out, offset: n * per, from: image)
        }
        return out
    }

    // MARK: - internals

    private func perColour(_ values: [Float], _ name: String) throws -> [Float] {
        switch values.count {
        case 1: return [values[0], values[0], values[0]]
        case 3: return values
        default:
            throw ImagingError.invalidArgument(
                "preprocessing: \(name) needs 3 values (R, G, B) or 1 for all channels, got \(values.count)")
        }
    }

    private func validate() throws {
        guard width > 0, height > 0 else {
            throw ImagingError.invalidArgument("preprocessing: output size must be positive, got \(width)x\(height)")
        }
        // The size comes from an option or the model's declared input: the float tensor, the
        // resized image and the resampler's intermediate rows, within the memory budget.
        guard let pixels = try? Sizes.product(of: [width, height, 3]) else {
            throw ImagingError.invalidArgument("preprocessing: output size \(width)x\(height) is too large")
        }
        try MemoryBudget.current.check(count: pixels, width: 6, for: "preprocessing an image to \(width)x\(height)")
        guard scale.isFinite else {
            throw ImagingError.invalidArgument("preprocessing: scale must be a finite number, got \(scale)")
        }
        let m = try perColour(mean, "mean")
        let s = try perColour(std, "std")
        guard m.allSatisfy({ $0.isFinite }) else {
            throw ImagingError.invalidArgument("preprocessing: mean values must be finite, got \(mean)")
        }
        guard s.allSatisfy({ $0.isFinite && $0 != 0 }) else {
            throw ImagingError.invalidArgument("preprocessing: std values must be finite and non-zero, got \(std)")
        }
    }

    private func fill(_ out: inout [Float], offset: Int, from image: RGBImage) throws {
        let prepared = try prepareImage(image)
        let m = try perColour(mean, "mean")
        let s = try perColour(std, "std")
        // A 256-entry table per colour: value for every possible byte.
        var table = [Float](repeating: 0, count: 3 * 256)
        if perImageStandardisation {
            // The image's own mean and std of its raw values, the std floored at 1/√n.
            let n = Double(prepared.pixels.count)
            let mean = prepared.pixels.reduce(0.0) { $0 + Double($1) } / n
            let variance = prepared.pixels.reduce(0.0) { $0 + (Double($1) - mean) * (Double($1) - mean) } / n
            let divisor = max(variance.squareRoot(), 1 / n.squareRoot())
            for c in 0..<3 { for v in 0..<256 { table[c * 256 + v] = Float((Double(v) - mean) / divisor) } }
        }
        for c in 0..<3 where !perImageStandardisation {
            for v in 0..<256 {
                // With the default scale divide by 255 instead of multiplying by
                // 1/255, which is what torchvision's ToTensor does (bit-identical).
                let scaled = scale == Float(1.0 / 255.0) ? Float(v) / 255 : Float(v) * scale
                table[c * 256 + v] = (scaled - m[c]) / s[c]
            }
        }
        // Output channel k takes colour source[k].
        let source = channelOrder == .rgb ? [0, 1, 2] : [2, 1, 0]
        let plane = width * height
        prepared.pixels.withUnsafeBufferPointer { px in
            table.withUnsafeBufferPointer { t in
                out.withUnsafeMutableBufferPointer { o in
                    for k in 0..<3 {
                        let c = source[k]
                        let tb = c * 256
                        for i in 0..<plane {
                            let v = t[tb + Int(px[i * 3 + c])]
                            if layout == .nchw {
                                o[offset + k * plane + i] = v
                            } else {
                                o[offset + i * 3 + k] = v
                            }
                        }
                    }
                }
            }
        }
    }
}
