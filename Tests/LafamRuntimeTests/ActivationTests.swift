@testable import LafamOps
import LafamRuntime
import LafamTestSupport
import XCTest

/// Every activation registered in the standard registry: its gradient rule against central
/// differences of its own forward function (step 1e-2, where both one-sided differences agree, so
/// kinks and jumps are left out), at points inside its domain; and it fuses into a Conv's output
/// pass with the same values as the separate op.
final class ActivationTests: XCTestCase {
    /// The registered ops whose op is an `ActivationOp`, with their activations (default attributes).
    func activations() -> [(opType: String, activation: any Activation)] {
        let registry = OperatorRegistry.standard
        return registry.opTypes().compactMap { opType in
            let context = NodeContext(name: opType, opType: opType, opset: 17, inputCount: 1, outputCount: 1, attributes: [:])
            // Other ops may need attributes (MaxPool's kernel_shape): they are not activations.
            return ((try? registry.factory(opType)!(context)) as? ActivationOp).map { (opType, $0.activation) }
        }
    }

    func testGradientsAgreeWithFiniteDifferences() throws {
        let all = activations()
        XCTAssertGreaterThanOrEqual(all.count, 35)
        let points: [Float] = [-2.5, -1.3, -0.7, -0.2, 0.3, 0.8, 1.2, 1.6, 2.9, 4.0]
        for (opType, f) in all {
            var checked = 0
            for x in points {
                let eps: Float = 1e-2
                let (plus, minus, centre) = (Double(f(x + eps)), Double(f(x - eps)), Double(f(x)))
                guard plus.isFinite, minus.isFinite, centre.isFinite else { continue }
                let right = (plus - centre) / Double(eps), left = (centre - minus) / Double(eps)
                if abs(right - left) > 0.05 * max(1, abs(right), abs(left)) { continue }
                let numeric = (plus - minus) / Double(2 * eps)
                let analytic = Double(f.gradient(x: x, y: f(x), dy: 1))
                XCTAssertEqual(analytic, numeric, accuracy: 1e-2 * max(1, abs(numeric)), "\(opType) at \(x)")
                checked += 1
            }
            XCTAssertGreaterThanOrEqual(checked, 3, "\(opType): too few points inside its domain")
        }
    }

    func testEveryActivationFusesIntoAConvExactly() throws {
        var rng = SplitMix64(seed: 9)
        let conv = try Conv(NodeContext(name: "conv", opType: "Conv", opset: 17, inputCount: 3, outputCount: 1,
                                        attributes: ["kernel_shape": .ints([3, 3]), "pads": .ints([1, 1, 1, 1])]))
        let x = Tensor(uncheckedShape: [1, 5, 9, 9], floats: (0..<405).map { _ in rng.normal() * 0.3 })
        let w = Tensor(uncheckedShape: [6, 5, 3, 3], floats: (0..<270).map { _ in rng.normal() * 0.3 })
        let b = Tensor(uncheckedShape: [6], floats: (0..<6).map { _ in rng.normal() })
        let plain = try conv.run([x, w, b], epilogue: ConvEpilogue())
        for (opType, f) in activations() {
            let separate = try ActivationOp(activation: f).run([plain])[0]
            let fused = try conv.run([x, w, b], epilogue: ConvEpilogue(activation: f))
            XCTAssertEqual(fused.floats.map(\.bitPattern), separate.floats.map(\.bitPattern), opType)
        }
    }
}
