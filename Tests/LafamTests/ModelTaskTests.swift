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
        let rsqrt = try reading("models/tiny_embedder_rsqrt.onnx")
        XCTAssertEqual(rsqrt.task, .embed, "x · Reciprocal(Sqrt(Max(ReduceSum(x·x)))), as tf2onnx writes l2_normalize")
        XCTAssertTrue(rsqrt.reason.contains("one over its norm"), rsqrt.reason)
        let model = try Model(path: Fixtures.path("models/tiny_embedder_rsqrt.onnx"))
        XCTAssertNil(mismatch(try model.run(try Fixtures.tensor("models/tiny_embedder_rsqrt.input_0.npy")).outputs["embedding"]!,
                              try Fixtures.tensor("models/tiny_embedder_rsqrt.output_0.npy")))
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
        // F.interpolate(size=x.shape[-2:]): the Resize's sizes come from Shape, the output keeps
        // the input's symbols.
        let torch = try Model(path: Fixtures.path("models/torch_segmenter.onnx"))
        XCTAssertEqual(torch.outputs[0].shape, [.symbol("batch"), .known(4), .symbol("height"), .symbol("width")])
    }

    func testDetectorFromItsBoxAndScoreRows() throws {
        let r = try reading("models/tiny_detector.onnx")
        XCTAssertEqual(r.task, .detect)
        XCTAssertEqual(r.outputs, ["output0"])
        XCTAssertTrue(r.reason.contains("6 box and score rows for each of 1024 candidates"), r.reason)
    }
}

/// Gradient methods with a task's goal (`ExplanationGoal`), against pytorch-grad-cam 1.5.7 on the
/// same weights: a segmenter's class over its predicted pixels, an embedding's similarity to a
/// reference image's embedding.
final class ExplanationGoalTests: XCTestCase {
    func assertRawEqual(_ lafam: Tensor, _ fixture: String, file: StaticString = #filePath, line: UInt = #line) throws {
        let reference = try Fixtures.tensor(fixture)
        XCTAssertEqual(lafam.shape, reference.shape, file: file, line: line)
        let scale = max(1, try reference.floatValues().map(abs).max() ?? 0)
        XCTAssertLessThanOrEqual(maxAbsDifference(try lafam.floatValues(), try reference.floatValues()), 1e-4 * scale, file: file, line: line)
        XCTAssertGreaterThan(try reference.floatValues().max() ?? 0, 0, "a map that is not all zero", file: file, line: line)
    }

    func testSegmentClassMatchesSemanticSegmentationTarget() throws {
        let model = try Model(path: Fixtures.path("models/torch_segmenter.onnx"), options: ModelOptions(threads: 1))
        XCTAssertEqual(model.inferredTask.task, .segment)
        let x = try Fixtures.tensor("models/torch_segmenter.input_0.npy")
        // As the fixture chose them: image 0 the class covering most pixels (the default), image 1
        // the least covered class present.
        let pixels = try model.run(x).outputs["output"]!.pixelClasses()
        let plane = pixels.count / 2
        var counts = [[Int]](repeating: [Int](repeating: 0, count: 4), count: 2)
        for (i, k) in pixels.enumerated() { counts[i / plane][k] += 1 }
        let k0 = counts[0].indices.max { counts[0][$0] < counts[0][$1] || (counts[0][$0] == counts[0][$1] && $0 > $1) }!
        let k1 = counts[1].indices.filter { counts[1][$0] > 0 }.min { counts[1][$0] < counts[1][$1] }!
        let defaulted = try model.gradientTarget(for: .segmentClass(output: "output", classes: nil, region: nil), input: x)
        XCTAssertEqual(defaulted.classes?[0], k0)
        let goal = try model.gradientTarget(for: .segmentClass(output: "output", classes: [k0, k1], region: nil), input: x)
        XCTAssertEqual(goal.pixels, [counts[0][k0], counts[1][k1]])
        let e = try GradCAM(.gradcam, target: goal.target).explain(x, model: model, target: "/body/body.3/Relu_output_0")
        try assertRawEqual(e.raw, "models/torch_segmenter.gradcam.raw.npy")
        XCTAssertThrowsError(try model.gradientTarget(for: .segmentClass(output: "output", classes: [7], region: nil), input: x))
    }

    func testSimilarityMatchesSimilarityToConceptTarget() throws {
        let model = try Model(path: Fixtures.path("models/torch_embedder.onnx"), options: ModelOptions(threads: 1))
        XCTAssertEqual(model.inferredTask.task, .embed)
        let x = try Fixtures.tensor("models/torch_embedder.input_0.npy")
        let reference = try model.run(try Fixtures.tensor("models/torch_embedder.reference_input.npy")).outputs["output"]!
        let goal = try model.gradientTarget(for: .similarity(output: "output", reference: reference), input: x)
        let e = try GradCAM(.gradcam, target: goal.target).explain(x, model: model, target: "/body/body.3/Relu_output_0")
        try assertRawEqual(e.raw, "models/torch_embedder.gradcam.raw.npy")
    }

    /// A unit embedding's own norm is 1 everywhere: the norm goal differentiates the vector
    /// before the normalisation, whose gradient is that vector over its norm.
    func testEmbeddingNormOfANormalisedOutputUsesTheVectorBeforeIt() throws {
        let model = try Model(path: Fixtures.path("models/torch_embedder.onnx"), options: ModelOptions(threads: 1))
        let x = try Fixtures.tensor("models/torch_embedder.input_0.npy")
        let goal = try model.gradientTarget(for: .embeddingNorm(output: "output"), input: x)
        guard case .seeds(let seeds) = goal.target, let (name, seed) = seeds.first else { return XCTFail("\(goal.target)") }
        XCTAssertNotEqual(name, "output")
        let vector = try model.run(x, taps: [name]).taps[name]!
        let v = try vector.floatValues(), s = try seed.floatValues()
        for b in 0..<2 {
            let row = v[(b * 6)..<((b + 1) * 6)]
            let norm = row.reduce(0) { $0 + $1 * $1 }.squareRoot()
            for (i, value) in row.enumerated() { XCTAssertEqual(s[b * 6 + i], value / norm, accuracy: 1e-6) }
        }
    }
}

/// Detections decoded from a YOLO-style head and explained one at a time.
final class DetectionTests: XCTestCase {
    func testDecodeKeepsTheBestBoxPerClassAndDropsOverlaps() throws {
        // Rows first [1, 4 + 2, 4]: candidates 0 and 1 overlap (class 0), 2 is class 1, 3 scores too low.
        let rows: [[Float]] = [[10, 11, 40, 30], [10, 10, 40, 30], [8, 8, 8, 8], [8, 8, 8, 8], [0.9, 0.8, 0.1, 0.1], [0.1, 0.2, 0.7, 0.2]]
        let head = DetectionHead(output: "y", layout: .rowsFirst, hasObjectness: false)
        let found = try head.decode(try Tensor(shape: [1, 6, 4], floats: rows.flatMap { $0 }))[0]
        XCTAssertEqual(found.map(\.candidate), [0, 2], "candidate 1 overlaps 0 (IoU 0.78) in its class; 3 is below 0.25")
        XCTAssertEqual(found.map(\.classIndex), [0, 1])
        XCTAssertEqual(found[0].x0, 6); XCTAssertEqual(found[0].y1, 14)
        // The same head candidates first with an objectness row: scores are objectness × class score.
        let transposed: [Float] = (0..<4).flatMap { c -> [Float] in [rows[0][c], rows[1][c], rows[2][c], rows[3][c], 0.5, rows[4][c], rows[5][c]] }
        let v5 = DetectionHead(output: "y", layout: .candidatesFirst, hasObjectness: true)
        let withObjectness = try v5.decode(try Tensor(shape: [1, 4, 7], floats: transposed))[0]
        XCTAssertEqual(withObjectness.map(\.candidate), [0, 2])
        XCTAssertEqual(withObjectness[0].score, 0.45, accuracy: 1e-6)
    }

    func testGradCAMOfADetectionMatchesPytorchGradCAM() throws {
        let model = try Model(path: Fixtures.path("models/torch_detector.onnx"), options: ModelOptions(threads: 1))
        let head = try XCTUnwrap(model.detectionHead)
        XCTAssertEqual(head, DetectionHead(output: "output", layout: .rowsFirst, hasObjectness: false))
        let x = try Fixtures.tensor("models/torch_detector.input_0.npy")
        let found = try head.decode(try model.run(x).outputs["output"]!, scoreThreshold: 0)
        // The fixture's detections: each image's highest class score.
        XCTAssertEqual(found.map { [$0[0].classIndex, $0[0].candidate] }, [[0, 232], [0, 125]])
        let goal = try model.gradientTarget(for: .detection(head: head, detections: found.map { $0[0] }), input: x)
        let e = try GradCAM(.gradcam, target: goal.target).explain(x, model: model, target: "/body/body.3/Relu_output_0")
        let reference = try Fixtures.tensor("models/torch_detector.gradcam.raw.npy")
        XCTAssertEqual(e.raw.shape, reference.shape)
        let scale = max(1, try reference.floatValues().map(abs).max() ?? 0)
        XCTAssertLessThanOrEqual(maxAbsDifference(try e.raw.floatValues(), try reference.floatValues()), 1e-4 * scale)
        XCTAssertGreaterThan(try reference.floatValues().max() ?? 0, 0)
    }

    /// A two-scale head: each detection is explained at its own scale's map (a fine detection's
    /// score does not depend on the coarse map at all: there its gradient is zero).
    func testEachDetectionHasItsScalesMap() throws {
        let model = try Model(path: Fixtures.path("models/torch_two_scale_detector.onnx"), options: ModelOptions(threads: 1))
        let scales = model.detectionScales
        XCTAssertEqual(scales.map(\.tensor), ["/stem/stem.1/Relu_output_0", "/down/down.1/Relu_output_0"])
        XCTAssertEqual(scales.map(\.candidates), [0..<256, 256..<320])
        let x = try Fixtures.tensor("models/torch_two_scale_detector.input_0.npy")
        let head = try XCTUnwrap(model.detectionHead)
        let fine = Detection(x0: 0, y0: 0, x1: 1, y1: 1, classIndex: 1, score: 1, candidate: 37)
        let coarse = Detection(x0: 0, y0: 0, x1: 1, y1: 1, classIndex: 2, score: 1, candidate: 300)
        for (d, own, other) in [(fine, scales[0].tensor, scales[1].tensor), (coarse, scales[1].tensor, scales[0].tensor)] {
            let target = try model.gradientTarget(for: .detection(head: head, detections: [d]), input: x).target
            let g = try model.gradients(x, target: target, withRespectTo: [own, other]).gradients
            XCTAssertTrue(try g[own]!.floatValues().contains { $0 != 0 }, "\(d.candidate) at its own scale")
            if d.candidate < 256 { XCTAssertFalse(try g[other]!.floatValues().contains { $0 != 0 }, "the coarse map does not reach a fine detection") }
        }
        XCTAssertTrue(try Model(path: Fixtures.path("models/torch_detector.onnx")).detectionScales.isEmpty, "one scale without branches")
    }

    /// Boxes and scores as two outputs, named as on the command line: decoded with the boxes'
    /// format and scale, and a detection's Grad-CAM equal to pytorch-grad-cam with the target
    /// scores[candidate, class].
    func testBoxesAndScoresOutputsNamedByTheUser() throws {
        let model = try Model(path: Fixtures.path("models/torch_pair_detector.onnx"), options: ModelOptions(threads: 1))
        XCTAssertEqual(model.inferredTask.task, .detect)
        XCTAssertEqual(model.inferredTask.outputs, ["boxes", "scores"])
        XCTAssertNil(model.detectionHead, "the boxes' format is not in the graph: the user names it")
        let head = DetectionHead(boxes: "boxes", scores: "scores", boxFormat: .xyxy, normalised: true)
        let x = try Fixtures.tensor("models/torch_pair_detector.input_0.npy")
        let outputs = try model.run(x).outputs
        let found = try head.decode(outputs, inputSize: (64, 64), scoreThreshold: 0)
        XCTAssertEqual(found.map { [$0[0].classIndex, $0[0].candidate] }, [[2, 68], [1, 74]])
        let boxes = try outputs["boxes"]!.floatValues()
        XCTAssertEqual(found[0][0].x1, boxes[68 * 4 + 2] * 64, accuracy: 1e-4, "pixels of the 64×64 input")
        let goal = try model.gradientTarget(for: .detection(head: head, detections: found.map { $0[0] }), input: x)
        let e = try GradCAM(.gradcam, target: goal.target).explain(x, model: model, target: "/body/body.3/Relu_output_0")
        let reference = try Fixtures.tensor("models/torch_pair_detector.gradcam.raw.npy")
        let scale = max(1, try reference.floatValues().map(abs).max() ?? 0)
        XCTAssertLessThanOrEqual(maxAbsDifference(try e.raw.floatValues(), try reference.floatValues()), 1e-4 * scale)
        XCTAssertGreaterThan(try reference.floatValues().max() ?? 0, 0)
    }

    /// A fully convolutional face detector with real weights (MTCNN's P-Net): its grid head is
    /// read from the graph (12-pixel windows every 2 pixels, face channel 1 after a background),
    /// each image's best face cell decodes to facenet-pytorch's window moved by its offsets, and
    /// its Grad-CAM equals pytorch-grad-cam's with the target probs[1, y, x].
    func testGridHeadOfMTCNNsPNet() throws {
        let model = try Model(path: Fixtures.path("models/mtcnn_pnet.onnx"), options: ModelOptions(threads: 1))
        let head = try XCTUnwrap(model.detectionHead)
        XCTAssertEqual(head.cells, CellWindow(stride: [2, 2], size: [12, 12], offset: [0, 0]))
        XCTAssertTrue(head.hasBackground)
        XCTAssertEqual(model.graph.values[try XCTUnwrap(model.defaultTarget)].name, "/prelu3/PRelu_output_0", "where the box and face convs branch")
        let x = try Fixtures.tensor("models/mtcnn_pnet.input_0.npy")
        let found = try head.decode(try model.run(x).outputs, inputSize: (64, 64), scoreThreshold: 0)
        let expected = try Fixtures.tensor("models/mtcnn_pnet.detections.npy").floatValues()
        for b in 0..<2 {
            let d = found[b][0], row = Array(expected[(b * 6)..<(b * 6 + 6)])
            XCTAssertEqual(d.classIndex, 1, "the background is never a detection")
            XCTAssertEqual(d.candidate, Int(row[5]))
            XCTAssertEqual(d.score, row[4], accuracy: 1e-5)
            for (edge, value) in zip([d.x0, d.y0, d.x1, d.y1], row) { XCTAssertEqual(edge, value, accuracy: 1e-3) }
        }
        XCTAssertGreaterThan(found[0][0].score, 0.9, "a face in the astronaut photo")
        let goal = try model.gradientTarget(for: .detection(head: head, detections: found.map { $0[0] }), input: x)
        let e = try GradCAM(.gradcam, target: goal.target).explain(x, model: model, target: "/prelu3/PRelu_output_0")
        let reference = try Fixtures.tensor("models/mtcnn_pnet.gradcam.raw.npy")
        XCTAssertEqual(e.raw.shape, reference.shape)
        let scale = max(1, try reference.floatValues().map(abs).max() ?? 0)
        XCTAssertLessThanOrEqual(maxAbsDifference(try e.raw.floatValues(), try reference.floatValues()), 1e-4 * scale)
        XCTAssertGreaterThan(try reference.floatValues().max() ?? 0, 0)
    }

    /// Cell windows follow each op's declared reach: padding moves a window's start into the
    /// padding, and an op without a fixed window (global pooling) has none.
    func testCellWindowsThroughConvsAndPools() throws {
        let pnet = try Model(path: Fixtures.path("models/mtcnn_pnet.onnx")).graph
        XCTAssertEqual(pnet.cellWindow(of: pnet.valueIndex["/pool1/MaxPool_output_0"]!), CellWindow(stride: [2, 2], size: [4, 4], offset: [0, 0]))
        let detector = try Model(path: Fixtures.path("models/torch_detector.onnx")).graph
        // Two 3×3 stride-2 convs with padding 1: windows of 3 + 2·2 = 7 pixels every 4, starting at −1 − 2 = −3.
        XCTAssertEqual(detector.cellWindow(of: detector.valueIndex["/body/body.3/Relu_output_0"]!), CellWindow(stride: [4, 4], size: [7, 7], offset: [-3, -3]))
        let classifier = try Model(path: Fixtures.path("models/torch_embedder.onnx")).graph
        XCTAssertNil(classifier.cellWindow(of: classifier.outputs[0]), "a pooled vector has no cell window")
    }
}
