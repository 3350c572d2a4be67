@testable import Lafam
import XCTest

/// Fusing a Conv's residual Add and activation into its output pass must not change anything a
/// user can see: outputs, taps inside a fused region and gradients through it are bit-identical
/// to running every node on its own; a folded BatchNormalization changes rounding only, and taps
/// stay exact.
final class OutputPassFusionTests: XCTestCase {
    let models = [Fixtures.mobilenet, Fixtures.path("ops/graph_residual/model.onnx"), Fixtures.path("ops/graph_residual_relu/model.onnx"),
                  Fixtures.path("gradcam/head_model.onnx"), Fixtures.path("ops/graph_conv_hardswish/model.onnx"),
                  Fixtures.path("ops/graph_conv_silu/model.onnx")]

    func input(for model: Model, batch: Int = 2) -> Tensor {
        let shape = [batch] + model.inputs[0].shape.dropFirst().map { $0.value! }
        var rng = SplitMix64(seed: 7)
        return Tensor(shape: shape, floats: (0..<Tensor.count(of: shape)).map { _ in rng.normal() })
    }

    func regions(_ model: Model, _ x: Tensor) throws -> [OutputPassFusion] {
        let (_, executor) = try model.executor(for: try model.checkedShapes([model.inputs[0].name: x]))
        return executor.steps.compactMap { if case .fused(let f) = $0 { return f } else { return nil } }
    }

    /// Bit for bit, or, where a BatchNormalization is folded into Conv weights (the Grad-CAM head
    /// fixture), within rounding: 1e-5 of the tensor's largest magnitude.
    func assertEqual(_ a: Tensor?, _ b: Tensor, exactly: Bool, _ message: String) {
        guard let a else { return XCTFail("\(message): missing") }
        if exactly {
            XCTAssertEqual(a.floats, b.floats, message)
        } else {
            XCTAssertLessThanOrEqual(maxAbsDifference(a.floats, b.floats), 1e-5 * b.floats.map(abs).max()!, message)
        }
    }

    func testFusedRunsEqualUnfusedRunsBitForBit() throws {
        var kinds = Set<String>()
        for path in models {
            let fused = try Model(path: path), plain = try Model(path: path, fuseOutputPasses: false)
            let x = input(for: fused)
            let found = try regions(fused, x)
            XCTAssertFalse(found.isEmpty, "\(path): no fused region")
            for f in found {
                let activation: String
                switch f.activation {
                case .relu?: activation = "relu"
                case .clip?: activation = "clip"
                case .hardSwish?: activation = "hardswish"
                case .silu?: activation = "silu"
                case nil: activation = ""
                }
                kinds.insert((f.residual != nil ? "add" : "") + activation)
            }
            XCTAssertTrue(try regions(plain, x).isEmpty)
            let a = try fused.run(x), b = try plain.run(x)
            for (name, t) in b.outputs { assertEqual(a.outputs[name], t, exactly: !found.contains { $0.folded != nil }, "\(path): output \(name)") }
        }
        XCTAssertEqual(kinds, ["add", "relu", "clip", "hardswish", "silu", "addrelu", "addclip", "addhardswish", "addsilu"],
                       "the fixtures exercise every fused combination")
    }

    func testTapsInsideFusedRegionsEqualUnfusedValues() throws {
        for path in models {
            let fused = try Model(path: path), plain = try Model(path: path, fuseOutputPasses: false)
            let x = input(for: fused)
            let (graph, _) = try fused.executor(for: try fused.checkedShapes([fused.inputs[0].name: x]))
            let hidden = try regions(fused, x).flatMap(\.hidden).prefix(6).map { graph.values[$0].name }
            XCTAssertFalse(hidden.isEmpty)
            let a = try fused.run(x, taps: hidden), b = try plain.run(x, taps: hidden)
            for name in hidden { XCTAssertEqual(a.taps[name]?.floats, b.taps[name]?.floats, "\(path): tap \(name)") }
            for (name, t) in b.outputs { XCTAssertEqual(a.outputs[name]?.floats, t.floats) }
        }
    }

    func testGradientsThroughFusedRegionsEqualUnfused() throws {
        for path in [Fixtures.mobilenet, Fixtures.path("ops/graph_residual_relu/model.onnx"), Fixtures.path("gradcam/head_model.onnx"),
                     Fixtures.path("ops/graph_conv_hardswish/model.onnx"), Fixtures.path("ops/graph_conv_silu/model.onnx")] {
            let fused = try Model(path: path), plain = try Model(path: path, fuseOutputPasses: false)
            let x = input(for: fused)
            let (graph, _) = try fused.executor(for: try fused.checkedShapes([fused.inputs[0].name: x]))
            let regions = try regions(fused, x)
            // The input of an early region's Conv and a region output: backward crosses fused regions.
            let names = [graph.values[regions[1].output].name, graph.values[regions[regions.count / 2].output].name]
            let target: GradientTarget = fused.outputs[0].shape.count == 2 ? .logit(classes: nil) : .element(tensor: nil, index: [3, 2, 2])
            let a = try fused.gradients(x, target: target, withRespectTo: names)
            let b = try plain.gradients(x, target: target, withRespectTo: names)
            for name in names {
                assertEqual(a.gradients[name], b.gradients[name]!, exactly: !regions.contains { $0.folded != nil }, "\(path): gradient at \(name)")
                XCTAssertNotEqual(a.gradients[name]?.floats.contains { $0 != 0 }, false)
            }
        }
    }

    /// A BatchNormalization, or a Mul/Add by a per-channel constant, after a Conv is folded into the
    /// Conv's weights: the result differs from the separate nodes' by rounding only, and a tap on
    /// the Conv's own output (or on a folded node's) gets the exact unfused value.
    func testFoldedAffineNodesMatchTheSeparateNodes() throws {
        for (fixture, nodes) in [("graph_conv_bn", [2, 2]), ("graph_conv_scale_shift", [3, 2])] {
            let path = Fixtures.path("ops/\(fixture)/model.onnx")
            let fused = try Model(path: path), plain = try Model(path: path, fuseOutputPasses: false)
            let x = input(for: fused)
            let found = try regions(fused, x)
            XCTAssertEqual(found.filter { $0.folded != nil }.map { f in f.nodes.count - (f.residual != nil ? 1 : 0) - (f.activation != nil ? 1 : 0) }, nodes,
                           "\(fixture): the Conv and its affine nodes in each region")
            let a = try XCTUnwrap(fused.run(x).outputs.values.first), b = try XCTUnwrap(plain.run(x).outputs.values.first)
            XCTAssertLessThan(maxAbsDifference(a.floats, b.floats), 1e-6 * b.floats.map(abs).max()!)
            let expected = try Fixtures.tensor("ops/\(fixture)/output_0.npy")
            let y = try fused.run(try Fixtures.tensor("ops/\(fixture)/input_0.npy")).outputs.values.first!
            XCTAssertNil(mismatch(y, expected), "\(fixture) against onnxruntime")
            let (graph, _) = try fused.executor(for: try fused.checkedShapes([fused.inputs[0].name: x]))
            let hidden = found.flatMap(\.hidden).map { graph.values[$0].name }
            let tapped = try fused.run(x, taps: hidden), reference = try plain.run(x, taps: hidden)
            for name in hidden { XCTAssertEqual(tapped.taps[name]?.floats, reference.taps[name]?.floats, "tap \(name)") }
        }
    }
}
