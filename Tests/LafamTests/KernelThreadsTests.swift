@testable import Lafam
import XCTest

/// The worker pool behind conv pieces and batch splits: every worker index runs exactly once per
/// call, the call returns only when all are done, nested calls run inline, and OpenBLAS's thread
/// count is lent to lafam's kernels only while a forward pass runs.
final class KernelThreadsTests: XCTestCase {
    func testEveryWorkerRunsOnceAndIsDoneOnReturn() {
        for workers in [1, 2, 3, 4] {
            var counts = [Int](repeating: 0, count: workers)
            for _ in 0..<5000 {
                counts.withUnsafeMutableBufferPointer { c in
                    KernelThreads.run(workers) { w in
                        XCTAssertEqual(KernelThreads.count, 1, "inside a worker nothing splits further")
                        c[w] += 1
                    }
                }
            }
            XCTAssertEqual(counts, [Int](repeating: 5000, count: workers), "\(workers) workers")
        }
    }

    func testThreadCountIsLentOnlyDuringAPass() {
        let saved = BLASInfo.threads
        defer { BLASInfo.setThreads(saved) }
        BLASInfo.setThreads(2)
        XCTAssertEqual(KernelThreads.count, 1)
        KernelThreads.whileOpenBLASSingleThreaded {
            XCTAssertEqual(BLASInfo.threads, 1)
            XCTAssertEqual(KernelThreads.count, 2)
        }
        XCTAssertEqual(BLASInfo.threads, 2)
        XCTAssertEqual(KernelThreads.count, 1)
    }
}
