import LafamGraph
import LafamTensor

/// `fuse-layer-norm`: a layer norm over the last axis written as ReduceMean, Sub, Pow, ReduceMean,
/// Add, Sqrt, Div, Mul (and Add) nodes (`Graph.decomposedLayerNorms()`, torch's export before
/// opset 17) becomes one LayerNormalization node, as onnxruntime's LayerNormFusion does: one pass
/// over the data instead of nine, equal within float rounding (statistics accumulated in float64
/// instead of float32). A match with a protected intermediate (a tap) stays as it is.
struct LayerNormFusion: GraphRewriteRule {
    let name = "fuse-layer-norm"
    let summary = "computes a layer norm written as nine elementary nodes as one LayerNormalization node (within float rounding)"

    func matches(in graph: Graph, context: PassContext) throws -> [DecomposedLayerNorm] {
        graph.decomposedLayerNorms().filter { match in
            guard graph.values[match.input].facts?.dtype == .float32,
                  graph.values[match.scale].facts?.dtype == .float32,
                  match.bias.map({ graph.values[$0].facts?.dtype == .float32 }) ?? true else { return false }
            let intermediates = match.nodes.flatMap { graph.nodes[$0].outputs }.filter { $0 != match.output }
            return !intermediates.contains(where: context.isProtected)
        }
    }

    func apply(_ match: DecomposedLayerNorm, to rewriter: inout GraphRewriter, context: PassContext) throws {
        let last = rewriter.graph.nodes[match.nodes.last!]
        let node = Graph.Node(name: last.name, opType: "LayerNormalization", domain: "", inputs: [match.input, match.scale, match.bias],
                              outputs: [match.output], attributes: [:], opset: 17, op: LayerNorm(axis: -1, epsilon: match.epsilon))
        rewriter.replace(match.nodes, with: node)
    }
}
