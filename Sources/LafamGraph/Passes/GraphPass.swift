import Synchronization
import LafamTensor

/// A rewrite rule over a graph specialised to concrete shapes, in the manner of onnxruntime's
/// graph transformers: a name (to report it and to switch it off), a condition (`matches`: where
/// it applies) and an apply step (what it makes of one match).
///
/// A rule must leave every protected value (`PassContext.protected`) materialised and exactly as
/// the unrewritten graph computes it: taps and the values a backward pass reads come out of a
/// rewritten graph unchanged.
package protocol GraphRewriteRule: Sendable {
    associatedtype Match
    /// Short, stable, kebab-case (`fuse-conv-output-pass`): how users name the pass.
    var name: String { get }
    /// One line saying what the pass does.
    var summary: String { get }
    /// Where the rule applies in `graph`: matches that do not overlap and hide no protected value.
    func matches(in graph: Graph, context: PassContext) throws -> [Match]
    /// Rewrites one match.
    func apply(_ match: Match, to rewriter: inout GraphRewriter, context: PassContext) throws
}

/// A rewrite rule behind a name, as a model's pass list holds it (`GraphPass.standard`).
public struct GraphPass: Sendable {
    /// The pass's short, stable, kebab-case name, by which users report or switch it off.
    public let name: String
    /// One line saying what the pass does.
    public let summary: String
    private let body: @Sendable (Graph, PassContext) throws -> Graph

    package init<Rule: GraphRewriteRule>(_ rule: Rule) {
        name = rule.name
        summary = rule.summary
        body = { graph, context in
            let matches = try rule.matches(in: graph, context: context)
            guard !matches.isEmpty else { return graph }
            var rewriter = GraphRewriter(graph)
            for m in matches { try rule.apply(m, to: &rewriter, context: context) }
            return rewriter.rewritten()
        }
    }

    /// `graph` with this pass applied.
    package func apply(to graph: Graph, context: PassContext) throws -> Graph { try body(graph, context) }

    /// `graph` with `passes` applied in order. Fails, naming the pass, if one hid a protected value.
    package static func run(_ passes: [GraphPass], on graph: Graph, context: PassContext) throws -> Graph {
        var result = graph
        for pass in passes {
            let before = result
            result = try pass.apply(to: before, context: context)
            for v in context.protected where before.values[v].producer != nil && result.values[v].producer == nil {
                throw LafamError.invalidGraph("graph pass '\(pass.name)' hid the protected value '\(result.values[v].name)' (a bug in lafam)")
            }
        }
        return result
    }
}

/// What a rewrite rule may rely on besides the graph.
package struct PassContext: Sendable {
    /// Values a rewrite must keep materialised and exact: the graph's outputs, taps, and the
    /// values a backward pass reads.
    package let protected: Set<Int>
    /// Work shared by the graphs a model specialises (transformed weights), computed once.
    package let memo: PassMemo

    package init(graph: Graph, protecting values: Set<Int>, memo: PassMemo) {
        protected = values.union(graph.outputs)
        self.memo = memo
    }

    package func isProtected(_ value: Int) -> Bool { protected.contains(value) }
}

/// Results a pass computes once per model and reuses for each specialised graph (e.g. Winograd's
/// transformed weights, keyed by the weight tensor), safe to use from several threads.
package final class PassMemo: Sendable {
    private let storage = Mutex<[String: any Sendable]>([:])

    package init() {}

    /// The value stored under `key`, made by `make` the first time it is asked for.
    package func value<T: Sendable>(_ key: String, _ make: () throws -> T) rethrows -> T {
        if let found = storage.withLock({ $0[key] }) as? T { return found }
        let made = try make()
        storage.withLock { $0[key] = made }
        return made
    }
}

/// Collects the replacements of one pass and builds the rewritten graph. A replacement takes
/// the place of the last node it replaces (every input it reads exists by then); the values the
/// replaced nodes produced and the new node does not are hidden (they keep their index, with no
/// producer); new constants are appended to the values.
package struct GraphRewriter {
    package let graph: Graph
    private var replacementAt: [Int: Graph.Node] = [:]
    private var removed = Set<Int>()
    private var added: [Graph.Value] = []

    package init(_ graph: Graph) { self.graph = graph }

    /// Index of a new constant value holding `tensor`.
    package mutating func addConstant(_ tensor: Tensor, name: String) -> Int {
        added.append(Graph.Value(name: name, producer: nil, facts: ValueFacts(tensor)))
        return graph.values.count + added.count - 1
    }

    /// Replaces `nodes` (in graph order, not replaced before) with `node`.
    package mutating func replace(_ nodes: [Int], with node: Graph.Node) {
        precondition(!nodes.isEmpty && removed.isDisjoint(with: nodes), "a rewrite replaced a node twice")
        removed.formUnion(nodes)
        replacementAt[nodes.max()!] = node
    }

    /// The graph with every replacement made.
    package func rewritten() -> Graph {
        var values = graph.values + added
        var nodes: [Graph.Node] = []
        for (n, node) in graph.nodes.enumerated() {
            if let replacement = replacementAt[n] {
                nodes.append(replacement)
            } else if !removed.contains(n) {
                nodes.append(node)
            }
        }
        for v in values.indices { values[v].producer = nil }
        for (n, node) in nodes.enumerated() { for v in node.outputs { values[v].producer = n } }
        return Graph(values: values, nodes: nodes, inputs: graph.inputs, outputs: graph.outputs)
    }
}
