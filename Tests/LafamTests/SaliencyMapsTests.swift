import Lafam
import LafamTestSupport
import XCTest

/// Hand-checked post-processing: min-max normalisation and upsampling.
final class SaliencyMapsTests: XCTestCase {
    func testMinMaxPerImage() {
        let m = Tensor(uncheckedShape: [2, 1, 3], floats: [1, 2, 3, -4, 0, 4])
        let n = SaliencyMaps.minMaxNormalize(m).floats
        for (a, e) in zip(n, [0, 0.5, 1, 0, 0.5, 1] as [Float]) { XCTAssertEqual(a, e, accuracy: 1e-6) }
        // A constant map stays finite (eps keeps the division defined).
        XCTAssertEqual(SaliencyMaps.minMaxNormalize(Tensor(uncheckedShape: [1, 1, 2], floats: [5, 5])).floats, [0, 0])
    }

    func testNearestRepeatsEachCell() {
        let m = Tensor(uncheckedShape: [1, 2, 2], floats: [1, 2, 3, 4])
        let up = SaliencyMaps.upsample(m, height: 4, width: 4, mode: .nearest).floats
        XCTAssertEqual(up, [1, 1, 2, 2, 1, 1, 2, 2, 3, 3, 4, 4, 3, 3, 4, 4])
    }

    func testBilinearHalfPixelCentres() {
        let m = Tensor(uncheckedShape: [1, 1, 2], floats: [0, 1])
        // Output x = 0..3 maps to source (x + 0.5) / 2 − 0.5 = −0.25, 0.25, 0.75, 1.25 → clamped.
        let up = SaliencyMaps.upsample(m, height: 1, width: 4, mode: .bilinear).floats
        for (a, e) in zip(up, [0, 0.25, 0.75, 1] as [Float]) { XCTAssertEqual(a, e, accuracy: 1e-6) }
    }

    func testLayoutDetection() {
        XCTAssertEqual(ImageLayout.detect([.symbol("N"), .known(3), .known(224), .known(224)]), .nchw)
        XCTAssertEqual(ImageLayout.detect([.symbol("N"), .known(224), .known(224), .known(3)]), .nhwc)
    }
}
