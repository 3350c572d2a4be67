import Foundation
import LafamRuntime
import LafamTestSupport
import XCTest

/// The gradient targets beyond class logits, checked against finite differences of the same
/// scalar on the small conv-head network, and the error for an op without a gradient rule.
final class GradientTargetTests: XCTestCase {
    let model = try! Model(path: Fixtures.path("gradcam/head_model.onnx"))

    /// Central differences of `scalar` along `count` input elements vs the autodiff gradient.
    func checkAgainstFiniteDifferences(_ target: GradientTarget, taps: [String] = [], scalar: (RunResult) -> Double,
                                       file: StaticString = #filePath, line: UInt = #line) throws {
        let x = try Fixtures.tensor("gradcam/head_model.input.npy")
        let inputName = model.inputs[0].name
        let grad = try model.gradients(x, target: target, withRespectTo: [inputName]).gradients[inputName]!
        let eps: Float = 1e-2
        var compared = 0
        for i in stride(from: 5, to: x.count, by: x.count / 16) {
            func value(_ delta: Float) throws -> Double {
                var v = x.floats
                v[i] += delta
                return scalar(try model.run(Tensor(uncheckedShape: x.shape, floats: v), taps: taps))
            }
            let (plus, minus, centre) = (try value(eps), try value(-eps), try value(0))
            let right = (plus - centre) / Double(eps), left = (centre - minus) / Double(eps)
            if abs(right - left) > 0.05 * max(1e-3, abs(right), abs(left)) { continue }
            let numeric = (plus - minus) / Double(2 * eps)
            XCTAssertEqual(Double(grad.floats[i]), numeric, accuracy: 1e-2 * max(1e-2, abs(numeric)), "element \(i)", file: file, line: line)
            compared += 1
        }
        XCTAssertGreaterThan(compared, 8, file: file, line: line)
    }

    func testOutputElementTarget() throws {
        let out = model.outputs[0].name
        try checkAgainstFiniteDifferences(.element(tensor: nil, index: [7])) { r in
            let y = r.outputs[out]!.floats
            return Double(y[7]) + Double(y[10 + 7])
        }
    }

    func testProbabilityTarget() throws {
        let out = model.outputs[0].name
        try checkAgainstFiniteDifferences(.probability(classes: [2, 5])) { r in
            let y = r.outputs[out]!.floats
            return (0..<2).reduce(0.0) { total, b in
                let row = y[(b * 10)..<((b + 1) * 10)].map(Double.init)
                let e = row.map { Foundation.exp($0 - row.max()!) }
                return total + e[[2, 5][b]] / e.reduce(0, +)
            }
        }
    }

    func testCosineSimilarityTargetIsLabelFree() throws {
        let tensor = "/cat/Concat_output_0"
        let width = 40 * 8 * 8
        var rng = SplitMix64(seed: 3)
        let reference = Tensor(uncheckedShape: [width], floats: (0..<width).map { _ in rng.uniform() })
        let r = reference.floats.map(Double.init)
        try checkAgainstFiniteDifferences(.cosineSimilarity(tensor: tensor, reference: reference), taps: [tensor]) { result in
            let e = result.taps[tensor]!.floats.map(Double.init)
            return (0..<2).reduce(0.0) { total, b in
                let v = Array(e[(b * width)..<((b + 1) * width)])
                let dot = zip(v, r).reduce(0) { $0 + $1.0 * $1.1 }
                return total + dot / (v.reduce(0) { $0 + $1 * $1 }.squareRoot() * r.reduce(0) { $0 + $1 * $1 }.squareRoot())
            }
        }
    }

    func testAnOpWithoutAGradientRuleIsNamed() throws {
        let lrn = try Model(path: Fixtures.path("ops/lrn_size3_default/model.onnx"))
        let x = try Fixtures.tensor("ops/lrn_size3_default/input_0.npy")
        XCTAssertThrowsMessage(try lrn.gradients(x, target: .element(tensor: nil, index: [0, 0, 0]), withRespectTo: ["x"]),
                               contains: ["no gradient rule for op LRN", "node '"])
    }

    func testBadTargetsAreRejected() throws {
        let x = try Fixtures.tensor("gradcam/head_model.input.npy")
        XCTAssertThrowsMessage(try model.gradients(x, target: .logit(classes: [12]), withRespectTo: ["input"]), contains: ["class 12 is out of range"])
        XCTAssertThrowsMessage(try model.gradients(x, target: .element(tensor: nil, index: [99]), withRespectTo: ["input"]), contains: ["does not fit"])
    }
}
