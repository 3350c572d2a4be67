import Foundation
import Synchronization

/// lafam's own threads, for work split inside one op (conv pieces) or across a batch.
///
/// While a forward pass runs (`whileOpenBLASSingleThreaded`), OpenBLAS is held at one thread and
/// its configured thread count is lent to lafam's kernels as `count`: idle OpenBLAS threads spin
/// for a while after each threaded call, so switching between the two levels per op would leave
/// them competing for the cores. Work is handed to a pool of persistent threads that spin briefly
/// before sleeping: waking a sleeping thread costs tens of microseconds on this kind of machine
/// (Dispatch's `concurrentPerform` measured 24 µs for two 8 µs halves), as much as a small conv.
enum KernelThreads {
    /// Threads that lafam's kernels may use here; 1 outside a forward pass and inside a worker.
    @TaskLocal static var count = 1

    /// Runs `body` with OpenBLAS on one thread and its thread count lent to `count`.
    static func whileOpenBLASSingleThreaded<R>(_ body: () throws -> R) rethrows -> R {
        let threads = BLASInfo.threads
        guard threads > 1 else { return try body() }
        BLASInfo.setThreads(1)
        defer { BLASInfo.setThreads(threads) }
        return try $count.withValue(threads, operation: body)
    }

    /// Worker `worker`'s share of `count` items split into `workers` near-equal ranges.
    static func share(_ count: Int, worker: Int, of workers: Int) -> Range<Int> {
        (worker * count / workers)..<((worker + 1) * count / workers)
    }

    /// Runs `body(worker)` for every worker in 0..<workers, concurrently when workers > 1, and
    /// returns when all are done. Inside, `count` is 1, so nested splits run sequentially.
    static func run(_ workers: Int, _ body: (Int) -> Void) {
        $count.withValue(1) {
            guard workers > 1 else { return (0..<workers).forEach(body) }
            WorkerPool.shared.run(workers, body)
        }
    }
}

/// Threads that wait for work by spinning on a generation counter for a short while, then sleep
/// on a condition. One caller at a time (a lock); the caller runs worker 0 itself.
private final class WorkerPool: @unchecked Sendable {
    static let shared = WorkerPool()

    /// How long an idle helper spins before it sleeps: longer than the gap between two ops.
    private static let spinNanoseconds: UInt64 = 200_000

    private let generation = Atomic<Int>(0)
    private let remaining = Atomic<Int>(0)
    private let wake = NSCondition()
    private let callers = NSLock()
    private var helpers = 0
    // Written by the caller before `generation` is bumped (release), read by helpers after they
    // see the bump (acquire), not written again until every helper has counted itself done.
    private var task: UnsafePointer<(Int) -> Void>?
    private var taskWorkers = 0

    func run(_ workers: Int, _ body: (Int) -> Void) {
        callers.lock()
        defer { callers.unlock() }
        while helpers < workers - 1 { startHelper(index: helpers + 1) }
        withoutActuallyEscaping(body) { body in
            withUnsafePointer(to: body) { pointer in
                task = pointer
                taskWorkers = workers
                remaining.store(helpers, ordering: .relaxed)
                wake.lock()
                generation.add(1, ordering: .releasing)
                wake.broadcast()
                wake.unlock()
                body(0)
                while remaining.load(ordering: .acquiring) > 0 { sched_yield() }
                task = nil
            }
        }
    }

    private func startHelper(index: Int) {
        helpers += 1
        let seen = generation.load(ordering: .acquiring)
        let thread = Thread { [unowned self] in self.helperLoop(index: index, seen: seen) }
        thread.stackSize = 1 << 20
        thread.start()
    }

    private func helperLoop(index: Int, seen: Int) {
        var seen = seen
        while true {
            seen = waitForGeneration(after: seen)
            if index < taskWorkers { task!.pointee(index) }
            remaining.subtract(1, ordering: .releasing)
        }
    }

    private func waitForGeneration(after seen: Int) -> Int {
        let start = DispatchTime.now().uptimeNanoseconds
        var spins = 0
        while true {
            let g = generation.load(ordering: .acquiring)
            if g != seen { return g }
            spins += 1
            if spins & 255 == 0 && DispatchTime.now().uptimeNanoseconds - start > Self.spinNanoseconds {
                wake.lock()
                while generation.load(ordering: .acquiring) == seen { wake.wait() }
                wake.unlock()
            }
        }
    }
}
