import LafamImaging
import XCTest

/// Text and figure layout: glyph metrics, wrapping, drawing, colour bars and sheets.
final class FigureTests: XCTestCase {
    let font = BitmapFont.standard

    func testGlyphMetricsAndUnknownCharacters() {
        XCTAssertEqual(font.lineHeight, 17)
        XCTAssertGreaterThan(font.width(of: "W"), font.width(of: "i"))
        XCTAssertEqual(font.width(of: "ab"), font.width(of: "a") + font.width(of: "b"))
        // A character outside the set is drawn as '?'.
        XCTAssertEqual(font.width(of: "漢"), font.width(of: "?"))
        XCTAssertEqual(font.width(of: ""), 0)
    }

    func testWrappingBreaksAtSpacesThenInsideLongNames() {
        let lines = font.wrapped("Grad-CAM at /features/features.18/features.18.2/Clip_output_0", toWidth: 150)
        XCTAssertGreaterThan(lines.count, 2)
        XCTAssertTrue(lines.allSatisfy { font.width(of: $0) <= 150 }, lines.description)
        XCTAssertEqual(lines.joined().replacingOccurrences(of: " ", with: ""), "Grad-CAMat/features/features.18/features.18.2/Clip_output_0")
        XCTAssertEqual(lines[0], "Grad-CAM at")
        XCTAssertTrue(lines[1].hasSuffix("/"), "a long name breaks after a separator: \(lines)")
        XCTAssertEqual(font.truncated("a fairly long title", toWidth: 40).last, "…")
        XCTAssertLessThanOrEqual(font.width(of: font.truncated("a fairly long title", toWidth: 40)), 40)
    }

    func testDrawingInksOnlyWhereTheTextIsAndClips() {
        var image = RGBImage(width: 60, height: 20, fill: (255, 255, 255))
        font.draw("Hi", on: &image, x: 2, y: 0)
        let inked = (0..<20).flatMap { y in (0..<60).map { (x: $0, y: y) } }.filter { pixel(image, $0.x, $0.y)[0] < 128 }
        XCTAssertGreaterThan(inked.count, 15)
        XCTAssertTrue(inked.allSatisfy { $0.x >= 2 && $0.x < 2 + font.width(of: "Hi") + 1 }, "ink stays within the advance")
        // Drawing partly or wholly outside the image does not trap.
        font.draw("outside", on: &image, x: -30, y: -5)
        font.draw("outside", on: &image, x: 100, y: 100)
    }

    func testTitledFigureStacksTitlePictureAndBar() {
        let picture = RGBImage(width: 300, height: 100, fill: (10, 20, 30))
        let scale = Figure.Scale(low: "0: least", high: "1: most", caption: "min-max per map")
        let figure = Figure.titled(picture, title: ["first line", "second line"], colormap: .viridis, scale: scale)
        XCTAssertEqual(figure.width, 300)
        let title = Figure.text(["first line", "second line"], width: 300)
        let bar = Figure.colorBar(.viridis, scale: scale, width: 300)
        XCTAssertEqual(figure.height, title.height + 2 + picture.height + 2 + bar.height)
        XCTAssertEqual(pixel(figure, 150, title.height + 2 + 50), [10, 20, 30])
        // The bar runs from the colormap's 0 to its 1.
        XCTAssertEqual(pixel(bar, 6, 5), rgb(Colormap.viridis.color(at: 0)))
        XCTAssertEqual(pixel(bar, 300 - 7, 5), rgb(Colormap.viridis.color(at: 1)))
        // Narrow pictures get a 240 px wide figure so the text fits.
        XCTAssertEqual(Figure.titled(RGBImage(width: 50, height: 50), title: ["t"], colormap: nil, scale: nil).width, 240)
    }

    func testSheetPlacesPanelsInAGrid() {
        let a = RGBImage(width: 40, height: 30, fill: (255, 0, 0)), b = RGBImage(width: 40, height: 30, fill: (0, 0, 255))
        let sheet = Figure.sheet([[a, nil], [nil, b]], rowLabels: ["row 1", "row 2"], columnLabels: ["left", "right"])
        let labelWidth = font.width(of: "row 1") + 12, header = font.lineHeight + 6
        XCTAssertEqual(sheet.width, labelWidth + 2 * 40 + 8)
        XCTAssertEqual(sheet.height, header + 2 * 30 + 8)
        XCTAssertEqual(pixel(sheet, labelWidth + 5, header + 5), [255, 0, 0])
        XCTAssertEqual(pixel(sheet, labelWidth + 48 + 5, header + 38 + 5), [0, 0, 255])
        XCTAssertEqual(pixel(sheet, labelWidth + 48 + 5, header + 5), [255, 255, 255], "an empty cell stays white")
    }
}

/// The colour at (`x`, `y`) as [r, g, b], comparable in assertions.
private func pixel(_ image: RGBImage, _ x: Int, _ y: Int) -> [UInt8] { rgb(image[x, y]) }
private func rgb(_ c: (r: UInt8, g: UInt8, b: UInt8)) -> [UInt8] { [c.r, c.g, c.b] }
