import Dispatch
import Synchronization

/// Runs a (rewritten) graph's non-folded nodes in topological order. Each intermediate value is
/// released right after its last consumer unless the caller keeps it (taps, outputs, values a
/// backward pass reads).
struct ExecutionPlan: Sendable {
    let graph: Graph
    /// Node indices in execution order.
    let steps: [Int]
    /// For each value, the last step that reads it (-1: never read).
    let lastUse: [Int]

    init(graph: Graph) {
        self.graph = graph
        steps = graph.nodes.indices.filter { !graph.nodes[$0].isFolded }
        var last = [Int](repeating: -1, count: graph.values.count)
        for (s, n) in steps.enumerated() {
            for case let v? in graph.nodes[n].inputs { last[v] = s }
        }
        lastUse = last
    }

    /// - Parameters:
    ///   - feeds: a tensor for every graph input, by value index.
    ///   - keep: value indices to return (graph outputs and taps); none of them is hidden by a rewrite.
    ///   - pool: the model's threads for this pass.
    ///   - onValue: called once for each kept value as soon as it exists.
    ///   - profile: called with each node's kernel time.
    func run(feeds: [Int: Tensor], keep: Set<Int>, pool: KernelPool, onValue: ((Int, Tensor) throws -> Void)?,
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
        for (v, value) in graph.values.enumerated() {
            if let c = value.facts?.constant { try produced(v, c) }
        }
        for (v, t) in feeds { try produced(v, t) }
        try KernelThreads.pass(on: pool) {
            for (s, n) in steps.enumerated() {
                let node = graph.nodes[n]
                let start = profile == nil ? 0 : DispatchTime.now().uptimeNanoseconds
                let outputs = try OpError.reported(at: node.name, opType: node.opType) {
                    try node.op.run(node.inputs.map { $0.flatMap { slots[$0] } })
                }
                profile?(n, DispatchTime.now().uptimeNanoseconds - start)
                for (k, v) in node.outputs.enumerated() where k < outputs.count {
                    try produced(v, outputs[k].conformed(to: graph.values[v].facts!.dtype))
                }
                for case let v? in node.inputs where lastUse[v] == s { slots[v] = nil }
            }
        }
        return kept
    }
}

/// A model's graph specialised to concrete input shapes (every shape known, so shape subgraphs
/// fold to constants and each op is specialised), with one rewritten plan per set of values that
/// runs must keep: rewrites may hide only values nobody asked for.
final class Specialisation: Sendable {
    /// The specialised graph before any rewrite: what autodiff walks.
    let graph: Graph
    private let passes: [GraphPass]
    private let memo: PassMemo
    private let plans = Mutex<[[Int]: ExecutionPlan]>([:])
    /// Values some node computes: the only ones a rewrite could hide.
    private let computed: Set<Int>

    init(graph: Graph, passes: [GraphPass], memo: PassMemo) {
        self.graph = graph
        self.passes = passes
        self.memo = memo
        computed = Set(graph.nodes.filter { !$0.isFolded }.flatMap(\.outputs)).subtracting(graph.outputs)
    }

    /// The plan whose rewrites keep every value of `keep` materialised and exact.
    func plan(keeping keep: Set<Int>) throws -> ExecutionPlan {
        let protected = keep.intersection(computed)
        let key = protected.sorted()
        if let plan = plans.withLock({ $0[key] }) { return plan }
        let rewritten = try GraphPass.run(passes, on: graph, context: PassContext(graph: graph, protecting: protected, memo: memo))
        let plan = ExecutionPlan(graph: rewritten)
        plans.withLock { cache in
            // Each distinct set of kept values (taps, a gradient's path) gets its own plan; keep the few most recent.
            if cache.count >= 8 { cache.removeAll() }
            cache[key] = plan
        }
        return plan
    }
}
