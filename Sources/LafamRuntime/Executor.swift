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

    /// The most bytes of values alive at once while the plan runs keeping `keep`, and the node
    /// where that is reached: what the memory budget is held to before a run starts. Graph inputs
    /// count, constants do not (they are part of the loaded model), and a value whose size is not
    /// known statically counts nothing here (its kernel holds itself to the budget).
    func peak(keep: Set<Int>) -> (bytes: Int, node: Int?) {
        func bytes(_ v: Int) -> Int {
            guard let f = graph.values[v].facts, f.constant == nil, let shape = f.shape?.concrete else { return 0 }
            guard let count = try? Sizes.elementCount(shape), let b = try? Sizes.bytes(count: count, width: f.dtype.storageWidth) else { return .max }
            return b
        }
        func adding(_ a: Int, _ b: Int) -> Int { a.addingReportingOverflow(b).overflow ? .max : a + b }
        let inputs = Set(graph.inputs)
        var live = graph.inputs.reduce(0) { adding($0, bytes($1)) }
        var peak = live, at: Int? = nil
        for (s, n) in steps.enumerated() {
            let node = graph.nodes[n]
            live = node.outputs.reduce(live) { adding($0, bytes($1)) }
            if live > peak { (peak, at) = (live, n) }
            guard live != .max else { break }
            for v in Set(node.inputs.compactMap { $0 }) where lastUse[v] == s && !keep.contains(v) && !inputs.contains(v) { live -= bytes(v) }
        }
        return (peak, at)
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
        let (peak, node) = plan.peak(keep: keep)
        try MemoryBudget.current.check(peak, for: "a run on inputs of shape " + graph.inputs.map { graph.values[$0].facts?.shape?.shapeString ?? "?" }
            .joined(separator: ", ") + (node.map { ", with the values alive at node '\(rewritten.nodes[$0].name)',"} ?? ","))
        plans.withLock { cache in
            // Each distinct set of kept values (taps, a gradient's path) gets its own plan; keep the few most recent.
            if cache.count >= 8 { cache.removeAll() }
            cache[key] = plan
        }
        return plan
    }
}
