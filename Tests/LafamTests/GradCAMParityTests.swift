import Foundation
import Lafam
import LafamTestSupport
import XCTest

/// Autodiff and the Grad-CAM family against PyTorch and pytorch-grad-cam 1.5.7
/// (tools/fixtures/make_gradcam_fixtures.py): the bundled MobileNetV2 on real photos, and a small network
/// whose head is not "global pooling + linear" (SE block, upsampling, concat, conv head).
final class GradCAMParityTests: XCTestCase {
    static let model = try! Model(path: Fixtures.mobilenet)
    static let layer = "/features/features.18/features.18.2/Clip_output_0"
    nonisolated(unsafe) static let expected = try! JSONSerialization.jsonObject(
        with: Data(contentsOf: URL(fileURLWithPath: Fixtures.path("gradcam/expected.json")))) as! [String: Any]

    /// max |a − e| relative to max |e|.
    func relativeError(_ a: Tensor, _ e: Tensor, file: StaticString = #filePath, line: UInt = #line) -> Float {
        XCTAssertEqual(a.shape, e.shape, file: file, line: line)
        let scale = max(e.floats.map(abs).max() ?? 0, 1e-12)
        return maxAbsDifference(a.floats, e.floats) / scale
    }

    func testGradientsOfTheTopLogitAndProbabilityMatchPyTorch() throws {
        for stem in ["coffee", "chelsea"] {
            let x = try Fixtures.tensor("mobilenet_v2/\(stem).input.npy")
            let logit = try Self.model.gradients(x, target: .logit(classes: nil), withRespectTo: [Self.layer])
            let images = Self.expected["images"] as! [String: [String: Any]]
            XCTAssertEqual(logit.classes, [(images[stem]!["class"] as! NSNumber).intValue])
            XCTAssertLessThanOrEqual(relativeError(logit.values[Self.layer]!, try Fixtures.tensor("gradcam/\(stem).activations.npy")), 1e-4)
            XCTAssertLessThanOrEqual(relativeError(logit.gradients[Self.layer]!, try Fixtures.tensor("gradcam/\(stem).gradients.npy")), 1e-4, stem)
            let probability = try Self.model.gradients(x, target: .probability(classes: nil), withRespectTo: [Self.layer])
            XCTAssertLessThanOrEqual(relativeError(probability.gradients[Self.layer]!, try Fixtures.tensor("gradcam/\(stem).softmax_gradients.npy")), 1e-3, stem)
        }
        // Through 35 ReLU6s to the input: the exported graph has BatchNorm folded into the convs, so a
        // pre-activation within rounding of 0 or 6 can fall on the other side than in PyTorch and
        // flip a few elements' paths (32 of 150,528 differ by more than 1e-3 of the maximum).
        let x = try Fixtures.tensor("mobilenet_v2/coffee.input.npy")
        let input = try Self.model.gradients(x, target: .logit(classes: nil), withRespectTo: ["input"]).gradients["input"]!
        let reference = try Fixtures.tensor("gradcam/coffee.input_gradient.npy")
        let l2 = zip(input.floats, reference.floats).reduce(0) { $0 + ($1.0 - $1.1) * ($1.0 - $1.1) }.squareRoot()
            / reference.floats.reduce(0) { $0 + $1 * $1 }.squareRoot()
        XCTAssertLessThanOrEqual(l2, 2e-3)
        XCTAssertLessThanOrEqual(relativeError(input, reference), 1e-2)
    }

    func testRawAndFinalMapsMatchPytorchGradCAM() throws {
        for stem in ["coffee", "chelsea"] {
            let x = try Fixtures.tensor("mobilenet_v2/\(stem).input.npy")
            for variant in GradCAM.Variant.allCases {
                let cam = GradCAM(variant, postprocessing: .pytorchGradCAM)
                let e = try cam.explain(x, model: Self.model, target: nil)
                let raw = try Fixtures.tensor("gradcam/\(stem).\(variant.rawValue).raw.npy")
                XCTAssertLessThanOrEqual(relativeError(e.raw, raw), 1e-4, "\(stem) \(variant.rawValue) raw")
                let finalPath = "gradcam/\(stem).\(variant.rawValue).final.npy"
                if FileManager.default.fileExists(atPath: Fixtures.path(finalPath)) {
                    XCTAssertLessThanOrEqual(maxAbsDifference(e.maps.floats, try Fixtures.tensor(finalPath).floats), 1e-4, "\(stem) \(variant.rawValue) final")
                }
            }
        }
        let chelsea = try Fixtures.tensor("mobilenet_v2/chelsea.input.npy")
        let tabby = try GradCAM(.gradcam, target: .logit(classes: [281]), postprocessing: .pytorchGradCAM).explain(chelsea, model: Self.model, target: nil)
        XCTAssertEqual(tabby.classes, [281])
        XCTAssertLessThanOrEqual(relativeError(tabby.raw, try Fixtures.tensor("gradcam/chelsea.class281.gradcam.raw.npy")), 1e-4)
        XCTAssertLessThanOrEqual(maxAbsDifference(tabby.maps.floats, try Fixtures.tensor("gradcam/chelsea.class281.gradcam.final.npy").floats), 1e-4)
    }

    func testEigenCAMEqualsPytorchGradCAMUpToSign() throws {
        for stem in ["coffee", "chelsea"] {
            let a = try Fixtures.tensor("gradcam/\(stem).activations.npy")
            let ours = EigenCAM().projection(a)
            let theirs = try Fixtures.tensor("gradcam/\(stem).eigencam.projection.npy").floats
            let scale = theirs.map(abs).max()!
            let same = maxAbsDifference(ours, theirs), flipped = maxAbsDifference(ours, theirs.map { -$0 })
            XCTAssertLessThanOrEqual(min(same, flipped) / scale, 1e-3, stem)
            // Our sign makes the projection correlate positively with the channel mean.
            let e = try EigenCAM().explain(try Fixtures.tensor("mobilenet_v2/\(stem).input.npy"), model: Self.model, target: nil)
            let lafam = try LaFAM().explain(try Fixtures.tensor("mobilenet_v2/\(stem).input.npy"), model: Self.model, target: nil)
            let m = lafam.raw.floats.reduce(0, +) / Float(lafam.raw.count)
            XCTAssertGreaterThan(zip(ours, lafam.raw.floats).reduce(0) { $0 + $1.0 * ($1.1 - m) }, 0)
            XCTAssertEqual(e.raw.shape, [1, 7, 7])
        }
    }

    /// Against PyTorch's float64 gradients (checked there against finite differences).
    func testAutodiffThroughANonTrivialHeadMatchesPyTorch() throws {
        let model = try Model(path: Fixtures.path("gradcam/head_model.onnx"))
        let meta = try JSONSerialization.jsonObject(with: Data(contentsOf: URL(fileURLWithPath: Fixtures.path("gradcam/head_model.json")))) as! [String: Any]
        let x = try Fixtures.tensor("gradcam/head_model.input.npy")
        let entries = meta["gradients"] as! [[String: Any]]
        let names = entries.map { $0["tensor"] as! String }
        let classes = (meta["classes"] as! [NSNumber]).map(\.intValue)
        let result = try model.gradients(x, target: .logit(classes: classes), withRespectTo: [model.inputs[0].name] + names)
        XCTAssertEqual(result.classes, classes)
        XCTAssertLessThanOrEqual(relativeError(result.outputs[model.outputs[0].name]!, try Fixtures.tensor("gradcam/head_model.logits.npy")), 1e-4)
        let inputError = relativeError(result.gradients[model.inputs[0].name]!, try Fixtures.tensor("gradcam/head_model.input_gradient.npy"))
        XCTAssertLessThanOrEqual(inputError, 1e-3)
        for (k, name) in names.enumerated() {
            let error = relativeError(result.gradients[name]!, try Fixtures.tensor("gradcam/head_model.grad.\(k).npy"))
            XCTAssertLessThanOrEqual(error, 1e-3, name)
        }
    }
}
