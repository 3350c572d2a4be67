@testable import LafamOps
import LafamRuntime
import LafamTestSupport
import XCTest

/// The fusion passes (`fuse-silu`, `fuse-conv-output-pass`, `fold-channel-affine`) must not
/// change anything a user can see: outputs, taps inside a fused region and gradients through it
/// are bit-identical to running every node on its own; a folded BatchNormalization or a fused
/// layer norm changes rounding only, and taps stay exact.
final class OutputPassFusionTests: XCTestCase {
    let models = [Fixtures.mobilenet, Fixtures.path("ops/graph_residual/model.onnx"), Fixtures.path("ops/graph_residual_relu/model.onnx"),
                  Fixtures.path("gradcam/head_model.onnx"), Fixtures.path("ops/graph_conv_hardswish/model.onnx"),
                  Fixtures.path("ops/graph_conv_silu/model.onnx")]

    func input(for model: Model, batch: Int = 2) -> Tensor {
        let shape = [batch] + model.inputs[0].shape.dropFirst().map { $0.value! }
        var rng = SplitMix64(seed: 7)
        return Tensor(uncheckedShape: shape, floats: (0..<Tensor.count(of: shape)).map { _ in rng.normal() })
    }

    /// The model with every pass, and with the fusion passes off (Winograd in both, so each Conv
    /// computes the same way).
    func models(_ path: String) throws -> (fused: Model, plain: Model) {
        (try Model(path: path), try Model(path: path, options: ModelOptions(disabledPasses: fusionPasses)))
    }

    /// Convs whose weights a pass folded other nodes into.
    func foldedConvs(_ graph: Graph) -> [Graph.Node] {
        graph.convs.map(\.node).filter { $0.inputs.count > 1 && graph.values[$0.inputs[1]!].name.contains("|weights folded with") }
    }

    /// True when a pass that changes rounding ran: a BatchNormalization folded into Conv weights or
    /// a layer norm written as elementary ops fused (the Grad-CAM head fixture has both).
    func changesRounding(_ executed: Graph, of model: Model) -> Bool {
        func layerNorms(_ g: Graph) -> Int { g.nodes.filter { $0.opType == "LayerNormalization" }.count }
        return !foldedConvs(executed).isEmpty || layerNorms(executed) > layerNorms(model.graph)
    }

    /// Bit for bit, or, where a pass changes rounding (`changesRounding`), within rounding: 1e-5
    /// of the tensor's largest magnitude.
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
            let (fused, plain) = try models(path)
            let x = input(for: fused)
            let graph = try fused.executedGraph(x)
            XCTAssertFalse(graph.fusedRegions.isEmpty, "\(path): no fused region")
            kinds.formUnion(graph.fusedRegions.map(\.kind))
            XCTAssertTrue(try plain.executedGraph(x).fusedRegions.isEmpty)
            let a = try fused.run(x), b = try plain.run(x)
            for (name, t) in b.outputs { assertEqual(a.outputs[name], t, exactly: !changesRounding(graph, of: fused), "\(path): output \(name)") }
        }
        XCTAssertEqual(kinds, ["add", "relu", "clip", "hardswish", "silu", "sigmoid", "addrelu", "addclip", "addhardswish", "addsilu"],
                       "the fixtures exercise every fused combination")
    }

    func testTapsInsideFusedRegionsEqualUnfusedValues() throws {
        for path in models {
            let (fused, plain) = try models(path)
            let x = input(for: fused)
            let hidden = Array(try fused.hiddenValues(x).prefix(6))
            XCTAssertFalse(hidden.isEmpty)
            let withTaps = try fused.executedGraph(x, taps: hidden)
            for name in hidden { XCTAssertNotNil(withTaps.values[withTaps.valueIndex[name]!].producer, "\(path): tapped \(name) is computed") }
            let a = try fused.run(x, taps: hidden), b = try plain.run(x, taps: hidden)
            for name in hidden { XCTAssertEqual(a.taps[name]?.floats, b.taps[name]?.floats, "\(path): tap \(name)") }
            for (name, t) in b.outputs { assertEqual(a.outputs[name], t, exactly: !changesRounding(withTaps, of: fused), "\(path): output \(name)") }
        }
    }

    func testGradientsThroughFusedRegionsEqualUnfused() throws {
        for path in [Fixtures.mobilenet, Fixtures.path("ops/graph_residual_relu/model.onnx"), Fixtures.path("gradcam/head_model.onnx"),
                     Fixtures.path("ops/graph_conv_hardswish/model.onnx"), Fixtures.path("ops/graph_conv_silu/model.onnx")] {
            let (fused, plain) = try models(path)
            let x = input(for: fused)
            let graph = try fused.executedGraph(x)
            let regions = graph.fusedRegions
            // The outputs of an early and a middle region: backward crosses fused regions.
            let names = [regions[1], regions[regions.count / 2]].map { graph.values[$0.node.outputs[0]].name }
            let target: GradientTarget = fused.outputs[0].shape.count == 2 ? .logit(classes: nil) : .element(tensor: nil, index: [3, 2, 2])
            let a = try fused.gradients(x, target: target, withRespectTo: names)
            let b = try plain.gradients(x, target: target, withRespectTo: names)
            for name in names {
                assertEqual(a.gradients[name], b.gradients[name]!, exactly: !changesRounding(graph, of: fused), "\(path): gradient at \(name)")
                XCTAssertNotEqual(a.gradients[name]?.floats.contains { $0 != 0 }, false)
            }
        }
    }

    /// A BatchNormalization, or a Mul/Add by a per-channel constant, after a Conv is folded into the
    /// Conv's weights: the result differs from the separate nodes' by rounding only, and a tap on
    /// the Conv's own output (or on a folded node's) gets the exact unfused value.
    func testFoldedAffineNodesMatchTheSeparateNodes() throws {
        for (fixture, folded) in [("graph_conv_bn", [1, 1]), ("graph_conv_scale_shift", [2, 1])] {
            let path = Fixtures.path("ops/\(fixture)/model.onnx")
            let (fused, plain) = try models(path)
            let x = input(for: fused)
            let graph = try fused.executedGraph(x)
            // Nodes folded into each Conv, from the folded weights' names ("… folded with A+B").
            let counts = foldedConvs(graph).map { graph.values[$0.inputs[1]!].name.split(separator: "+").count }
            XCTAssertEqual(counts, folded, "\(fixture): the affine nodes folded into each Conv")
            let a = try XCTUnwrap(fused.run(x).outputs.values.first), b = try XCTUnwrap(plain.run(x).outputs.values.first)
            XCTAssertLessThan(maxAbsDifference(a.floats, b.floats), 1e-6 * b.floats.map(abs).max()!)
            let expected = try Fixtures.tensor("ops/\(fixture)/output_0.npy")
            let y = try fused.run(try Fixtures.tensor("ops/\(fixture)/input_0.npy")).outputs.values.first!
            XCTAssertNil(mismatch(y, expected), "\(fixture) against onnxruntime")
            let hidden = try fused.hiddenValues(x)
            let tapped = try fused.run(x, taps: hidden), reference = try plain.run(x, taps: hidden)
            for name in hidden { XCTAssertEqual(tapped.taps[name]?.floats, reference.taps[name]?.floats, "tap \(name)") }
        }
    }
}
