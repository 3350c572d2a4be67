import Foundation
import Lafam
import LafamTestSupport
import XCTest

/// Vision transformers: token tensors found from the graph, folded to their patch grid, the
/// default target, and explainers on tokens equal to folding by hand (a tiny torchvision ViT).
final class TransformerTests: XCTestCase {
    let path = Fixtures.path("models/tiny_vit.onnx")

    func testRunsLikeOnnxruntime() throws {
        let model = try Model(path: path, options: ModelOptions(threads: 1))
        XCTAssertEqual(model.outputs[0].shape, [.symbol("batch"), .known(10)])
        let x = try Fixtures.tensor("models/tiny_vit.input_0.npy")
        let y = try model.run(x).outputs["logits"]!
        XCTAssertNil(mismatch(y, try Fixtures.tensor("models/tiny_vit.output_0.npy")))
    }

    func testTokenLayoutsFromTheGraph() throws {
        let g = try Model(path: path).graph
        XCTAssertEqual(g.patchGrids.values.map { [$0.height, $0.width] }, [[4, 4]])
        let block = try g.resolveTensor("/encoder/layers/encoder_layer_1/ln_1/LayerNormalization")
        XCTAssertEqual(g.tokenLayout(of: block), TokenLayout(order: .batchFirst, skip: 1, height: 4, width: 4))
        // Inside attention torch works sequence first: [17, batch, 16].
        let inside = g.values.indices.first { g.values[$0].facts?.shape == [.known(17), .symbol("batch"), .known(16)] }
        XCTAssertNotNil(inside)
        XCTAssertEqual(inside.flatMap(g.tokenLayout(of:))?.order, .sequenceFirst)
        // Not tokens: the patch embedding itself, the attention scores, the logits.
        XCTAssertNil(g.tokenLayout(of: try g.resolveTensor("/conv_proj/Conv")))
        XCTAssertNil(g.tokenLayout(of: g.outputs[0]))
        let scores = g.values.indices.first { g.values[$0].facts?.shape?.suffix(2) == [.known(17), .known(17)] }
        XCTAssertNil(scores.flatMap(g.tokenLayout(of:)))
    }

    func testFoldingDropsTheClassTokenAndKeepsPatchOrder() throws {
        // Batch 1, 1 + 2×2 tokens of 3 channels: token t has channel values 10·t + c.
        let tokens = try Tensor(shape: [1, 5, 3], floats: (0..<5).flatMap { t in (0..<3).map { Float(10 * t + $0) } })
        let map = try TokenLayout(skip: 1, height: 2, width: 2).fold(tokens)
        XCTAssertEqual(map.shape, [1, 3, 2, 2])
        XCTAssertEqual(try map.floatValues(), [10, 20, 30, 40, 11, 21, 31, 41, 12, 22, 32, 42])
        let sequenceFirst = try Tensor(shape: [5, 1, 3], floats: try tokens.floatValues())
        XCTAssertEqual(try TokenLayout(order: .sequenceFirst, skip: 1, height: 2, width: 2).fold(sequenceFirst).floatValues(), try map.floatValues())
        XCTAssertThrowsError(try TokenLayout(skip: 0, height: 2, width: 2).fold(tokens))
    }

    func testDefaultTargetIsTheLastAttentionInput() throws {
        let model = try Model(path: path)
        XCTAssertEqual(model.defaultTargetName, "/encoder/layers/encoder_layer_1/ln_1/LayerNormalization_output_0")
    }

    /// Grad-CAM at the default target equals pytorch-grad-cam 1.5.7's with the documented ViT
    /// reshape_transform (raw maps, each image's top class).
    func testGradCAMMatchesPytorchGradCAMWithReshapeTransform() throws {
        try assertGradCAMMatchesPytorchGradCAM("tiny_vit", target: nil)
    }

    /// Grad-CAM (lafam's raw map at `target`, default target if nil) on models/<stem>.input_0.npy
    /// equals pytorch-grad-cam's in models/<stem>.gradcam.raw.npy within 1e-4 of its scale.
    func assertGradCAMMatchesPytorchGradCAM(_ stem: String, target: String?, file: StaticString = #filePath, line: UInt = #line) throws {
        let model = try Model(path: Fixtures.path("models/\(stem).onnx"), options: ModelOptions(threads: 1))
        let x = try Fixtures.tensor("models/\(stem).input_0.npy")
        let lafam = try GradCAM(.gradcam).explain(x, model: model, target: target)
        let reference = try Fixtures.tensor("models/\(stem).gradcam.raw.npy")
        XCTAssertEqual(lafam.raw.shape, reference.shape, file: file, line: line)
        let scale = max(1, try reference.floatValues().map(abs).max() ?? 0)
        XCTAssertLessThanOrEqual(maxAbsDifference(try lafam.raw.floatValues(), try reference.floatValues()), 1e-4 * scale, file: file, line: line)
        XCTAssertGreaterThan(try reference.floatValues().max() ?? 0, 0, "a map that is not all zero", file: file, line: line)
    }

    /// A DeiT-style model (class and distillation tokens, two heads averaged, opset 14 with its
    /// layer norms written as elementary ops): two tokens skipped, the last block's first layer
    /// norm as default target, Grad-CAM equal to pytorch-grad-cam with reshape_transform t[:, 2:].
    func testDistilledViTSkipsClassAndDistillationTokens() throws {
        let model = try Model(path: Fixtures.path("models/tiny_deit.onnx"), options: ModelOptions(threads: 1))
        XCTAssertEqual(model.outputs[0].shape, [.symbol("batch"), .known(10)])
        let y = try model.run(try Fixtures.tensor("models/tiny_deit.input_0.npy")).outputs["logits"]!
        XCTAssertNil(mismatch(y, try Fixtures.tensor("models/tiny_deit.output_0.npy")))
        let target = try XCTUnwrap(model.defaultTargetName)
        XCTAssertEqual(target, "/encoder/layers/encoder_layer_1/ln_1/Add_1_output_0")
        XCTAssertEqual(model.graph.tokenLayout(of: try model.graph.resolveTensor(target)), TokenLayout(skip: 2, height: 4, width: 4))
        try assertGradCAMMatchesPytorchGradCAM("tiny_deit", target: nil)
    }

    /// LaFAM and Grad-CAM on the token tensor equal the CNN computation on the tokens folded by hand.
    func testExplainersOnTokensEqualFoldingByHand() throws {
        let model = try Model(path: path, options: ModelOptions(threads: 1))
        let x = try Fixtures.tensor("models/tiny_vit.input_0.npy")
        let target = try XCTUnwrap(model.defaultTargetName)
        let layout = TokenLayout(skip: 1, height: 4, width: 4)

        let lafam = try LaFAM().explain(x, model: model, target: nil)
        let tokens = try XCTUnwrap(try model.run(x, taps: [target]).taps[target])
        XCTAssertEqual(tokens.shape, [2, 17, 16])
        let byHand = try LaFAM().channelMean(try layout.fold(tokens), name: target)
        XCTAssertEqual(lafam.raw.shape, [2, 4, 4])
        XCTAssertLessThanOrEqual(maxAbsDifference(try lafam.raw.floatValues(), try byHand.floatValues()), 1e-6)
        XCTAssertEqual(lafam.maps.shape, [2, 32, 32])

        let gradcam = try GradCAM(.gradcam, target: .logit(classes: [3])).explain(x, model: model, target: nil)
        let g = try model.gradients(x, target: .logit(classes: [3]), withRespectTo: [target])
        let raw = GradCAM(.gradcam).rawMap(activations: try layout.fold(g.values[target]!), gradients: try layout.fold(g.gradients[target]!))
        XCTAssertEqual(gradcam.raw.shape, [2, 4, 4])
        XCTAssertLessThanOrEqual(maxAbsDifference(try gradcam.raw.floatValues(), try raw.floatValues()), 1e-6)
        XCTAssertGreaterThan(try raw.floatValues().max() ?? 0, 0, "the class token's gradient reaches the patches here")

        // A 3-D tensor that is not tokens is refused, naming what is needed.
        XCTAssertThrowsMessage(try LaFAM().explain(x, model: model, target: "logits"), contains: ["token tensor"])
    }

    /// A layout the caller gives takes precedence over the graph's; one that does not fit is refused.
    func testAGivenTokenLayoutOverridesTheGraphs() throws {
        let model = try Model(path: path, options: ModelOptions(threads: 1))
        let x = try Fixtures.tensor("models/tiny_vit.input_0.npy")
        let regrouped = try LaFAM(tokens: TokenLayout(skip: 5, height: 3, width: 4)).explain(x, model: model, target: nil)
        XCTAssertEqual(regrouped.raw.shape, [2, 3, 4])
        let method = SaliencyMethod(.gradcam, tokens: TokenLayout(skip: 5, height: 3, width: 4))
        XCTAssertEqual(try method.explain(x, model: model, nodes: [])[0].raw.shape, [2, 3, 4])
        XCTAssertThrowsMessage(try LaFAM(tokens: TokenLayout(skip: 0, height: 4, width: 4)).explain(x, model: model, target: nil),
                               contains: ["does not fit the token layout", "grid 4×4"])
    }

    /// centered-relu-mean centres each channel over positions before the ReLU; a quantile colour
    /// scale clips the few highest values to 1.
    func testCenteredReluMeanAndQuantileScale() throws {
        // One image, 2 channels over 4 positions: channel 0 = [1, 2, 3, 10] (mean 4), channel 1 = [5, 5, 5, 9] (mean 6).
        let a = try Tensor(shape: [1, 2, 2, 2], floats: [1, 2, 3, 10, 5, 5, 5, 9])
        let centred = try LaFAM(reduction: .centeredReluMean).channelMean(a, name: "a")
        XCTAssertEqual(try centred.floatValues(), [0, 0, 0, 4.5])
        let maps = try Tensor(shape: [1, 1, 5], floats: [0, 1, 2, 3, 100])
        XCTAssertEqual(try SaliencyMaps.quantileNormalize(maps, quantile: 0.75, epsilon: 0).floatValues(), [0, 1.0 / 3, 2.0 / 3, 1, 1])
    }

    // Swin: channels-last stage maps.

    let swin = Fixtures.path("models/tiny_swin.onnx")

    func testSwinRunsWithStaticShapesAndChannelsLastStages() throws {
        let model = try Model(path: swin, options: ModelOptions(threads: 1))
        XCTAssertEqual(model.outputs[0].shape, [.symbol("batch"), .known(10)])
        let x = try Fixtures.tensor("models/tiny_swin.input_0.npy")
        XCTAssertNil(mismatch(try model.run(x).outputs["logits"]!, try Fixtures.tensor("models/tiny_swin.output_0.npy")))
        let g = model.graph
        let stage = try g.resolveTensor("/features/features.3/features.3.0/norm1/LayerNormalization")
        XCTAssertEqual(g.values[stage].facts?.shape, [.symbol("batch"), .known(2), .known(2), .known(16)])
        XCTAssertEqual(g.tokenLayout(of: stage), TokenLayout(order: .channelsLast, skip: 0, height: 2, width: 2))
        // The NCHW map before pooling is a CNN-style map, not channels last.
        XCTAssertNil(g.tokenLayout(of: try XCTUnwrap(model.defaultTarget)))
    }

    func testChannelsLastFoldIsATranspose() throws {
        let map = try Tensor(shape: [1, 2, 2, 3], floats: (0..<12).map(Float.init))
        let folded = try TokenLayout(order: .channelsLast, skip: 0, height: 2, width: 2).fold(map)
        XCTAssertEqual(folded.shape, [1, 3, 2, 2])
        XCTAssertEqual(try folded.floatValues(), [0, 3, 6, 9, 1, 4, 7, 10, 2, 5, 8, 11])
    }

    /// Grad-CAM at Swin's last block norm1 equals pytorch-grad-cam 1.5.7 with reshape_transform
    /// permute(0, 3, 1, 2) (raw maps, each image's top class).
    func testSwinGradCAMMatchesPytorchGradCAM() throws {
        try assertGradCAMMatchesPytorchGradCAM("tiny_swin", target: "/features/features.3/features.3.0/norm1/LayerNormalization")
    }
}
