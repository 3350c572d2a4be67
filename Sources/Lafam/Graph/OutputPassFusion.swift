/// Load-time fusion of a Conv with what follows it: a BatchNormalization (folded into its
/// weights), a residual Add and an activation (Relu, HardSwish or Clip with constant bounds) computed in the Conv's output pass, after the bias, instead of
/// as separate nodes that each read and write the whole tensor again.
///
/// The fused region keeps ONNX semantics exactly: the same float operations in the same order
/// (bias, then the residual, then the activation), so its result is bit-identical. Its
/// intermediate tensors are not materialised; a run that needs one (a tap, a gradient's
/// forward values) runs that region unfused (`Executor`).
struct OutputPassFusion: Sendable {
    /// Node indices in execution order: the Conv, then the Add and/or the activation.
    let nodes: [Int]
    /// The residual addend's value index (the Add's other input).
    let residual: Int?
    let activation: ConvEpilogue.Activation?
    /// Values produced inside the region that the fused pass does not materialise.
    let hidden: [Int]
    /// The value the region produces (the last node's output).
    let output: Int
    /// A BatchNormalization right after the Conv, folded into its weights and bias: W'[c] = W[c]·a,
    /// B'[c] = B[c]·a + b with the BatchNormalization's y = x·a + b. The result differs from the
    /// separate nodes' by rounding only (tests bound it); a run that keeps the Conv's own output
    /// runs the nodes one by one, so that tensor is always exact.
    let folded: (weights: Tensor, bias: Tensor)?

    /// The fusable regions of `graph`, none overlapping.
    static func plan(_ graph: Graph) -> [OutputPassFusion] {
        var consumers = [[Int]](repeating: [], count: graph.values.count)
        for (n, node) in graph.nodes.enumerated() where !node.isFolded {
            for case let v? in node.inputs { consumers[v].append(n) }
        }
        let outputs = Set(graph.outputs)
        /// The one node reading `v`, when nothing else (graph output included) does.
        func soleConsumer(_ v: Int) -> Int? {
            guard !outputs.contains(v), consumers[v].count == 1 else { return nil }
            return consumers[v][0]
        }
        var plans: [OutputPassFusion] = []
        // An Add of two Conv outputs joins the first Conv's region only.
        var claimed = Set<Int>()
        for (n, node) in graph.nodes.enumerated() where node.opType == "Conv" && !node.isFolded && !claimed.contains(n) {
            guard graph.operators[n] is Conv, node.outputs.count == 1 else { continue }
            var nodes = [n], hidden: [Int] = [], residual: Int? = nil, activation: ConvEpilogue.Activation? = nil
            var current = node.outputs[0]
            var folded: (weights: Tensor, bias: Tensor)? = nil
            if let bn = soleConsumer(current), !claimed.contains(bn), let fold = foldedBatchNorm(conv: n, bn: bn, in: graph) {
                nodes.append(bn); hidden.append(current); folded = fold
                current = graph.nodes[bn].outputs[0]
            }
            if let a = soleConsumer(current), !claimed.contains(a), graph.nodes[a].opType == "Add", graph.nodes[a].inputs.count == 2,
               let other = graph.nodes[a].inputs.first(where: { $0 != current }) ?? nil,
               let shape = graph.values[current].facts?.shape?.concrete,
               graph.values[other].facts?.shape?.concrete == shape, graph.values[other].facts?.dtype == .float32 {
                nodes.append(a); hidden.append(current); residual = other
                current = graph.nodes[a].outputs[0]
            }
            if let r = soleConsumer(current), !claimed.contains(r), let act = outputPassActivation(at: r, in: graph) {
                nodes.append(r); hidden.append(current); activation = act
                current = graph.nodes[r].outputs[0]
            }
            if nodes.count > 1 {
                claimed.formUnion(nodes)
                plans.append(OutputPassFusion(nodes: nodes, residual: residual, activation: activation, hidden: hidden, output: current,
                                              folded: folded))
            }
        }
        return plans
    }

    /// The Conv's weights and bias with BatchNormalization `bn` folded in, when both have constant
    /// parameters (float32 weights; the bias absent or constant).
    private static func foldedBatchNorm(conv: Int, bn: Int, in graph: Graph) -> (weights: Tensor, bias: Tensor)? {
        guard let op = graph.operators[bn] as? BatchNorm, graph.nodes[bn].outputs.count == 1 else { return nil }
        func constant(_ v: Int?) -> Tensor? { v.flatMap { graph.values[$0].facts?.constant } }
        let convInputs = graph.nodes[conv].inputs, bnInputs = graph.nodes[bn].inputs
        guard convInputs.count >= 2, let w = constant(convInputs[1]), w.dtype == .float32, bnInputs.count == 5,
              bnInputs.dropFirst().allSatisfy({ constant($0) != nil }) else { return nil }
        let bias = convInputs.count > 2 && convInputs[2] != nil ? constant(convInputs[2]) : Tensor(shape: [w.shape[0]], floats: [Float](repeating: 0, count: w.shape[0]))
        guard let bias else { return nil }
        let (a, b) = op.affine(bnInputs.map(constant))
        let m = w.shape[0], perOutput = w.count / m
        let weights = w.floats, biases = bias.floats
        let foldedWeights = (0..<w.count).map { weights[$0] * a[$0 / perOutput] }
        return (Tensor(shape: w.shape, floats: foldedWeights), Tensor(shape: [m], floats: (0..<m).map { biases[$0] * a[$0] + b[$0] }))
    }

    /// Relu, HardSwish, or Clip whose bounds are attributes or constants, as an output-pass activation.
    private static func outputPassActivation(at n: Int, in graph: Graph) -> ConvEpilogue.Activation? {
        switch graph.operators[n] {
        case let u as Unary where u.isRelu: return .relu
        case let u as Unary where u.isHardSwish: return .hardSwish
        case let c as Clip:
            let bounds = graph.nodes[n].inputs.dropFirst().map { $0.map { graph.values[$0].facts?.constant } }
            guard bounds.allSatisfy({ $0 == nil || $0! != nil }) else { return nil }
            let (lo, hi) = c.bounds(bounds.map { $0 ?? nil })
            return .clip(lo, hi)
        default: return nil
        }
    }
}
