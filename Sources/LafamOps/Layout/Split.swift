import LafamGraph
import LafamTensor

/// Split along `axis`: sizes from the `split` attribute (< 13) or input (≥ 13), `num_outputs`
/// (≥ 18, last part smaller), or equal parts.
struct Split: Operator {
    var inputArity: ClosedRange<Int> { splitIsInput ? 1...2 : 1...1 }

    let axis: Int
    let attrSplit: [Int]?
    let splitIsInput: Bool
    let outputs: Int

    init(_ node: NodeContext) throws {
        axis = try node.int("axis", default: 0)
        splitIsInput = node.opset >= 13
        attrSplit = splitIsInput ? nil : try node.ints("split")
        outputs = node.opset >= 18 ? try node.int("num_outputs", default: node.outputCount) : node.outputCount
        guard outputs >= 1, outputs == node.outputCount else {
            throw OpError("num_outputs \(outputs) must be at least 1 and equal the node's \(node.outputCount) outputs")
        }
    }

    private func sizes(_ n: Int, given: [Int]?) throws -> [Int] {
        if let given {
            let total = given.reduce(0) { $0.addingReportingOverflow($1).overflow ? .max : $0 + $1 }
            guard given.count == outputs, given.allSatisfy({ $0 >= 0 }), total == n else {
                throw OpError("split \(given) does not divide an axis of \(n) into \(outputs) parts")
            }
            return given
        }
        let part = (n + outputs - 1) / outputs
        return (0..<outputs).map { max(0, min(part, n - $0 * part)) }
    }

    func infer(_ inputs: [ValueFacts?]) throws -> [ValueFacts] {
        let x = try required(inputs, 0, "input")
        let splitFacts = splitIsInput ? optional(inputs, 1) : nil
        guard let s = x.shape, splitFacts == nil || splitFacts?.constant != nil else {
            return [ValueFacts](repeating: facts(x.dtype, x.shape.map { _ in [Dim](repeating: .unknown, count: x.rank!) }), count: outputs)
        }
        let a = try normalizeAxis(axis, rank: s.count)
        guard let n = s[a].value else {
            return [ValueFacts](repeating: facts(x.dtype, s.enumerated().map { $0.offset == a ? .unknown : $0.element }), count: outputs)
        }
        return try sizes(n, given: splitFacts?.constant?.asInts ?? attrSplit).map { size in
            var o = s
            o[a] = .known(size)
            return facts(x.dtype, o)
        }
    }

    func batchBehaviour(_ inputs: [ValueFacts?], carryingBatch: [Bool]) -> BatchBehaviour {
        alongAxisBatchBehaviour(axis, inputs, carryingBatch: carryingBatch)
    }

    func run(_ inputs: [Tensor?]) throws -> [Tensor] {
        let x = required(inputs, 0)
        return try parts(inputs).map { Tensor(uncheckedShape: $0.shape, storage: x.storage.strided(shape: $0.shape, strides: $0.strides, offset: $0.offset)) }
    }

    /// Each output as a strided walk over the input.
    private func parts(_ inputs: [Tensor?]) throws -> [(shape: [Int], strides: [Int], offset: Int)] {
        let x = required(inputs, 0)
        let a = try normalizeAxis(axis, rank: x.rank)
        let strides = Tensor.strides(of: x.shape)
        var start = 0
        return try sizes(x.shape[a], given: splitIsInput ? optional(inputs, 1)?.asInts : attrSplit).map { size in
            var shape = x.shape
            shape[a] = size
            defer { start += size }
            return (shape, strides, start * strides[a])
        }
    }
}

extension Split: IndexMapping {
    func indexMaps(_ inputs: [Tensor?]) throws -> [[Int]] {
        try parts(inputs).map { try stridedIndices($0.shape, strides: $0.strides, offset: $0.offset) }
    }
}
