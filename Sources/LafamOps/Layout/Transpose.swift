import LafamGraph
import LafamTensor

/// Transpose by `perm` (default: reverse the axes).
struct Transpose: Operator {
    var inputArity: ClosedRange<Int> { 1...1 }

    let perm: [Int]?
    init(_ node: NodeContext) throws { perm = try node.ints("perm") }

    private func permutation(rank: Int) throws -> [Int] {
        let p = perm ?? Array((0..<rank).reversed())
        guard p.count == rank, Set(p) == Set(0..<rank) else { throw OpError("perm \(p) is not a permutation of \(rank) axes") }
        return p
    }

    func infer(_ inputs: [ValueFacts?]) throws -> [ValueFacts] {
        let x = try required(inputs, 0, "data")
        guard let s = x.shape else { return [facts(x.dtype, nil)] }
        let p = try permutation(rank: s.count)
        var out = facts(x.dtype, p.map { s[$0] })
        if let dims = s.concrete {
            // A small shape tensor's known elements, transposed (torch's pad-order reversal).
            let strides = Tensor.strides(of: dims)
            out.elements = rearranged(x.elements, shape: s, count: dims.reduce(1, *)) {
                try stridedIndices(p.map { dims[$0] }, strides: p.map { strides[$0] }, offset: 0)
            }
        }
        return [out]
    }

    /// Moves integers unchanged: a quantized input's scale and zero point are its output's.
    func outputQuantization(_ k: Int) -> QuantizationSource? { k == 0 ? .sameAs(input: 0) : nil }

    func batchBehaviour(_ inputs: [ValueFacts?], carryingBatch: [Bool]) -> BatchBehaviour {
        guard let rank = inputs[0]?.rank, let p = try? permutation(rank: rank), p.first == 0 else { return .mixesImages }
        return .perImage
    }

    func run(_ inputs: [Tensor?]) throws -> [Tensor] {
        let x = required(inputs, 0)
        let p = try permutation(rank: x.rank)
        let shape = p.map { x.shape[$0] }
        if x.dtype == .float32, let (batch, rows, columns, inner) = batchedSwap(shape: x.shape, perm: p) {
            return [Tensor(uncheckedShape: shape, floats: transposed(x.floats, batch: batch, rows: rows, columns: columns, inner: inner))]
        }
        return [Tensor(uncheckedShape: shape, storage: x.storage.strided(shape: shape, strides: inputStrides(x, p), offset: 0))]
    }

    /// The input's strides in output axis order.
    private func inputStrides(_ x: Tensor, _ p: [Int]) -> [Int] {
        let strides = Tensor.strides(of: x.shape)
        return p.map { strides[$0] }
    }
}

extension Transpose: IndexMapping {
    func indexMaps(_ inputs: [Tensor?]) throws -> [[Int]] {
        let x = required(inputs, 0)
        let p = try permutation(rank: x.rank)
        return [try stridedIndices(p.map { x.shape[$0] }, strides: inputStrides(x, p), offset: 0)]
    }
}

/// The permutation as a swap of two axes in a [batch, rows, columns, inner] view of the input
/// (output [batch, columns, rows, inner]), when merging the axes that stay adjacent and in
/// order (size-1 axes ignored) leaves that pattern, as NCHW ↔ NHWC and ShuffleNet's channel
/// shuffle do; nil otherwise.
func batchedSwap(shape: [Int], perm: [Int]) -> (batch: Int, rows: Int, columns: Int, inner: Int)? {
    let kept = perm.filter { shape[$0] > 1 }
    // Runs of consecutive input axes in output order, as (first input axis, element count).
    var groups: [(first: Int, count: Int)] = []
    for (i, axis) in kept.enumerated() {
        // The next input axis of size > 1 after the previous one joins its group.
        if i > 0, axis > kept[i - 1], (kept[i - 1] + 1..<axis).allSatisfy({ shape[$0] == 1 }) {
            groups[groups.count - 1].count *= shape[axis]
        } else {
            groups.append((axis, shape[axis]))
        }
    }
    // Each group's place in input order, listed in output order, and the sizes in input order.
    let byInput = groups.indices.sorted { groups[$0].first < groups[$1].first }
    let order = groups.indices.map { g in byInput.firstIndex(of: g)! }
    let n = byInput.map { groups[$0].count }
    switch order {
    case [1, 0]: return (1, n[0], n[1], 1)
    case [0, 2, 1]: return (n[0], n[1], n[2], 1)
    case [1, 0, 2]: return (1, n[0], n[1], n[2])
    case [0, 2, 1, 3]: return (n[0], n[1], n[2], n[3])
    default: return nil
    }
}

/// Swaps the rows and columns of a [batch, rows, columns, inner] array, in blocks of 16×16
/// (rows × columns) so that both the reads and the writes stay within a few cache lines.
func transposed(_ x: [Float], batch: Int, rows: Int, columns: Int, inner: Int) -> [Float] {
    let block = 16
    return [Float](unsafeUninitializedCapacity: x.count) { out, initialized in
        x.withUnsafeBufferPointer { xp in
            for b in 0..<batch {
                let src = xp.baseAddress! + b * rows * columns * inner, dst = out.baseAddress! + b * rows * columns * inner
                for r0 in stride(from: 0, to: rows, by: block) {
                    let r1 = min(rows, r0 + block)
                    for c0 in stride(from: 0, to: columns, by: block) {
                        for c in c0..<min(columns, c0 + block) {
                            if inner == 1 {
                                let d = dst + c * rows
                                for r in r0..<r1 { d[r] = src[r * columns + c] }
                            } else {
                                for r in r0..<r1 { (dst + (c * rows + r) * inner).update(from: src + (r * columns + c) * inner, count: inner) }
                            }
                        }
                    }
                }
            }
        }
        initialized = x.count
    }
}
