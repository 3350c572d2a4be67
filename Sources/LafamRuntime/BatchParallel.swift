import Foundation

extension Model {
    /// With more than one thread, a batch of a batch-separable model runs as one part per
    /// thread, in parallel, each part's kernels on one thread (never both levels at once), and
    /// the parts' outputs are joined: whole images need no synchronisation between layers,
    /// where conv pieces meet at every op. Taps are joined like outputs. nil when the run does
    /// not qualify (one thread, batch 1, a model that mixes images, feeds that do not share the
    /// batch size, or a tap without the batch at axis 0).
    func runSplittingBatch(_ feeds: [String: Tensor], taps: [String] = []) throws -> RunResult? {
        let threads = options.threads
        guard threads > 1, isBatchSeparable, let batch = feeds.values.first?.shape.first, batch >= 2,
              feeds.values.allSatisfy({ $0.shape.first == batch }),
              try taps.allSatisfy({ graph.carriesBatch(try graph.resolveTensor($0)) }) else { return nil }
        _ = try checkedShapes(feeds)
        let parts = min(threads, batch)
        let bounds = (0...parts).map { $0 * batch / parts }
        var results = [Result<RunResult, Error>?](repeating: nil, count: parts)
        KernelThreads.pass(on: pool) { results.withUnsafeMutableBufferPointer { slots in
            KernelThreads.run(parts) { p in
                let part = feeds.mapValues { $0.images(bounds[p]..<bounds[p + 1]) }
                slots[p] = Result { try self.runWhole(part, taps: taps, onTap: nil) }
            }
        } }
        let done = try results.map { try $0!.get() }
        var joined = RunResult(outputs: [:], taps: [:])
        for name in done[0].outputs.keys { joined.outputs[name] = Tensor(joining: done.map { $0.outputs[name]! }) }
        for name in done[0].taps.keys { joined.taps[name] = Tensor(joining: done.map { $0.taps[name]! }) }
        for name in done[0].rawTaps.keys { joined.rawTaps[name] = Tensor(joining: done.map { $0.rawTaps[name]! }) }
        return joined
    }
}
