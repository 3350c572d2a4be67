import Foundation
import XCTest
@testable import LafamImaging

final class ResizeTests: XCTestCase {
    /// Every case in resize_cases.json (made by Pillow 9.4's
    /// Image.resize(size, Image.BILINEAR)) must match within 1 grey level.
    func testResizeMatchesPillowFixtures() throws {
        let coffee = try ImageIO.readImage(path: Fixtures.path("coffee.png"))
        let cases = try Fixtures.json("resize_cases.json")
        XCTAssertGreaterThanOrEqual(cases.count, 10)
        var worstOverall = 0
        for c in cases {
            let name = try XCTUnwrap(c["name"] as? String)
            let sourceName = try XCTUnwrap(c["source"] as? String)
            let crop = try XCTUnwrap(c["crop"] as? [Int])
            let size = try XCTUnwrap(c["size"] as? [Int])
            let expected = try Fixtures.rgbNPY(try XCTUnwrap(c["expected"] as? String))
            let source = sourceName == "coffee.png" ? coffee : try Fixtures.rgbNPY(sourceName)
            let cropped = try source.cropped(x: crop[0], y: crop[1], width: crop[2], height: crop[3])
            let resized = try cropped.resized(width: size[0], height: size[1])
            XCTAssertEqual(resized.width, expected.width, name)
            XCTAssertEqual(resized.height, expected.height, name)
            let diff = maxAbsDiff(resized, expected)
            worstOverall = max(worstOverall, diff)
            XCTAssertLessThanOrEqual(diff, 1, "\(name): max |diff| = \(diff)")
        }
        print("PIL resize fixtures: \(cases.count) cases, max |diff| = \(worstOverall)")
    }

    func testPreprocessedImageMatchesPillowCenterCrop224() throws {
        let coffee = try ImageIO.readImage(path: Fixtures.path("coffee.png"))
        let prepared = try Preprocessing().prepareImage(coffee)
        let expected = try Fixtures.rgbNPY("resize_coffee_center224.npy")
        XCTAssertEqual(prepared.width, 224)
        XCTAssertEqual(prepared.height, 224)
        XCTAssertLessThanOrEqual(maxAbsDiff(prepared, expected), 1)
    }

    func testTensorMatchesTorchvisionPipeline() throws {
        let coffee = try ImageIO.readImage(path: Fixtures.path("coffee.png"))
        let reference = try NPYArray.read(path: Fixtures.path("preprocess_torchvision.npy"))
        XCTAssertEqual(reference.shape, [1, 3, 32, 32])
        let expected = try XCTUnwrap(reference.floats)
        let prep = Preprocessing(width: 32, height: 32)
        XCTAssertEqual(prep.shape(), [1, 3, 32, 32])
        let tensor = try prep.tensor(from: coffee)
        XCTAssertEqual(tensor.count, expected.count)
        // One grey level is 1/255/0.225 ≈ 0.0175; the pipelines should agree far better.
        let worst = zip(tensor, expected).map { abs($0 - $1) }.max() ?? 0
        XCTAssertLessThan(worst, 1e-5)
    }

    func testCenterCropBoxUsesPythonRounding() {
        XCTAssertTrue(Preprocessing.centerCropBox(width: 600, height: 400) == (100, 0, 400))
        XCTAssertTrue(Preprocessing.centerCropBox(width: 5, height: 8) == (0, 2, 5))   // round(1.5) = 2
        XCTAssertTrue(Preprocessing.centerCropBox(width: 5, height: 6) == (0, 0, 5))   // round(0.5) = 0
        XCTAssertTrue(Preprocessing.centerCropBox(width: 10, height: 15) == (0, 2, 10)) // round(2.5) = 2
        XCTAssertTrue(Preprocessing.centerCropBox(width: 7, height: 7) == (0, 0, 7))
    }

    func testLayoutsChannelOrderAndBatch() throws {
        let image = makeTestImage(width: 12, height: 9)
        let base = Preprocessing(width: 4, height: 3, scale: 1, mean: [0], std: [1])
        let nchw = try base.tensor(from: image)
        let prepared = try base.prepareImage(image)
        XCTAssertEqual(prepared.width, 4)
        // NCHW: channel planes.
        for y in 0..<3 {
            for x in 0..<4 {
                let p = prepared[x, y]
                XCTAssertEqual(nchw[0 * 12 + y * 4 + x], Float(p.r))
                XCTAssertEqual(nchw[1 * 12 + y * 4 + x], Float(p.g))
                XCTAssertEqual(nchw[2 * 12 + y * 4 + x], Float(p.b))
            }
        }
        var nhwcBGR = base
        nhwcBGR.layout = .nhwc
        nhwcBGR.channelOrder = .bgr
        XCTAssertEqual(nhwcBGR.shape(batch: 2), [2, 3, 4, 3])
        let t = try nhwcBGR.tensor(from: image)
        let p = prepared[1, 2]
        let i = (2 * 4 + 1) * 3
        XCTAssertEqual(t[i], Float(p.b))
        XCTAssertEqual(t[i + 1], Float(p.g))
        XCTAssertEqual(t[i + 2], Float(p.r))

        let other = makeTestImage(width: 5, height: 7)
        let batch = try base.batch([image, other])
        XCTAssertEqual(batch.count, 2 * 36)
        XCTAssertEqual(Array(batch[0..<36]), nchw)
        XCTAssertEqual(Array(batch[36...]), try base.tensor(from: other))
    }

    func testMeanAndStdFollowColoursInBGROrder() throws {
        let image = try RGBImage(width: 1, height: 1, pixels: [255, 0, 51])
        var prep = Preprocessing(width: 1, height: 1)
        let rgb = try prep.tensor(from: image)
        prep.channelOrder = .bgr
        let bgr = try prep.tensor(from: image)
        XCTAssertEqual(rgb[0], (1 - 0.485) / 0.229, accuracy: 1e-6)
        XCTAssertEqual(rgb, bgr.reversed())
    }

    func testInvalidSettingsAndInputsThrow() throws {
        let image = makeTestImage(width: 4, height: 4)
        assertThrowsImagingError(["std", "non-zero"]) { _ = try Preprocessing(std: [1, 0, 1]).tensor(from: image) }
        assertThrowsImagingError(["mean", "3 values", "got 2"]) { _ = try Preprocessing(mean: [1, 2]).tensor(from: image) }
        assertThrowsImagingError(["output size", "0x5"]) { _ = try Preprocessing(width: 0, height: 5).tensor(from: image) }
        assertThrowsImagingError(["empty"]) { _ = try Preprocessing().tensor(from: RGBImage(width: 0, height: 3)) }
        assertThrowsImagingError(["batch is empty"]) { _ = try Preprocessing().batch([]) }
        assertThrowsImagingError(["positive"]) { _ = try image.resized(width: 0, height: 3) }
    }

    func testResizeToSameSizeIsIdentityAndUniformStaysUniform() throws {
        let image = makeTestImage(width: 9, height: 7)
        XCTAssertEqual(try image.resized(width: 9, height: 7), image)
        let flat = RGBImage(width: 33, height: 17, fill: (200, 10, 77))
        for (w, h) in [(5, 3), (100, 50), (33, 4), (2, 17)] {
            let r = try flat.resized(width: w, height: h)
            XCTAssertEqual(r, RGBImage(width: w, height: h, fill: (200, 10, 77)), "\(w)x\(h)")
        }
    }

    /// Per-image standardisation (FaceNet's prewhiten): each image by its own mean and std of
    /// its raw values, the std floored at 1/√n; scale, mean and std are not used.
    func testPerImageStandardisation() throws {
        var image = RGBImage(width: 2, height: 2)
        let values: [UInt8] = [0, 10, 20, 30, 40, 50, 60, 70, 80, 90, 100, 110]
        image.pixels = values
        let prep = Preprocessing(centerCrop: false, width: 2, height: 2, scale: 7, mean: [3], std: [5], layout: .nhwc, perImageStandardisation: true)
        let out = try prep.tensor(from: image)
        let mean = 55.0, std = (values.map { (Double($0) - mean) * (Double($0) - mean) }.reduce(0, +) / 12).squareRoot()
        for (o, v) in zip(out, values) { XCTAssertEqual(Double(o), (Double(v) - mean) / std, accuracy: 1e-5) }
        // A flat image: the floor 1/√n keeps it finite (all zeros).
        let flat = try prep.tensor(from: RGBImage(width: 2, height: 2, fill: (9, 9, 9)))
        XCTAssertEqual(flat, [Float](repeating: 0, count: 12))
    }
}
