import LafamGraph
import LafamTensor

/// `fold-channel-affine`: per-channel affine nodes right after a Conv with constant weights —
/// a BatchNormalization with constant parameters, a Mul or Add by a constant that broadcasts
/// along the channel axis only (`ChannelAffine`), each the previous value's only reader — are
/// folded into the Conv's weights and bias: W'[c] = W[c]·a[c], B'[c] = B[c]·a[c] + b[c] for each
/// node's y = x·a + b in turn. The result differs from the separate nodes' by rounding only
/// (≤ 1e-5 of the tensor's magnitude); the values inside the chain are not materialised, so a
/// chain stops before a protected one (a tap keeps the Conv's own output exact).
struct ChannelAffineFolding: GraphRewriteRule {
    let name = "fold-channel-affine"
    let summary = "folds BatchNormalization and per-channel Mul/Add after a Conv into its weights (rounding changes by ~1e-6)"

    struct Match {
        let conv: Int
        let chain: [Int]
        let weights: Tensor
        let bias: Tensor
    }

    func matches(in graph: Graph, context: PassContext) throws -> [Match] {
        let consumers = graph.consumers
        var found: [Match] = []
        for (n, node) in graph.nodes.enumerated() where !node.isFolded && node.outputs.count == 1 {
            guard let conv = node.op as? Conv, conv.epilogue.isEmpty, var (weights, bias) = parameters(of: n, in: graph) else { continue }
            let channels = weights.shape[0]
            var chain: [Int] = [], current = node.outputs[0]
            while let next = graph.soleConsumer(current, consumers: consumers, context: context), graph.nodes[next].outputs.count == 1,
                  let affine = graph.nodes[next].op as? ChannelAffine, let input = graph.nodes[next].inputs.firstIndex(of: current),
                  let (a, b) = affine.channelAffine(graph.inputFacts(next), input: input, channels: channels) {
                (weights, bias) = folded(weights, bias, scale: a, shift: b)
                chain.append(next)
                current = graph.nodes[next].outputs[0]
            }
            if !chain.isEmpty { found.append(Match(conv: n, chain: chain, weights: weights, bias: bias)) }
        }
        return found
    }

    func apply(_ match: Match, to rewriter: inout GraphRewriter, context: PassContext) throws {
        let graph = rewriter.graph, conv = graph.nodes[match.conv]
        let through = match.chain.map { graph.nodes[$0].name }.joined(separator: "+")
        let weights = rewriter.addConstant(match.weights, name: "\(conv.name)|weights folded with \(through)")
        let bias = rewriter.addConstant(match.bias, name: "\(conv.name)|bias folded with \(through)")
        let output = graph.nodes[match.chain.last!].outputs[0]
        rewriter.replace([match.conv] + match.chain,
                         with: conv.with(op: conv.op, inputs: [conv.inputs[0], weights, bias], outputs: [output]))
    }

    /// The Conv's weights and bias (zeros when absent), when they are float32 constants.
    private func parameters(of conv: Int, in graph: Graph) -> (Tensor, Tensor)? {
        let inputs = graph.nodes[conv].inputs
        guard inputs.count >= 2, let w = inputs[1].flatMap({ graph.values[$0].facts?.constant }), w.dtype == .float32 else { return nil }
        guard inputs.count > 2, let b = inputs[2] else { return (w, Tensor(uncheckedShape: [w.shape[0]], repeating: 0)) }
        return graph.values[b].facts?.constant.map { (w, $0) }
    }

    private func folded(_ w: Tensor, _ bias: Tensor, scale a: [Float], shift b: [Float]) -> (Tensor, Tensor) {
        let m = w.shape[0], perOutput = w.count / m, weights = w.floats, biases = bias.floats
        return (Tensor(uncheckedShape: w.shape, floats: (0..<w.count).map { weights[$0] * a[$0 / perOutput] }),
                Tensor(uncheckedShape: [m], floats: (0..<m).map { biases[$0] * a[$0] + b[$0] }))
    }
}
