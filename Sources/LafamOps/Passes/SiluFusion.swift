import LafamGraph
import LafamTensor

/// `fuse-silu`: x · Sigmoid(x), as exporters write SiLU and Swish (a Sigmoid node whose only
/// reader is a Mul of x by it), becomes one node computing the `Silu` activation, with the same
/// float operations (bit-identical). The Sigmoid's output is not materialised, so a protected
/// one keeps the two nodes.
struct SiluFusion: GraphRewriteRule {
    let name = "fuse-silu"
    let summary = "computes x · Sigmoid(x) (Sigmoid and Mul nodes) as one SiLU node (bit-identical)"

    struct Match {
        let sigmoid: Int
        let mul: Int
        let x: Int
    }

    func matches(in graph: Graph, context: PassContext) throws -> [Match] {
        let consumers = graph.consumers
        var found: [Match] = []
        for (n, node) in graph.nodes.enumerated() where !node.isFolded {
            guard (node.op as? ActivationOp)?.activation is Sigmoid, let x = node.inputs.first ?? nil, let s = node.outputs.first,
                  let mul = graph.soleConsumer(s, consumers: consumers, context: context),
                  (graph.nodes[mul].op as? Binary)?.kind == .mul, (graph.nodes[mul].op as? Binary)?.variadic == false,
                  graph.nodes[mul].inputs.count == 2, Set(graph.nodes[mul].inputs.compactMap { $0 }) == [x, s] else { continue }
            found.append(Match(sigmoid: n, mul: mul, x: x))
        }
        return found
    }

    func apply(_ match: Match, to rewriter: inout GraphRewriter, context: PassContext) throws {
        let mul = rewriter.graph.nodes[match.mul]
        let node = Graph.Node(name: mul.name, opType: "SiLU", domain: "lafam", inputs: [match.x], outputs: mul.outputs,
                              attributes: [:], opset: mul.opset, op: ActivationOp(activation: Silu()))
        rewriter.replace([match.sigmoid, match.mul], with: node)
    }
}
