/// Load-time fusion of a Conv with what follows it: BatchNormalization and per-channel constant
/// Mul/Add nodes (folded into its weights), then a residual Add and an activation (Relu,
/// HardSwish, SiLU as x · Sigmoid(x), or Clip with constant bounds) computed in the Conv's output
/// pass, after the bias, instead of as separate nodes that each read and write the whole tensor
/// again.
///
/// The residual and the activation keep ONNX semantics exactly: the same float operations in the
/// same order (bias, then the residual, then the activation), so the result is bit-identical;
/// folded affine nodes change rounding only (`folded`). A region's intermediate tensors are not
/// materialised; a run that needs one (a tap, a gradient's forward values) runs that region
/// unfused (`Executor`).
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
    /// Per-channel affine nodes right after the Conv (BatchNormalization, Mul or Add by a
    /// per-channel constant), folded into its weights and bias: W'[c] = W[c]·a, B'[c] = B[c]·a + b
    /// for each node's y = x·a + b in turn. The result differs from the
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
        /// The Sigmoid and Mul nodes of x · Sigmoid(x) when they are the only readers of `x`.
        func sigmoidTimesInput(_ x: Int) -> (Int, Int)? {
            guard !outputs.contains(x), consumers[x].count == 2,
                  let sigmoid = consumers[x].first(where: { (graph.operators[$0] as? Unary)?.isSigmoid == true }),
                  let mul = consumers[x].first(where: { $0 != sigmoid }), let s = graph.nodes[sigmoid].outputs.first,
                  soleConsumer(s) == mul, (graph.operators[mul] as? Binary)?.kind == .mul,
                  Set(graph.nodes[mul].inputs.compactMap { $0 }) == [x, s], graph.nodes[mul].inputs.count == 2 else { return nil }
            return (sigmoid, mul)
        }
        var plans: [OutputPassFusion] = []
        // An Add of two Conv outputs joins the first Conv's region only.
        var claimed = Set<Int>()
        for (n, node) in graph.nodes.enumerated() where node.opType == "Conv" && !node.isFolded && !claimed.contains(n) {
            guard graph.operators[n] is Conv, node.outputs.count == 1 else { continue }
            var nodes = [n], hidden: [Int] = [], residual: Int? = nil, activation: ConvEpilogue.Activation? = nil
            var current = node.outputs[0]
            var folded: (weights: Tensor, bias: Tensor)? = nil
            while let next = soleConsumer(current), !claimed.contains(next),
                  let fold = foldedAffine(into: folded ?? convParameters(n, in: graph), node: next, from: current, in: graph) {
                nodes.append(next); hidden.append(current); folded = fold
                current = graph.nodes[next].outputs[0]
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
            } else if let (sigmoid, mul) = sigmoidTimesInput(current), !claimed.contains(sigmoid), !claimed.contains(mul) {
                // SiLU: x · Sigmoid(x), where x has exactly these two readers.
                nodes += [sigmoid, mul]; hidden += [current, graph.nodes[sigmoid].outputs[0]]; activation = .silu
                current = graph.nodes[mul].outputs[0]
            }
            if nodes.count > 1 {
                claimed.formUnion(nodes)
                plans.append(OutputPassFusion(nodes: nodes, residual: residual, activation: activation, hidden: hidden, output: current,
                                              folded: folded))
            }
        }
        return plans
    }

    /// The Conv's weights and bias (zeros when absent), when they are float32 constants.
    private static func convParameters(_ conv: Int, in graph: Graph) -> (weights: Tensor, bias: Tensor)? {
        let inputs = graph.nodes[conv].inputs
        guard inputs.count >= 2, let w = inputs[1].flatMap({ graph.values[$0].facts?.constant }), w.dtype == .float32 else { return nil }
        guard inputs.count > 2, let b = inputs[2] else { return (w, Tensor(shape: [w.shape[0]], floats: [Float](repeating: 0, count: w.shape[0]))) }
        return graph.values[b].facts?.constant.map { (w, $0) }
    }

    /// `parameters` with `node` folded in, when it is a per-channel affine map of the value `x`
    /// with constant coefficients: a BatchNormalization, or a Mul or Add by a constant that
    /// broadcasts along the channel axis only (a scalar, [C, 1, 1], [1, C, 1, 1], …).
    private static func foldedAffine(into parameters: (weights: Tensor, bias: Tensor)?, node n: Int, from x: Int,
                                     in graph: Graph) -> (weights: Tensor, bias: Tensor)? {
        guard let (w, bias) = parameters else { return nil }
        let node = graph.nodes[n], m = w.shape[0]
        func constant(_ v: Int?) -> Tensor? { v.flatMap { graph.values[$0].facts?.constant } }
        var a = [Float](repeating: 1, count: m), b = [Float](repeating: 0, count: m)
        switch graph.operators[n] {
        case let op as BatchNorm:
            guard node.outputs.count == 1, node.inputs.count == 5, node.inputs.dropFirst().allSatisfy({ constant($0) != nil }) else { return nil }
            (a, b) = op.affine(node.inputs.map(constant))
        case let op as Binary where (op.kind == .mul || op.kind == .add) && node.inputs.count == 2:
            guard let other = node.inputs.first(where: { $0 != x }) ?? nil, node.inputs.contains(x),
                  let k = constant(other), k.dtype == .float32, let rank = graph.values[x].facts?.rank,
                  let perChannel = channelValues(k, channels: m, rank: rank) else { return nil }
            if op.kind == .mul { a = perChannel } else { b = perChannel }
        default:
            return nil
        }
        let perOutput = w.count / m, weights = w.floats, biases = bias.floats
        return (Tensor(shape: w.shape, floats: (0..<w.count).map { weights[$0] * a[$0 / perOutput] }),
                Tensor(shape: [m], floats: (0..<m).map { biases[$0] * a[$0] + b[$0] }))
    }

    /// The value of constant `k` for each of `channels` channels, when `k` broadcasts against a
    /// tensor of `rank` along axis 1 only; nil otherwise.
    private static func channelValues(_ k: Tensor, channels: Int, rank: Int) -> [Float]? {
        guard k.rank <= rank else { return nil }
        let shape = [Int](repeating: 1, count: rank - k.rank) + k.shape
        guard rank >= 2, shape[0] == 1, shape.dropFirst(2).allSatisfy({ $0 == 1 }), shape[1] == 1 || shape[1] == channels else { return nil }
        let values = k.floats
        return (0..<channels).map { values[shape[1] == 1 ? 0 : $0] }
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
