import CImageCodecs
import LafamTensor

/// The image file formats LafamImaging reads and writes.
public enum ImageFormat: String, Sendable, CaseIterable {
    /// PNG (`.png`), lossless.
    case png
    /// JPEG (`.jpg`, `.jpeg`), baseline, 4:2:0.
    case jpeg

    /// Recognises a format from the first bytes of a file (PNG signature
    /// `89 50 4E 47 0D 0A 1A 0A`, JPEG SOI marker `FF D8 FF`); nil otherwise.
    public static func detect<Bytes: Collection>(magic bytes: Bytes) -> ImageFormat? where Bytes.Element == UInt8 {
        let head = Array(bytes.prefix(8))
        if head == [0x89, 0x50, 0x4E, 0x47, 0x0D, 0x0A, 0x1A, 0x0A] { return .png }
        if head.count >= 3, head[0] == 0xFF, head[1] == 0xD8, head[2] == 0xFF { return .jpeg }
        return nil
    }

    /// The format implied by a path's extension (`.png`; `.jpg`, `.jpeg`,
    /// `.jpe`; case-insensitive), or nil.
    public static func fromExtension(of path: String) -> ImageFormat? {
        let name = path.split(separator: "/", omittingEmptySubsequences: false).last.map(String.init) ?? path
        guard let dot = name.lastIndex(of: "."), dot != name.startIndex else { return nil }
        switch name[name.index(after: dot)...].lowercased() {
        case "png": return .png
        case "jpg", "jpeg", "jpe": return .jpeg
        default: return nil
        }
    }

    /// Decodes a whole file's bytes in this format into RGB. `path` only
    /// labels error messages.
    public func decode(_ bytes: [UInt8], path: String? = nil) throws -> RGBImage {
        var image = cic_image(pixels: nil, width: 0, height: 0)
        var message = [CChar](repeating: 0, count: Int(CIC_ERROR_SIZE))
        // Decoders hold up to 4 bytes a pixel (RGBA rows, CMYK scanlines) before the RGB copy.
        let maxPixels = MemoryBudget.current.bytes / 8
        let ok: Int32 = bytes.withUnsafeBufferPointer { buf in
            message.withUnsafeMutableBufferPointer { msg in
                switch self {
                case .png: return cic_png_decode(buf.baseAddress, buf.count, maxPixels, &image, msg.baseAddress, msg.count)
                case .jpeg: return cic_jpeg_decode(buf.baseAddress, buf.count, maxPixels, &image, msg.baseAddress, msg.count)
                }
            }
        }
        guard ok == 1, let raw = image.pixels else {
            let where_ = path.map { " '\($0)'" } ?? ""
            throw ImagingError.decode(
                path: path,
                message: "cannot decode \(displayName) image\(where_): \(cMessage(message)); the file is damaged or not really a \(displayName)")
        }
        defer { cic_free(raw) }
        let count = Int(image.width) * Int(image.height) * 3
        let pixels = Array(UnsafeBufferPointer(start: raw, count: count))
        return RGBImage(uncheckedWidth: Int(image.width), height: Int(image.height), pixels: pixels)
    }

    /// Encodes an image in this format. `jpegQuality` (1...100) applies to
    /// JPEG only. `path` only labels error messages.
    public func encode(_ image: RGBImage, jpegQuality: Int = 90, path: String? = nil) throws -> [UInt8] {
        let where_ = path.map { " for '\($0)'" } ?? ""
        guard !image.isEmpty else {
            throw ImagingError.encode(path: path, message: "cannot encode a \(image.width)x\(image.height) image as \(displayName)\(where_): it has no pixels")
        }
        guard image.width <= Int(Int32.max), image.height <= Int(Int32.max) else {
            throw ImagingError.encode(path: path, message: "cannot encode a \(image.width)x\(image.height) image as \(displayName)\(where_): too large")
        }
        if self == .jpeg, !(1...100).contains(jpegQuality) {
            throw ImagingError.invalidArgument("JPEG quality must be between 1 and 100, got \(jpegQuality)")
        }
        var out: UnsafeMutablePointer<UInt8>? = nil
        var size = 0
        var message = [CChar](repeating: 0, count: Int(CIC_ERROR_SIZE))
        let ok: Int32 = image.pixels.withUnsafeBufferPointer { buf in
            message.withUnsafeMutableBufferPointer { msg in
                switch self {
                case .png:
                    return cic_png_encode(buf.baseAddress, Int32(image.width), Int32(image.height), &out, &size, msg.baseAddress, msg.count)
                case .jpeg:
                    return cic_jpeg_encode(buf.baseAddress, Int32(image.width), Int32(image.height), Int32(jpegQuality),
                                           &out, &size, msg.baseAddress, msg.count)
                }
            }
        }
        guard ok == 1, let raw = out else {
            throw ImagingError.encode(path: path, message: "cannot encode image as \(displayName)\(where_): \(cMessage(message))")
        }
        defer { cic_free(raw) }
        return Array(UnsafeBufferPointer(start: raw, count: size))
    }

    /// "PNG" or "JPEG".
    public var displayName: String { self == .png ? "PNG" : "JPEG" }
}

/// The text of a NUL-terminated C message buffer filled in by CImageCodecs.
private func cMessage(_ buffer: [CChar]) -> String {
    let bytes = buffer.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }
    return bytes.isEmpty ? "unknown error" : String(decoding: bytes, as: UTF8.self)
}
