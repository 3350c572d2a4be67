import Foundation

extension Model {
    /// With more than one OpenBLAS thread, a batch of a batch-separable model runs as one part
    /// per thread, in parallel, each on one OpenBLAS thread (never both levels at once), and
    /// the parts' outputs are joined: whole images need no synchronisation between layers,
    /// where conv pieces meet at every op. Taps are joined like outputs. nil when the run does
    /// not qualify (one thread, batch 1, a model that mixes images, feeds that do not share the
    /// batch size, or a tap without the batch at axis 0).
    func runSplittingBatch(_ feeds: [String: Tensor], taps: [String] = []) throws -> RunResult? {
        let threads = BLASInfo.threads
        guard threads > 1, isBatchSeparable, let batch = feeds.values.first?.shape.first, batch >= 2,
              feeds.values.allSatisfy({ $0.shape.first == batch }),
              try taps.allSatisfy({ graph.carriesBatch(try graph.resolveTensor($0)) }) else { return nil }
        _ = try checkedShapes(feeds)
        let parts = min(threads, batch)
        let bounds = (0...parts).map { $0 * batch / parts }
        var results = [Result<RunResult, Error>?](repeating: nil, count: parts)
        KernelThreads.whileOpenBLASSingleThreaded { results.withUnsafeMutableBufferPointer { slots in
            KernelThreads.run(parts) { p in
                let part = feeds.mapValues { $0.images(bounds[p]..<bounds[p + 1]) }
                slots[p] = Result { try self.runWhole(part, taps: taps, onTap: nil) }
            }
        } }
        let done = try results.map { try $0!.get() }
        var joined = RunResult(outputs: [:], taps: [:])
        for name in done[0].outputs.keys { joined.outputs[name] = Tensor(joining: done.map { $0.outputs[name]! }) }
        for name in done[0].taps.keys { joined.taps[name] = Tensor(joining: done.map { $0.taps[name]! }) }
        return joined
    }
}

extension Tensor {
    /// Images `range` of the batch (axis 0).
    func images(_ range: Range<Int>) -> Tensor {
        let per = count / max(1, shape[0]), r = (range.lowerBound * per)..<(range.upperBound * per)
        let part: Storage
        switch storage {
        case .float(let a): part = .float(Array(a[r]))
        case .double(let a): part = .double(Array(a[r]))
        case .int64(let a): part = .int64(Array(a[r]))
        case .bool(let a): part = .bool(Array(a[r]))
        case .string(let a): part = .string(Array(a[r]))
        }
        return Tensor(shape: [range.count] + shape.dropFirst(), storage: part, dtype: dtype)
    }

    /// Parts of a batch joined along axis 0.
    init(joining parts: [Tensor]) {
        let storage = Storage.interleave(parts.map(\.storage), blocks: parts.map(\.count), repeats: 1)
        self.init(shape: [parts.map { $0.shape[0] }.reduce(0, +)] + parts[0].shape.dropFirst(), storage: storage, dtype: parts[0].dtype)
    }
}
