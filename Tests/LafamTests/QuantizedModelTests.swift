import Lafam
import LafamTestSupport
import XCTest

/// The bundled MobileNetV2 as it is deployed: quantized by onnxruntime's quantizer (QDQ,
/// QOperator, dynamic) and converted to float16 (tools/fixtures/make_quantized_fixtures.py),
/// run on the four sample photos against onnxruntime's outputs, tapped, and explained.
final class QuantizedModelTests: XCTestCase {
    static let variants = ["qdq", "qoperator", "dynamic", "float16"]

    /// The photos as the fixture script feeds them: (pixels / 255 − mean) / std, NCHW float32.
    func samples() throws -> Tensor {
        let rgb = try Fixtures.tensor("quantized/samples.pixels.npy").numericValues()
        let (n, size) = (4, 224 * 224)
        let mean: [Float] = [0.485, 0.456, 0.406], std: [Float] = [0.229, 0.224, 0.225]
        var x = [Float](repeating: 0, count: n * 3 * size)
        for b in 0..<n { for p in 0..<size { for c in 0..<3 {
            x[(b * 3 + c) * size + p] = (Float(rgb[(b * size + p) * 3 + c]) / 255 - mean[c]) / std[c]
        } } }
        return try Tensor(shape: [n, 3, 224, 224], floats: x)
    }

    func model(_ variant: String) throws -> Model {
        try Model(path: Fixtures.path("quantized/mobilenet_v2.\(variant).onnx"), options: ModelOptions(threads: 1))
    }

    func topClasses(_ logits: [Float]) -> [Int] {
        (0..<4).map { b in (0..<1000).max { logits[b * 1000 + $0] < logits[b * 1000 + $1] }! }
    }

    /// Logits against onnxruntime's, each variant to its own bar (SPEC.md, "Quantized and
    /// half-precision models"): QOperator to the bit (integer kernels and onnxruntime's
    /// requantization), dynamic to float rounding, float16 within float16 rounding (2⁻⁸ of the
    /// largest logit). A QDQ graph is float ops between quantizers: float rounding flips some
    /// roundings of each quantizer and the flips add up, so onnxruntime's own optimised and
    /// unoptimised runs differ by 14 output steps here and on image 4's top class; lafam's run
    /// must stay within twice that spread of both. The top class is onnxruntime's wherever its
    /// two runs agree.
    func testLogitsMatchOnnxruntime() throws {
        let x = try samples()
        for variant in Self.variants {
            let logits = try XCTUnwrap(try model(variant).run(x).outputs["logits"]).floatValues()
            let optimised = try Fixtures.tensor("quantized/mobilenet_v2.\(variant).logits.npy").floatValues()
            let plain = try Fixtures.tensor("quantized/mobilenet_v2.\(variant).logits.unoptimised.npy").floatValues()
            let largest = optimised.map(abs).max()!
            let bar: Float
            switch variant {
            case "qoperator": bar = 0
            case "dynamic": bar = 1e-5 * largest
            case "qdq": bar = 2 * maxAbsDifference(optimised, plain)
            default: bar = largest / 256
            }
            for reference in [optimised, plain] {
                XCTAssertLessThanOrEqual(maxAbsDifference(logits, reference), bar, variant)
            }
            for (image, (own, (a, b))) in zip(topClasses(logits), zip(topClasses(optimised), topClasses(plain))).enumerated() where a == b {
                XCTAssertEqual(own, a, "\(variant) image \(image)")
            }
        }
    }

    /// A tapped quantized tensor comes as its real values, with its integers beside them, equal
    /// to onnxruntime's integers.
    func testQuantizedTapsAreDequantized() throws {
        let m = try model("qoperator")
        let target = "/features/features.18/features.18.0/Conv_output_0_quantized"
        XCTAssertEqual(m.graph.values[try XCTUnwrap(m.defaultTarget)].name, target)
        let result = try m.run(try samples(), taps: [target])
        let raw = try XCTUnwrap(result.rawTaps[target]), real = try XCTUnwrap(result.taps[target])
        XCTAssertEqual(raw.dtype, .uint8)
        XCTAssertEqual(real.dtype, .float32)
        XCTAssertEqual(try raw.numericValues(), try Fixtures.tensor("quantized/mobilenet_v2.qoperator.target.npy").numericValues())
        let q = try XCTUnwrap(m.graph.quantization(of: m.graph.valueIndex[target]!))
        let scale = try XCTUnwrap(m.graph.constant(q.scale)).floatValues()[0]
        let zero = Float(try XCTUnwrap(q.zeroPoint.flatMap(m.graph.constant)).numericValues()[0])
        let first = Float(try raw.numericValues()[0])
        XCTAssertEqual(try real.floatValues()[0], (first - zero) * scale)
    }

    /// Grad-CAM and LaFAM run on every variant at its default target (gradients through the
    /// integer ops and QDQ pairs), and each variant's maps agree with the float32 model's.
    func testExplanationsAgreeWithTheFloatModel() throws {
        let x = try samples()
        let float = try Model(path: Fixtures.mobilenet, options: ModelOptions(threads: 1))
        func maps(_ m: Model) throws -> (gradcam: [Float], lafam: [Float]) {
            let layer = m.graph.values[try XCTUnwrap(m.defaultTarget)].name
            let gradcam = try GradCAM(.gradcam, target: .logit(classes: [450, 285, 967, 682])).explain(x, model: m, target: layer)
            let lafam = try LaFAM().explain(x, model: m, target: layer)
            return (try gradcam.raw.floatValues(), try lafam.raw.floatValues())
        }
        let reference = try maps(float)
        for variant in Self.variants {
            let own = try maps(try model(variant))
            for (name, a, b) in [("gradcam", own.gradcam, reference.gradcam), ("lafam", own.lafam, reference.lafam)] {
                for image in 0..<4 {
                    let range = (image * 49)..<((image + 1) * 49)
                    let agreement = try MapAgreement(Array(a[range]), Array(b[range]))
                    XCTAssertGreaterThan(agreement.spearman, 0.8, "\(variant) \(name) image \(image)")
                }
            }
        }
    }

    /// A quantized transformer (tiny ViT: DynamicQuantizeLinear, MatMulInteger; QDQ) and detector
    /// (YOLO-style: also QOperator with QLinearSigmoid, QLinearMul, QLinearConcat, QLinearAdd)
    /// against onnxruntime; the int8 detector still decodes its detections and explains them.
    func testQuantizedTransformerAndDetector() throws {
        for (stem, kinds) in [("tiny_vit", ["dynamic", "qdq"]), ("torch_detector", ["dynamic", "qdq", "qoperator"])] {
            let x = try Fixtures.tensor("models/\(stem).input_0.npy")
            for kind in kinds {
                let m = try Model(path: Fixtures.path("quantized/\(stem).\(kind).onnx"), options: ModelOptions(threads: 1))
                let output = try XCTUnwrap(try m.run(x).outputs[m.outputs[0].name]).floatValues()
                let optimised = try Fixtures.tensor("quantized/\(stem).\(kind).output.npy").floatValues()
                let plain = try Fixtures.tensor("quantized/\(stem).\(kind).output.unoptimised.npy").floatValues()
                let bar = max(kind == "qdq" ? 2 * maxAbsDifference(optimised, plain) : 0, 1e-5 * max(1, optimised.map(abs).max()!))
                XCTAssertLessThanOrEqual(maxAbsDifference(output, plain), bar, "\(stem).\(kind)")
            }
        }
        let detector = try Model(path: Fixtures.path("quantized/torch_detector.qoperator.onnx"), options: ModelOptions(threads: 1))
        let head = try XCTUnwrap(detector.detectionHead)
        let x = try Fixtures.tensor("models/torch_detector.input_0.npy")
        let found = try head.decode(try detector.run(x).outputs[head.output]!, scoreThreshold: 0)
        XCTAssertEqual(found.map { $0[0].classIndex }, [0, 0], "the float detector's best classes (DetectionTests)")
        let goal = try detector.gradientTarget(for: .detection(head: head, detections: found.map { $0[0] }), input: x)
        // The body's last map, which the head's QLinearConv reads (uint8, explained as its real values).
        let g = detector.graph
        let body = try XCTUnwrap(g.nodes.last { $0.opType == "QLinearConv" }?.inputs[0])
        let e = try GradCAM(.gradcam, target: goal.target).explain(x, model: detector, target: g.values[body].name)
        let float = try Model(path: Fixtures.path("models/torch_detector.onnx"), options: ModelOptions(threads: 1))
        let reference = try GradCAM(.gradcam, target: goal.target).explain(x, model: float, target: "/body/body.3/Relu_output_0")
        for image in 0..<2 {
            let range = (image * 256)..<((image + 1) * 256)
            let agreement = try MapAgreement(Array(try e.raw.floatValues()[range]), Array(try reference.raw.floatValues()[range]))
            XCTAssertGreaterThan(agreement.spearman, 0.9, "int8 detection \(image)'s Grad-CAM against the float detector's")
        }
    }

    func testMapAgreement() throws {
        let a = try MapAgreement([1, 2, 3, 4], [1, 3, 2, 4], fraction: 0.5)
        XCTAssertEqual(a.spearman, 0.8, accuracy: 1e-12)
        XCTAssertEqual(a.topOverlap, 0.5, "the top two pixels: {3, 2} and {3, 1}")
        // scipy.stats.spearmanr([1, 1, 2], [1, 2, 3]) = 0.8660254: ties take their average rank.
        XCTAssertEqual(try MapAgreement([1, 1, 2], [1, 2, 3]).spearman, 0.8660254037844386, accuracy: 1e-12)
        XCTAssertTrue(try MapAgreement([1, 1], [1, 2]).spearman.isNaN)
        XCTAssertThrowsError(try MapAgreement([1], [1, 2]))
    }
}
