// Moving elements between storages without looking at their type: gathers by index (layout ops
// and their gradients) and concatenations (Concat, Where, joined batches).

extension Tensor.Storage {
    /// Elements at the given flat source indices; a negative index yields `fill`.
    package func take(_ indices: [Int], fill: Double = 0) -> Tensor.Storage {
        @inline(__always) func pick<T>(_ a: [T], _ zero: T) -> [T] {
            indices.map { $0 >= 0 ? a[$0] : zero }
        }
        switch self {
        case .float(let a): return .float(pick(a, Float(fill)))
        case .double(let a): return .double(pick(a, fill))
        case .int64(let a): return .int64(pick(a, Int64(exactly: fill.rounded(.towardZero)) ?? 0))
        case .bool(let a): return .bool(pick(a, fill != 0))
        case .string(let a): return .string(pick(a, ""))
        }
    }

    /// The elements a strided walk over `shape` from `offset` reads, in row-major order of
    /// `shape` (a slice, a transpose, a broadcast: stride 0), as `take` of the walk's indices
    /// gives them but without building that index map: axes that stay contiguous are merged and
    /// the innermost one is copied as a run.
    package func strided(shape: [Int], strides: [Int], offset: Int) -> Tensor.Storage {
        func walk<T>(_ a: [T]) -> [T] {
            let count = shape.reduce(1, *)
            guard count > 0 else { return [] }
            var axes: [(size: Int, stride: Int)] = []
            for (n, s) in zip(shape, strides) where n != 1 {
                if let last = axes.last, last.stride == s * n { axes[axes.count - 1] = (last.size * n, s) } else { axes.append((n, s)) }
            }
            let inner = axes.popLast() ?? (1, 0)
            return [T](unsafeUninitializedCapacity: count) { out, initialized in
                a.withUnsafeBufferPointer { src in
                    var index = [Int](repeating: 0, count: axes.count)
                    var from = offset, to = out.baseAddress!
                    for _ in 0..<(count / inner.size) {
                        if inner.stride == 1 {
                            to.initialize(from: src.baseAddress! + from, count: inner.size)
                        } else {
                            for j in 0..<inner.size { (to + j).initialize(to: src[from + j * inner.stride]) }
                        }
                        to += inner.size
                        var axis = axes.count - 1
                        while axis >= 0 {
                            index[axis] += 1
                            from += axes[axis].stride
                            if index[axis] < axes[axis].size { break }
                            from -= axes[axis].stride * axes[axis].size
                            index[axis] = 0
                            axis -= 1
                        }
                    }
                }
                initialized = count
            }
        }
        switch self {
        case .float(let a): return .float(walk(a))
        case .double(let a): return .double(walk(a))
        case .int64(let a): return .int64(walk(a))
        case .bool(let a): return .bool(walk(a))
        case .string(let a): return .string(walk(a))
        }
    }

    /// The elements in `range` of flat indices.
    package func elements(_ range: Range<Int>) -> Tensor.Storage {
        switch self {
        case .float(let a): return .float(Array(a[range]))
        case .double(let a): return .double(Array(a[range]))
        case .int64(let a): return .int64(Array(a[range]))
        case .bool(let a): return .bool(Array(a[range]))
        case .string(let a): return .string(Array(a[range]))
        }
    }

    /// The first element repeated `count` times.
    package func repeatingFirst(count: Int) -> Tensor.Storage {
        switch self {
        case .float(let a): return .float([Float](repeating: a[0], count: count))
        case .double(let a): return .double([Double](repeating: a[0], count: count))
        case .int64(let a): return .int64([Int64](repeating: a[0], count: count))
        case .bool(let a): return .bool([Bool](repeating: a[0], count: count))
        case .string(let a): return .string([String](repeating: a[0], count: count))
        }
    }

    /// Concatenation of `parts`, taking `blocks[k]` consecutive elements from part k in turn,
    /// `repeats` times (concatenation along an axis of row-major tensors).
    package static func interleave(_ parts: [Tensor.Storage], blocks: [Int], repeats: Int) -> Tensor.Storage {
        func join<T>(_ arrays: [[T]]) -> [T] {
            // Nothing to take: an empty result however many repeats (an outer size of 2^30 with
            // an empty axis would otherwise loop that many times).
            let width = blocks.reduce(0, +)
            guard width > 0 else { return [] }
            var out: [T] = []
            out.reserveCapacity(width * repeats)
            for r in 0..<repeats {
                for (k, a) in arrays.enumerated() where blocks[k] > 0 {
                    out.append(contentsOf: a[(r * blocks[k])..<((r + 1) * blocks[k])])
                }
            }
            return out
        }
        switch parts[0] {
        case .float: return .float(join(parts.map { if case .float(let a) = $0 { return a }; return [] }))
        case .int64: return .int64(join(parts.map { if case .int64(let a) = $0 { return a }; return [] }))
        case .double: return .double(join(parts.map { if case .double(let a) = $0 { return a }; return [] }))
        case .bool: return .bool(join(parts.map { if case .bool(let a) = $0 { return a }; return [] }))
        case .string: return .string(join(parts.map { if case .string(let a) = $0 { return a }; return [] }))
        }
    }
}

extension Tensor {
    /// Images `range` of the batch (axis 0); the range must lie within it (`batch(_:)` checks).
    package func images(_ range: Range<Int>) -> Tensor {
        let per = count / max(1, shape[0])
        return Tensor(uncheckedShape: [range.count] + shape.dropFirst(),
                      storage: storage.elements((range.lowerBound * per)..<(range.upperBound * per)), dtype: dtype)
    }

    /// Parts of a batch joined along axis 0.
    package init(joining parts: [Tensor]) {
        let storage = Storage.interleave(parts.map(\.storage), blocks: parts.map(\.count), repeats: 1)
        self.init(uncheckedShape: [parts.map { $0.shape[0] }.reduce(0, +)] + parts[0].shape.dropFirst(), storage: storage, dtype: parts[0].dtype)
    }
}
