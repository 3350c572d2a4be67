import Lafam
import LafamTestSupport
import XCTest

/// The task read from the graph (`Model.inferredTask`): one model of each kind, decided from
/// shapes and ops; the outputs it is read from and a reason in words.
final class ModelTaskTests: XCTestCase {
    func reading(_ fixture: String) throws -> TaskReading {
        try Model(path: Fixtures.path(fixture)).inferredTask
    }

    func testClassifierFromItsLinearLayer() throws {
        let r = try Model(path: Fixtures.mobilenet).inferredTask
        XCTAssertEqual(r.task, .classify)
        XCTAssertEqual(r.outputs, ["logits"])
        XCTAssertTrue(r.reason.contains("Gemm"), r.reason)
        XCTAssertEqual(try reading("models/tiny_vit.onnx").task, .classify)
    }

    func testEmbedderFromItsNormalisationOrPooling() throws {
        let normalised = try reading("models/tiny_embedder.onnx")
        XCTAssertEqual(normalised.task, .embed)
        XCTAssertTrue(normalised.reason.contains("L2-normalised"), normalised.reason)
        let pooled = try reading("models/relax_region.onnx")
        XCTAssertEqual(pooled.task, .embed)
        XCTAssertTrue(pooled.reason.contains("pooled"), pooled.reason)
    }

    func testSegmenterWithDynamicSizes() throws {
        let model = try Model(path: Fixtures.path("models/tiny_segmenter.onnx"))
        XCTAssertEqual(model.outputs[0].shape.count, 4)
        XCTAssertNil(model.outputs[0].shape[2].value, "the size is known only for a given input")
        XCTAssertEqual(try model.outputShapes(forInputShape: [1, 3, 40, 24]).first??.map(\.value), [1, 3, 40, 24])
        let r = model.inferredTask
        XCTAssertEqual(r.task, .segment)
        XCTAssertEqual(r.outputs, ["logits"])
    }

    func testDetectorFromItsBoxAndScoreRows() throws {
        let r = try reading("models/tiny_detector.onnx")
        XCTAssertEqual(r.task, .detect)
        XCTAssertEqual(r.outputs, ["output0"])
        XCTAssertTrue(r.reason.contains("6 box and score rows for each of 1024 candidates"), r.reason)
    }
}
