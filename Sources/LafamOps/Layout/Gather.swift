import LafamGraph
import LafamTensor

/// Gather along `axis` with int64 indices (negative indices count from the end).
struct Gather: Operator {
    var inputArity: ClosedRange<Int> { 2...2 }

    let axis: Int
    init(_ node: NodeContext) throws { axis = try node.int("axis", default: 0) }

    func infer(_ inputs: [ValueFacts?]) throws -> [ValueFacts] {
        let x = try required(inputs, 0, "data"), idx = try required(inputs, 1, "indices")
        try expect(idx, DType.indices, "indices")
        guard let s = x.shape, let i = idx.shape else { return [facts(x.dtype, nil)] }
        let a = try normalizeAxis(axis, rank: s.count)
        if let n = s[a].value, let picks = idx.constant?.asInts, let bad = picks.first(where: { $0 < -n || $0 >= n }) {
            throw OpError("index \(bad) is out of range for axis \(a) of size \(n)")
        }
        let out = Array(s[..<a]) + i + Array(s[(a + 1)...])
        if let shape = out.concrete { _ = try Sizes.elementCount(shape) }
        var result = facts(x.dtype, out)
        if s.count == 1, let e = x.elements, let picks = idx.constant?.asInts {
            let picked = picks.map { $0 < 0 ? $0 + e.count : $0 }
            if picked.allSatisfy({ $0 >= 0 && $0 < e.count }) { result.elements = picked.map { e[$0] } }
        }
        return [result]
    }

    func batchBehaviour(_ inputs: [ValueFacts?], carryingBatch: [Bool]) -> BatchBehaviour {
        alongAxisBatchBehaviour(axis, inputs, carryingBatch: carryingBatch)
    }

    func run(_ inputs: [Tensor?]) throws -> [Tensor] {
        let x = required(inputs, 0), idx = required(inputs, 1)
        let a = try normalizeAxis(axis, rank: x.rank)
        let shape = Array(x.shape[..<a]) + idx.shape + Array(x.shape[(a + 1)...])
        if idx.count == 1 {
            // One index (Swin's q, k, v = qkv[0], qkv[1], qkv[2]): a strided walk, no index map.
            let n = x.shape[a], i = idx.asInts[0], j = i < 0 ? i + n : i
            guard j >= 0 && j < n else { throw OpError("index \(i) is out of range for axis of size \(n)") }
            let inner = x.shape[(a + 1)...].reduce(1, *)
            return [Tensor(uncheckedShape: shape, storage: x.storage.strided(shape: [x.shape[..<a].reduce(1, *), inner],
                                                                               strides: [n * inner, 1], offset: j * inner))]
        }
        return [Tensor(uncheckedShape: shape, storage: x.storage.take(try indexMaps(inputs)[0]))]
    }
}

extension Gather: IndexMapping {
    func indexMaps(_ inputs: [Tensor?]) throws -> [[Int]] {
        let x = required(inputs, 0), idx = required(inputs, 1)
        let a = try normalizeAxis(axis, rank: x.rank)
        let n = x.shape[a]
        let picks = try idx.asInts.map { i -> Int in
            let j = i < 0 ? i + n : i
            guard j >= 0 && j < n else { throw OpError("index \(i) is out of range for axis of size \(n)") }
            return j
        }
        let outer = x.shape[..<a].reduce(1, *), inner = x.shape[(a + 1)...].reduce(1, *)
        let count = try Sizes.product(of: [outer, picks.count, inner], "Gather's output overflows")
        try MemoryBudget.current.check(count: count, width: x.dtype.storageWidth + 8, for: "Gather's output of \(count) elements")
        var flat: [Int] = []
        flat.reserveCapacity(outer * picks.count * inner)
        for o in 0..<outer { for j in picks { let base = (o * n + j) * inner; for k in 0..<inner { flat.append(base + k) } } }
        return [flat]
    }
}
