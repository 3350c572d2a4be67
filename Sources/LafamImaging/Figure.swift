/// Figures that explain themselves: a map picture with a title strip above and a colour bar below
/// saying what its colours mean, and sheets that put many such panels side by side under one
/// scale. White background, black text (`BitmapFont.standard`).
public enum Figure {
    /// What the two ends of a colour bar mean, and a caption under it.
    public struct Scale: Sendable, Equatable {
        /// The label under the bar's left end (value 0).
        public var low: String
        /// The label under the bar's right end (value 1).
        public var high: String
        /// A line under the labels saying what the values are.
        public var caption: String

        /// A scale with its end labels and caption.
        public init(low: String, high: String, caption: String) {
            self.low = low
            self.high = high
            self.caption = caption
        }
    }

    static let white: (r: UInt8, g: UInt8, b: UInt8) = (255, 255, 255)
    static let margin = 6

    /// `picture` with `title` lines above (wrapped to its width) and, when given, a colour bar of
    /// `colormap` with `scale`'s labels below. The figure is at least 240 px wide so the text fits.
    public static func titled(_ picture: RGBImage, title: [String], colormap: Colormap?, scale: Scale?,
                              font: BitmapFont = .standard) -> RGBImage {
        let width = max(picture.width, 240)
        var parts = [text(title, width: width, font: font), picture]
        if let colormap, let scale { parts.append(colorBar(colormap, scale: scale, width: width, font: font)) }
        return stacked(parts, spacing: 2)
    }

    /// A block of text lines, each wrapped to `width`, on white.
    public static func text(_ lines: [String], width: Int, font: BitmapFont = .standard) -> RGBImage {
        let wrapped = lines.flatMap { font.wrapped($0, toWidth: width - 2 * margin) }
        var image = RGBImage(width: width, height: wrapped.count * font.lineHeight + margin, fill: white)
        for (i, line) in wrapped.enumerated() {
            font.draw(line, on: &image, x: margin, y: margin / 2 + i * font.lineHeight)
        }
        return image
    }

    /// A horizontal colour bar `width` wide: the gradient of `colormap` from 0 to 1, the low and
    /// high labels under its ends and the caption centred below them.
    public static func colorBar(_ colormap: Colormap, scale: Scale, width: Int, font: BitmapFont = .standard) -> RGBImage {
        let barHeight = 12
        let barWidth = max(1, width - 2 * margin)
        var image = RGBImage(width: width, height: barHeight + 2 * font.lineHeight + margin + 2, fill: white)
        for x in 0..<barWidth {
            let c = colormap.color(at: barWidth == 1 ? 1 : Float(x) / Float(barWidth - 1))
            for y in 2..<(2 + barHeight) {
                let p = (y * width + margin + x) * 3
                image.pixels[p] = c.r; image.pixels[p + 1] = c.g; image.pixels[p + 2] = c.b
            }
        }
        let labels = 2 + barHeight + 1
        let half = barWidth / 2 - 4
        let low = font.truncated(scale.low, toWidth: half), high = font.truncated(scale.high, toWidth: half)
        font.draw(low, on: &image, x: margin, y: labels)
        font.draw(high, on: &image, x: margin + barWidth - font.width(of: high), y: labels)
        let caption = font.truncated(scale.caption, toWidth: barWidth)
        font.draw(caption, on: &image, x: (width - font.width(of: caption)) / 2, y: labels + font.lineHeight)
        return image
    }

    /// Images top to bottom, left-aligned, `spacing` white pixels apart, padded to the widest.
    public static func stacked(_ images: [RGBImage], spacing: Int = 0) -> RGBImage {
        let width = images.map(\.width).max() ?? 0
        let height = images.map(\.height).reduce(0, +) + max(0, spacing) * max(0, images.count - 1)
        var canvas = RGBImage(width: width, height: height, fill: white)
        var y0 = 0
        for image in images {
            paste(image, into: &canvas, x: 0, y: y0)
            y0 += image.height + max(0, spacing)
        }
        return canvas
    }

    /// A grid of panels (`cells[row][column]`, nil for an empty cell) with column headings above
    /// and row headings at the left, every cell the size of the largest panel.
    public static func sheet(_ cells: [[RGBImage?]], rowLabels: [String], columnLabels: [String],
                             font: BitmapFont = .standard) -> RGBImage {
        let panels = cells.flatMap { $0.compactMap { $0 } }
        let cellWidth = panels.map(\.width).max() ?? 0, cellHeight = panels.map(\.height).max() ?? 0
        let columns = max(cells.map(\.count).max() ?? 0, columnLabels.count)
        let labelWidth = rowLabels.isEmpty ? 0 : min(160, (rowLabels.map { font.width(of: $0) }.max() ?? 0) + 2 * margin)
        let headerHeight = columnLabels.isEmpty ? 0 : font.lineHeight + margin
        let gap = 8
        var canvas = RGBImage(width: labelWidth + columns * cellWidth + max(0, columns - 1) * gap,
                              height: headerHeight + cells.count * cellHeight + max(0, cells.count - 1) * gap, fill: white)
        for (c, label) in columnLabels.enumerated() {
            let text = font.truncated(label, toWidth: cellWidth - 2 * margin)
            font.draw(text, on: &canvas, x: labelWidth + c * (cellWidth + gap) + (cellWidth - font.width(of: text)) / 2, y: margin / 2)
        }
        for (r, row) in cells.enumerated() {
            let y = headerHeight + r * (cellHeight + gap)
            if r < rowLabels.count {
                for (i, line) in font.wrapped(rowLabels[r], toWidth: labelWidth - 2 * margin).prefix(8).enumerated() {
                    font.draw(line, on: &canvas, x: margin, y: y + margin + i * font.lineHeight)
                }
            }
            for (c, panel) in row.enumerated() {
                if let panel { paste(panel, into: &canvas, x: labelWidth + c * (cellWidth + gap), y: y) }
            }
        }
        return canvas
    }

    /// Copies `image` into `canvas` with its top-left corner at (`x`, `y`), clipped.
    static func paste(_ image: RGBImage, into canvas: inout RGBImage, x: Int, y: Int) {
        let width = canvas.width, height = canvas.height
        canvas.pixels.withUnsafeMutableBufferPointer { dst in
            image.pixels.withUnsafeBufferPointer { src in
                for row in 0..<image.height where y + row >= 0 && y + row < height {
                    for col in 0..<image.width where x + col >= 0 && x + col < width {
                        let s = (row * image.width + col) * 3, d = ((y + row) * width + x + col) * 3
                        dst[d] = src[s]; dst[d + 1] = src[s + 1]; dst[d + 2] = src[s + 2]
                    }
                }
            }
        }
    }
}
