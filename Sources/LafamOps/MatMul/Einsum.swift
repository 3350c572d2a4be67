import LafamGraph
import LafamTensor

/// Einsum (opset 12) with numpy's semantics: letter labels (whitespace ignored), `...` for
/// broadcast axes, an explicit `->` output or the implicit one (the ellipsis axes, then the
/// letters used once, in ASCII order), repeated labels in a term (diagonals), with a gradient rule
/// for every input. Computed as a chain
/// of batched matrix products, one per further operand (`contract`), each after summing out the
/// labels no later term needs: MaxViT's attention `B G H I D, B G H J D -> B G H I J` is one
/// batched GEMM.
struct Einsum: Operator {
    var inputArity: ClosedRange<Int> { 1...Int.max }

    let equation: EinsumEquation

    init(_ node: NodeContext) throws {
        equation = try EinsumEquation(try node.string("equation", default: ""), operands: node.inputCount)
    }

    func infer(_ inputs: [ValueFacts?]) throws -> [ValueFacts] {
        let operands = try inputs.indices.map { try required(inputs, $0, "Inputs[\($0)]") }
        for (i, x) in operands.enumerated() { try expect(x, [.float32], "Inputs[\(i)]") }
        guard let shapes = operands.map(\.shape) as? [[Dim]] else { return [facts(.float32, nil)] }
        let labels = try equation.labels(ranks: shapes.map(\.count))
        var sizes: [Int: Dim] = [:]
        for (shape, axes) in zip(shapes, labels.inputs) {
            for (dim, label) in zip(shape, axes) {
                guard let known = sizes[label], known != dim else { sizes[label] = dim; continue }
                // A known size over a symbol; a broadcast axis's other size over 1.
                if known.value == nil && dim.value != nil && dim != .known(1) { sizes[label] = dim; continue }
                if known == .known(1), EinsumEquation.isEllipsis(label) { sizes[label] = dim; continue }
                if let a = known.value, let b = dim.value, a != b, !(EinsumEquation.isEllipsis(label) && b == 1) {
                    throw OpError("'\(equation.text)': label \(EinsumEquation.name(label)) has sizes \(a) and \(b)")
                }
            }
        }
        return [facts(.float32, labels.output.map { sizes[$0]! })]
    }

    func batchBehaviour(_ inputs: [ValueFacts?], carryingBatch: [Bool]) -> BatchBehaviour {
        // Per image when the batch is one label: axis 0 of every operand that carries it and of
        // the output, in no other operand.
        guard let ranks = inputs.map({ $0?.rank }) as? [Int], let labels = try? equation.labels(ranks: ranks),
              let batch = labels.output.first else { return .mixesImages }
        for (axes, carries) in zip(labels.inputs, carryingBatch) where carries != (axes.first == batch) || axes.dropFirst().contains(batch) {
            return .mixesImages
        }
        return .perImage
    }

    func run(_ inputs: [Tensor?]) throws -> [Tensor] {
        let operands = inputs.indices.map { required(inputs, $0) }
        let labels = try equation.labels(ranks: operands.map(\.rank))
        return [try evaluate(operands, labels: labels.inputs, output: labels.output, sizes: [:])]
    }

    /// The einsum of `operands` (axes labelled `labels`) with `output` labels; `sizes` gives the
    /// size of an output label no operand has (a gradient broadcast along a summed label).
    func evaluate(_ operands: [Tensor], labels: [[Int]], output: [Int], sizes given: [Int: Int]) throws -> Tensor {
        let sizes = try labelSizes(operands, labels: labels, given: given)
        var current = Labelled(tensor: operands[0], labels: labels[0])
        for k in 1..<max(operands.count, 1) {
            let later = Set(labels[(k + 1)...].joined()).union(output)
            current = try contract(current, Labelled(tensor: operands[k], labels: labels[k]), keep: later, sizes: sizes)
        }
        return try current.gathered(output, summing: Array(Set(current.labels).subtracting(output)).sorted(), sizes: sizes).tensor
    }

    /// Each label's size over `operands` (a broadcast axis of size 1 takes the other size),
    /// starting from `given`; differing sizes are an error.
    private func labelSizes(_ operands: [Tensor], labels: [[Int]], given: [Int: Int] = [:]) throws -> [Int: Int] {
        var sizes = given
        for (x, axes) in zip(operands, labels) {
            for (n, label) in zip(x.shape, axes) {
                guard let known = sizes[label], known != n else { sizes[label] = n; continue }
                if EinsumEquation.isEllipsis(label), known == 1 || n == 1 { sizes[label] = max(known, n); continue }
                throw OpError("'\(equation.text)': label \(EinsumEquation.name(label)) has sizes \(known) and \(n)")
            }
        }
        return sizes
    }

    /// a ⊗ b summed over their shared labels not in `keep`, as one batched matrix product:
    /// a as [batch, left, shared], b as [batch, shared, right].
    private func contract(_ a: Labelled, _ b: Labelled, keep: Set<Int>, sizes: [Int: Int]) throws -> Labelled {
        let inA = Set(a.labels), inB = Set(b.labels)
        let batch = ordered(a.labels) { inB.contains($0) && keep.contains($0) }
        let shared = ordered(a.labels) { inB.contains($0) && !keep.contains($0) }
        let left = ordered(a.labels) { !inB.contains($0) && keep.contains($0) }
        let right = ordered(b.labels) { !inA.contains($0) && keep.contains($0) }
        let onlyA = ordered(a.labels) { !inB.contains($0) && !keep.contains($0) }
        let onlyB = ordered(b.labels) { !inA.contains($0) && !keep.contains($0) }
        let x = try a.gathered(batch + left + shared, summing: onlyA, sizes: sizes).tensor.floats
        let y = try b.gathered(batch + shared + right, summing: onlyB, sizes: sizes).tensor.floats
        func count(_ l: [Int]) -> Int { l.reduce(1) { $0 * sizes[$1]! } }
        let (batches, m, k, n) = (count(batch), count(left), count(shared), count(right))
        let shape = (batch + left + right).map { sizes[$0]! }
        let total = try Sizes.elementCount(shape)
        try MemoryBudget.current.check(count: total, width: 4, for: "the Einsum result of shape \(shape)")
        var out = [Float](repeating: 0, count: total)
        x.withUnsafeBufferPointer { xp in
            y.withUnsafeBufferPointer { yp in
                out.withUnsafeMutableBufferPointer { op in
                    for i in 0..<batches where m * n > 0 && k > 0 {
                        sgemm(m: m, n: n, k: k, a: xp.baseAddress! + i * m * k, lda: k, b: yp.baseAddress! + i * k * n, ldb: n,
                              c: op.baseAddress! + i * m * n, ldc: n)
                    }
                }
            }
        }
        return Labelled(tensor: Tensor(uncheckedShape: shape, floats: out), labels: batch + left + right)
    }

    func ordered(_ labels: [Int], _ keep: (Int) -> Bool) -> [Int] {
        var seen = Set<Int>()
        return labels.filter { keep($0) && seen.insert($0).inserted }
    }
}

/// A tensor whose axes carry einsum labels.
private struct Labelled {
    let tensor: Tensor
    let labels: [Int]

    /// The tensor with axes `order` (each label's axes merged: a repeated label reads the
    /// diagonal; a label it lacks or has at size 1 is broadcast to `sizes`), summed over the
    /// labels `summing`.
    func gathered(_ order: [Int], summing: [Int], sizes: [Int: Int]) throws -> Labelled {
        let strides = Tensor.strides(of: tensor.shape)
        func stride(_ label: Int) -> Int {
            zip(labels.indices, labels).filter { $0.1 == label && tensor.shape[$0.0] > 1 }.reduce(0) { $0 + strides[$1.0] }
        }
        let all = order + summing
        let shape = all.map { sizes[$0]! }
        _ = try Sizes.elementCount(shape)  // every product below is at most this one
        if all == labels, summing.isEmpty, shape == tensor.shape { return Labelled(tensor: tensor, labels: order) }
        let inner = summing.reduce(1) { $0 * sizes[$1]! }
        let indices = try stridedIndices(shape, strides: all.map(stride), offset: 0)
        let values = tensor.floats
        let kept = inner == 0 ? 0 : indices.count / inner
        var out = [Float](repeating: 0, count: order.reduce(1) { $0 * sizes[$1]! })
        for o in 0..<kept {
            var sum: Float = 0
            for i in 0..<inner { sum += values[indices[o * inner + i]] }
            out[o] = sum
        }
        return Labelled(tensor: Tensor(uncheckedShape: order.map { sizes[$0]! }, floats: out), labels: order)
    }
}

/// An einsum equation parsed once: the terms' labels (letters as their ASCII codes, `...` as
/// one marker) and the output's, explicit or implicit.
struct EinsumEquation: Sendable {
    let text: String
    private let terms: [[Int]]
    private let output: [Int]?
    private static let ellipsisMarker = -1
    /// Labels of broadcast (ellipsis) axes: `ellipsisBase + k` for the k-th of them from the left.
    private static let ellipsisBase = 1000

    init(_ text: String, operands: Int) throws {
        self.text = text
        let parts = text.filter { !$0.isWhitespace }.components(separatedBy: "->")
        guard parts.count <= 2 else { throw OpError("equation '\(text)' has more than one '->'") }
        func parse(_ term: String) throws -> [Int] {
            var labels: [Int] = [], rest = Substring(term)
            while let c = rest.first {
                if rest.hasPrefix("...") {
                    guard !labels.contains(Self.ellipsisMarker) else { throw OpError("equation '\(text)': '...' twice in one term") }
                    labels.append(Self.ellipsisMarker); rest = rest.dropFirst(3)
                } else if let a = c.asciiValue, c.isLetter {
                    labels.append(Int(a)); rest = rest.dropFirst()
                } else {
                    throw OpError("equation '\(text)': '\(c)' is not a letter, '...', ',' or '->'")
                }
            }
            return labels
        }
        terms = try parts[0].components(separatedBy: ",").map(parse)
        guard terms.count == operands else {
            throw OpError("equation '\(text)' has \(terms.count) input terms for \(operands) inputs")
        }
        output = try parts.count == 2 ? parse(parts[1]) : nil
        if let output {
            let used = Set(terms.joined())
            guard Set(output).count == output.count else { throw OpError("equation '\(text)': a label repeats in the output") }
            for l in output where !used.contains(l) {
                throw OpError("equation '\(text)': output label \(l == Self.ellipsisMarker ? "..." : Self.name(l)) is in no input term")
            }
        }
    }

    static func isEllipsis(_ label: Int) -> Bool { label >= ellipsisBase }
    static func name(_ label: Int) -> String {
        isEllipsis(label) ? "...[\(label - ellipsisBase)]" : String(UnicodeScalar(UInt8(label)))
    }

    /// Each input's axis labels for operands of `ranks`, and the output's.
    func labels(ranks: [Int]) throws -> (inputs: [[Int]], output: [Int]) {
        var broadcastAxes = 0
        for (term, rank) in zip(terms, ranks) {
            let letters = term.filter { $0 != Self.ellipsisMarker }.count
            if term.contains(Self.ellipsisMarker) {
                guard rank >= letters else { throw OpError("'\(text)': term of \(letters) labels for an input of rank \(rank)") }
                broadcastAxes = max(broadcastAxes, rank - letters)
            } else if rank != letters {
                throw OpError("'\(text)': term of \(letters) labels for an input of rank \(rank)")
            }
        }
        let ellipsis = (0..<broadcastAxes).map { Self.ellipsisBase + $0 }
        func expanded(_ term: [Int], rank: Int) -> [Int] {
            let own = rank - term.filter { $0 != Self.ellipsisMarker }.count
            return term.flatMap { $0 == Self.ellipsisMarker ? Array(ellipsis.suffix(own)) : [$0] }
        }
        let inputs = zip(terms, ranks).map { expanded($0, rank: $1) }
        if let output { return (inputs, expanded(output, rank: output.count - 1 + broadcastAxes)) }
        let counts = terms.joined().reduce(into: [Int: Int]()) { $0[$1, default: 0] += 1 }
        return (inputs, ellipsis + counts.filter { $0.key != Self.ellipsisMarker && $0.value == 1 }.keys.sorted())
    }
}

extension Einsum: Differentiable {
    /// dInput_i = einsum(dY, the other inputs → input i's distinct labels): broadcast along labels
    /// only input i has, summed back over its size-1 broadcast axes, and, for a repeated label,
    /// placed on the diagonal it was read from (zero elsewhere).
    func backward(_ inputs: [Tensor?], outputs: [Tensor], gradients: [Tensor?], wanted: [Bool]) throws -> [Tensor?] {
        guard let g = gradients[0] else { return wanted.map { _ in nil } }
        let operands = inputs.indices.map { required(inputs, $0) }
        let labels = try equation.labels(ranks: operands.map(\.rank))
        let sizes = try labelSizes(operands, labels: labels.inputs)
        return try operands.indices.map { i in
            guard wanted[i] else { return nil }
            let x = operands[i], axes = labels.inputs[i]
            let distinct = ordered(axes) { _ in true }
            let others = operands.indices.filter { $0 != i }
            let full = try evaluate([g] + others.map { operands[$0] }, labels: [labels.output] + others.map { labels.inputs[$0] },
                                    output: distinct, sizes: sizes)
            let own = try reduceToShape(full, distinct.map { l in x.shape[axes.firstIndex(of: l)!] })
            guard distinct.count != axes.count else { return own.viewed(as: x.shape) }
            let strides = Tensor.strides(of: x.shape)
            let positions = try stridedIndices(own.shape, strides: distinct.map { l in
                axes.indices.filter { axes[$0] == l }.reduce(0) { $0 + strides[$1] }
            }, offset: 0)
            var out = [Float](repeating: 0, count: x.count)
            for (j, p) in positions.enumerated() { out[p] += own.floats[j] }
            return Tensor(uncheckedShape: x.shape, floats: out)
        }
    }
}
