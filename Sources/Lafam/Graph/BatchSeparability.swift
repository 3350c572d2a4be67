/// Whether every image of a batch is computed independently of the others, so that a batch can
/// be split into parts that run in parallel and are joined again (`Model.run`).
///
/// Decided on the declared graph, whose inputs share a symbolic batch dimension at axis 0: every
/// float value computed from them must keep that symbol at axis 0 (and nowhere else), and no op
/// may work along axis 0 (an `axis`/`axes`/`perm` attribute naming it, Gemm with transposed A,
/// Slice without explicit axes, a rank-2 MatMul operand that carries the batch as B). Anything
/// else, including a fixed batch size, answers false; the model then runs unsplit.
extension Graph {
    var isBatchSeparable: Bool {
        guard batchSymbol != nil, inputs.allSatisfy(carriesBatch) else { return false }
        var carrying = Set(inputs)
        for node in nodes where !node.isFolded {
            let batchInputs = node.inputs.enumerated().filter { $0.element.map(carrying.contains) ?? false }
            guard !batchInputs.isEmpty else { continue }
            guard !touchesBatchAxis(node, batchInputs: batchInputs.map(\.offset)) else { return false }
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
    func carriesBatch(_ v: Int) -> Bool {
        guard let symbol = batchSymbol, let shape = values[v].facts?.shape, shape.first == symbol else { return false }
        return shape.dropFirst().allSatisfy { $0 != symbol }
    }

    /// True when `node` may combine or rearrange images of the batch.
    private func touchesBatchAxis(_ node: Node, batchInputs: [Int]) -> Bool {
        let rank = node.inputs[batchInputs[0]].flatMap { values[$0].facts?.rank } ?? 0
        func isBatchAxis(_ a: Int) -> Bool { a == 0 || a == -rank }
        func int(_ key: String) -> Int? { if case .int(let v)? = node.attributes[key] { return v }; return nil }
        func ints(_ key: String) -> [Int]? { if case .ints(let v)? = node.attributes[key] { return v }; return nil }
        // Ops whose `axis` defaults to 0 when absent.
        let axisDefaultsToZero: Set<String> = ["Gather", "Split", "ArgMax", "ArgMin", "Concat", "GatherElements", "CumSum"]
        if let axis = int("axis") ?? (axisDefaultsToZero.contains(node.opType) ? 0 : nil), isBatchAxis(axis) { return true }
        if let axes = ints("axes"), axes.contains(where: isBatchAxis) { return true }
        switch node.opType {
        case "Transpose": return (ints("perm") ?? [rank - 1]).first != 0
        case "Gemm": return int("transA") == 1 || batchInputs.contains(1) || batchInputs.contains(2)
        case "MatMul": return batchInputs.contains(1) && rank <= 2
        case "Slice":
            // Without axes, starts and ends apply from axis 0 on.
            if node.opset < 10 { return ints("axes") == nil }
            return constantAxes(node, input: 3).map { $0.contains(where: isBatchAxis) } ?? true
        case let op where op == "Squeeze" || op == "Unsqueeze" || op.hasPrefix("Reduce"):
            guard node.inputs.count > 1, node.inputs[1] != nil else { return false }
            return constantAxes(node, input: 1).map { $0.contains(where: isBatchAxis) } ?? true
        default: return false
        }
    }

    private func constantAxes(_ node: Node, input: Int) -> [Int]? {
        guard input < node.inputs.count, let a = node.inputs[input] else { return nil }
        return values[a].facts?.constant?.asInts
    }
}
