/// Reading and writing image files.
///
/// ```swift
/// let photo = try ImageIO.readImage(path: "cat.jpg")
/// try ImageIO.write(photo, to: "out/cat.png")
/// ```
public enum ImageIO {
    /// Reads a PNG or JPEG file into 8-bit RGB. The format is detected from
    /// the file's first bytes, not its name. Throws `ImagingError.io` if the
    /// file cannot be read, and `ImagingError.decode` if it is neither PNG nor
    /// JPEG or does not decode; both messages name the path.
    public static func readImage(path: String) throws -> RGBImage {
        let bytes = try FileAccess.readAll(path: path, what: "image file")
        return try decode(bytes, path: path)
    }

    /// Decodes PNG or JPEG bytes held in memory (format detected from the
    /// magic bytes). `path` only labels error messages.
    public static func decode(_ bytes: [UInt8], path: String? = nil) throws -> RGBImage {
        let label = path.map { "'\($0)'" } ?? "image data"
        guard !bytes.isEmpty else {
            throw ImagingError.decode(path: path, message: "cannot read image \(label): the file is empty")
        }
        guard let format = ImageFormat.detect(magic: bytes) else {
            let head = bytes.prefix(8).map { byte -> String in
                let s = String(byte, radix: 16)
                return s.count == 1 ? "0" + s : s
            }.joined(separator: " ")
            throw ImagingError.decode(
                path: path,
                message: "cannot read image \(label): it is neither PNG nor JPEG (it starts with bytes \(head)); convert it to PNG or JPEG first")
        }
        return try format.decode(bytes, path: path)
    }

    /// Writes `image` to `path` as PNG (`.png`) or JPEG (`.jpg`, `.jpeg`,
    /// `.jpe`), chosen by the extension (case-insensitive). `jpegQuality` is
    /// 1...100.
    ///
    /// The write is atomic: the file is encoded in memory, written to a
    /// temporary file in the same folder and renamed over `path`, so `path`
    /// never holds a partial image and an existing file is left untouched if
    /// anything fails. Throws if the extension is not recognised, the image is
    /// empty, or the folder does not exist or is not writable.
    public static func write(_ image: RGBImage, to path: String, jpegQuality: Int = 90) throws {
        guard !path.hasSuffix("/") else {
            throw ImagingError.invalidArgument("cannot write image '\(path)': the path ends in '/', add a file name")
        }
        guard let format = ImageFormat.fromExtension(of: path) else {
            throw ImagingError.encode(
                path: path,
                message: "cannot write image '\(path)': unknown file extension; use .png, .jpg or .jpeg")
        }
        let bytes = try format.encode(image, jpegQuality: jpegQuality, path: path)
        try FileAccess.writeAtomically(bytes, to: path, what: "image")
    }
}
