import XCTest
@testable import LafamImaging

final class ColormapTests: XCTestCase {
    /// matplotlib 3.6 `cmap(i, bytes=True)[:3]` for i in 0, 1, 64, 127, 128, 191, 254, 255.
    static let reference: [Colormap: [(UInt8, UInt8, UInt8)]] = [
        .viridis: [(68, 1, 84), (68, 2, 85), (58, 82, 139), (32, 143, 140), (32, 144, 140), (91, 200, 98), (250, 230, 34), (253, 231, 36)],
        .inferno: [(0, 0, 3), (0, 0, 4), (87, 15, 109), (186, 54, 85), (187, 55, 84), (249, 140, 9), (250, 253, 160), (252, 254, 164)],
        .turbo: [(48, 18, 59), (49, 21, 66), (40, 187, 235), (161, 252, 61), (164, 252, 59), (251, 128, 34), (125, 5, 2), (122, 4, 2)],
        .jet: [(0, 0, 127), (0, 0, 132), (0, 128, 255), (121, 255, 125), (124, 255, 121), (255, 152, 0), (132, 0, 0), (127, 0, 0)],
    ]
    static let indices = [0, 1, 64, 127, 128, 191, 254, 255]

    func testTablesMatchMatplotlib() {
        for map in Colormap.allCases {
            let table = map.table
            XCTAssertEqual(table.count, 768, map.rawValue)
            let expected = Self.reference[map]!
            for (k, i) in Self.indices.enumerated() {
                let got = (table[3 * i], table[3 * i + 1], table[3 * i + 2])
                XCTAssertTrue(got == expected[k], "\(map.rawValue)[\(i)] = \(got), matplotlib says \(expected[k])")
            }
        }
    }

    func testValueToIndexFollowsMatplotlib() {
        XCTAssertEqual(Colormap.index(for: 0), 0)
        XCTAssertEqual(Colormap.index(for: 1), 255)
        XCTAssertEqual(Colormap.index(for: 0.5), 128)
        XCTAssertEqual(Colormap.index(for: 0.499), 127)
        XCTAssertEqual(Colormap.index(for: -3), 0)
        XCTAssertEqual(Colormap.index(for: 7), 255)
        XCTAssertEqual(Colormap.index(for: .nan), 0)
        XCTAssertTrue(Colormap.viridis.color(at: 1) == (253, 231, 36))
        XCTAssertEqual(try Colormap.named("Turbo"), .turbo)
        assertThrowsImagingError(["unknown colormap 'hot'", "turbo, viridis, inferno, jet"]) { _ = try Colormap.named("hot") }
    }

    func testColorize() throws {
        let map: [Float] = [0, 0.5, 1, 2, -1, .nan]
        let img = try colorize(map: map, width: 3, height: 2, colormap: .inferno)
        XCTAssertEqual(img.width, 3)
        XCTAssertEqual(img.height, 2)
        XCTAssertTrue(img[0, 0] == (0, 0, 3))
        XCTAssertTrue(img[2, 0] == (252, 254, 164))
        XCTAssertTrue(img[0, 1] == (252, 254, 164)) // clamped
        XCTAssertTrue(img[1, 1] == (0, 0, 3))
        XCTAssertTrue(img[2, 1] == (0, 0, 3))
        assertThrowsImagingError(["3x2", "got 5"]) { _ = try colorize(map: [0, 0, 0, 0, 0], width: 3, height: 2, colormap: .jet) }
    }

    func testOverlaySizeAndBlend() throws {
        let photo = RGBImage(width: 50, height: 30, fill: (100, 100, 100))
        let map = [Float](repeating: 1, count: 7 * 5)
        let out = try overlay(map: map, mapWidth: 7, mapHeight: 5, on: photo, colormap: .viridis, alpha: 0.5)
        XCTAssertEqual(out.width, 50)
        XCTAssertEqual(out.height, 30)
        // 0.5 * 100 + 0.5 * (253, 231, 36), rounded.
        XCTAssertTrue(out[17, 11] == (177, 166, 68))
        let none = try overlay(map: map, mapWidth: 7, mapHeight: 5, on: photo, colormap: .jet, alpha: 0)
        XCTAssertEqual(none, photo)
        let full = try overlay(map: map, mapWidth: 7, mapHeight: 5, on: photo, colormap: .jet, alpha: 1)
        XCTAssertTrue(full[0, 0] == (127, 0, 0))
        assertThrowsImagingError(["alpha", "1.5"]) { _ = try overlay(map: map, mapWidth: 7, mapHeight: 5, on: photo, colormap: .jet, alpha: 1.5) }
        assertThrowsImagingError(["photo is empty"]) { _ = try overlay(map: map, mapWidth: 7, mapHeight: 5, on: RGBImage(width: 0, height: 0), colormap: .jet) }
    }

    func testBilinearMapResizeUsesHalfPixelCentres() {
        // 2x1 map [0, 1] to 4x1: sample points -0.25 (clamped), 0.25, 0.75, 1.25 (clamped).
        let r = resizeMapBilinear([0, 1], width: 2, height: 1, toWidth: 4, toHeight: 1)
        XCTAssertEqual(r, [0, 0.25, 0.75, 1])
        // Downscale 4x1 to 2x1 averages neighbours at centres 0.5 and 2.5.
        XCTAssertEqual(resizeMapBilinear([0, 1, 2, 3], width: 4, height: 1, toWidth: 2, toHeight: 1), [0.5, 2.5])
        let v = resizeMapBilinear([0, 1], width: 1, height: 2, toWidth: 1, toHeight: 4)
        XCTAssertEqual(v, [0, 0.25, 0.75, 1])
    }

    func testSideBySidePadsHeights() throws {
        let a = RGBImage(width: 3, height: 2, fill: (1, 2, 3))
        let b = RGBImage(width: 2, height: 4, fill: (9, 9, 9))
        let joined = sideBySide([a, b], spacing: 1)
        XCTAssertEqual(joined.width, 6)
        XCTAssertEqual(joined.height, 4)
        XCTAssertTrue(joined[0, 0] == (1, 2, 3))
        XCTAssertTrue(joined[2, 1] == (1, 2, 3))
        XCTAssertTrue(joined[0, 3] == (255, 255, 255)) // padding below a
        XCTAssertTrue(joined[3, 0] == (255, 255, 255)) // spacing
        XCTAssertTrue(joined[4, 3] == (9, 9, 9))
        XCTAssertTrue(sideBySide([]).isEmpty)
        XCTAssertEqual(sideBySide([a]), a)
    }

    func testNormalizeToUnitRange() {
        XCTAssertEqual(normalizedToUnitRange([2, 4, 6]), [0, 0.5, 1])
        XCTAssertEqual(normalizedToUnitRange([3, 3]), [0, 0])
        XCTAssertEqual(normalizedToUnitRange([1, .nan, 3]), [0, 0, 1])
    }
}
