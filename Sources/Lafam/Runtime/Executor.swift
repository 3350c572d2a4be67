import Dispatch

/// Runs a graph's non-folded nodes in topological order. Each intermediate value is released
/// right after its last consumer unless the caller keeps it (taps, outputs).
struct Executor {
    let graph: Graph
    /// Node indices that run (folded nodes are constants already).
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
    ///   - keep: value indices to return (graph outputs and taps).
    ///   - onValue: called once for each kept value as soon as it exists.
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
        for (v, value) in graph.values.enumerated() {
            if let c = value.facts?.constant { try produced(v, c) }
        }
        for (v, t) in feeds { try produced(v, t) }

        for (s, n) in steps.enumerated() {
            let node = graph.nodes[n]
            let inputs = node.inputs.map { $0.flatMap { slots[$0] } }
            let outputs: [Tensor]
            let start = profile == nil ? 0 : DispatchTime.now().uptimeNanoseconds
            do {
                outputs = try graph.operators[n].run(inputs)
                profile?(n, DispatchTime.now().uptimeNanoseconds - start)
            } catch let e as OpError {
                throw e.error(node: node.name, opType: node.opType)
            }
            for (k, v) in node.outputs.enumerated() where k < outputs.count {
                try produced(v, outputs[k].conformed(to: graph.values[v].facts!.dtype))
            }
            for case let v? in node.inputs where lastUse[v] == s { slots[v] = nil }
        }
        return kept
    }
}
