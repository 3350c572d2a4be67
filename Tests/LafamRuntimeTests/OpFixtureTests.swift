import Foundation
import LafamRuntime
import LafamTestSupport
import XCTest

/// One-op (and small multi-op) models under Tests/Fixtures/ops against the outputs onnxruntime
/// computed for them (tools/fixtures/make_op_fixtures.py). Exact shape and dtype, then
/// |a − e| ≤ 1e-5 + 1e-4·|e|. One test per fixture, named after it
/// (`OpFixtureTests.test_conv_winograd`; `swift test --filter OpFixtureTests/test_conv_` runs the
/// Conv cases), listed in OpFixtureCases.swift.
final class OpFixtureTests: XCTestCase {
    func check(_ name: String) throws {
        let model = try Model(path: Fixtures.path("ops/\(name)/model.onnx"))
        let result = try model.run(try OpFixtures.feeds(name, model))
        for (k, output) in model.outputs.enumerated() {
            let expected = try Fixtures.tensor("ops/\(name)/output_\(k).npy")
            let actual = try XCTUnwrap(result.outputs[output.name], "output \(output.name) missing")
            if let why = mismatch(actual, expected) { XCTFail("output \(k) '\(output.name)': \(why)") }
        }
    }

    /// The generated cases are exactly the fixture folders: a new fixture without a test, or a
    /// test whose fixture is gone, fails here (regenerate with tools/fixtures/make_fixture_test_cases.py).
    func testEveryFixtureHasACase() throws {
        XCTAssertEqual(try OpFixtures.names(), OpFixtures.generated)
        XCTAssertGreaterThan(OpFixtures.generated.count, 200)
    }
}

enum OpFixtures {
    /// The fixture folders (those holding a model.onnx), sorted.
    static func names() throws -> [String] {
        let dir = Fixtures.path("ops")
        return try FileManager.default.contentsOfDirectory(atPath: dir).filter {
            FileManager.default.fileExists(atPath: "\(dir)/\($0)/model.onnx")
        }.sorted()
    }

    /// input_K.npy for each graph input, by name.
    static func feeds(_ name: String, _ model: Model) throws -> [String: Tensor] {
        var feeds: [String: Tensor] = [:]
        for (i, input) in model.inputs.enumerated() { feeds[input.name] = try Fixtures.tensor("ops/\(name)/input_\(i).npy") }
        return feeds
    }
}
