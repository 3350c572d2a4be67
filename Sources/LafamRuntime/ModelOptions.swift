import Foundation

/// How one model runs. Every setting belongs to its model: two models with different options
/// run side by side in one process without affecting each other.
public struct ModelOptions: Sendable {
    /// Threads for a pass (forward or backward): conv pieces, large GEMMs and batch parts run on
    /// this many of the model's own threads. Default: the number of active processors.
    public var threads: Int
    /// Graph passes not to run, by name (`GraphPass.standard`: `fold-channel-affine`, `fuse-silu`,
    /// `fuse-conv-output-pass`, `winograd`), e.g. to measure what one gains.
    public var disabledPasses: Set<String>
    /// What loading and running may allocate for tensors sized by the model or its inputs
    /// (`MemoryBudget`; default: half the physical memory). A run whose live values would
    /// exceed it at some node is refused before it starts, naming the node.
    public var memoryBudget: MemoryBudget

    /// Options with `threads` (nil: the number of active processors), the passes to skip and the
    /// memory budget. They are checked when a model is loaded: a thread count below 1 or an unknown
    /// pass name is refused.
    public init(threads: Int? = nil, disabledPasses: Set<String> = [], memoryBudget: MemoryBudget = .default) {
        self.threads = threads ?? ProcessInfo.processInfo.activeProcessorCount
        self.disabledPasses = disabledPasses
        self.memoryBudget = memoryBudget
    }

    /// The passes these options run, in order; unknown names and thread counts below 1 are refused.
    func passes(from all: [GraphPass]) throws -> [GraphPass] {
        guard threads >= 1 else { throw LafamError.invalidArgument("the thread count must be at least 1, got \(threads)") }
        let known = Set(all.map(\.name))
        for name in disabledPasses.sorted() where !known.contains(name) {
            throw LafamError.invalidArgument("there is no graph pass named '\(name)'; the passes are " + all.map { "'\($0.name)'" }.joined(separator: ", "))
        }
        return all.filter { !disabledPasses.contains($0.name) }
    }
}
