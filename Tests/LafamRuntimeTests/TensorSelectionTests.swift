import LafamRuntime
import XCTest

/// Helpers programs reach for after a run: batch slicing, top-k, argmax; and SHA-256.
final class TensorSelectionTests: XCTestCase {
    func testBatchSlicesKeepTheBatchAxis() throws {
        let t = try Tensor(shape: [3, 2], floats: [0, 1, 2, 3, 4, 5])
        XCTAssertEqual(try t.batchItem(1).shape, [1, 2])
        XCTAssertEqual(try t.batchItem(1).floatValues(), [2, 3])
        XCTAssertEqual(try t.batch(1..<3).floatValues(), [2, 3, 4, 5])
        XCTAssertThrowsError(try t.batchItem(3))
        XCTAssertThrowsError(try t.batchItem(Int.max))
        XCTAssertThrowsError(try t.batch(2..<4))
        let ints = try Tensor(shape: [2, 1], int64s: [7, 8])
        XCTAssertEqual(try ints.batchItem(1).integerValues(), [8])
    }

    func testTopKAndArgmaxPerRowWithSoftmaxProbabilities() throws {
        let t = try Tensor(shape: [2, 3], floats: [1, 3, 2, 5, 5, 0])
        let top = try t.topK(2)
        XCTAssertEqual(top[0].map(\.index), [1, 2])
        XCTAssertEqual(top[1].map(\.index), [0, 1], "ties: the lower index first")
        let e = [Float(1), 3, 2].map { Foundation.exp($0) }
        XCTAssertEqual(top[0][0].probability, e[1] / e.reduce(0, +), accuracy: 1e-6)
        XCTAssertEqual(try t.argmax(), [1, 0])
        XCTAssertThrowsError(try Tensor(shape: [3], floats: [1, 2, 3]).topK(1))
        XCTAssertEqual(try t.topK(10)[0].count, 3)
    }

    func testRowNormsPerImage() throws {
        let t = try Tensor(shape: [2, 1, 2], floats: [3, 4, 0, 0])
        XCTAssertEqual(try t.rowNorms(), [5, 0])
        XCTAssertEqual(try Tensor(shape: [0, 3], floats: []).rowNorms(), [])
    }

    func testSHA256MatchesTheStandardVectors() {
        func hex(_ s: String) -> String { Array(s.utf8).withUnsafeBytes { SHA256.hex(of: $0) } }
        XCTAssertEqual(hex(""), "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855")
        XCTAssertEqual(hex("abc"), "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad")
        XCTAssertEqual(hex("abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq"),
                       "248d6a61d20638b8e5c026930c3e6039a33ce45964ff2167f6ecedd419db06c1")
        XCTAssertEqual(hex(String(repeating: "a", count: 1_000)), "41edece42d63e8d9bf515a9ba6932e1c20cbc9f5a5d134645adb5db1b9737ea3")
    }
}
