import LafamGraph
import LafamTensor

/// `fuse-matmul-bias`: a MatMul whose only reader is an Add of a constant bias over the last axis
/// (n values, shape [n] or [1, …, 1, n]) — how torch exports `nn.Linear` on 3-D and 4-D inputs, four
/// times per transformer block — becomes one MatMul that starts each output row as the bias and
/// lets the GEMM accumulate onto it: one pass over the output fewer. Equal within rounding (the
/// bias joins the sum before the GEMM's last partial sums instead of after). A protected MatMul
/// output (a tap) keeps the two nodes.
struct MatMulBiasFusion: GraphRewriteRule {
    let name = "fuse-matmul-bias"
    let summary = "adds a constant bias after a MatMul (MatMul and Add nodes) inside its GEMM (within float rounding)"

    struct Match {
        let matmul: Int
        let add: Int
        let bias: Int
    }

    func matches(in graph: Graph, context: PassContext) throws -> [Match] {
        let consumers = graph.consumers
        var found: [Match] = []
        for (n, node) in graph.nodes.enumerated() where !node.isFolded {
            guard let op = node.op as? MatMul, !op.hasBias, node.inputs.count == 2,
                  let b = node.inputs[1], let bShape = graph.values[b].facts?.shape, bShape.count >= 2,
                  let outShape = graph.values[node.outputs[0]].facts?.shape, let columns = outShape.last?.value,
                  let add = graph.soleConsumer(node.outputs[0], consumers: consumers, context: context),
                  (graph.nodes[add].op as? Binary)?.kind == .add, (graph.nodes[add].op as? Binary)?.variadic == false,
                  graph.nodes[add].inputs.count == 2,
                  let bias = graph.nodes[add].inputs.first(where: { $0 != node.outputs[0] }) ?? nil,
                  let constant = graph.values[bias].facts?.constant, constant.dtype == .float32,
                  constant.rank <= outShape.count, constant.shape.last == columns, constant.count == columns
            else { continue }
            found.append(Match(matmul: n, add: add, bias: bias))
        }
        return found
    }

    func apply(_ match: Match, to rewriter: inout GraphRewriter, context: PassContext) throws {
        let matmul = rewriter.graph.nodes[match.matmul], add = rewriter.graph.nodes[match.add]
        let node = matmul.with(op: MatMul(hasBias: true), inputs: matmul.inputs + [match.bias], outputs: add.outputs)
        rewriter.replace([match.matmul, match.add], with: node)
    }
}
