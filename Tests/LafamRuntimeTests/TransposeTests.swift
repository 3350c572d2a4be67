@testable import LafamOps
import LafamRuntime
import LafamTestSupport
import XCTest

/// Transposes that reduce to a swap of two axis groups take a blocked copy instead of an index
/// map: every permutation must give the index map's result, and the common layouts the fast path.
final class TransposeTests: XCTestCase {
    private func permutations(_ n: Int) -> [[Int]] {
        n == 0 ? [[]] : permutations(n - 1).flatMap { p in (0...p.count).map { i in var q = p; q.insert(n - 1, at: i); return q } }
    }

    func testEveryPermutationMatchesTheIndexMap() throws {
        var rng = SplitMix64(seed: 9)
        for shape in [[2, 3, 4, 5], [1, 17, 33, 1], [3, 1, 20, 19], [2, 2, 3, 2, 2]] {
            let x = Tensor(uncheckedShape: shape, floats: (0..<shape.reduce(1, *)).map { _ in rng.normal() })
            for perm in permutations(shape.count) {
                let op = try Transpose(NodeContext(name: "t", opType: "Transpose", opset: 13, inputCount: 1, outputCount: 1,
                                                   attributes: ["perm": .ints(perm)]))
                let expected = Tensor(uncheckedShape: perm.map { shape[$0] }, storage: x.storage.take(try op.indexMaps([x])[0]))
                let actual = try op.run([x])[0]
                XCTAssertEqual(actual.shape, expected.shape)
                XCTAssertEqual(actual.floats, expected.floats, "\(shape) perm \(perm)")
            }
        }
    }

    func testLayoutChangesTakeTheBlockedCopy() {
        XCTAssertNotNil(batchedSwap(shape: [8, 96, 56, 56], perm: [0, 2, 3, 1]), "NCHW → NHWC")
        XCTAssertNotNil(batchedSwap(shape: [8, 56, 56, 96], perm: [0, 3, 1, 2]), "NHWC → NCHW")
        XCTAssertNotNil(batchedSwap(shape: [1, 2, 58, 28, 28], perm: [0, 2, 1, 3, 4]), "channel shuffle")
        XCTAssertNil(batchedSwap(shape: [2, 3, 4], perm: [2, 1, 0]), "a full reversal is no single swap")
    }
}
