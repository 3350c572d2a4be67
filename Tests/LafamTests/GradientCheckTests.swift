import Foundation
import Lafam
import XCTest

/// Finite-difference checks of every gradient rule, on the op fixture models
/// (Tests/Fixtures/ops): L = Σ_k Σ w_k ⊙ y_k with fixed random weights; the autodiff gradient of
/// L with respect to each float graph input is compared with central differences (step 1e-2)
/// at up to 12 elements per input, skipping elements where the one-sided differences disagree
/// (a kink of ReLU, max, clip lies inside the step). Tolerance: 1e-2 · max(1, |numeric|).
final class GradientCheckTests: XCTestCase {
    func testEveryDifferentiableOpFixtureAgreesWithFiniteDifferences() throws {
        let dir = Fixtures.path("ops")
        let cases = try FileManager.default.contentsOfDirectory(atPath: dir).filter {
            FileManager.default.fileExists(atPath: "\(dir)/\($0)/model.onnx")
        }.sorted()
        var checked = 0, elements = 0
        var opsChecked = Set<String>(), withoutRule: [String: String] = [:]
        for name in cases {
            let model = try Model(path: "\(dir)/\(name)/model.onnx")
            var feeds: [String: Tensor] = [:]
            for (i, input) in model.inputs.enumerated() { feeds[input.name] = try Fixtures.tensor("ops/\(name)/input_\(i).npy") }
            let floatInputs = model.inputs.map(\.name).filter { feeds[$0]!.dtype == .float32 && feeds[$0]!.count > 0 }
            let outputs = try model.run(feeds).outputs
            let outputNames = model.outputs.map(\.name).filter { outputs[$0]!.dtype == .float32 && outputs[$0]!.count > 0 }
            guard !floatInputs.isEmpty, !outputNames.isEmpty else { continue }
            var rng = SplitMix64(seed: UInt64(name.utf8.reduce(7) { $0 &* 31 &+ UInt64($1) }))
            var weights: [String: Tensor] = [:]
            for o in outputNames {
                let y = outputs[o]!
                weights[o] = Tensor(shape: y.shape, floats: (0..<y.count).map { _ in rng.uniform() * 2 - 1 })
            }
            func loss(_ f: [String: Tensor]) throws -> Double {
                let ys = try model.run(f).outputs
                return outputNames.reduce(0.0) { total, o in
                    total + zip(ys[o]!.floats, weights[o]!.floats).reduce(0.0) { $0 + Double($1.0) * Double($1.1) }
                }
            }
            let analytic: GradientResult
            do {
                analytic = try model.gradients(feeds, target: .seeds(weights), withRespectTo: floatInputs)
            } catch let LafamError.unsupported(message) {
                withoutRule[name] = message
                continue
            }
            for inputName in floatInputs {
                let x = feeds[inputName]!
                let grad = analytic.gradients[inputName]!
                XCTAssertEqual(grad.shape, x.shape, "\(name): gradient shape of \(inputName)")
                let step = max(1, x.count / 12)
                for i in stride(from: 0, to: x.count, by: step) {
                    let eps: Float = 1e-2
                    func shifted(_ delta: Float) throws -> Double {
                        var v = x.floats
                        v[i] += delta
                        var f = feeds
                        f[inputName] = Tensor(shape: x.shape, floats: v)
                        return try loss(f)
                    }
                    let (plus, minus, centre) = (try shifted(eps), try shifted(-eps), try loss(feeds))
                    let right = (plus - centre) / Double(eps), left = (centre - minus) / Double(eps)
                    if abs(right - left) > 0.05 * max(1, abs(right), abs(left)) { continue }
                    let numeric = (plus - minus) / Double(2 * eps)
                    let value = Double(grad.floats[i])
                    XCTAssertLessThanOrEqual(abs(value - numeric), 1e-2 * max(1, abs(numeric)),
                                             "\(name): d/d\(inputName)[\(i)] autodiff \(value), finite difference \(numeric)")
                    elements += 1
                }
            }
            checked += 1
            opsChecked.formUnion(model.graph.nodes.map(\.opType))
        }
        print("gradient checks: \(checked) models, \(elements) elements; ops: \(opsChecked.sorted().joined(separator: ", "))")
        if !withoutRule.isEmpty { print("without a gradient rule: " + withoutRule.map { "\($0.key) (\($0.value))" }.sorted().joined(separator: "; ")) }
        let required: Set<String> = ["Conv", "Gemm", "MatMul", "MaxPool", "AveragePool", "GlobalAveragePool", "BatchNormalization",
                                     "Relu", "Clip", "HardSigmoid", "HardSwish", "Sigmoid", "Erf", "Gelu", "Softmax", "LayerNormalization",
                                     "Add", "Sub", "Mul", "Div", "Pow", "Concat", "Split", "Slice", "Reshape", "Flatten", "Transpose",
                                     "Squeeze", "Unsqueeze", "Pad", "ReduceMean", "Sum", "Identity", "Dropout", "Resize"]
        XCTAssertEqual(required.subtracting(opsChecked), [], "ops whose gradient rule no fixture exercised")
    }
}
