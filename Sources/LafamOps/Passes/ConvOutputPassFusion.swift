import LafamGraph
import LafamTensor

/// `fuse-conv-output-pass`: a Conv whose output feeds only an Add of a same-shape float32 tensor
/// (a residual) and/or only an activation node (`ActivationComputing`: Relu, Clip with constant
/// bounds, HardSwish, SiLU, …) computes them in its output pass, `activation(conv + bias +
/// residual)`, with the same float operations in the same order as the separate nodes, so the
/// result is bit-identical (up to the sign of a zero: the AVX2 clamp maps −0 to −0). The values
/// between the nodes are not materialised, so a protected one stops the region before it. An
/// Add of two Conv outputs joins the first Conv's region.
struct ConvOutputPassFusion: GraphRewriteRule {
    let name = "fuse-conv-output-pass"
    let summary = "computes a residual Add and an activation after a Conv in its output pass (bit-identical)"

    struct Match {
        let nodes: [Int]
        let residual: Int?
        let activation: (any Activation)?
        let output: Int
    }

    func matches(in graph: Graph, context: PassContext) throws -> [Match] {
        let consumers = graph.consumers
        var found: [Match] = [], claimed = Set<Int>()
        func next(_ v: Int) -> Int? {
            graph.soleConsumer(v, consumers: consumers, context: context).flatMap { claimed.contains($0) ? nil : $0 }
        }
        for (n, node) in graph.nodes.enumerated() where !node.isFolded && !claimed.contains(n) && node.outputs.count == 1 {
            guard let conv = node.op as? Conv, conv.epilogue.isEmpty else { continue }
            var nodes = [n], current = node.outputs[0], residual: Int? = nil, activation: (any Activation)? = nil
            if let a = next(current), let add = graph.nodes[a].op as? Binary, add.kind == .add, !add.variadic,
               graph.nodes[a].inputs.count == 2, let other = graph.nodes[a].inputs.first(where: { $0 != current }) ?? nil,
               let shape = graph.values[current].facts?.shape?.concrete, graph.values[other].facts?.shape?.concrete == shape,
               graph.values[other].facts?.dtype == .float32 {
                nodes.append(a); residual = other
                current = graph.nodes[a].outputs[0]
            }
            if let r = next(current), graph.nodes[r].outputs.count == 1, graph.nodes[r].inputs.first == current,
               let f = (graph.nodes[r].op as? ActivationComputing)?.activation(graph.inputFacts(r)) {
                nodes.append(r); activation = f
                current = graph.nodes[r].outputs[0]
            }
            guard nodes.count > 1 else { continue }
            claimed.formUnion(nodes)
            found.append(Match(nodes: nodes, residual: residual, activation: activation, output: current))
        }
        return found
    }

    func apply(_ match: Match, to rewriter: inout GraphRewriter, context: PassContext) throws {
        let node = rewriter.graph.nodes[match.nodes[0]], conv = node.op as! Conv
        var inputs = node.inputs
        while inputs.count < 3 { inputs.append(nil) }
        if let residual = match.residual { inputs.append(residual) }
        let epilogue = ConvEpilogue(hasResidual: match.residual != nil, activation: match.activation)
        rewriter.replace(match.nodes, with: node.with(op: conv.fused(epilogue), inputs: inputs, outputs: [match.output]))
    }
}
