import LafamGraph
import LafamTensor

/// `winograd`: an ungrouped 2-D 3×3 Conv with stride 1, no dilation and constant weights, with
/// enough input and output channels and 2×2 output tiles over the batch (`WinogradWeights.suits`),
/// runs by Winograd F(2×2, 3×3): 16 instead of 36 multiplications per 2×2 outputs and channel
/// pair, within 2e-6 of im2col relative to the output's magnitude. The transformed weights are
/// made once per weight tensor and shared by the model's specialised graphs (`PassMemo`).
struct WinogradSelection: GraphRewriteRule {
    let name = "winograd"
    let summary = "runs eligible 3×3 stride-1 convs by Winograd F(2×2, 3×3) (within 2e-6 of im2col)"

    func matches(in graph: Graph, context: PassContext) throws -> [Int] {
        graph.nodes.indices.filter { n in
            let node = graph.nodes[n]
            guard !node.isFolded, let plan = (node.op as? Conv)?.plan, case .im2col = plan.algorithm,
                  node.inputs.count > 1, let w = node.inputs[1], graph.values[w].facts?.constant?.dtype == .float32 else { return false }
            return WinogradWeights.suits(plan.geometry, images: plan.input[0])
        }
    }

    func apply(_ n: Int, to rewriter: inout GraphRewriter, context: PassContext) throws {
        let graph = rewriter.graph, node = graph.nodes[n], w = node.inputs[1]!
        let weights = graph.values[w].facts!.constant!
        let transformed = context.memo.value("winograd \(graph.values[w].name)") {
            weights.floats.withUnsafeBufferPointer { WinogradWeights(weights: $0.baseAddress!, outputs: weights.shape[0], inputs: weights.shape[1]) }
        }
        rewriter.replace([n], with: node.with(op: (node.op as! Conv).computed(by: .winograd(transformed))!))
    }
}
