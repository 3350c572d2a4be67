import LafamTensor

/// Whether every image of a batch is computed independently of the others, so that a batch can
/// be split into parts that run in parallel and are joined again (`Model.run`).
///
/// Decided on the declared graph, whose inputs share a symbolic batch dimension at axis 0: every
/// node that reads a value carrying the batch must declare `BatchBehaviour.perImage` for those
/// inputs (`Operator.batchBehaviour`; ops that declare nothing mix images), and every float value
/// it computes must keep the batch symbol at axis 0 and nowhere else. Anything else, including a
/// fixed batch size, answers false; the model then runs unsplit.
extension Graph {
    /// True when a batch may be split into parts that run in parallel and are joined again.
    public var isBatchSeparable: Bool {
        guard batchSymbol != nil, inputs.allSatisfy(carriesBatch) else { return false }
        var carrying = Set(inputs)
        for node in nodes where !node.isFolded {
            let carriers = node.inputs.map { $0.map(carrying.contains) ?? false }
            guard carriers.contains(true) else { continue }
            let facts = node.inputs.map { $0.flatMap { values[$0].facts } }
            guard node.op.batchBehaviour(facts, carryingBatch: carriers) == .perImage else { return false }
            for v in node.outputs where values[v].facts?.dtype.isFloatingPoint ?? true {
                guard carriesBatch(v) else { return false }
                carrying.insert(v)
            }
        }
        return outputs.allSatisfy(carriesBatch)
    }

    /// The symbolic dimension at axis 0 of the first input, if any.
    private var batchSymbol: Dim? {
        guard let first = inputs.first, let d = values[first].facts?.shape?.first, case .symbol = d else { return nil }
        return d
    }

    /// Whether value `v` has the batch symbol at axis 0 and nowhere else, so that its images can
    /// be split and joined along axis 0.
    package func carriesBatch(_ v: Int) -> Bool {
        guard let symbol = batchSymbol, let shape = values[v].facts?.shape, shape.first == symbol else { return false }
        return shape.dropFirst().allSatisfy { $0 != symbol }
    }
}
