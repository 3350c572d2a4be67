import Foundation
import Synchronization

/// A name, element type and (static) shape of a model input or output.
public struct TensorInfo: Sendable {
    /// The tensor's name in the graph, by which it is fed or read.
    public let name: String
    /// The element type (float32 when the file does not declare it).
    public let dtype: DType
    /// The declared shape, with symbolic or unknown dimensions; empty when the rank is not declared.
    public let shape: [Dim]
}

/// What a run returns: the model's outputs and the tapped values, by tensor name.
public struct RunResult: Sendable {
    /// The model's outputs by tensor name.
    public var outputs: [String: Tensor]
    /// The tapped values, by resolved tensor name (a node's name resolves to its first output's).
    /// A quantized tensor (`Graph.quantization(of:)`) is given as the real values its integers
    /// stand for, float32; a float16 or bfloat16 tensor as float32 (exactly).
    public var taps: [String: Tensor]
    /// The integers of the tapped quantized tensors, by the same names.
    public var rawTaps: [String: Tensor] = [:]

    /// Outputs and taps as given.
    public init(outputs: [String: Tensor], taps: [String: Tensor], rawTaps: [String: Tensor] = [:]) {
        self.outputs = outputs
        self.taps = taps
        self.rawTaps = rawTaps
    }
}

/// A loaded ONNX model, ready to run: the library's entry point.
///
/// ```swift
/// let model = try Model(path: "mobilenet_v2.onnx", options: ModelOptions(threads: 2))
/// let result = try model.run(x, taps: ["/features/features.18/features.18.2/Clip"])
/// ```
///
/// Runs may be made from several threads at once. The first run with a new input shape
/// specialises the graph to it (shape subgraphs folded, ops prepared, graph passes applied);
/// later runs of that shape reuse it.
public final class Model: Sendable {
    /// The path the model was loaded from, or the name given to a model held in memory.
    public let path: String
    /// Model-level facts from the file: IR version, opsets, producer, metadata.
    public let format: ONNXModelInfo
    /// The graph as declared (symbolic dimensions kept), for inspection.
    public let graph: Graph
    /// The options the model was loaded with.
    public let options: ModelOptions
    /// Whether the images of a batch are computed independently (`Graph.isBatchSeparable`), so
    /// that a batch may run in parts on the model's threads.
    public let isBatchSeparable: Bool
    private let source: ONNXModel
    private let registry: OperatorRegistry
    /// The graph passes these options run (`GraphPass.standard` minus the disabled ones).
    let passes: [GraphPass]
    /// The model's own threads (`ModelOptions.threads`).
    let pool: KernelPool
    /// Work the passes share across specialisations (Winograd's transformed weights).
    private let memo = PassMemo()
    private let specialisations = Mutex<[[Int]: Specialisation]>([:])

    /// Parses, validates and infers `path` (and its external data files).
    /// - Parameter registry: the ops to bind nodes to (`OperatorRegistry.standard` plus your own).
    public convenience init(path: String, options: ModelOptions = ModelOptions(), registry: OperatorRegistry = .standard) throws {
        let source = try MemoryBudget.$current.withValue(options.memoryBudget) { try ONNXReader.read(path: path) }
        try self.init(source: source, path: path, options: options, registry: registry)
    }

    /// A model from the bytes of an ONNX file held in memory (it may not refer to external data);
    /// `name` stands for the path in messages.
    public convenience init(data: Data, name: String = "<model in memory>", options: ModelOptions = ModelOptions(),
                            registry: OperatorRegistry = .standard) throws {
        let source = try MemoryBudget.$current.withValue(options.memoryBudget) { try ONNXReader.parse(data, path: name, baseDirectory: nil) }
        try self.init(source: source, path: name, options: options, registry: registry)
    }

    private init(source: ONNXModel, path: String, options: ModelOptions, registry: OperatorRegistry) throws {
        self.path = path
        self.options = options
        self.registry = registry
        self.source = source
        passes = try options.passes(from: GraphPass.standard)
        pool = KernelPool(threads: options.threads)
        graph = try MemoryBudget.$current.withValue(options.memoryBudget) { try GraphBuilder.build(source, registry: registry) }
        format = ONNXModelInfo(source)
        isBatchSeparable = graph.isBatchSeparable
    }

    /// The inputs a run must feed (initializers excluded), in declared order.
    public var inputs: [TensorInfo] { graph.inputs.map(info) }
    /// The model's outputs, in declared order.
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
        try MemoryBudget.$current.withValue(options.memoryBudget) {
            if onTap == nil, let result = try runSplittingBatch(feeds, taps: taps) { return result }
            return try runWhole(feeds, taps: taps, onTap: onTap)
        }
    }

    func runWhole(_ feeds: [String: Tensor], taps: [String], onTap: ((String, Tensor) throws -> Void)?) throws -> RunResult {
        let tapIDs = try taps.map { try graph.resolveTensor($0) }
        let specialisation = try self.specialisation(for: try checkedShapes(feeds))
        let quantized = Dictionary(uniqueKeysWithValues: Set(tapIDs).compactMap { v in graph.quantization(of: v).map { (v, $0) } })
        // Parameters computed while running (DynamicQuantizeLinear's) are kept to dequantize with.
        let parameters = quantized.values.flatMap { [$0.scale] + ($0.zeroPoint.map { [$0] } ?? []) }.filter { graph.constant($0) == nil }
        let keep = Set(tapIDs).union(graph.outputs).union(parameters)
        let plan = try specialisation.plan(keeping: keep)
        let tapSet = Set(tapIDs)
        var late: [Int] = []
        let kept = try plan.run(feeds: try feedIndices(feeds), keep: keep, pool: pool) { v, t in
            guard tapSet.contains(v), let onTap else { return }
            guard let q = quantized[v] else { return try onTap(self.graph.values[v].name, t.widened) }
            // Constant parameters dequantize now; computed ones once the run has them.
            guard let real = try self.dequantized(t, q, computed: [:]) else { return late.append(v) }
            try onTap(self.graph.values[v].name, real)
        }
        var result = RunResult(outputs: [:], taps: [:])
        for v in graph.outputs { result.outputs[graph.values[v].name] = kept[v] }
        for v in tapIDs {
            guard let t = kept[v] else { continue }
            let name = graph.values[v].name
            guard let q = quantized[v] else { result.taps[name] = t.widened; continue }
            guard let real = try dequantized(t, q, computed: kept) else {
                throw LafamError.invalidArgument("the scale or zero point of quantized tap '\(name)' was not computed")
            }
            result.rawTaps[name] = t
            result.taps[name] = real
        }
        for v in late { try onTap?(graph.values[v].name, result.taps[graph.values[v].name]!) }
        return result
    }

    /// Feeds by value index (the same in the declared and every specialised graph).
    func feedIndices(_ feeds: [String: Tensor]) throws -> [Int: Tensor] {
        var byIndex: [Int: Tensor] = [:]
        for (name, t) in feeds { byIndex[graph.valueIndex[name]!] = t }
        return byIndex
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
    /// kernels (nanoseconds, summed over nodes; after graph passes, so a fused Conv counts its
    /// fused nodes), or with `byNode` in each node (keyed by node name and output shape), for
    /// finding where a forward pass goes.
    public func profile(_ input: Tensor, byNode: Bool = false) throws -> [String: UInt64] {
        guard let first = graph.inputs.first else { throw LafamError.invalidArgument("the model has no inputs to feed") }
        let feeds = [graph.values[first].name: input]
        return try MemoryBudget.$current.withValue(options.memoryBudget) { try profile(feeds, plan: try self.specialisation(for: try checkedShapes(feeds)).plan(keeping: Set(graph.outputs)), byNode: byNode) }
    }

    private func profile(_ feeds: [String: Tensor], plan: ExecutionPlan, byNode: Bool) throws -> [String: UInt64] {
        var times: [String: UInt64] = [:]
        _ = try plan.run(feeds: try feedIndices(feeds), keep: Set(graph.outputs), pool: pool, onValue: nil) { node, ns in
            let n = plan.graph.nodes[node]
            var key = n.opType
            if case .int(let g)? = n.attributes["group"], g > 1 { key += " (grouped)" }
            if byNode { key = n.name + " " + (plan.graph.values[n.outputs[0]].facts?.shape?.shapeString ?? "") }
            times[key, default: 0] += ns
        }
        return times
    }

    /// Checks feeds against the declared inputs (every input given, element types and shapes;
    /// a fixed batch size may differ) without running anything: what `run` checks first.
    public func checkInputs(_ feeds: [String: Tensor]) throws {
        _ = try checkedShapes(feeds)
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

    /// The graph outputs' shapes when the (single) input has `shape`, by static inference alone
    /// (nothing runs): what a model with dynamic sizes makes of a given input size.
    public func outputShapes(forInputShape shape: [Int]) throws -> [[Dim]?] {
        guard graph.inputs.count == 1 else { throw LafamError.invalidArgument("the model has \(graph.inputs.count) inputs; give one shape per input") }
        let g = try MemoryBudget.$current.withValue(options.memoryBudget) { try specialisation(for: [shape.count] + shape).graph }
        return g.outputs.map { g.values[$0].facts?.shape }
    }

    /// The graph specialised to concrete input shapes (`checkedShapes`), built once per distinct
    /// shape and reused.
    func specialisation(for shapes: [Int]) throws -> Specialisation {
        if let s = specialisations.withLock({ $0[shapes] }) { return s }
        var overrides: [String: [Dim]] = [:]
        var i = 0
        for v in graph.inputs {
            let rank = shapes[i]
            overrides[graph.values[v].name] = shapes[(i + 1)..<(i + 1 + rank)].map { .known($0) }
            i += rank + 1
        }
        let specialisation = Specialisation(graph: try GraphBuilder.build(source, registry: registry, inputShapes: overrides),
                                            passes: passes, memo: memo)
        specialisations.withLock { cache in
            // Each distinct input shape gets its own specialised graph; keep the few most recent.
            if cache.count >= 8 { cache.removeAll() }
            cache[shapes] = specialisation
        }
        return specialisation
    }
}

/// Model-level facts from the ONNX file, for `inspect`.
public struct ONNXModelInfo: Sendable {
    /// The ONNX IR version the file declares (0 when absent).
    public let irVersion: Int
    /// The imported opset version per domain; the default `ai.onnx` domain is stored under "".
    public let opsets: [String: Int]
    /// The producing tool's name and version, such as "pytorch 2.1.0" ("" when absent).
    public let producer: String
    /// The main graph's name ("" when absent).
    public let graphName: String
    /// `metadata_props` by key; when a key repeats, its first value is kept.
    public let metadata: [String: String]

    init(_ m: ONNXModel) {
        irVersion = m.irVersion
        opsets = m.opsets
        producer = [m.producerName, m.producerVersion].filter { !$0.isEmpty }.joined(separator: " ")
        graphName = m.graph.name
        metadata = Dictionary(m.metadata.map { ($0.key, $0.value) }, uniquingKeysWith: { a, _ in a })
    }
}

extension Model {
    /// The real values the integers `t` of a tensor quantized as `q` stand for, its scale and zero
    /// point read from the graph's constants or from `computed` (values of this run); nil while
    /// one of them is not available.
    func dequantized(_ t: Tensor, _ q: QuantizedValue, computed: [Int: Tensor]) throws -> Tensor? {
        func parameter(_ p: Int) -> Tensor? { graph.constant(p) ?? computed[p] }
        guard let scale = parameter(q.scale) else { return nil }
        var zero: Tensor? = nil
        if let z = q.zeroPoint {
            guard let value = parameter(z) else { return nil }
            zero = value
        }
        return try t.dequantized(scale: scale, zeroPoint: zero, axis: q.axis)
    }
}

extension Tensor {
    /// A float16 or bfloat16 tensor as float32 (its values exactly); any other tensor as it is.
    var widened: Tensor { dtype == .float16 || dtype == .bfloat16 ? conformed(to: .float32) : self }
}
