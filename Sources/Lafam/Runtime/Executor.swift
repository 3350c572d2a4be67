import Dispatch
import Foundation

/// Runs a graph's non-folded nodes in topological order. Each intermediate value is released
/// right after its last consumer unless the caller keeps it (taps, outputs). Regions that
/// `OutputPassFusion` found run as one Conv with a fused output pass unless the run keeps one of
/// their intermediate values, in which case their nodes run one by one, as written.
struct Executor {
    enum Step {
        case node(Int)
        case fused(OutputPassFusion)

        var nodes: [Int] {
            switch self {
            case .node(let n): return [n]
            case .fused(let f): return f.nodes
            }
        }
    }

    let graph: Graph
    let steps: [Step]
    /// For each value, the last step that reads it (-1: never read).
    let lastUse: [Int]
    /// Transformed weights of the Conv nodes that run by Winograd F(2×2, 3×3), by node.
    let winograd: [Int: WinogradWeights]

    init(graph: Graph, fuse: Bool, winogradCache: WinogradCache?) {
        self.graph = graph
        winograd = winogradCache.map { $0.weights(for: graph) } ?? [:]
        let fusions = fuse ? OutputPassFusion.plan(graph) : []
        // A region runs at its last node's place, where every input it reads exists.
        var regionEndingAt: [Int: OutputPassFusion] = [:], inRegion = Set<Int>()
        for f in fusions {
            regionEndingAt[f.nodes.last!] = f
            inRegion.formUnion(f.nodes)
        }
        var steps: [Step] = []
        for n in graph.nodes.indices where !graph.nodes[n].isFolded {
            if let f = regionEndingAt[n] { steps.append(.fused(f)) } else if !inRegion.contains(n) { steps.append(.node(n)) }
        }
        self.steps = steps
        var last = [Int](repeating: -1, count: graph.values.count)
        for (s, step) in steps.enumerated() {
            for n in step.nodes { for case let v? in graph.nodes[n].inputs { last[v] = s } }
        }
        lastUse = last
    }

    /// - Parameters:
    ///   - feeds: a tensor for every graph input, by value index.
    ///   - keep: value indices to return (graph outputs and taps).
    ///   - onValue: called once for each kept value as soon as it exists.
    ///   - profile: called with each node's (or fused region's first node's) kernel time.
    func run(feeds: [Int: Tensor], keep: Set<Int>, onValue: ((Int, Tensor) throws -> Void)?,
             profile: ((Int, UInt64) -> Void)? = nil) throws -> [Int: Tensor] {
        var slots = [Tensor?](repeating: nil, count: graph.values.count)
        var kept: [Int: Tensor] = [:]
        func produced(_ v: Int, _ t: Tensor) throws {
            slots[v] = t
            if keep.contains(v) {
                kept[v] = t
                try onValue?(v, t)
            }
        }
        func inputs(_ n: Int) -> [Tensor?] { graph.nodes[n].inputs.map { $0.flatMap { slots[$0] } } }
        func timed<T>(_ n: Int, _ body: () throws -> T) throws -> T {
            let start = profile == nil ? 0 : DispatchTime.now().uptimeNanoseconds
            do {
                let result = try body()
                profile?(n, DispatchTime.now().uptimeNanoseconds - start)
                return result
            } catch let e as OpError {
                throw e.error(node: graph.nodes[n].name, opType: graph.nodes[n].opType)
            }
        }
        func runNode(_ n: Int) throws {
            let outputs = try timed(n) {
                if let weights = winograd[n] { return try (graph.operators[n] as! Conv).run(inputs(n), epilogue: ConvEpilogue(), winograd: weights) }
                return try graph.operators[n].run(inputs(n))
            }
            for (k, v) in graph.nodes[n].outputs.enumerated() where k < outputs.count {
                try produced(v, outputs[k].conformed(to: graph.values[v].facts!.dtype))
            }
        }
        for (v, value) in graph.values.enumerated() {
            if let c = value.facts?.constant { try produced(v, c) }
        }
        for (v, t) in feeds { try produced(v, t) }

        // OpenBLAS on one thread, its thread count lent to lafam's own threads (KernelThreads).
        try KernelThreads.whileOpenBLASSingleThreaded {
            for (s, step) in steps.enumerated() {
                switch step {
                case .node(let n):
                    try runNode(n)
                case .fused(let f) where f.hidden.contains(where: keep.contains):
                    for n in f.nodes { try runNode(n) }
                case .fused(let f):
                    let conv = f.nodes[0]
                    let epilogue = ConvEpilogue(residual: f.residual.flatMap { slots[$0] }, activation: f.activation)
                    // Folded affine nodes replace the weights, whose Winograd transform (made from
                    // the unfolded ones) then does not apply.
                    let convInputs = f.folded.map { [inputs(conv)[0], $0.weights, $0.bias] } ?? inputs(conv)
                    let outputs = try timed(conv) {
                        try (graph.operators[conv] as! Conv).run(convInputs, epilogue: epilogue, winograd: f.folded == nil ? winograd[conv] : nil)
                    }
                    try produced(f.output, outputs[0])
                }
                for n in step.nodes { for case let v? in graph.nodes[n].inputs where lastUse[v] == s { slots[v] = nil } }
            }
        }
        return kept
    }
}

/// Winograd transforms of constant Conv weights, computed once per weight tensor and shared by
/// the graphs that a model specialises to different input shapes.
final class WinogradCache: @unchecked Sendable {
    private var byWeight: [String: WinogradWeights] = [:]
    private let lock = NSLock()

    /// The transforms for `graph`'s Conv nodes that suit Winograd (`WinogradWeights.suits`)
    /// and whose weights are constants, by node.
    func weights(for graph: Graph) -> [Int: WinogradWeights] {
        lock.lock()
        defer { lock.unlock() }
        var result: [Int: WinogradWeights] = [:]
        for (n, node) in graph.nodes.enumerated() where node.opType == "Conv" && !node.isFolded {
            guard let conv = graph.operators[n] as? Conv, let xv = node.inputs.first ?? nil, node.inputs.count > 1, let wv = node.inputs[1],
                  let x = graph.values[xv].facts?.shape?.concrete, let w = graph.values[wv].facts?.constant, w.dtype == .float32,
                  let geometry = try? conv.geometry(input: x, weight: w.shape), WinogradWeights.suits(geometry, images: x[0]) else { continue }
            let key = graph.values[wv].name
            if byWeight[key] == nil {
                byWeight[key] = w.floats.withUnsafeBufferPointer { WinogradWeights(weights: $0.baseAddress!, outputs: w.shape[0], inputs: w.shape[1]) }
            }
            result[n] = byWeight[key]
        }
        return result
    }
}
