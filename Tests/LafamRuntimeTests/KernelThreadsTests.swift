import COpenBLAS
@testable import LafamOps
import LafamRuntime
import LafamTestSupport
import XCTest

/// The model's threads behind conv pieces and batch splits: every worker index runs exactly once
/// per call, the call returns only when all are done, nested calls run inline, and OpenBLAS is
/// held at one thread only while a pass runs.
final class KernelThreadsTests: XCTestCase {
    func testEveryWorkerRunsOnceAndIsDoneOnReturn() {
        let pool = KernelPool(threads: 4)
        for workers in [1, 2, 3, 4] {
            var counts = [Int](repeating: 0, count: workers)
            KernelThreads.pass(on: pool) {
                XCTAssertEqual(KernelThreads.count, 4)
                for _ in 0..<5000 {
                    counts.withUnsafeMutableBufferPointer { c in
                        KernelThreads.run(workers) { w in
                            XCTAssertEqual(KernelThreads.count, 1, "inside a worker nothing splits further")
                            // A pass started inside a worker (a batch part) runs on its thread alone.
                            KernelThreads.pass(on: pool) { XCTAssertEqual(KernelThreads.count, 1) }
                            c[w] += 1
                        }
                    }
                }
            }
            XCTAssertEqual(counts, [Int](repeating: 5000, count: workers), "\(workers) workers")
        }
        XCTAssertEqual(KernelThreads.count, 1, "outside a pass kernels run on the calling thread")
    }

    func testOpenBLASIsSingleThreadedOnlyDuringAPass() {
        let saved = openblas_get_num_threads()
        defer { openblas_set_num_threads(saved) }
        openblas_set_num_threads(2)
        KernelThreads.pass(on: KernelPool(threads: 2)) {
            XCTAssertEqual(openblas_get_num_threads(), 1)
            KernelThreads.pass(on: KernelPool(threads: 3)) { XCTAssertEqual(openblas_get_num_threads(), 1) }
            XCTAssertEqual(openblas_get_num_threads(), 1, "still inside the outer pass")
        }
        XCTAssertEqual(openblas_get_num_threads(), 2, "the embedding program's setting is restored")
    }

    func testAPoolThatGoesAwayStopsItsThreads() throws {
        func threads() throws -> Int { try FileManager.default.contentsOfDirectory(atPath: "/proc/self/task").count }
        let before = try threads()
        for _ in 0..<20 {
            let pool = KernelPool(threads: 3)
            KernelThreads.pass(on: pool) { KernelThreads.run(3) { _ in } }
        }
        // 40 helpers were started; once their pools are gone they exit.
        var after = try threads()
        for _ in 0..<200 where after > before + 2 {
            usleep(10_000)
            after = try threads()
        }
        XCTAssertLessThanOrEqual(after, before + 2, "helper threads of released pools still run")
    }
}
