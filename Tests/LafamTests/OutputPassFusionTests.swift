@testable import Lafam
import XCTest

/// Fusing a Conv's residual Add and activation into its output pass must not change anything a
/// user can see: outputs, taps inside a fused region and gradients through it are bit-identical
/// to running every node on its own.
final class OutputPassFusionTests: XCTestCase {
    let models = [Fixtures.mobilenet, Fixtures.path("ops/graph_residual/model.onnx"), Fixtures.path("ops/graph_residual_relu/model.onnx"),
                  Fixtures.path("gradcam/head_model.onnx"), Fixtures.path("ops/graph_conv_hardswish/model.onnx")]

    func input(for model: Model, batch: Int = 2) -> Tensor {
        let shape = [batch] + model.inputs[0].shape.dropFirst().map { $0.value! }
        var rng = SplitMix64(seed: 7)
        return Tensor(shape: shape, floats: (0..<Tensor.count(of: shape)).map { _ in rng.normal() })
    }

    func regions(_ model: Model, _ x: Tensor) throws -> [OutputPassFusion] {
        let (_, executor) = try model.executor(for: try model.checkedShapes([model.inputs[0].name: x]))
        return executor.steps.compactMap { if case .fused(let f) = $0 { return f } else { return nil } }
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
                case nil: activation = ""
                }
                kinds.insert((f.residual != nil ? "add" : "") + activation)
            }
            XCTAssertTrue(try regions(plain, x).isEmpty)
            let a = try fused.run(x), b = try plain.run(x)
            for (name, t) in b.outputs { XCTAssertEqual(a.outputs[name]?.floats, t.floats, "\(path): output \(name)") }
        }
        XCTAssertEqual(kinds, ["add", "relu", "clip", "hardswish", "addrelu", "addclip", "addhardswish"],
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
                     Fixtures.path("ops/graph_conv_hardswish/model.onnx")] {
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
                XCTAssertEqual(a.gradients[name]?.floats, b.gradients[name]?.floats, "\(path): gradient at \(name)")
                XCTAssertNotEqual(a.gradients[name]?.floats.contains { $0 != 0 }, false)
            }
        }
    }
}
