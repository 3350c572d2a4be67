import Foundation
import Lafam
import LafamTestSupport
import XCTest

/// LaFAM on the bundled model against the channel mean of onnxruntime's target tensor
/// (tools/fixtures/make_reference_fixtures.py), and its default target.
final class LaFAMTests: XCTestCase {
    static let model = try! Model(path: Fixtures.mobilenet)
    static let stems = ["astronaut", "chelsea", "coffee", "rocket"]
    nonisolated(unsafe) static let expected = try! JSONSerialization.jsonObject(
        with: Data(contentsOf: URL(fileURLWithPath: Fixtures.path("mobilenet_v2/expected.json")))) as! [String: Any]
    var model: Model { Self.model }

    func testLaFAMRawMapEqualsChannelMeanOfOnnxRuntimeTarget() throws {
        for stem in Self.stems {
            let x = try Fixtures.tensor("mobilenet_v2/\(stem).input.npy")
            let e = try LaFAM().explain(x, model: model, target: nil)
            XCTAssertEqual(e.targetTensor, Self.expected["targetTensor"] as? String)
            let reference = try Fixtures.tensor("mobilenet_v2/\(stem).target_mean.npy")
            XCTAssertEqual(e.raw.shape, reference.shape)
            XCTAssertLessThanOrEqual(maxAbsDifference(e.raw.floats, reference.floats), 1e-5, stem)
            XCTAssertEqual(e.maps.shape, [1, 224, 224])
            XCTAssertEqual(e.maps.floats.min()!, 0, accuracy: 1e-6)
            XCTAssertEqual(e.maps.floats.max()!, 1, accuracy: 1e-6)
        }
    }

    func testDefaultTargetIsTheLastFeatureMapBeforePooling() throws {
        let target = model.graph.values[try XCTUnwrap(model.defaultTarget)]
        XCTAssertEqual(target.name, Self.expected["targetTensor"] as? String)
        XCTAssertEqual(target.facts?.shape, [.symbol("batch"), .known(1280), .known(7), .known(7)])
    }

    func testBatchOfFourGivesOneMapPerImage() throws {
        let stacked = try Self.stems.flatMap { try Fixtures.tensor("mobilenet_v2/\($0).input.npy").floats }
        let maps = try LaFAM().explain(Tensor(uncheckedShape: [4, 3, 224, 224], floats: stacked), model: model, target: nil)
        XCTAssertEqual(maps.raw.shape, [4, 7, 7])
        XCTAssertEqual(maps.maps.shape, [4, 224, 224])
    }

    func testReductionsAndBilinearUpsampling() throws {
        let x = try Fixtures.tensor("mobilenet_v2/coffee.input.npy")
        let target = try model.run(x, taps: [Self.expected["targetTensor"] as! String]).taps.values.first!
        let v = target.floats
        let plane = 49, channels = 1280
        for (reduction, transform) in [(LaFAM.Reduction.reluMean, { (x: Float) in max(x, 0) }), (.absMean, { abs($0) })] {
            let e = try LaFAM(reduction: reduction, upsampling: .bilinear).explain(x, model: model, target: nil)
            for i in 0..<plane {
                var sum: Float = 0
                for c in 0..<channels { sum += transform(v[c * plane + i]) }
                XCTAssertEqual(e.raw.floats[i], sum / Float(channels), accuracy: 1e-4)
            }
            XCTAssertEqual(e.maps.shape, [1, 224, 224])
        }
    }
}
