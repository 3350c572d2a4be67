import Foundation
import LafamTensor
import Synchronization

/// Threads of one model, for work split inside one op (conv pieces, large GEMMs) or across a
/// batch. Each `Model` owns one, sized by its options, so models with different thread counts
/// run side by side in one process without affecting each other.
///
/// Helpers are persistent threads that spin briefly for the next piece of work before they
/// sleep: waking a sleeping thread costs tens of microseconds on this kind of machine
/// (Dispatch's `concurrentPerform` measured 24 µs for two 8 µs halves), as much as a small conv.
/// One caller at a time hands out work (a second waits); the caller runs worker 0 itself.
package final class KernelPool: Sendable {
    /// Threads this pool's work runs on, the caller's included.
    package let threads: Int
    private let shared: PoolState

    package init(threads: Int) {
        self.threads = max(1, threads)
        shared = PoolState()
    }

    deinit { shared.shutDown() }

    /// Runs `body(worker)` for every worker in 0..<workers on this pool's threads and returns
    /// when all are done.
    func run(_ workers: Int, _ body: (Int) -> Void) { shared.run(workers, body) }
}

/// The pass being computed on this thread: whose threads kernels may use, and how many.
struct KernelContext: Sendable {
    let pool: KernelPool?
    let workers: Int
    let insidePass: Bool

    /// No pass: kernels run on the calling thread.
    static let outside = KernelContext(pool: nil, workers: 1, insidePass: false)
    /// A worker of a pass: kernels run on the calling thread, and so does a pass started here.
    static let worker = KernelContext(pool: nil, workers: 1, insidePass: true)
}

/// How lafam's kernels share work across the current pass's threads (`KernelContext`).
package enum KernelThreads {
    @TaskLocal static var context = KernelContext.outside

    /// Threads that kernels may use here: the pass's pool size, 1 inside a worker and outside passes.
    package static var count: Int { context.workers }

    /// Runs `body` as one pass on `pool`'s threads (OpenBLAS kept on one thread meanwhile, so the
    /// two levels of threading never multiply). Inside a worker of another pass it runs on the
    /// calling thread alone.
    package static func pass<R>(on pool: KernelPool, _ body: () throws -> R) rethrows -> R {
        guard !context.insidePass else { return try body() }
        return try OpenBLASThreads.whileSingleThreaded {
            try $context.withValue(KernelContext(pool: pool, workers: pool.threads, insidePass: true), operation: body)
        }
    }

    /// Worker `worker`'s share of `count` items split into `workers` near-equal ranges.
    package static func share(_ count: Int, worker: Int, of workers: Int) -> Range<Int> {
        (worker * count / workers)..<((worker + 1) * count / workers)
    }

    /// Runs `body(worker)` for every worker in 0..<workers, concurrently on the pass's pool when
    /// workers > 1, and returns when all are done. Inside, kernels run sequentially.
    package static func run(_ workers: Int, _ body: (Int) -> Void) {
        let pool = context.pool
        $context.withValue(.worker) {
            guard workers > 1, let pool else { return (0..<workers).forEach(body) }
            pool.run(workers, body)
        }
    }
}

/// The work handed to one pool's helpers, and their lifetime. Helpers hold this (not the pool),
/// so a pool that goes away tells them to stop instead of leaving them with a dangling reference.
private final class PoolState: @unchecked Sendable {
    /// How long an idle helper spins before it sleeps: longer than the gap between two ops.
    private static let spinNanoseconds: UInt64 = 200_000

    private let generation = Atomic<Int>(0)
    private let remaining = Atomic<Int>(0)
    private let stopping = Atomic<Bool>(false)
    private let wake = NSCondition()
    private let callers = NSLock()
    // Written by the caller (holding `callers`) before `generation` is bumped (release), read by
    // helpers after they see the bump (acquire), not written again until every helper is done.
    private var helpers = 0
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

    func shutDown() {
        stopping.store(true, ordering: .releasing)
        wake.lock()
        generation.add(1, ordering: .releasing)
        wake.broadcast()
        wake.unlock()
    }

    private func startHelper(index: Int) {
        helpers += 1
        let seen = generation.load(ordering: .acquiring)
        let thread = Thread { [self] in helperLoop(index: index, seen: seen) }
        thread.stackSize = 1 << 20
        thread.start()
    }

    private func helperLoop(index: Int, seen: Int) {
        var seen = seen
        while true {
            seen = waitForGeneration(after: seen)
            if stopping.load(ordering: .acquiring) { return }
            // Helpers do not inherit the caller's task-local context: they are workers of its pass.
            if index < taskWorkers { KernelThreads.$context.withValue(.worker) { task!.pointee(index) } }
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
