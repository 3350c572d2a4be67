import Foundation
import LafamRuntime
import LafamTestSupport
import XCTest

/// Loading variants (IR 3, external data, Constant-node weights, typed fields) and the
/// validator's errors, on the models from tools/fixtures/make_model_fixtures.py.
final class ModelLoadingTests: XCTestCase {
    private func checkRuns(_ name: String, file: StaticString = #filePath, line: UInt = #line) throws {
        let model = try Model(path: Fixtures.path("models/\(name).onnx"))
        let x = try Fixtures.tensor("models/\(name).input_0.npy")
        let result = try model.run(x)
        let expected = try Fixtures.tensor("models/\(name).output_0.npy")
        XCTAssertNil(mismatch(result.outputs[model.outputs[0].name]!, expected), file: file, line: line)
    }

    func testIR3InitializersListedAsInputsAreConstants() throws {
        let model = try Model(path: Fixtures.path("models/ir3_initializer_inputs.onnx"))
        XCTAssertEqual(model.format.irVersion, 3)
        XCTAssertEqual(model.inputs.map(\.name), ["x"])
        try checkRuns("ir3_initializer_inputs")
    }

    func testExternalDataAtUnalignedOffsets() throws { try checkRuns("external_data") }
    func testWeightsFromConstantNodes() throws { try checkRuns("constant_weights") }
    func testTypedDataFields() throws { try checkRuns("typed_data") }

    /// ViT's class token `expand(n, -1, -1)`: the symbolic batch flows through Equal and Where, so
    /// the output's static shape is known (it was [?, ?, ?] in ViT-B/16's logits).
    func testSymbolicBatchThroughEqualAndWhere() throws {
        let model = try Model(path: Fixtures.path("models/class_token_expand.onnx"))
        XCTAssertEqual(model.outputs[0].shape, [.symbol("N"), .known(6), .known(24)])
        try checkRuns("class_token_expand")
    }

    func testExternalDataOutsideTheModelFolderIsRejected() {
        XCTAssertThrowsMessage(try Model(path: Fixtures.path("models/external_abs_path.onnx")),
                               contains: ["'W'", "absolute path"])
        XCTAssertThrowsMessage(try Model(path: Fixtures.path("models/external_dotdot.onnx")),
                               contains: ["'W'", "outside the model's folder"])
    }

    func testUnknownOpNamesOpNodeAndOpset() {
        XCTAssertThrowsMessage(try Model(path: Fixtures.path("models/unknown_op.onnx")),
                               contains: ["unsupported op 'FrobnicateX'", "node 'bad_node'", "opset 13"])
    }

    func testMissingInputIsNamed() {
        XCTAssertThrowsMessage(try Model(path: Fixtures.path("models/missing_input.onnx")),
                               contains: ["'ghost'", "node 'add'"])
    }

    func testCycleIsReported() {
        XCTAssertThrowsMessage(try Model(path: Fixtures.path("models/cycle.onnx")), contains: ["cycle"])
    }

    func testRankMismatchIsCaughtBeforeRunning() {
        XCTAssertThrowsMessage(try Model(path: Fixtures.path("models/rank_mismatch.onnx")),
                               contains: ["(Conv)", "W must have rank 4"])
    }

    func testTypeMismatchIsCaughtBeforeRunning() {
        XCTAssertThrowsMessage(try Model(path: Fixtures.path("models/type_mismatch.onnx")),
                               contains: ["(Add)", "float32", "int64"])
    }

    func testMalformedFilesAreRejected() {
        XCTAssertThrowsMessage(try Model(path: Fixtures.path("models/truncated.onnx")), contains: ["not a valid ONNX protobuf"])
        XCTAssertThrowsMessage(try Model(path: Fixtures.path("models/not_onnx.onnx")), contains: ["cannot load model"])
        XCTAssertThrowsMessage(try Model(path: Fixtures.path("models/does_not_exist.onnx")), contains: ["no such file"])
        XCTAssertThrowsMessage(try Model(path: Fixtures.path("models")), contains: ["is a folder, not a regular file"])
    }

    func testFeedsAreChecked() throws {
        let model = try Model(path: Fixtures.path("models/constant_weights.onnx"))
        XCTAssertThrowsMessage(try model.run(Tensor(uncheckedShape: [1, 5, 6, 6], repeating: 0)), contains: ["must have shape"])
        XCTAssertThrowsMessage(try model.run(Tensor(uncheckedShape: [1, 3, 6, 6], int64s: [Int64](repeating: 0, count: 108))),
                               contains: ["must be float32"])
        XCTAssertThrowsMessage(try model.run(["nope": Tensor(uncheckedShape: [1], repeating: 0)]), contains: ["was not given"])
    }
}
