import LafamRuntime
import LafamTestSupport
import XCTest

/// The passes for transformer graphs on a DeiT-style ViT exported at opset 14: `fuse-layer-norm`
/// (layer norms written as nine elementary nodes each: found from the ops, fused into
/// LayerNormalization nodes) and `fuse-matmul-bias` (nn.Linear's MatMul + Add): equal within float
/// rounding to the unfused graph and to onnxruntime, and left alone where a tap reads an
/// intermediate.
final class TransformerPassTests: XCTestCase {
    let path = Fixtures.path("models/tiny_deit.onnx")

    func layerNorms(_ graph: Graph) -> Int { graph.nodes.filter { $0.opType == "LayerNormalization" }.count }

    func testDecomposedLayerNormsAreFoundAndFused() throws {
        let fused = try Model(path: path, options: ModelOptions(threads: 1))
        let plain = try Model(path: path, options: ModelOptions(threads: 1, disabledPasses: ["fuse-layer-norm"]))
        // Two per block (ln_1, ln_2) in two blocks, and the encoder's final one.
        let found = fused.graph.decomposedLayerNorms()
        XCTAssertEqual(found.map { fused.graph.values[$0.output].name }, [
            "/encoder/layers/encoder_layer_0/ln_1/Add_1_output_0", "/encoder/layers/encoder_layer_0/ln_2/Add_1_output_0",
            "/encoder/layers/encoder_layer_1/ln_1/Add_1_output_0", "/encoder/layers/encoder_layer_1/ln_2/Add_1_output_0",
            "/encoder/ln/Add_1_output_0"])
        XCTAssertEqual(found.map(\.nodes.count), [9, 9, 9, 9, 9])
        XCTAssertEqual(found[0].epsilon, 1e-6, accuracy: 1e-12)
        let x = try Fixtures.tensor("models/tiny_deit.input_0.npy")
        XCTAssertEqual(layerNorms(try fused.executedGraph(x)), 5)
        XCTAssertEqual(layerNorms(try plain.executedGraph(x)), 0)
        let a = try fused.run(x).outputs["logits"]!, b = try plain.run(x).outputs["logits"]!
        XCTAssertLessThanOrEqual(maxAbsDifference(a.floats, b.floats), 1e-5 * b.floats.map(abs).max()!)
        XCTAssertNil(mismatch(a, try Fixtures.tensor("models/tiny_deit.output_0.npy")))
    }

    func testATappedIntermediateKeepsItsLayerNormUnfused() throws {
        let fused = try Model(path: path, options: ModelOptions(threads: 1))
        let plain = try Model(path: path, options: ModelOptions(threads: 1, disabledPasses: ["fuse-layer-norm"]))
        let x = try Fixtures.tensor("models/tiny_deit.input_0.npy")
        let tap = "/encoder/layers/encoder_layer_0/ln_1/Div_output_0"
        XCTAssertEqual(layerNorms(try fused.executedGraph(x, taps: [tap])), 4)
        XCTAssertEqual(try fused.run(x, taps: [tap]).taps[tap]?.floats, try plain.run(x, taps: [tap]).taps[tap]?.floats)
    }

    func testGradientsThroughFusedLayerNormsEqualUnfused() throws {
        let fused = try Model(path: path, options: ModelOptions(threads: 1))
        let plain = try Model(path: path, options: ModelOptions(threads: 1, disabledPasses: ["fuse-layer-norm"]))
        let x = try Fixtures.tensor("models/tiny_deit.input_0.npy")
        let at = "/encoder/layers/encoder_layer_0/Add_output_0"
        let a = try fused.gradients(x, target: .logit(classes: nil), withRespectTo: [at]).gradients[at]!
        let b = try plain.gradients(x, target: .logit(classes: nil), withRespectTo: [at]).gradients[at]!
        XCTAssertTrue(b.floats.contains { $0 != 0 })
        XCTAssertLessThanOrEqual(maxAbsDifference(a.floats, b.floats), 1e-4 * b.floats.map(abs).max()!)
    }

    func testMatMulBiasAddsAreFusedExceptWhereTapped() throws {
        let fused = try Model(path: path, options: ModelOptions(threads: 1))
        let plain = try Model(path: path, options: ModelOptions(threads: 1, disabledPasses: ["fuse-matmul-bias"]))
        let x = try Fixtures.tensor("models/tiny_deit.input_0.npy")
        func adds(_ g: Graph) -> Int { g.nodes.filter { $0.opType == "Add" }.count }
        let before = adds(try plain.executedGraph(x)), after = adds(try fused.executedGraph(x))
        // Per block: the attention's output projection and the MLP's two Linear layers (q, k and v
        // are projected inside torch's attention by one MatMul and Add on [T, N, 3C]).
        XCTAssertEqual(before - after, 6)
        let a = try fused.run(x).outputs["logits"]!, b = try plain.run(x).outputs["logits"]!
        XCTAssertLessThanOrEqual(maxAbsDifference(a.floats, b.floats), 1e-5 * b.floats.map(abs).max()!)
        let tap = "/encoder/layers/encoder_layer_0/mlp/mlp.0/MatMul_output_0"
        XCTAssertEqual(adds(try fused.executedGraph(x, taps: [tap])), after + 1)
        XCTAssertEqual(try fused.run(x, taps: [tap]).taps[tap]?.floats, try plain.run(x, taps: [tap]).taps[tap]?.floats)
        let at = "/encoder/layers/encoder_layer_0/ln_2/Add_1_output_0"
        let ga = try fused.gradients(x, target: .logit(classes: nil), withRespectTo: [at]).gradients[at]!
        let gb = try plain.gradients(x, target: .logit(classes: nil), withRespectTo: [at]).gradients[at]!
        XCTAssertTrue(gb.floats.contains { $0 != 0 })
        XCTAssertLessThanOrEqual(maxAbsDifference(ga.floats, gb.floats), 1e-4 * gb.floats.map(abs).max()!)
    }
}
