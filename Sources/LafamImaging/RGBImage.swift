/// An 8-bit RGB image: `pixels` holds `width * height * 3` bytes, row by row
/// from the top, each pixel as R, G, B (no padding between rows).
///
/// Zero-sized images (width or height 0) are allowed as values, e.g. the
/// result of `sideBySide([])`, but cannot be encoded.
public struct RGBImage: Equatable, Hashable, Sendable {
    /// Width in pixels.
    public let width: Int
    /// Height in pixels.
    public let height: Int
    /// `width * height * 3` bytes, row-major, R, G, B per pixel.
    public var pixels: [UInt8]

    /// Wraps existing pixel data; throws if `pixels.count != width * height * 3`
    /// or a dimension is negative.
    public init(width: Int, height: Int, pixels: [UInt8]) throws {
        guard width >= 0, height >= 0 else {
            throw ImagingError.invalidArgument("RGBImage: width and height must not be negative, got \(width)x\(height)")
        }
        let (area, o1) = width.multipliedReportingOverflow(by: height)
        let (count, o2) = area.multipliedReportingOverflow(by: 3)
        guard !o1, !o2, pixels.count == count else {
            throw ImagingError.invalidArgument(
                "RGBImage: a \(width)x\(height) image needs \(o1 || o2 ? "width*height*3" : String(count)) bytes of RGB (3 per pixel), got \(pixels.count)")
        }
        self.width = width
        self.height = height
        self.pixels = pixels
    }

    /// An image filled with one colour (black by default). Negative sizes are treated as 0.
    public init(width: Int, height: Int, fill: (r: UInt8, g: UInt8, b: UInt8) = (0, 0, 0)) {
        let w = max(0, width), h = max(0, height)
        self.width = w
        self.height = h
        var p = [UInt8](repeating: 0, count: w * h * 3)
        if fill != (0, 0, 0) {
            for i in 0..<(w * h) {
                p[3 * i] = fill.r
                p[3 * i + 1] = fill.g
                p[3 * i + 2] = fill.b
            }
        }
        self.pixels = p
    }

    /// Internal unchecked initializer for code that built `pixels` with the right size.
    init(uncheckedWidth width: Int, height: Int, pixels: [UInt8]) {
        assert(pixels.count == width * height * 3)
        self.width = width
        self.height = height
        self.pixels = pixels
    }

    /// True if the image has no pixels.
    public var isEmpty: Bool { width == 0 || height == 0 }

    /// The colour at column `x`, row `y` (both 0-based, must be in range).
    public subscript(x: Int, y: Int) -> (r: UInt8, g: UInt8, b: UInt8) {
        get {
            precondition(x >= 0 && x < width && y >= 0 && y < height, "RGBImage: pixel (\(x), \(y)) outside \(width)x\(height)")
            let i = (y * width + x) * 3
            return (pixels[i], pixels[i + 1], pixels[i + 2])
        }
        set {
            precondition(x >= 0 && x < width && y >= 0 && y < height, "RGBImage: pixel (\(x), \(y)) outside \(width)x\(height)")
            let i = (y * width + x) * 3
            pixels[i] = newValue.r
            pixels[i + 1] = newValue.g
            pixels[i + 2] = newValue.b
        }
    }

    /// The rectangle of `width` x `height` pixels whose top-left corner is at
    /// (`x`, `y`), like PIL's `crop((x, y, x + width, y + height))` but
    /// requiring the rectangle to lie inside the image.
    public func cropped(x: Int, y: Int, width w: Int, height h: Int) throws -> RGBImage {
        guard x >= 0, y >= 0, w >= 0, h >= 0, x <= width - w, y <= height - h else {
            throw ImagingError.invalidArgument(
                "crop: rectangle x=\(x) y=\(y) \(w)x\(h) does not fit inside the \(width)x\(height) image")
        }
        var out = [UInt8](repeating: 0, count: w * h * 3)
        let rowBytes = w * 3
        pixels.withUnsafeBufferPointer { src in
            out.withUnsafeMutableBufferPointer { dst in
                for row in 0..<h {
                    let s = ((y + row) * width + x) * 3
                    for i in 0..<rowBytes { dst[row * rowBytes + i] = src[s + i] }
                }
            }
        }
        return RGBImage(uncheckedWidth: w, height: h, pixels: out)
    }
}

extension RGBImage {
    /// The image with the boundary of `mask` (`width`×`height`, true inside, sampled to the
    /// image's size) drawn in magenta: the object of an evaluation, a segment's pixels.
    public func outlined(by mask: [Bool], width: Int, height: Int) -> RGBImage {
        guard mask.count == width * height, width > 0, height > 0 else { return self }
        var out = self
        func inside(_ x: Int, _ y: Int) -> Bool {
            guard x >= 0, y >= 0, x < self.width, y < self.height else { return false }
            return mask[(y * height / self.height) * width + x * width / self.width]
        }
        for y in 0..<self.height {
            for x in 0..<self.width where inside(x, y) && !(inside(x - 1, y) && inside(x + 1, y) && inside(x, y - 1) && inside(x, y + 1)) {
                out[x, y] = (255, 0, 255)
            }
        }
        return out
    }
}
