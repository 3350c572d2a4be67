import Foundation
import LafamRuntime
import LafamTestSupport
import XCTest

/// Finite-difference checks of every gradient rule, on the op fixture models
/// (Tests/Fixtures/ops), one test per fixture (`GradientCheckTests.test_conv_winograd`, listed in
/// OpFixtureCases.swift): L = Σ_k Σ w_k ⊙ y_k with fixed random weights; the autodiff gradient
/// of L with respect to each float graph input is compared with central differences (step 1e-2)
/// at up to 12 elements per input, skipping elements where the one-sided differences disagree (a
/// kink of ReLU, max, clip lies inside the step). Tolerance: 1e-2 · max(1, |numeric|). A fixture
/// with nothing to differentiate, or whose op has no gradient rule by design (SPEC.md §7), is
/// skipped with the reason.
final class GradientCheckTests: XCTestCase {
    /// Ops without a gradient rule (SPEC.md §7): a fixture of one of them must say so, not pass.
    static let withoutRule: Set<String> = ["LRN", "InstanceNormalization", "ArgMax", "ArgMin",
                                           "Equal", "Less", "Greater", "LessOrEqual", "GreaterOrEqual", "And", "Or", "Xor", "Not"]

    func check(_ name: String) throws {
        let model = try Model(path: Fixtures.path("ops/\(name)/model.onnx"))
        let feeds = try OpFixtures.feeds(name, model)
        let floatInputs = model.inputs.map(\.name).filter { feeds[$0]!.dtype == .float32 && feeds[$0]!.count > 0 }
        let outputs = try model.run(feeds).outputs
        let outputNames = model.outputs.map(\.name).filter { outputs[$0]!.dtype == .float32 && outputs[$0]!.count > 0 }
        guard !floatInputs.isEmpty, !outputNames.isEmpty else { throw XCTSkip("no float32 input and output to differentiate") }
        var rng = SplitMix64(seed: UInt64(name.utf8.reduce(7) { $0 &* 31 &+ UInt64($1) }))
        var weights: [String: Tensor] = [:]
        for o in outputNames {
            let y = outputs[o]!
            weights[o] = Tensor(uncheckedShape: y.shape, floats: (0..<y.count).map { _ in rng.uniform() * 2 - 1 })
        }
        let ruleless = Set(model.graph.nodes.map(\.opType)).intersection(Self.withoutRule)
        guard ruleless.isEmpty else {
            XCTAssertThrowsMessage(try model.gradients(feeds, target: .seeds(weights), withRespectTo: floatInputs), contains: ["no gradient rule"])
            throw XCTSkip("\(ruleless.sorted().joined(separator: ", ")) has no gradient rule")
        }
        func loss(_ f: [String: Tensor]) throws -> Double {
            let ys = try model.run(f).outputs
            return outputNames.reduce(0.0) { total, o in
                total + zip(ys[o]!.floats, weights[o]!.floats).reduce(0.0) { $0 + Double($1.0) * Double($1.1) }
            }
        }
        let analytic = try model.gradients(feeds, target: .seeds(weights), withRespectTo: floatInputs)
        var elements = 0
        for inputName in floatInputs {
            let x = feeds[inputName]!
            let grad = try XCTUnwrap(analytic.gradients[inputName])
            XCTAssertEqual(grad.shape, x.shape, "gradient shape of \(inputName)")
            let step = max(1, x.count / 12)
            for i in stride(from: 0, to: x.count, by: step) {
                let eps: Float = 1e-2
                func shifted(_ delta: Float) throws -> Double {
                    var v = x.floats
                    v[i] += delta
                    var f = feeds
                    f[inputName] = Tensor(uncheckedShape: x.shape, floats: v)
                    return try loss(f)
                }
                let (plus, minus, centre) = (try shifted(eps), try shifted(-eps), try loss(feeds))
                let right = (plus - centre) / Double(eps), left = (centre - minus) / Double(eps)
                if abs(right - left) > 0.05 * max(1, abs(right), abs(left)) { continue }
                let numeric = (plus - minus) / Double(2 * eps)
                let value = Double(grad.floats[i])
                XCTAssertLessThanOrEqual(abs(value - numeric), 1e-2 * max(1, abs(numeric)),
                                         "d/d\(inputName)[\(i)]: autodiff \(value), finite difference \(numeric)")
                elements += 1
            }
        }
        XCTAssertGreaterThan(elements, 0, "no element away from a kink was checked")
    }

    /// The ops whose gradient rules the models rely on each have a fixture that checks them.
    func testEveryRequiredRuleHasAFixture() throws {
        let required: Set<String> = ["Conv", "Gemm", "MatMul", "MaxPool", "AveragePool", "GlobalAveragePool", "BatchNormalization",
                                     "Relu", "Clip", "HardSigmoid", "HardSwish", "Sigmoid", "Erf", "Gelu", "Softmax", "LayerNormalization",
                                     "Add", "Sub", "Mul", "Div", "Pow", "Concat", "Split", "Slice", "Reshape", "Flatten", "Transpose",
                                     "Squeeze", "Unsqueeze", "Pad", "ReduceMean", "Sum", "Identity", "Dropout", "Resize"]
        var covered = Set<String>()
        for name in OpFixtures.generated {
            let model = try Model(path: Fixtures.path("ops/\(name)/model.onnx"))
            let hasFloatInput = model.inputs.contains { $0.dtype == .float32 }, hasFloatOutput = model.outputs.contains { $0.dtype == .float32 }
            let ops = Set(model.graph.nodes.map(\.opType))
            if hasFloatInput && hasFloatOutput && ops.isDisjoint(with: Self.withoutRule) { covered.formUnion(ops) }
        }
        XCTAssertEqual(required.subtracting(covered), [], "ops whose gradient rule no fixture checks")
    }
}
