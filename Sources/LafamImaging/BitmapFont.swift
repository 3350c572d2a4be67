import Foundation

/// Anti-aliased text for figures, drawn from glyphs rasterised ahead of time (DejaVu Sans, 13 px;
/// `tools/fonts/make_font.py`), so lafam needs no font library at run time. Printable ASCII plus a
/// few symbols (`· × → ← – — … ≥ ≤ ± ° µ α β γ`); other characters are drawn as `?`.
public struct BitmapFont: Sendable {
    struct Glyph: Sendable {
        let advance: Int
        let left: Int
        let width: Int
        let offset: Int
    }

    /// Height of one line of text in pixels.
    public let lineHeight: Int
    let glyphs: [UInt32: Glyph]
    let coverage: [UInt8]

    /// DejaVu Sans at 13 px: legible at 100 % zoom.
    public static let standard: BitmapFont = {
        let glyphs = Dictionary(uniqueKeysWithValues: dejaVuGlyphs.map {
            ($0.0, Glyph(advance: $0.1, left: $0.2, width: $0.3, offset: $0.4))
        })
        let coverage = Data(base64Encoded: dejaVuCoverage, options: .ignoreUnknownCharacters).map { [UInt8]($0) } ?? []
        return BitmapFont(lineHeight: dejaVuMetrics.lineHeight, glyphs: glyphs, coverage: coverage)
    }()

    private func glyph(_ scalar: Unicode.Scalar) -> Glyph? { glyphs[scalar.value] ?? glyphs[63] }

    /// Width in pixels of `text` drawn on one line.
    public func width(of text: String) -> Int {
        text.unicodeScalars.reduce(0) { $0 + (glyph($1)?.advance ?? 0) }
    }

    /// `text` cut to at most `width` pixels, ending in `…` when it was cut.
    public func truncated(_ text: String, toWidth width: Int) -> String {
        guard self.width(of: text) > width else { return text }
        var kept = String.UnicodeScalarView()
        var used = self.width(of: "…")
        for s in text.unicodeScalars {
            let w = glyph(s)?.advance ?? 0
            if used + w > width { break }
            kept.append(s)
            used += w
        }
        return String(kept) + "…"
    }

    /// `text` broken into lines of at most `width` pixels, at spaces where it can be and inside
    /// a word (after `/`, `_` or `.` when there is one) where a word is wider than a line.
    public func wrapped(_ text: String, toWidth width: Int) -> [String] {
        var lines: [String] = []
        var line = ""
        for word in text.split(separator: " ", omittingEmptySubsequences: false).map(String.init) {
            let candidate = line.isEmpty ? word : line + " " + word
            if self.width(of: candidate) <= width {
                line = candidate
                continue
            }
            if !line.isEmpty { lines.append(line) }
            line = word
            while self.width(of: line) > width, let cut = breakPoint(line, width: width) {
                lines.append(String(line.unicodeScalars.prefix(cut)))
                line = String(String.UnicodeScalarView(line.unicodeScalars.dropFirst(cut)))
            }
        }
        lines.append(line)
        return lines.map { truncated($0, toWidth: width) }
    }

    /// How many scalars of `word` go on a line `width` wide: up to the last `/`, `_` or `.` that
    /// fits, else as many as fit (at least one); nil when the word fits or is empty.
    private func breakPoint(_ word: String, width: Int) -> Int? {
        var used = 0, fits = 0, lastBreak = 0
        for (i, s) in word.unicodeScalars.enumerated() {
            used += glyph(s)?.advance ?? 0
            if used > width { break }
            fits = i + 1
            if s == "/" || s == "_" || s == "." { lastBreak = i + 1 }
        }
        guard fits < word.unicodeScalars.count else { return nil }
        return max(1, lastBreak > 0 ? lastBreak : fits)
    }

    /// Draws `text` on `image` with its top-left corner at (`x`, `y`), blending `color` by each
    /// glyph's coverage; what falls outside the image is clipped.
    public func draw(_ text: String, on image: inout RGBImage, x: Int, y: Int,
                     color: (r: UInt8, g: UInt8, b: UInt8) = (0, 0, 0)) {
        var penX = x
        let ink = [Float(color.r), Float(color.g), Float(color.b)]
        let (imageWidth, imageHeight) = (image.width, image.height)
        image.pixels.withUnsafeMutableBufferPointer { px in
            for scalar in text.unicodeScalars {
                guard let g = glyph(scalar), g.offset + lineHeight * g.width <= coverage.count else { continue }
                for row in 0..<lineHeight where y + row >= 0 && y + row < imageHeight {
                    for col in 0..<g.width {
                        let cx = penX + g.left + col
                        guard cx >= 0, cx < imageWidth else { continue }
                        let a = Float(coverage[g.offset + row * g.width + col]) / 255
                        guard a > 0 else { continue }
                        let p = ((y + row) * imageWidth + cx) * 3
                        for c in 0..<3 { px[p + c] = UInt8((Float(px[p + c]) * (1 - a) + ink[c] * a).rounded()) }
                    }
                }
                penX += g.advance
            }
        }
    }
}
