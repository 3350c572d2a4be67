import Foundation

/// A name, element type and (static) shape of a model input or output.
public struct TensorInfo: Sendable {
    public let name: String
    public let dtype: DType
    public let shape: [Dim]
}

/// What a run returns: the model's outputs and the tapped values, by tensor name.
public struct RunResult: Sendable {
    public var outputs: [String: Tensor]
    public var taps: [String: Tensor]
}

/// A loaded ONNX model, ready to run: the library's entry point.
///
/// ```swift
/// let model = try Model(path: "mobilenet_v2.onnx")
/// let result = try model.run(x, taps: ["/features/features.18/features.18.2/Clip"])
/// ```
public final class Model: @unchecked Sendable {
    public let path: String
    public let format: ONNXModelInfo
    /// The graph as declared (symbolic dimensions kept), for inspection.
    public let graph: Graph
    private let source: ONNXModel
    private let registry: OperatorRegistry
    /// Whether runs fuse a Conv's residual Add and activation into its output pass
    /// (`OutputPassFusion`); results are identical either way.
    public let fusesOutputPasses: Bool
    /// Whether 3×3 stride-1 convs with constant weights run by Winograd (`WinogradWeights`), whose
    /// results differ from direct convolution's by a few 1e-6 of their magnitude.
    public let usesWinograd: Bool
    /// Whether the images of a batch are computed independently (`Graph.isBatchSeparable`).
    let isBatchSeparable: Bool
    private var executors: [[Int]: (Graph, Executor)] = [:]
    private let winogradCache = WinogradCache()
    private let lock = NSLock()

    public init(path: String, registry: OperatorRegistry = .standard, fuseOutputPasses: Bool = true, winograd: Bool = true) throws {
        _ = MemoryPolicy.applied
        self.path = path
        self.registry = registry
        fusesOutputPasses = fuseOutputPasses
        usesWinograd = winograd
        source = try ONNXReader.read(path: path)
        graph = try GraphBuilder.build(source, registry: registry)
        format = ONNXModelInfo(source)
        isBatchSeparable = graph.isBatchSeparable
    }

    public var inputs: [TensorInfo] { graph.inputs.map(info) }
    public var outputs: [TensorInfo] { graph.outputs.map(info) }

    private func info(_ v: Int) -> TensorInfo {
        let f = graph.values[v].facts
        return TensorInfo(name: graph.values[v].name, dtype: f?.dtype ?? .float32, shape: f?.shape ?? [])
    }

    /// ImageNet-style class names carried in the model's metadata (`lafam.class_names`, a JSON
    /// array), if any.
    public var classNames: [String]? {
        guard let json = format.metadata["lafam.class_names"], let data = json.data(using: .utf8),
              let names = try? JSONDecoder().decode([String].self, from: data) else { return nil }
        return names
    }

    /// Runs the model on its first input.
    public func run(_ input: Tensor, taps: [String] = [], onTap: ((String, Tensor) throws -> Void)? = nil) throws -> RunResult {
        guard let first = graph.inputs.first else { throw LafamError.invalidArgument("the model has no inputs to feed") }
        return try run([graph.values[first].name: input], taps: taps, onTap: onTap)
    }

    /// Runs the model. `taps` name nodes (their first output), tensors or abbreviations
    /// (see `Graph.resolveTensor`); their values are returned and, as each is computed, passed to
    /// `onTap` with the resolved tensor name.
    public func run(_ feeds: [String: Tensor], taps: [String] = [], onTap: ((String, Tensor) throws -> Void)? = nil) throws -> RunResult {
        if onTap == nil, let result = try runSplittingBatch(feeds, taps: taps) { return result }
        return try runWhole(feeds, taps: taps, onTap: onTap)
    }

    func runWhole(_ feeds: [String: Tensor], taps: [String], onTap: ((String, Tensor) throws -> Void)?) throws -> RunResult {
        let tapIDs = try taps.map { try graph.resolveTensor($0) }
        let inputShapes = try checkedShapes(feeds)
        let (specialised, executor) = try executor(for: inputShapes)
        var byIndex: [Int: Tensor] = [:]
        for (name, t) in feeds { byIndex[specialised.valueIndex[name]!] = t }
        let tapSet = Set(tapIDs)
        let kept = try executor.run(feeds: byIndex, keep: tapSet.union(specialised.outputs)) { v, t in
            if tapSet.contains(v) { try onTap?(specialised.values[v].name, t) }
        }
        var result = RunResult(outputs: [:], taps: [:])
        for v in specialised.outputs { result.outputs[specialised.values[v].name] = kept[v] }
        for v in tapIDs { result.taps[specialised.values[v].name] = kept[v] }
        return result
    }

    /// Runs the model on its first input, calling one handler per tapped name as soon as that
    /// value is computed (before later nodes run), e.g. to reduce a large activation on the fly.
    public func run(_ input: Tensor, tapHandlers: [String: (Tensor) throws -> Void]) throws -> RunResult {
        let names = Array(tapHandlers.keys)
        let resolved = try Dictionary(uniqueKeysWithValues: names.map { (graph.values[try graph.resolveTensor($0)].name, $0) })
        return try run(input, taps: names) { tensor, value in
            if let key = resolved[tensor] { try tapHandlers[key]?(value) }
        }
    }

    /// Runs the model on its first input and returns the wall time spent in each op type's
    /// kernels (nanoseconds, summed over nodes), or with `byNode` in each node (keyed by node
    /// name and output shape), for finding where a forward pass goes.
    public func profile(_ input: Tensor, byNode: Bool = false) throws -> [String: UInt64] {
        guard let first = graph.inputs.first else { throw LafamError.invalidArgument("the model has no inputs to feed") }
        let shapes = try checkedShapes([graph.values[first].name: input])
        let (specialised, executor) = try executor(for: shapes)
        var times: [String: UInt64] = [:]
        _ = try executor.run(feeds: [first: input], keep: Set(specialised.outputs), onValue: nil) { node, ns in
            let n = specialised.nodes[node]
            var key = n.opType
            if case .int(let g)? = n.attributes["group"], g > 1 { key += " (grouped)" }
            if byNode { key = n.name + " " + (specialised.values[n.outputs[0]].facts?.shape?.shapeString ?? "") }
            times[key, default: 0] += ns
        }
        return times
    }

    /// Checks every feed against the declared inputs and returns the concrete input shapes.
    func checkedShapes(_ feeds: [String: Tensor]) throws -> [Int] {
        var shapes: [Int] = []
        for v in graph.inputs {
            let declared = info(v)
            guard let t = feeds[declared.name] else {
                throw LafamError.invalidArgument("input '\(declared.name)' was not given; the model's inputs are \(inputs.map { "'\($0.name)'" }.joined(separator: ", "))")
            }
            guard t.dtype == declared.dtype else {
                throw LafamError.invalidArgument("input '\(declared.name)' must be \(declared.dtype), got \(t.dtype)")
            }
            let fits = declared.shape.isEmpty || (declared.shape.count == t.rank && zip(declared.shape, t.shape).enumerated().allSatisfy { i, p in
                // A fixed batch size may differ: the graph is then specialised to the given batch.
                p.0.value == nil || p.0.value == p.1 || i == 0
            })
            guard fits else {
                throw LafamError.invalidArgument("input '\(declared.name)' must have shape \(declared.shape.shapeString), got \(t.shape)")
            }
            shapes += [t.rank] + t.shape
        }
        for name in feeds.keys where !graph.inputs.contains(where: { graph.values[$0].name == name }) {
            throw LafamError.invalidArgument("'\(name)' is not an input of the model; its inputs are \(inputs.map { "'\($0.name)'" }.joined(separator: ", "))")
        }
        return shapes
    }

    /// A graph specialised to concrete input shapes (shapes fully known, so every shape
    /// subgraph folds to constants), built once per distinct shape and reused.
    func executor(for shapes: [Int]) throws -> (Graph, Executor) {
        lock.lock()
        defer { lock.unlock() }
        if let e = executors[shapes] { return e }
        // Each distinct input shape gets its own specialised graph; keep the few most recent.
        if executors.count >= 8 { executors.removeAll() }
        var overrides: [String: [Dim]] = [:]
        var i = 0
        for v in graph.inputs {
            let rank = shapes[i]
            overrides[graph.values[v].name] = shapes[(i + 1)..<(i + 1 + rank)].map { .known($0) }
            i += rank + 1
        }
        let g = try GraphBuilder.build(source, registry: registry, inputShapes: overrides)
        let e = (g, Executor(graph: g, fuse: fusesOutputPasses, winogradCache: usesWinograd ? winogradCache : nil))
        executors[shapes] = e
        return e
    }
}

/// Model-level facts from the ONNX file, for `inspect`.
public struct ONNXModelInfo: Sendable {
    public let irVersion: Int
    public let opsets: [String: Int]
    public let producer: String
    public let graphName: String
    public let metadata: [String: String]

    init(_ m: ONNXModel) {
        irVersion = m.irVersion
        opsets = m.opsets
        producer = [m.producerName, m.producerVersion].filter { !$0.isEmpty }.joined(separator: " ")
        graphName = m.graph.name
        metadata = Dictionary(m.metadata.map { ($0.key, $0.value) }, uniquingKeysWith: { a, _ in a })
    }
}
