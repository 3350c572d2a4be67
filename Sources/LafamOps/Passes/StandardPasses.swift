import LafamGraph
import LafamTensor

extension GraphPass {
    /// lafam's rewrites, in the order they run on every graph a model specialises to concrete
    /// input shapes. Each can be switched off by name (`ModelOptions.disabledPasses`,
    /// `lafam bench --disable-pass NAME`), to measure what it gains or to rule it out.
    public static let standard: [GraphPass] = [
        GraphPass(ChannelAffineFolding()),
        GraphPass(SiluFusion()),
        GraphPass(LayerNormFusion()),
        GraphPass(MatMulBiasFusion()),
        GraphPass(ConvOutputPassFusion()),
        GraphPass(WinogradSelection()),
    ]
}

extension Graph {
    /// The one node that reads `v`, when nothing else does and `v` is not protected.
    func soleConsumer(_ v: Int, consumers: [[Int]], context: PassContext) -> Int? {
        guard !context.isProtected(v), consumers[v].count == 1 else { return nil }
        return consumers[v][0]
    }

    /// Facts of a node's inputs.
    func inputFacts(_ n: Int) -> [ValueFacts?] { nodes[n].inputs.map { $0.flatMap { values[$0].facts } } }
}
