import Foundation
import XCTest
@testable import LafamImaging
import LafamTensor

final class CodecTests: XCTestCase {
    func testPNGRoundTripIsLossless() throws {
        let image = makeTestImage(width: 37, height: 23)
        let bytes = try ImageFormat.png.encode(image)
        XCTAssertEqual(ImageFormat.detect(magic: bytes), .png)
        XCTAssertEqual(try ImageIO.decode(bytes), image)
    }

    func testJPEGRoundTripIsClose() throws {
        // Smooth content so JPEG at high quality stays within a few levels.
        var image = RGBImage(width: 64, height: 48)
        for y in 0..<48 {
            for x in 0..<64 { image[x, y] = (UInt8(x * 3), UInt8(y * 4), UInt8(128)) }
        }
        let bytes = try ImageFormat.jpeg.encode(image, jpegQuality: 95)
        XCTAssertEqual(ImageFormat.detect(magic: bytes), .jpeg)
        let decoded = try ImageIO.decode(bytes)
        XCTAssertEqual(decoded.width, 64)
        XCTAssertEqual(decoded.height, 48)
        XCTAssertLessThanOrEqual(maxAbsDiff(decoded, image), 8)
    }

    func testJPEGQualityChangesSize() throws {
        let image = makeTestImage(width: 96, height: 96)
        let low = try ImageFormat.jpeg.encode(image, jpegQuality: 10)
        let high = try ImageFormat.jpeg.encode(image, jpegQuality: 100)
        XCTAssertLessThan(low.count, high.count)
        assertThrowsImagingError(["quality", "1 and 100", "0"]) { _ = try ImageFormat.jpeg.encode(image, jpegQuality: 0) }
        assertThrowsImagingError(["quality", "101"]) { _ = try ImageFormat.jpeg.encode(image, jpegQuality: 101) }
    }

    func testLargeJPEGGrowsOutputBuffer() throws {
        // Noise at quality 100 is bigger than the encoder's first 64 KiB buffer.
        var rng = SystemRandomNumberGenerator()
        let pixels = (0..<(300 * 200 * 3)).map { _ in UInt8.random(in: 0...255, using: &rng) }
        let image = try RGBImage(width: 300, height: 200, pixels: pixels)
        let bytes = try ImageFormat.jpeg.encode(image, jpegQuality: 100)
        XCTAssertGreaterThan(bytes.count, 65536)
        let decoded = try ImageIO.decode(bytes)
        XCTAssertEqual(decoded.width, 300)
        XCTAssertEqual(decoded.height, 200)
    }

    func testCoffeePNGFixtureDecodes() throws {
        let image = try ImageIO.readImage(path: Fixtures.path("coffee.png"))
        XCTAssertEqual(image.width, 600)
        XCTAssertEqual(image.height, 400)
    }

    /// PNG and JPEG flavours written by Pillow, compared to Pillow's own
    /// `.convert("RGB")` (or the high byte for 16-bit samples).
    func testUnusualPNGAndJPEGFlavoursMatchPillow() throws {
        let cases: [(file: String, tolerance: Int)] = [
            ("png_gray.png", 0), ("png_gray_alpha.png", 0), ("png_rgba.png", 0), ("png_palette.png", 0),
            ("png_palette_trns.png", 0), ("png_1bit.png", 0), ("png_rgb16.png", 1), ("png_gray16.png", 1),
            ("jpeg_gray.jpg", 0), ("jpeg_cmyk.jpg", 1),
        ]
        for (file, tolerance) in cases {
            let expectedName = "decoded_" + file.split(separator: ".")[0] + ".npy"
            let expected = try Fixtures.rgbNPY(expectedName)
            let decoded = try ImageIO.readImage(path: Fixtures.path(file))
            XCTAssertEqual(decoded.width, expected.width, file)
            XCTAssertEqual(decoded.height, expected.height, file)
            XCTAssertLessThanOrEqual(maxAbsDiff(decoded, expected), tolerance, file)
        }
    }

    func testTruncatedAndCorruptFilesGiveErrors() throws {
        let image = makeTestImage(width: 40, height: 30)
        for format in ImageFormat.allCases {
            let bytes = try format.encode(image)
            // Truncations at several points, including inside the header.
            for cut in [9, 20, bytes.count / 2, bytes.count - 20] {
                assertThrowsImagingError(["cannot decode", format.displayName]) {
                    _ = try ImageIO.decode(Array(bytes.prefix(cut)))
                }
            }
            // Garbage after a valid signature.
            var corrupt = bytes
            for i in 12..<min(corrupt.count, 200) { corrupt[i] = UInt8(truncatingIfNeeded: i &* 31) }
            assertThrowsImagingError(["cannot decode"]) { _ = try ImageIO.decode(corrupt) }
        }
        // Every prefix of a small PNG either decodes or throws: no crash.
        let small = try ImageFormat.png.encode(makeTestImage(width: 5, height: 4))
        for cut in 0..<small.count { _ = try? ImageIO.decode(Array(small.prefix(cut))) }
        let smallJPEG = try ImageFormat.jpeg.encode(makeTestImage(width: 5, height: 4))
        for cut in 0..<smallJPEG.count { _ = try? ImageIO.decode(Array(smallJPEG.prefix(cut))) }
    }

    /// Damaged files decode to an image of a sane size or throw `ImagingError`, never anything else
    /// (and never crash); seeded, so a failure names a reproducible case.
    func testBitFlippedFilesDecodeOrThrowATypedError() throws {
        var rng = SplitMix64(seed: 2026)
        for format in ImageFormat.allCases {
            let bytes = try format.encode(makeTestImage(width: 24, height: 16))
            var decoded = 0, refused = 0
            for trial in 0..<300 {
                var damaged = bytes
                for _ in 0..<4 {
                    let i = Int(rng.next() % UInt64(damaged.count))
                    damaged[i] ^= UInt8(1 + rng.next() % 255)
                }
                do {
                    let image = try ImageIO.decode(damaged)
                    XCTAssertEqual(image.pixels.count, image.width * image.height * 3, "\(format) trial \(trial)")
                    decoded += 1
                } catch is ImagingError {
                    refused += 1
                } catch {
                    XCTFail("\(format) trial \(trial): \(type(of: error)) is not an ImagingError: \(error)")
                }
            }
            XCTAssertEqual(decoded + refused, 300)
            XCTAssertGreaterThan(refused, 0, "\(format): some damage must be detected")
        }
    }

    func testReadImageErrorsNameThePath() throws {
        let temp = try TempFolder()
        defer { temp.cleanup() }

        let missing = temp.file("nope.png")
        assertThrowsImagingError(["nope.png", "no such file", "check the path"]) { _ = try ImageIO.readImage(path: missing) }

        assertThrowsImagingError([temp.path, "folder"]) { _ = try ImageIO.readImage(path: temp.path) }

        let text = temp.file("notes.png")
        try "hello, world".write(toFile: text, atomically: true, encoding: .utf8)
        assertThrowsImagingError(["notes.png", "neither PNG nor JPEG", "68 65 6c 6c"]) { _ = try ImageIO.readImage(path: text) }

        let empty = temp.file("empty.jpg")
        _ = FileManager.default.createFile(atPath: empty, contents: Data())
        assertThrowsImagingError(["empty.jpg", "empty"]) { _ = try ImageIO.readImage(path: empty) }

        let broken = temp.file("broken.jpg")
        let jpeg = try ImageFormat.jpeg.encode(makeTestImage(width: 32, height: 32))
        _ = FileManager.default.createFile(atPath: broken, contents: Data(jpeg.prefix(jpeg.count / 2)))
        assertThrowsImagingError(["broken.jpg", "JPEG", "truncated"]) { _ = try ImageIO.readImage(path: broken) }
    }

    func testFormatDetection() {
        XCTAssertEqual(ImageFormat.detect(magic: [0x89, 0x50, 0x4E, 0x47, 0x0D, 0x0A, 0x1A, 0x0A, 0]), .png)
        XCTAssertEqual(ImageFormat.detect(magic: [0xFF, 0xD8, 0xFF, 0xE0]), .jpeg)
        XCTAssertNil(ImageFormat.detect(magic: [0xFF, 0xD8]))
        XCTAssertNil(ImageFormat.detect(magic: Array("GIF89a".utf8)))
        XCTAssertEqual(ImageFormat.fromExtension(of: "a/b.PNG"), .png)
        XCTAssertEqual(ImageFormat.fromExtension(of: "x.jpeg"), .jpeg)
        XCTAssertEqual(ImageFormat.fromExtension(of: "x.JPG"), .jpeg)
        XCTAssertNil(ImageFormat.fromExtension(of: "x.gif"))
        XCTAssertNil(ImageFormat.fromExtension(of: "dir.png/file"))
        XCTAssertNil(ImageFormat.fromExtension(of: ".png"))
    }

    func testEncodingAnEmptyImageFails() {
        assertThrowsImagingError(["0x0", "no pixels"]) { _ = try ImageFormat.png.encode(RGBImage(width: 0, height: 0)) }
    }

    func testRGBImageValidation() throws {
        assertThrowsImagingError(["2x2", "12", "got 5"]) { _ = try RGBImage(width: 2, height: 2, pixels: [1, 2, 3, 4, 5]) }
        assertThrowsImagingError(["negative"]) { _ = try RGBImage(width: -1, height: 2, pixels: []) }
        let img = makeTestImage(width: 10, height: 8)
        let crop = try img.cropped(x: 2, y: 3, width: 4, height: 5)
        XCTAssertEqual(crop.width, 4)
        XCTAssertEqual(crop[0, 0].r, img[2, 3].r)
        XCTAssertEqual(crop[3, 4].b, img[5, 7].b)
        assertThrowsImagingError(["does not fit"]) { _ = try img.cropped(x: 8, y: 0, width: 4, height: 1) }
    }
}
