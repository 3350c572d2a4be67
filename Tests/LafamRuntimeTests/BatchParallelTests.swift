@testable import LafamOps
@testable import LafamRuntime
import LafamTestSupport
import XCTest

/// With two threads a batch of a batch-separable model runs as two parts in parallel;
/// the joined result must equal the single-threaded run, and models that mix images must not
/// be split.
final class BatchParallelTests: XCTestCase {
    func testSeparabilityOfModels() throws {
        XCTAssertTrue(try Model(path: Fixtures.mobilenet).isBatchSeparable)
        XCTAssertTrue(try Model(path: Fixtures.path("ops/graph_shape_flatten/model.onnx")).isBatchSeparable)
        // Pad keeps the symbolic batch where it pads nothing (DenseNet's AvgPool exports).
        XCTAssertTrue(try Model(path: Fixtures.path("ops/pad_zero_batch/model.onnx")).isBatchSeparable)
        XCTAssertFalse(try Model(path: Fixtures.path("ops/graph_batch_softmax_axis0/model.onnx")).isBatchSeparable)
        // A fixed batch size gives nothing to split by.
        XCTAssertFalse(try Model(path: Fixtures.path("ops/graph_residual/model.onnx")).isBatchSeparable)
    }

    func testSplitBatchEqualsWholeBatch() throws {
        for (path, shape) in [(Fixtures.mobilenet, [5, 3, 224, 224]), (Fixtures.path("ops/graph_batch_softmax_axis0/model.onnx"), [4, 5])] {
            let one = try Model(path: path, options: ModelOptions(threads: 1)), model = try Model(path: path, options: ModelOptions(threads: 2))
            var rng = SplitMix64(seed: 3)
            let x = Tensor(uncheckedShape: shape, floats: (0..<Tensor.count(of: shape)).map { _ in rng.normal() })
            // LaFAM's kind of run: a conv tap, joined across the parts like the outputs.
            let taps = path == Fixtures.mobilenet ? ["/features/features.18/features.18.0/Conv"] : []
            let whole = try one.run(x, taps: taps)
            XCTAssertNil(try one.runSplittingBatch([one.inputs[0].name: x], taps: taps), "one thread: nothing to split across")
            XCTAssertEqual(try model.runSplittingBatch([model.inputs[0].name: x], taps: taps) == nil, !model.isBatchSeparable)
            let split = try model.run(x, taps: taps)
            XCTAssertEqual(split.taps.count, taps.count)
            for (name, t) in whole.taps { XCTAssertEqual(split.taps[name]?.floats, t.floats, name) }
            for (name, t) in whole.outputs {
                XCTAssertEqual(split.outputs[name]?.shape, t.shape)
                XCTAssertNil(split.outputs[name]!.mismatch(from: t, rtol: 1e-5, atol: 1e-6), "\(path): \(name)")
            }
        }
    }
}
