import LafamONNX
import LafamTensor

/// Builds a validated `Graph` from a parsed model: binds every node to its op (unknown ops are
/// reported with node name and opset), resolves names, orders nodes topologically (cycles and
/// missing inputs are errors), infers types and shapes, folds constant subgraphs, and lets every
/// op whose input shapes are all known prepare for them (`Operator.specialized(for:)`).
public enum GraphBuilder {
    /// - Parameter inputShapes: replaces the declared shape of graph inputs, by name (for example
    ///   to fix a symbolic batch size). Shapes not given keep their declared dimensions.
    public static func build(_ model: ONNXModel, registry: OperatorRegistry,
                             inputShapes: [String: [Dim]] = [:]) throws -> Graph {
        let g = model.graph
        var values: [Graph.Value] = []
        var index: [String: Int] = [:]
        func addValue(_ name: String, facts: ValueFacts?) -> Int {
            values.append(Graph.Value(name: name, producer: nil, facts: facts))
            index[name] = values.count - 1
            return values.count - 1
        }

        for name in g.initializerOrder {
            _ = addValue(name, facts: ValueFacts(g.initializers[name]!))
        }
        // IR ≤ 3 lists initializers among the inputs as default values; they stay constants.
        var graphInputs: [Int] = []
        for info in g.inputs where g.initializers[info.name] == nil {
            guard index[info.name] == nil else { throw LafamError.invalidGraph("graph input '\(info.name)' is declared twice") }
            let dtype = try inputType(info)
            let shape = inputShapes[info.name] ?? info.shape
            graphInputs.append(addValue(info.name, facts: ValueFacts(dtype: dtype, shape: shape)))
        }

        // Every node output gets a value; a name may be produced only once.
        var outputIDs: [[Int]] = []
        for (n, node) in g.nodes.enumerated() {
            var ids: [Int] = []
            for (k, out) in node.outputs.enumerated() {
                if out.isEmpty {
                    ids.append(addValue("\(node.name):unused\(k)", facts: nil))
                    values[ids.last!].producer = n
                    continue
                }
                if let existing = index[out] {
                    let other = values[existing].producer.map { "node '\(g.nodes[$0].name)'" } ?? "a graph input or initializer"
                    throw LafamError.invalidGraph("tensor '\(out)' is produced by node '\(node.name)' and by \(other)")
                }
                ids.append(addValue(out, facts: nil))
                values[ids.last!].producer = n
            }
            outputIDs.append(ids)
        }

        // Resolve inputs.
        var inputIDs: [[Int?]] = []
        for node in g.nodes {
            inputIDs.append(try node.inputs.map { name -> Int? in
                if name.isEmpty { return nil }
                guard let id = index[name] else {
                    throw LafamError.invalidGraph("node '\(node.name)' (\(node.opType)) reads tensor '\(name)', which no node, initializer or graph input provides")
                }
                return id
            })
        }

        let order = try topologicalOrder(g.nodes, inputIDs: inputIDs, producer: { values[$0].producer })

        // Bind ops in topological order, then renumber producers.
        var nodes: [Graph.Node] = []
        for old in order {
            let node = g.nodes[old]
            let opset = model.opsets[node.domain] ?? model.defaultOpset
            nodes.append(Graph.Node(name: node.name, opType: node.opType, domain: node.domain,
                                    inputs: inputIDs[old], outputs: outputIDs[old],
                                    attributes: node.attributes, opset: opset,
                                    op: try bind(node, opset: opset, registry: registry)))
            for v in outputIDs[old] { values[v].producer = nodes.count - 1 }
        }

        var graphOutputs: [Int] = []
        for info in g.outputs {
            guard info.isTensor else {
                throw LafamError.unsupported("graph output '\(info.name)' is a sequence, map or optional value, not a tensor")
            }
            guard let id = index[info.name] else {
                throw LafamError.invalidGraph("graph output '\(info.name)' is not produced by any node")
            }
            graphOutputs.append(id)
        }
        guard !graphOutputs.isEmpty else { throw LafamError.invalidGraph("the graph declares no outputs") }

        try inferAndFold(nodes: &nodes, values: &values)
        return Graph(values: values, nodes: nodes, inputs: graphInputs, outputs: graphOutputs)
    }

    private static func inputType(_ info: ONNXValueInfo) throws -> DType {
        guard info.isTensor else {
            throw LafamError.unsupported("graph input '\(info.name)' is a sequence, map or optional value, not a tensor")
        }
        if info.elemType == 0 { return .float32 }
        guard let t = DType(onnxCode: info.elemType) else {
            throw LafamError.unsupported("graph input '\(info.name)' has element type \(onnxTypeName(info.elemType)), which lafam does not hold")
        }
        return t
    }

    private static func bind(_ node: ONNXNode, opset: Int, registry: OperatorRegistry) throws -> any Operator {
        guard let factory = registry.factory(node.opType, domain: node.domain) else {
            throw LafamError.unsupportedOp(opType: node.opType, domain: node.domain, node: node.name, opset: opset)
        }
        let context = NodeContext(name: node.name, opType: node.opType, opset: opset,
                                  inputCount: node.inputs.count, outputCount: node.outputs.count,
                                  attributes: node.attributes)
        let op = try OpError.reported(at: node.name, opType: node.opType) { try factory(context) }
        let arity = op.inputArity
        guard arity.contains(node.inputs.count) else {
            let takes = arity.lowerBound == arity.upperBound ? "\(arity.lowerBound)"
                : arity.upperBound == Int.max ? "at least \(arity.lowerBound)" : "\(arity.lowerBound) to \(arity.upperBound)"
            throw LafamError.invalidNode(node: node.name, opType: node.opType,
                                         reason: "lists \(node.inputs.count) inputs; \(node.opType) (opset \(opset)) takes \(takes)")
        }
        return op
    }

    /// Kahn's algorithm, keeping file order among ready nodes; a leftover node lies on a cycle.
    private static func topologicalOrder(_ nodes: [ONNXNode], inputIDs: [[Int?]], producer: (Int) -> Int?) throws -> [Int] {
        var pending = [Int](repeating: 0, count: nodes.count)
        var dependents = [[Int]](repeating: [], count: nodes.count)
        for (n, ids) in inputIDs.enumerated() {
            let producers = Set(ids.compactMap { $0.flatMap(producer) })
            pending[n] = producers.count
            for p in producers { dependents[p].append(n) }
        }
        // `ready` is kept sorted descending, so popLast takes the earliest node in file order.
        var ready = (0..<nodes.count).filter { pending[$0] == 0 }.reversed().map { $0 }
        var order: [Int] = []
        order.reserveCapacity(nodes.count)
        while let n = ready.popLast() {
            order.append(n)
            for d in dependents[n] {
                pending[d] -= 1
                if pending[d] == 0 { ready.append(d) }
            }
            ready.sort(by: >)
        }
        if order.count < nodes.count {
            let stuck = (0..<nodes.count).filter { pending[$0] > 0 }.map { "'\(nodes[$0].name)'" }
            throw LafamError.invalidGraph("the graph has a cycle through nodes \(stuck.prefix(6).joined(separator: ", "))")
        }
        return order
    }

    /// Constant folding makes constants of at most this many bytes beyond the size of the node's
    /// own constant inputs: a node that would make more (ConstantOfShape, Tile or Expand to a
    /// large shape) is left to run, where the run's memory budget applies, so loading a small
    /// file never materialises a huge tensor.
    static let foldLimit = 64 << 20

    /// The outputs of `op` on its constant inputs, or nil when they would be too large to keep as
    /// constants (`foldLimit`), in which case the node runs with the model.
    private static func folded(_ op: any Operator, _ inputs: [ValueFacts?], _ facts: [ValueFacts]) throws -> [Tensor]? {
        let inputBytes = inputs.reduce(0) { total, f in
            guard let c = f?.constant else { return total }
            return total + c.count * c.dtype.storageWidth
        }
        let limit = max(foldLimit, inputBytes)
        for f in facts {
            guard let shape = f.shape?.concrete else { continue }
            guard let count = try? Sizes.elementCount(shape), count <= limit / f.dtype.storageWidth else { return nil }
        }
        // An output whose size only the kernel knows is held to the same limit while it runs.
        do {
            return try MemoryBudget.$current.withValue(MemoryBudget(bytes: min(limit, MemoryBudget.current.bytes))) {
                try op.run(inputs.map { $0?.constant })
            }
        } catch LafamError.overMemoryBudget {
            return nil
        }
    }

    /// Infers every node's output facts in order; a node whose inputs are all constants is run
    /// once here and its outputs become constants (constant folding), as is any output whose
    /// value the op's shape rule already knows (e.g. `Shape` of a fully static tensor). A node
    /// that still runs and whose input shapes are all known is specialised to them.
    static func inferAndFold(nodes: inout [Graph.Node], values: inout [Graph.Value]) throws {
        for (n, node) in nodes.enumerated() {
            var op = node.op
            let inputFacts = node.inputs.map { $0.flatMap { values[$0].facts } }
            for (k, id) in node.inputs.enumerated() where id != nil && inputFacts[k] == nil {
                throw LafamError.invalidGraph("node '\(node.name)' reads '\(values[id!].name)' before it is computed")
            }
            // A float16/bfloat16 node of an op written for float32 computes in float32.
            if let wrapped = HalfPrecision.wrapping(op, for: inputFacts) {
                op = wrapped
                nodes[n] = nodes[n].with(op: wrapped)
            }
            let outFacts: [ValueFacts] = try OpError.reported(at: node.name, opType: node.opType) {
                var facts = try op.infer(inputFacts)
                let present = node.inputs.enumerated().filter { $0.element != nil }
                if !present.isEmpty, present.allSatisfy({ inputFacts[$0.offset]?.constant != nil }),
                   facts.contains(where: { $0.constant == nil }), let outputs = try folded(op, inputFacts, facts) {
                    facts = zip(facts, outputs).map { ValueFacts($1.conformed(to: $0.dtype)) }
                }
                return facts
            }
            guard outFacts.count >= node.outputs.count else {
                throw LafamError.invalidNode(node: node.name, opType: node.opType,
                                             reason: "declares \(node.outputs.count) outputs, the op produces \(outFacts.count)")
            }
            for (k, id) in node.outputs.enumerated() { values[id].facts = outFacts[k] }
            nodes[n].isFolded = node.outputs.allSatisfy { values[$0].facts?.constant != nil }
            if !nodes[n].isFolded, inputFacts.allSatisfy({ $0 == nil || $0?.shape?.concrete != nil }) {
                let specialised = try OpError.reported(at: node.name, opType: node.opType) { try op.specialized(for: inputFacts) }
                nodes[n] = nodes[n].with(op: specialised)
            }
        }
    }
}
