import Foundation

/// The scalar (per image) whose gradient is taken. Gradients of a batch are those of the sum of
/// the per-image scalars, so each image's gradient is its own.
public enum GradientTarget: Sendable {
    /// Logit `classes[b]` of the first model output for image b (argmax when nil).
    case logit(classes: [Int]?)
    /// Softmax probability of `classes[b]` over the first output's last axis (argmax when nil).
    case probability(classes: [Int]?)
    /// One element of a tensor per image: `index` excludes the batch axis.
    case element(tensor: String?, index: [Int])
    /// Label-free: cosine similarity of each image's flattened `tensor` to `reference`
    /// (one reference per image, or one for all).
    case cosineSimilarity(tensor: String, reference: Tensor)
    /// Explicit seed gradients dL/d(tensor) for L = Σ seed ⊙ tensor, by tensor name.
    case seeds([String: Tensor])
}

/// What a forward + backward pass returns.
public struct GradientResult: Sendable {
    /// The model outputs of the forward pass.
    public var outputs: [String: Tensor]
    /// Forward values of the requested tensors, by resolved tensor name.
    public var values: [String: Tensor]
    /// dL/d(requested tensor), by resolved tensor name (zeros when the target does not depend on it).
    public var gradients: [String: Tensor]
    /// The class chosen per image for logit and probability targets.
    public var classes: [Int]?
}

extension Model {
    /// Reverse-mode gradients of `target` with respect to the named tensors (node names, tensor
    /// names or abbreviations; the model input by its name). Visits only the nodes that lie
    /// between them and the target; a node there without a gradient rule is an error naming it.
    public func gradients(_ input: Tensor, target: GradientTarget, withRespectTo names: [String]) throws -> GradientResult {
        guard let first = graph.inputs.first else { throw LafamError.invalidArgument("the model has no inputs to feed") }
        return try gradients([graph.values[first].name: input], target: target, withRespectTo: names)
    }

    /// `gradients(_:target:withRespectTo:)` with every graph input fed by name.
    public func gradients(_ feeds: [String: Tensor], target: GradientTarget, withRespectTo names: [String]) throws -> GradientResult {
        try MemoryBudget.$current.withValue(options.memoryBudget) { try computeGradients(feeds, target: target, withRespectTo: names) }
    }

    private func computeGradients(_ feeds: [String: Tensor], target: GradientTarget, withRespectTo names: [String]) throws -> GradientResult {
        // The path is found on the specialised graph as written; the forward pass runs a plan
        // whose rewrites keep every value the gradient rules read.
        let specialisation = try self.specialisation(for: try checkedShapes(feeds))
        let g = specialisation.graph
        let wrt = try names.map { try graph.resolveTensor($0) }
        let targetIDs = try seedTensors(target, graph: g)

        // Nodes that lie on a path from a requested tensor to a seeded tensor.
        var reachable = Set(wrt)
        var forwardNodes = Set<Int>()
        for (n, node) in g.nodes.enumerated() where !node.isFolded {
            if node.inputs.contains(where: { $0.map(reachable.contains) ?? false }) {
                forwardNodes.insert(n)
                for v in node.outputs where carriesGradient(g.values[v].facts?.dtype, op: node.op) { reachable.insert(v) }
            }
        }
        var needed = Set(targetIDs)
        var path: [Int] = []
        for n in g.nodes.indices.reversed() where forwardNodes.contains(n) {
            let node = g.nodes[n]
            guard node.outputs.contains(where: needed.contains) else { continue }
            path.append(n)
            for case let v? in node.inputs where reachable.contains(v) { needed.insert(v) }
        }
        for n in path where !(g.nodes[n].op is Differentiable) {
            throw LafamError.unsupported("no gradient rule for op \(g.nodes[n].opType) at node '\(g.nodes[n].name)', which lies between the target and the requested tensors")
        }

        // Forward, keeping what the backward pass reads.
        var keep = Set(wrt).union(targetIDs).union(g.outputs)
        for n in path { for case let v? in g.nodes[n].inputs { keep.insert(v) }; keep.formUnion(g.nodes[n].outputs) }
        let values = try specialisation.plan(keeping: keep).run(feeds: try feedIndices(feeds), keep: keep, pool: pool, onValue: nil)

        // Seed and pull back in reverse topological order.
        var (grads, classes) = try seeds(target, graph: g, values: values, ids: targetIDs)
        try KernelThreads.pass(on: pool) {
            for n in path {
                let node = g.nodes[n]
                let outGrads = node.outputs.map { grads[$0] }
                guard outGrads.contains(where: { $0 != nil }) else { continue }
                let inputs = node.inputs.map { $0.flatMap { values[$0] } }
                let wanted = node.inputs.map { $0.map { needed.contains($0) && reachable.contains($0) } ?? false }
                let inGrads = try OpError.reported(at: node.name, opType: node.opType) {
                    try (node.op as! Differentiable).backward(inputs, outputs: node.outputs.map { values[$0]! }, gradients: outGrads, wanted: wanted)
                }
                for (k, v) in node.inputs.enumerated() where wanted[k] {
                    guard let v, k < inGrads.count, let grad = inGrads[k] else { continue }
                    grads[v] = grads[v].map { accumulate($0, grad) } ?? grad
                }
            }
        }

        var result = GradientResult(outputs: [:], values: [:], gradients: [:], classes: classes)
        for v in g.outputs { result.outputs[g.values[v].name] = values[v] }
        for v in wrt {
            let name = g.values[v].name
            guard let value = values[v] else { continue }
            let gradient = grads[v] ?? Tensor(uncheckedShape: value.shape, repeating: 0)
            if let q = graph.quantization(of: v) {
                // Real values, and the gradient with respect to them: dL/dq / scale.
                guard let real = try dequantized(value, q, computed: values), let scale = g.constant(q.scale) ?? values[q.scale] else {
                    throw LafamError.invalidArgument("the scale or zero point of quantized tensor '\(name)' was not computed")
                }
                result.values[name] = real
                result.gradients[name] = try gradient.dividedByQuantizationScale(scale, axis: q.axis)
            } else {
                result.values[name] = value.widened
                result.gradients[name] = gradient
            }
        }
        return result
    }

    /// Whether a value of `dtype` written by `op` carries a gradient: floats, and the integers of
    /// quantized ops (their gradients taken with respect to the integers read as numbers).
    private func carriesGradient(_ dtype: DType?, op: any Operator) -> Bool {
        guard let dtype else { return false }
        if dtype == .float32 || dtype == .float16 || dtype == .bfloat16 { return true }
        return [.int8, .uint8, .int16, .uint16, .int32].contains(dtype) && op is Differentiable
    }

    private func seedTensors(_ target: GradientTarget, graph g: Graph) throws -> [Int] {
        switch target {
        case .logit, .probability: return [g.outputs[0]]
        case .element(let tensor, _): return [try tensor.map { try g.resolveTensor($0) } ?? g.outputs[0]]
        case .cosineSimilarity(let tensor, _): return [try g.resolveTensor(tensor)]
        case .seeds(let seeds): return try seeds.keys.sorted().map { try g.resolveTensor($0) }
        }
    }

    /// dL/d(seeded tensor) for the target, from the forward values.
    private func seeds(_ target: GradientTarget, graph g: Graph, values: [Int: Tensor], ids: [Int]) throws -> ([Int: Tensor], [Int]?) {
        let y = values[ids[0]]!
        func pick(_ classes: [Int]?, rows: Int, width: Int, _ v: [Float]) throws -> [Int] {
            guard let classes else {
                return (0..<rows).map { b in (0..<width).max { v[b * width + $0] < v[b * width + $1] }! }
            }
            guard classes.count == rows || classes.count == 1 else {
                throw LafamError.invalidArgument("\(classes.count) classes given for a batch of \(rows)")
            }
            for c in classes where c < 0 || c >= width {
                throw LafamError.invalidArgument("class \(c) is out of range: the output has \(width) classes")
            }
            return classes.count == rows ? classes : [Int](repeating: classes[0], count: rows)
        }
        switch target {
        case .logit(let classes), .probability(let classes):
            guard y.rank == 2, [.float32, .float16, .bfloat16].contains(y.dtype) else {
                throw LafamError.invalidArgument("a class target needs a B×classes float output; '\(g.values[ids[0]].name)' has shape \(y.shape)")
            }
            let (rows, width) = (y.shape[0], y.shape[1])
            let v = y.floats
            let chosen = try pick(classes, rows: rows, width: width, v)
            var seed = [Float](repeating: 0, count: v.count)
            for b in 0..<rows {
                if case .logit = target {
                    seed[b * width + chosen[b]] = 1
                } else {
                    // d p_c / d z = p_c (e_c − p).
                    let row = v[(b * width)..<((b + 1) * width)]
                    let peak = row.max()!
                    let e = row.map { Foundation.exp($0 - peak) }
                    let total = e.reduce(0, +)
                    let pc = e[chosen[b]] / total
                    for j in 0..<width { seed[b * width + j] = pc * ((j == chosen[b] ? 1 : 0) - e[j] / total) }
                }
            }
            return ([ids[0]: Tensor(uncheckedShape: y.shape, floats: seed)], chosen)
        case .element(_, let index):
            let inner = Array(y.shape.dropFirst())
            guard index.count == inner.count, zip(index, inner).allSatisfy({ $0 >= 0 && $0 < $1 }) else {
                throw LafamError.invalidArgument("element index \(index) does not fit the per-image shape \(inner)")
            }
            let offset = zip(index, Tensor.strides(of: inner)).reduce(0) { $0 + $1.0 * $1.1 }
            var seed = [Float](repeating: 0, count: y.count)
            for b in 0..<y.shape[0] { seed[b * inner.reduce(1, *) + offset] = 1 }
            return ([ids[0]: Tensor(uncheckedShape: y.shape, floats: seed)], nil)
        case .cosineSimilarity(_, let reference):
            let rows = y.shape[0], width = y.count / max(rows, 1)
            guard reference.count == width || reference.count == rows * width else {
                throw LafamError.invalidArgument("the reference embedding has \(reference.count) values; '\(g.values[ids[0]].name)' has \(width) per image")
            }
            let v = y.floats, r = reference.floats
            var seed = [Float](repeating: 0, count: v.count)
            for b in 0..<rows {
                let e = v[(b * width)..<((b + 1) * width)].map(Double.init)
                let ref = (reference.count == width ? r[0..<width] : r[(b * width)..<((b + 1) * width)]).map(Double.init)
                let ne = e.reduce(0) { $0 + $1 * $1 }.squareRoot(), nr = ref.reduce(0) { $0 + $1 * $1 }.squareRoot()
                guard ne > 0, nr > 0 else { continue }
                let cosine = zip(e, ref).reduce(0) { $0 + $1.0 * $1.1 } / (ne * nr)
                // d cos / d e = r / (|e||r|) − cos · e / |e|².
                for j in 0..<width { seed[b * width + j] = Float(ref[j] / (ne * nr) - cosine * e[j] / (ne * ne)) }
            }
            return ([ids[0]: Tensor(uncheckedShape: y.shape, floats: seed)], nil)
        case .seeds(let seeds):
            var out: [Int: Tensor] = [:]
            for (k, name) in seeds.keys.sorted().enumerated() {
                let s = seeds[name]!, value = values[ids[k]]!
                guard s.shape == value.shape, s.dtype == .float32 else {
                    throw LafamError.invalidArgument("seed for '\(name)' has shape \(s.shape), the tensor has \(value.shape)")
                }
                out[ids[k]] = s
            }
            return (out, nil)
        }
    }
}

/// Elementwise sum of two gradients of one value (so of the same shape).
private func accumulate(_ a: Tensor, _ b: Tensor) -> Tensor {
    let x = a.floats, y = b.floats
    return Tensor(uncheckedShape: a.shape, floats: [Float](unsafeUninitializedCapacity: x.count) { sum, initialized in
        for i in 0..<x.count { sum[i] = x[i] + y[i] }
        initialized = x.count
    })
}
