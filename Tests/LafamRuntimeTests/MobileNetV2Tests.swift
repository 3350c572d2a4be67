import Foundation
import LafamRuntime
import LafamTestSupport
import XCTest

/// The bundled model against onnxruntime on the sample photos (tools/fixtures/make_reference_fixtures.py).
final class MobileNetV2Tests: XCTestCase {
    static let model = try! Model(path: Fixtures.mobilenet)
    static let stems = ["astronaut", "chelsea", "coffee", "rocket"]
    nonisolated(unsafe) static let expected = try! JSONSerialization.jsonObject(
        with: Data(contentsOf: URL(fileURLWithPath: Fixtures.path("mobilenet_v2/expected.json")))) as! [String: Any]
    var model: Model { Self.model }

    func testLogitsAndTop1MatchOnnxRuntime() throws {
        let images = Self.expected["images"] as! [String: [String: Any]]
        for stem in Self.stems {
            let x = try Fixtures.tensor("mobilenet_v2/\(stem).input.npy")
            let logits = try model.run(x).outputs["logits"]!.floats
            let reference = try Fixtures.tensor("mobilenet_v2/\(stem).logits.npy").floats
            let range = reference.max()! - reference.min()!
            XCTAssertLessThanOrEqual(maxAbsDifference(logits, reference), 1e-4 * range, stem)
            let top1 = logits.indices.max { logits[$0] < logits[$1] }!
            let expectedTop1 = ((images[stem]!["top5"] as! [[Any]])[0][0] as! NSNumber).intValue
            XCTAssertEqual(top1, expectedTop1, stem)
        }
    }

    func testTapsReturnIntermediateValuesByNodeOrTensorName() throws {
        let x = try Fixtures.tensor("mobilenet_v2/astronaut.input.npy")
        let tapNode = Self.expected["tapNode"] as! String, tapTensor = Self.expected["tapTensor"] as! String
        let target = Self.expected["targetTensor"] as! String
        var seen: [String] = []
        let result = try model.run(x, taps: [tapNode, target]) { name, _ in seen.append(name) }
        XCTAssertEqual(seen, [tapTensor, target], "callbacks fire in execution order with resolved names")
        XCTAssertNil(mismatch(result.taps[tapTensor]!, try Fixtures.tensor("mobilenet_v2/astronaut.tap.npy"), rtol: 1e-4, atol: 1e-4))
        XCTAssertNil(mismatch(result.taps[target]!, try Fixtures.tensor("mobilenet_v2/astronaut.target.npy"), rtol: 1e-4, atol: 1e-4))
    }

    func testPerTapHandlersSeeTheirOwnValue() throws {
        let x = try Fixtures.tensor("mobilenet_v2/coffee.input.npy")
        var shapes: [String: [Int]] = [:]
        _ = try model.run(x, tapHandlers: [
            "/features/conv.2": { shapes["block"] = $0.shape },
            Self.expected["targetNode"] as! String: { shapes["target"] = $0.shape },
        ])
        XCTAssertEqual(shapes, ["block": [1, 320, 7, 7], "target": [1, 1280, 7, 7]])
    }

    func testBatchOfFourEqualsFourSingleRuns() throws {
        var stacked: [Float] = []
        var singles: [Float] = []
        for stem in Self.stems {
            let x = try Fixtures.tensor("mobilenet_v2/\(stem).input.npy")
            stacked += x.floats
            singles += try model.run(x).outputs["logits"]!.floats
        }
        let batch = try model.run(Tensor(uncheckedShape: [4, 3, 224, 224], floats: stacked)).outputs["logits"]!
        XCTAssertEqual(batch.shape, [4, 1000])
        XCTAssertLessThanOrEqual(maxAbsDifference(batch.floats, singles), 1e-4)
    }

    func testStaticShapesAreInferredWithoutRunning() throws {
        let g = model.graph
        let target = g.values[try g.resolveTensor("/features/features.18/features.18.2/Clip")]
        XCTAssertEqual(target.facts?.shape, [.symbol("batch"), .known(1280), .known(7), .known(7)])
        let firstConv = g.nodes.first { $0.opType == "Conv" }!
        XCTAssertEqual(g.values[firstConv.outputs[0]].facts?.shape, [.symbol("batch"), .known(32), .known(112), .known(112)])
        XCTAssertEqual(model.outputs[0].shape, [.symbol("batch"), .known(1000)])
        XCTAssertEqual(model.classNames?.count, 1000)
        XCTAssertEqual(model.classNames?[967], "espresso")
    }

    func testNodeAbbreviations() throws {
        let g = model.graph
        let full = "/features/features.18/features.18.0/Conv"
        XCTAssertEqual(g.values[try g.resolveTensor(full)].name, full + "_output_0")
        XCTAssertEqual(g.values[try g.resolveTensor("/features.18/features.18.0/Conv")].name, full + "_output_0")
        // Skipped block indices under a named container mean the last block.
        XCTAssertEqual(g.values[try g.resolveTensor("/features/conv.2")].name, "/features/features.17/conv/conv.2/Conv_output_0")
        XCTAssertThrowsMessage(try g.resolveTensor("/conv.2/Conv"), contains: ["matches", "nodes"])
        XCTAssertThrowsMessage(try g.resolveTensor("/features/features.18/Clp"), contains: ["no node or tensor named"])
    }
}
