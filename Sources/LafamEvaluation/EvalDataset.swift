import Foundation
import Lafam
import LafamImaging

/// One annotated image: a photo and a binary object mask of the same size.
public struct EvalItem: Sendable, Equatable {
    /// The image's name in results: the list's `id` column, or the image's file name without extension.
    public let id: String
    /// Path of the image file.
    public let image: String
    /// Path of the mask PNG.
    public let mask: String

    /// An item from its id and the paths of its image and mask.
    public init(id: String, image: String, mask: String) {
        self.id = id
        self.image = image
        self.mask = mask
    }
}

/// Where object masks come from.
public enum MaskSource: Sendable, Equatable {
    /// Gray (or RGB) PNG masks: a pixel is object when its value exceeds 127.
    case binary
    /// PASCAL VOC class-index PNGs (VOC colour palette): pixels of this class index are object.
    case vocClass(Int)
}

/// Reading annotated image sets: image lists, dataset folders, and masks matched to the model input.
public enum EvalDataset {
    /// Items from a CSV with a header naming at least `image` and `mask` columns (and optionally
    /// `id`); paths are relative to the CSV's folder.
    public static func list(_ path: String) throws -> [EvalItem] {
        guard let text = try? String(contentsOfFile: path, encoding: .utf8) else {
            throw LafamError.invalidArgument("cannot read the image list '\(path)'")
        }
        let rows = CSV.parse(text)
        guard let header = rows.first, let imageColumn = header.firstIndex(of: "image"), let maskColumn = header.firstIndex(of: "mask") else {
            throw LafamError.invalidArgument("'\(path)' needs a header with 'image' and 'mask' columns")
        }
        let idColumn = header.firstIndex(of: "id")
        let base = (path as NSString).deletingLastPathComponent
        return try rows.dropFirst().enumerated().compactMap { n, row in
            if row.count == 1 && row[0].isEmpty { return nil }
            guard row.count > max(imageColumn, maskColumn) else {
                throw LafamError.invalidArgument("'\(path)' line \(n + 2) has \(row.count) fields, expected \(header.count)")
            }
            func resolve(_ p: String) -> String { p.hasPrefix("/") ? p : (base as NSString).appendingPathComponent(p) }
            let image = resolve(row[imageColumn])
            let id = idColumn.map { row[$0] } ?? ((image as NSString).lastPathComponent as NSString).deletingPathExtension
            return EvalItem(id: id, image: image, mask: resolve(row[maskColumn]))
        }
    }

    /// Items from a folder holding `images/<name>.{jpg,png}` and `masks/<name>.png`, or an
    /// `index.csv` list.
    public static func folder(_ path: String) throws -> [EvalItem] {
        let index = (path as NSString).appendingPathComponent("index.csv")
        if FileManager.default.fileExists(atPath: index) { return try list(index) }
        let images = (path as NSString).appendingPathComponent("images")
        guard let names = try? FileManager.default.contentsOfDirectory(atPath: images) else {
            throw LafamError.invalidArgument("'\(path)' has neither index.csv nor an images/ folder")
        }
        return try names.filter { ImageFormat.fromExtension(of: $0) != nil }.sorted().map { name in
            let stem = (name as NSString).deletingPathExtension
            let mask = (path as NSString).appendingPathComponent("masks/\(stem).png")
            guard FileManager.default.fileExists(atPath: mask) else {
                throw LafamError.invalidArgument("image '\(name)' has no mask masks/\(stem).png in '\(path)'")
            }
            return EvalItem(id: stem, image: (images as NSString).appendingPathComponent(name), mask: mask)
        }
    }

    /// The mask as the model sees the image: the same centre crop, resized (nearest) to
    /// width × height, as object (true) / background.
    public static func mask(_ item: EvalItem, source: MaskSource, width: Int, height: Int, expected size: (Int, Int)) throws -> [Bool] {
        let m = try ImageIO.readImage(path: item.mask)
        guard m.width == size.0, m.height == size.1 else {
            throw LafamError.invalidArgument("mask '\(item.mask)' is \(m.width)×\(m.height) but its image is \(size.0)×\(size.1)")
        }
        let box = Preprocessing.centerCropBox(width: m.width, height: m.height)
        var object = [Bool](repeating: false, count: width * height)
        let palette = source == .binary ? [] : vocPalette
        for y in 0..<height {
            for x in 0..<width {
                // Nearest source pixel of the crop (floor of the scaled centre).
                let sx = box.x + min(box.side - 1, Int((Double(x) + 0.5) * Double(box.side) / Double(width)))
                let sy = box.y + min(box.side - 1, Int((Double(y) + 0.5) * Double(box.side) / Double(height)))
                let p = m[sx, sy]
                switch source {
                case .binary: object[y * width + x] = max(p.r, p.g, p.b) > 127
                case .vocClass(let k): object[y * width + x] = palette[k] == (p.r, p.g, p.b)
                }
            }
        }
        return object
    }

    /// PASCAL VOC's colour for each class index (bit-interleaved colour map).
    static let vocPalette: [(UInt8, UInt8, UInt8)] = (0..<256).map { index in
        var (r, g, b) = (0, 0, 0)
        var c = index
        for shift in stride(from: 7, through: 0, by: -1) {
            r |= (c & 1) << shift
            g |= ((c >> 1) & 1) << shift
            b |= ((c >> 2) & 1) << shift
            c >>= 3
        }
        return (UInt8(r), UInt8(g), UInt8(b))
    }
}

/// Minimal RFC 4180 CSV: quoted fields, doubled quotes, commas and newlines inside quotes.
public enum CSV {
    /// The rows of `text`, each as its unquoted fields; a final newline adds no empty row.
    public static func parse(_ text: String) -> [[String]] {
        var rows: [[String]] = [], row: [String] = [], field = ""
        var quoted = false
        var chars = Array(text.unicodeScalars)[...]
        while let c = chars.popFirst() {
            if quoted {
                if c == "\"" {
                    if chars.first == "\"" { field.unicodeScalars.append("\""); chars.removeFirst() } else { quoted = false }
                } else {
                    field.unicodeScalars.append(c)
                }
            } else if c == "\"" {
                quoted = true
            } else if c == "," {
                row.append(field); field = ""
            } else if c == "\n" || c == "\r" {
                if c == "\r" && chars.first == "\n" { chars.removeFirst() }
                row.append(field); rows.append(row); row = []; field = ""
            } else {
                field.unicodeScalars.append(c)
            }
        }
        if !field.isEmpty || !row.isEmpty { row.append(field); rows.append(row) }
        return rows
    }

    /// One CSV line (without its newline), quoting fields that hold a comma, a quote or a newline.
    public static func line(_ fields: [String]) -> String {
        fields.map { f in
            f.contains(where: { $0 == "," || $0 == "\"" || $0 == "\n" }) ? "\"" + f.replacingOccurrences(of: "\"", with: "\"\"") + "\"" : f
        }.joined(separator: ",")
    }
}
