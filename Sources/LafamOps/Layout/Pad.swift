import LafamGraph
import LafamTensor

/// Pad: pads (and the constant value) as attributes before opset 11, as inputs from 11, with
/// optional axes from 18. Modes constant (negative pads crop), reflect and edge.
struct Pad: Operator {
    var inputArity: ClosedRange<Int> { attrPads == nil ? 2...4 : 1...1 }

    let mode: String
    let attrPads: [Int]?
    let attrValue: Double

    init(_ node: NodeContext) throws {
        mode = try node.require("mode", in: ["constant", "reflect", "edge"], default: "constant")
        if node.opset < 11 {
            guard let p = try node.ints(node.opset < 2 ? "paddings" : "pads") else { throw OpError("attribute pads is required") }
            attrPads = p
        } else {
            attrPads = nil
        }
        attrValue = Double(try node.float("value", default: 0))
    }

    /// An axis of size `n` padded by `begin` and `end` (negative pads crop).
    static func padded(_ n: Int, _ begin: Int, _ end: Int) throws -> Int {
        let size = try Sizes.sum(Sizes.sum(n, begin, "pads overflow"), end, "pads overflow")
        guard size >= 0 else { throw OpError("pads \(begin), \(end) crop more than the axis of size \(n)") }
        return size
    }

    /// Edge and reflect padding read the axis they pad: it may not be empty, and a reflection may
    /// not be longer than the axis minus one.
    private func checkMode(_ pads: [Int], shape: [Dim]) throws {
        guard mode != "constant" else { return }
        let rank = shape.count
        for i in 0..<rank where pads[i] > 0 || pads[i + rank] > 0 {
            guard let n = shape[i].value else { continue }
            if n == 0 { throw OpError("\(mode) padding of an empty axis") }
            if mode == "reflect" && max(pads[i], pads[i + rank]) >= n {
                throw OpError("reflect pads \(pads) need each pad smaller than the axis (\(n))")
            }
        }
    }

    private func fullPads(rank: Int, pads: [Int], axes: [Int]?) throws -> [Int] {
        let axes = try (axes ?? Array(0..<rank)).map { try normalizeAxis($0, rank: rank) }
        guard pads.count == 2 * axes.count else { throw OpError("pads has \(pads.count) values, expected \(2 * axes.count)") }
        var full = [Int](repeating: 0, count: 2 * rank)
        for (k, a) in axes.enumerated() { full[a] = pads[k]; full[a + rank] = pads[k + axes.count] }
        return full
    }

    func infer(_ inputs: [ValueFacts?]) throws -> [ValueFacts] {
        let x = try required(inputs, 0, "data")
        var pads = attrPads, axes: [Int]? = nil
        if attrPads == nil {
            let p = try required(inputs, 1, "pads")
            try expect(p, [.int64], "pads")
            guard let known = knownInts(p) else { return [facts(x.dtype, x.shape.map { $0.map { _ in .unknown } })] }
            pads = known
            if let ax = optional(inputs, 3) {
                try expect(ax, DType.indices, "axes")
                guard let known = knownInts(ax) else { return [facts(x.dtype, x.shape.map { $0.map { _ in .unknown } })] }
                axes = known
            }
        }
        guard let s = x.shape else { return [facts(x.dtype, nil)] }
        let full = try fullPads(rank: s.count, pads: pads!, axes: axes)
        try checkMode(full, shape: s)
        // An unpadded axis keeps its dimension, symbolic ones (the batch) included.
        return [facts(x.dtype, try s.enumerated().map { i, d in
            full[i] == 0 && full[i + s.count] == 0 ? d : try d.value.map { .known(try Pad.padded($0, full[i], full[i + s.count])) } ?? .unknown
        })]
    }

    func batchBehaviour(_ inputs: [ValueFacts?], carryingBatch: [Bool]) -> BatchBehaviour {
        firstInputBatchBehaviour(carryingBatch)
    }

    func run(_ inputs: [Tensor?]) throws -> [Tensor] {
        let x = required(inputs, 0)
        var value = attrValue
        if attrPads == nil, let v = optional(inputs, 2) {
            value = v.asDoubles.first ?? 0
        }
        // PyTorch exports AvgPool with a Pad of zeros before it (DenseNet's transitions).
        if try pads(inputs).allSatisfy({ $0 == 0 }) { return [x] }
        let (shape, map) = try indexMap(inputs)
        return [Tensor(uncheckedShape: shape, storage: x.storage.take(map, fill: value))]
    }

    /// Padding before and after every axis (2 × rank values).
    private func pads(_ inputs: [Tensor?]) throws -> [Int] {
        try fullPads(rank: required(inputs, 0).rank, pads: attrPads ?? required(inputs, 1).asInts, axes: optional(inputs, 3)?.asInts)
    }

    /// The output shape and, per output element, its source index (−1 in constant padding).
    private func indexMap(_ inputs: [Tensor?]) throws -> ([Int], [Int]) {
        let x = required(inputs, 0)
        let rank = x.rank
        let pads = try pads(inputs)
        let outShape = try (0..<rank).map { try Pad.padded(x.shape[$0], pads[$0], pads[$0 + rank]) }
        try checkMode(pads, shape: x.shape.map { .known($0) })
        let strides = Tensor.strides(of: x.shape)
        let count = try Sizes.elementCount(outShape)
        try MemoryBudget.current.check(count: count, width: x.dtype.storageWidth + 8, for: "Pad's output of shape \(outShape)")
        var flat = [Int](repeating: 0, count: count)
        /// The source index along `axis` of output index `o`, nil in constant padding.
        func source(_ o: Int, _ axis: Int) -> Int? {
            var i = o - pads[axis]
            let n = x.shape[axis]
            if i >= 0 && i < n { return i }
            switch mode {
            case "edge": i = min(max(i, 0), n - 1)
            case "reflect":
                let period = 2 * (n - 1)
                i = period == 0 ? 0 : abs(i) % period
                if i >= n { i = period - i }
            default: return nil
            }
            return i
        }
        guard count > 0, rank > 0 else { return (outShape, count == 0 ? [] : [0]) }
        // Output rows along the last axis: the leading axes' source offset once per row.
        let width = outShape[rank - 1]
        let lastAxis = (0..<width).map { source($0, rank - 1) }
        for row in 0..<(count / width) {
            var rest = row, base: Int? = 0
            for axis in stride(from: rank - 2, through: 0, by: -1) {
                let o = rest % outShape[axis]
                rest /= outShape[axis]
                if let b = base, let i = source(o, axis) { base = b + i * strides[axis] } else { base = nil }
            }
            for (j, i) in lastAxis.enumerated() {
                flat[row * width + j] = base.flatMap { b in i.map { b + $0 } } ?? -1
            }
        }
        return (outShape, flat)
    }
}

extension Pad: IndexMapping {
    func indexMaps(_ inputs: [Tensor?]) throws -> [[Int]] { [try indexMap(inputs).1] }
}
