import Foundation
import Lafam
import XCTest

/// Runs every one-op (and small multi-op) model under Tests/Fixtures/ops against the outputs
/// onnxruntime computed for it (tools/make_op_fixtures.py). Exact shape and dtype, then
/// |a − e| ≤ 1e-5 + 1e-4·|e|.
final class OpFixtureTests: XCTestCase {
    func testEveryOpFixtureMatchesOnnxRuntime() throws {
        let dir = Fixtures.path("ops")
        let cases = try FileManager.default.contentsOfDirectory(atPath: dir).filter {
            FileManager.default.fileExists(atPath: "\(dir)/\($0)/model.onnx")
        }.sorted()
        XCTAssertGreaterThan(cases.count, 200)
        var passed = 0
        var exercised: [String: Int] = [:]
        for name in cases {
            do {
                let model = try Model(path: "\(dir)/\(name)/model.onnx")
                var feeds: [String: Tensor] = [:]
                for (i, input) in model.inputs.enumerated() {
                    feeds[input.name] = try Fixtures.tensor("ops/\(name)/input_\(i).npy")
                }
                let result = try model.run(feeds)
                var ok = true
                for (k, output) in model.outputs.enumerated() {
                    let expected = try Fixtures.tensor("ops/\(name)/output_\(k).npy")
                    guard let actual = result.outputs[output.name] else {
                        XCTFail("\(name): output \(output.name) missing"); ok = false; continue
                    }
                    if let why = mismatch(actual, expected) { XCTFail("\(name) output \(k): \(why)"); ok = false }
                }
                if ok {
                    passed += 1
                    for op in Set(model.graph.nodes.map(\.opType)) { exercised[op, default: 0] += 1 }
                }
            } catch {
                XCTFail("\(name): \(error)")
            }
        }
        print("op fixtures: \(passed) passed, \(cases.count - passed) failed")
        print("cases per op: " + exercised.sorted { $0.key < $1.key }.map { "\($0.key) \($0.value)" }.joined(separator: ", "))
    }
}
