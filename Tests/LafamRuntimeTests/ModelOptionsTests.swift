import Dispatch
import Synchronization
import LafamRuntime
import LafamTestSupport
import XCTest

/// Options belong to their model: two models with different thread counts run concurrently in
/// one process and each gives what it gives alone; bad options are refused with their names.
final class ModelOptionsTests: XCTestCase {
    func testModelsWithDifferentThreadCountsRunConcurrentlyAsAlone() throws {
        let one = try Model(path: Fixtures.mobilenet, options: ModelOptions(threads: 1))
        let two = try Model(path: Fixtures.mobilenet, options: ModelOptions(threads: 2))
        var rng = SplitMix64(seed: 17)
        let single = Tensor(uncheckedShape: [1, 3, 224, 224], floats: (0..<(3 * 224 * 224)).map { _ in rng.normal() })
        let batch = Tensor(uncheckedShape: [3, 3, 224, 224], floats: (0..<(3 * 3 * 224 * 224)).map { _ in rng.normal() })
        let tap = "/features/features.18/features.18.0/Conv"
        let alone = try [one, two].map { m in try [single, batch].map { try m.run($0, taps: [tap]) } }
        let results = Mutex<[Int: [RunResult]]>([:])
        DispatchQueue.concurrentPerform(iterations: 2) { k in
            let m = [one, two][k]
            let runs = try? (0..<3).flatMap { _ in try [single, batch].map { try m.run($0, taps: [tap]) } }
            results.withLock { $0[k] = runs }
        }
        for k in 0..<2 {
            let concurrent = try XCTUnwrap(results.withLock { $0[k] }, "model \(k) failed while the other ran")
            for (i, r) in concurrent.enumerated() {
                let reference = alone[k][i % 2]
                XCTAssertEqual(r.outputs["logits"]?.floats, reference.outputs["logits"]?.floats, "model with \(k + 1) threads, run \(i)")
                XCTAssertEqual(r.taps.values.first?.floats, reference.taps.values.first?.floats, "model with \(k + 1) threads, run \(i): tap")
            }
        }
        XCTAssertEqual(one.options.threads, 1)
        XCTAssertEqual(two.options.threads, 2)
    }

    func testBadOptionsAreRefused() {
        XCTAssertThrowsMessage(try Model(path: Fixtures.mobilenet, options: ModelOptions(disabledPasses: ["fuse-everything"])),
                               contains: ["no graph pass named 'fuse-everything'", "'winograd'"])
        XCTAssertThrowsMessage(try Model(path: Fixtures.mobilenet, options: ModelOptions(threads: 0)), contains: ["thread count", "at least 1"])
    }

    func testThePassesCanBeListedAndSwitchedOff() throws {
        XCTAssertEqual(GraphPass.standard.map(\.name), ["fold-channel-affine", "fuse-silu", "fuse-layer-norm", "fuse-matmul-bias", "fuse-conv-output-pass", "winograd"])
        XCTAssertTrue(OperatorRegistry.standard.opTypes().contains("Conv"))
        XCTAssertEqual(OperatorRegistry.standard.opTypes(domain: "com.microsoft"),
                       ["DequantizeLinear", "QGemm", "QLinearAdd", "QLinearConcat", "QLinearGlobalAveragePool", "QLinearLeakyRelu", "QLinearMul",
                        "QLinearSigmoid", "QuantizeLinear"], "exactly the ops onnxruntime's quantizer writes that lafam implements")
        let plain = try Model(path: Fixtures.mobilenet, options: ModelOptions(disabledPasses: Set(GraphPass.standard.map(\.name))))
        let x = try Fixtures.tensor("mobilenet_v2/coffee.input.npy")
        let logits = try XCTUnwrap(plain.run(x).outputs["logits"])
        let expected = try Fixtures.tensor("mobilenet_v2/coffee.logits.npy")
        XCTAssertLessThanOrEqual(maxAbsDifference(logits.floats, expected.floats), 1e-4 * (expected.floats.max()! - expected.floats.min()!))
    }
}
