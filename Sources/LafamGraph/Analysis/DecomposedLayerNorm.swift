import LafamTensor

/// A layer normalisation over the last axis written as elementary ops, as exporters write it before
/// opset 17 (torch's `F.layer_norm` at opsets ≤ 16):
/// `m = ReduceMean(x)`, `d = x − m`, `v = ReduceMean(d ^ 2)`, `y = d / √(v + ε)`, then `y · γ` and
/// optionally `+ β`, with ε, γ and β constants. Found from the ops and constants, not from names.
public struct DecomposedLayerNorm: Sendable, Equatable {
    /// The normalised tensor.
    public let input: Int
    /// γ (a constant value) and β (a constant value or nil).
    public let scale: Int, bias: Int?
    /// ε added to the variance.
    public let epsilon: Float
    /// The nodes in graph order, ending with the one that produces `output`.
    public let nodes: [Int]
    /// The value the last node produces: the layer norm's result.
    public var output: Int
}

extension Graph {
    /// Every decomposed layer normalisation of the graph (`DecomposedLayerNorm`), in graph order.
    public func decomposedLayerNorms() -> [DecomposedLayerNorm] {
        let consumers = self.consumers
        let found = nodes.indices.compactMap { decomposedLayerNorm(endingAt: $0, consumers: consumers) }
        // A `· γ` Mul followed by `+ β` matches twice: keep the whole one.
        let withBias = Set(found.filter { $0.bias != nil }.flatMap(\.nodes))
        return found.filter { $0.bias != nil || !withBias.contains($0.nodes.last!) }
    }

    /// The outputs of every layer norm: LayerNormalization nodes and decomposed ones.
    public func layerNormOutputs() -> Set<Int> {
        Set(nodes.filter { $0.opType == "LayerNormalization" && !$0.isFolded }.map { $0.outputs[0] })
            .union(decomposedLayerNorms().map(\.output))
    }

    /// The decomposed layer norm whose last node is `n` (the `· γ` Mul, or the `+ β` Add after it).
    func decomposedLayerNorm(endingAt n: Int, consumers: [[Int]]) -> DecomposedLayerNorm? {
        func producer(_ v: Int?, _ op: String) -> Int? {
            guard let v, let p = values[v].producer, nodes[p].opType == op, !nodes[p].isFolded else { return nil }
            return p
        }
        func constant(_ v: Int?) -> Tensor? { v.flatMap { values[$0].facts?.constant } }
        /// The one non-constant input of a two-input node and the index of its constant partner.
        func split(_ node: Node) -> (value: Int, constant: Int)? {
            guard node.inputs.count == 2, let a = node.inputs[0], let b = node.inputs[1] else { return nil }
            if constant(b) != nil, constant(a) == nil { return (a, b) }
            if constant(a) != nil, constant(b) == nil { return (b, a) }
            return nil
        }
        var chain = [n]
        var bias: Int? = nil, mul = n
        if nodes[n].opType == "Add" {
            guard let (v, b) = split(nodes[n]), let m = producer(v, "Mul"), consumers[v].count == 1 else { return nil }
            bias = b; mul = m; chain.append(m)
        } else if nodes[n].opType != "Mul" {
            return nil
        }
        guard let (normalised, scale) = split(nodes[mul]), consumers[normalised].count == 1,
              let div = producer(normalised, "Div"), let sqrtIn = nodes[div].inputs.last ?? nil,
              let sqrt = producer(sqrtIn, "Sqrt"), consumers[sqrtIn].count == 1,
              let addEps = producer(nodes[sqrt].inputs.first ?? nil, "Add"), let (variance, eps) = split(nodes[addEps]),
              let epsilon = try? constant(eps)?.floatValues(), epsilon.count == 1,
              let meanOfSquares = producer(variance, "ReduceMean"), consumers[variance].count == 1,
              let pow = producer(nodes[meanOfSquares].inputs.first ?? nil, "Pow"),
              let exponent = try? constant(nodes[pow].inputs.last ?? nil)?.floatValues(), exponent == [2],
              let centred = nodes[div].inputs.first ?? nil, nodes[pow].inputs.first == centred,
              Set(consumers[centred]) == [pow, div],
              let sub = producer(centred, "Sub"), let x = nodes[sub].inputs.first ?? nil,
              let mean = producer(nodes[sub].inputs.last ?? nil, "ReduceMean"), nodes[mean].inputs.first == x,
              consumers[nodes[mean].outputs[0]].count == 1,
              let rank = values[x].facts?.shape?.count, rank >= 1,
              reducesLastAxisKeepingIt(mean, rank: rank), reducesLastAxisKeepingIt(meanOfSquares, rank: rank),
              let gamma = constant(scale), gamma.rank <= 1,
              bias.map({ constant($0)?.rank ?? 2 <= 1 }) ?? true
        else { return nil }
        chain += [div, sqrt, addEps, meanOfSquares, pow, sub, mean]
        return DecomposedLayerNorm(input: x, scale: scale, bias: bias, epsilon: epsilon[0], nodes: chain.sorted(),
                                   output: nodes[n].outputs[0])
    }

    /// True when ReduceMean node `n` averages its rank-`rank` input over the last axis alone and
    /// keeps it (axes an attribute before opset 18, an input from 18).
    private func reducesLastAxisKeepingIt(_ n: Int, rank: Int) -> Bool {
        let node = nodes[n]
        if case .int(let keep)? = node.attributes["keepdims"], keep == 0 { return false }
        var axes: [Int]? = nil
        if case .ints(let a)? = node.attributes["axes"] { axes = a }
        if node.inputs.count > 1, let v = node.inputs[1], let t = values[v].facts?.constant, t.dtype == .int64 { axes = t.asInts }
        return axes == [-1] || axes == [rank - 1]
    }
}
