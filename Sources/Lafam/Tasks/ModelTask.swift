/// What a model computes, as far as explaining it is concerned: what `run` reports about an
/// image and what a gradient method differentiates by default.
public enum ModelTask: String, CaseIterable, Sendable {
    /// Class scores `[N, C]`: explain a class's logit (the top one by default).
    case classify
    /// A vector (or feature map) with no class axis: label-free maps; gradient methods explain
    /// the embedding's norm, or its similarity to a reference image's embedding.
    case embed
    /// Per-pixel class scores `[N, C, H, W]`: explain one class over the pixels predicted as it.
    case segment
    /// Box and score heads: explain one detection's class score.
    case detect
}

/// The task lafam reads from a model's graph, the output it reads it from and why, in words
/// (`Model.inferredTask`); a user may override the task (`--task`).
public struct TaskReading: Sendable, Equatable {
    /// The task.
    public var task: ModelTask
    /// The graph output (or outputs, for a detector's separate box and score heads) that carry it.
    public var outputs: [String]
    /// Why, in words: the shapes and ops that decided it.
    public var reason: String

    /// A reading of `task` from `outputs`, for `reason`.
    public init(task: ModelTask, outputs: [String], reason: String) {
        self.task = task
        self.outputs = outputs
        self.reason = reason
    }
}

extension Model {
    /// The task the graph's outputs say the model performs, decided from shapes and ops, never
    /// from names, in this order:
    /// - **detect**: an output `[N, K, A]` or `[N, A, K]` with 5 ≤ K ≤ 4 + 1 + 1000 box-and-score
    ///   rows over A ≥ 100 > K candidates (YOLOv5/v8 heads; not a transformer's token tensor), or
    ///   two outputs `[N, A, 4]` and `[N, A, C]` (SSD/RetinaNet boxes and scores), or two 4-D
    ///   outputs on one grid, one with 4 channels (box offsets) and one with the class scores
    ///   (MTCNN's P-Net);
    /// - **segment**: a 4-D output `[N, C, H, W]` at the input's resolution or at most 8 times
    ///   coarser (per-pixel scores);
    /// - **embed**: a 2-D output that is L2-normalised (`x / ‖x‖`, `x · 1/‖x‖`, LpNormalization) or a pooled
    ///   feature vector (global pooling, then only reshapes), or a 4-D output coarser than the
    ///   input/8 (a backbone's feature map);
    /// - **classify**: a 2-D output from a linear layer (Gemm or MatMul, then only a bias,
    ///   reshapes, Softmax or Sigmoid) — the class scores; any other 2-D output is assumed to be
    ///   class scores too, and said so.
    public var inferredTask: TaskReading {
        let g = graph
        let outs = g.outputs.filter { g.values[$0].facts?.dtype == .float32 }
        func shape(_ v: Int) -> [Dim] { g.values[v].facts?.shape ?? [] }
        func name(_ v: Int) -> String { g.values[v].name }
        let layouts = g.tokenLayouts()
        let inputShape = g.inputs.first.flatMap { g.values[$0].facts?.shape }

        // Detectors.
        for v in outs where shape(v).count == 3 && layouts[v] == nil {
            let s = shape(v)
            for (k, a) in [(s[1].value, s[2].value), (s[2].value, s[1].value)] {
                if let k, let a, (5...(4 + 1 + 1000)).contains(k), a >= 100, a > k {
                    return TaskReading(task: .detect, outputs: [name(v)],
                                       reason: "output \(name(v)) \(s.shapeString) holds \(k) box and score rows for each of \(a) candidates")
                }
            }
        }
        for b in outs where shape(b).count == 3 && shape(b)[2] == .known(4) {
            if let s = outs.first(where: { $0 != b && shape($0).count == 3 && shape($0)[1] == shape(b)[1] && shape($0)[2] != .known(4) }) {
                return TaskReading(task: .detect, outputs: [name(b), name(s)],
                                   reason: "outputs \(name(b)) \(shape(b).shapeString) (boxes) and \(name(s)) \(shape(s).shapeString) (scores) for the same candidates")
            }
        }
        for b in outs where shape(b).count == 4 && shape(b)[1] == .known(4) {
            if let s = outs.first(where: { $0 != b && shape($0).count == 4 && shape($0)[2...] == shape(b)[2...] }) {
                return TaskReading(task: .detect, outputs: [name(b), name(s)],
                                   reason: "outputs \(name(b)) \(shape(b).shapeString) (box offsets) and \(name(s)) \(shape(s).shapeString) (scores) on one grid")
            }
        }
        // Segmenters and feature maps; with dynamic sizes, as a 512×512 input would make them.
        var probed: [Int: [Dim]] = [:]
        if let input = inputShape, input.count == 4, outs.contains(where: { shape($0).count == 4 && shape($0)[2...].contains { $0.value == nil } }),
           let channels = input[1].value, let shapes = try? outputShapes(forInputShape: [1, channels, input[2].value ?? 512, input[3].value ?? 512]) {
            for (v, s) in zip(g.outputs, shapes) { probed[v] = s }
        }
        for v in outs where shape(v).count == 4 {
            let s = shape(v)
            let probe = inputShape.map { [Dim.known(1), $0[1], .known($0[2].value ?? 512), .known($0[3].value ?? 512)] }
            if isFine(s, comparedTo: inputShape) || (probed[v].map { isFine($0, comparedTo: probe) } ?? false) {
                return TaskReading(task: .segment, outputs: [name(v)],
                                   reason: "output \(name(v)) \(s.shapeString) has \(s[1]) score\(s[1] == .known(1) ? "" : "s") per pixel")
            }
        }
        guard let first = outs.first else {
            return TaskReading(task: .embed, outputs: [], reason: "the model has no float32 output: no classes, only its activations")
        }
        let s = shape(first)
        if s.count == 4 {
            return TaskReading(task: .embed, outputs: [name(first)], reason: "output \(name(first)) \(s.shapeString) is a feature map coarser than the input/8")
        }
        if s.count != 2 {
            return TaskReading(task: .embed, outputs: [name(first)], reason: "output \(name(first)) \(s.shapeString) has no class axis")
        }
        switch g.origin(of: first) {
        case .normalised(let op):
            return TaskReading(task: .embed, outputs: [name(first)], reason: "output \(name(first)) \(s.shapeString) is L2-normalised (\(op))")
        case .pooled(let op) where s[1] == .known(1000):
            // SqueezeNet-style heads pool a 1×1 conv's class maps.
            return TaskReading(task: .classify, outputs: [name(first)],
                               reason: "output \(name(first)) \(s.shapeString) is pooled (\(op)) over 1000 channels: ImageNet class scores assumed")
        case .pooled(let op):
            return TaskReading(task: .embed, outputs: [name(first)], reason: "output \(name(first)) \(s.shapeString) is a pooled feature vector (\(op), no layer after it)")
        case .linear(let op):
            return TaskReading(task: .classify, outputs: [name(first)], reason: "output \(name(first)) \(s.shapeString) comes from a linear layer (\(op)): class scores")
        case .other(let op):
            return TaskReading(task: .classify, outputs: [name(first)],
                               reason: "output \(name(first)) \(s.shapeString) (from \(op)) assumed to be class scores; --task embed if it is not")
        }
    }

    /// True when a 4-D output's grid is the input's or at most 8 times coarser.
    private func isFine(_ s: [Dim], comparedTo input: [Dim]?) -> Bool {
        guard let input, input.count == 4 else { return false }
        for axis in 2...3 {
            if s[axis] == input[axis] { continue }
            guard let o = s[axis].value, let i = input[axis].value, o > 1, o * 8 >= i else { return false }
        }
        return true
    }
}

/// What produces a 2-D output, looking back through reshapes, bias adds and activations.
private enum OutputOrigin {
    case normalised(String), pooled(String), linear(String), other(String)
}

extension Graph {
    /// The vector an L2-normalised output `v` normalises (the Div's numerator, LpNormalization's
    /// input), looking back through reshapes; nil when `v` is not normalised.
    func normalisedVector(of v: Int) -> Int? {
        var current = v
        for _ in 0..<16 {
            guard let p = values[current].producer else { return nil }
            let node = nodes[p]
            switch node.opType {
            case "LpNormalization": return node.inputs.first ?? nil
            case "Div" where node.inputs.count == 2 && isNorm(node.inputs[1]): return node.inputs[0]
            case "Mul" where scaledByInverseNorm(node) != nil: return scaledByInverseNorm(node)
            case "Flatten", "Reshape", "Squeeze", "Unsqueeze", "Identity", "Cast": current = node.inputs.first.flatMap { $0 } ?? current
            default: return nil
            }
        }
        return nil
    }

    fileprivate func origin(of output: Int) -> OutputOrigin {
        var v = output
        for _ in 0..<16 {
            guard let p = values[v].producer else { return .other("a graph input or constant") }
            let node = nodes[p]
            switch node.opType {
            case "LpNormalization": return .normalised("LpNormalization")
            case "Div" where node.inputs.count == 2 && isNorm(node.inputs[1]):
                return .normalised("Div by its norm")
            case "Mul" where scaledByInverseNorm(node) != nil:
                return .normalised("Mul by one over its norm")
            case "GlobalAveragePool", "GlobalMaxPool", "ReduceMean", "ReduceMax", "AveragePool", "MaxPool", "QLinearGlobalAveragePool":
                return .pooled(node.opType)
            case "Gemm", "MatMul", "Conv", "QGemm", "QLinearMatMul", "MatMulInteger", "QLinearConv", "ConvInteger": return .linear(node.opType)
            case "Flatten", "Reshape", "Squeeze", "Unsqueeze", "Identity", "Softmax", "LogSoftmax", "Sigmoid", "Dropout", "Cast", "BatchNormalization",
                 "QuantizeLinear", "DequantizeLinear":
                v = node.inputs.first.flatMap { $0 } ?? v
            case "Add", "Mul", "Sub":
                // A bias or a scale: follow the input that is not a constant.
                guard let next = node.inputs.compactMap({ $0 }).first(where: { values[$0].facts?.constant == nil }) else { return .other(node.opType) }
                v = next
            default:
                return .other(node.opType)
            }
        }
        return .other("a long chain of reshapes")
    }

    /// True when `v` is a vector norm of something: ReduceL2, or Sqrt of a ReduceSum (of
    /// squares), either possibly clamped away from 0 (Clip, Max, Add) or broadcast (Expand).
    func isNorm(_ v: Int?) -> Bool {
        guard let p = throughClamps(v) else { return false }
        switch nodes[p].opType {
        case "ReduceL2": return true
        case "Sqrt": return throughClamps(nodes[p].inputs.first ?? nil).map { ["ReduceSum", "ReduceSumSquare"].contains(nodes[$0].opType) } ?? false
        default: return false
        }
    }

    /// True when `v` is one over a vector norm: Reciprocal of a norm (TensorFlow's rsqrt as
    /// tf2onnx writes it), or a ReduceSum raised to −0.5.
    func isInverseNorm(_ v: Int?) -> Bool {
        guard let p = throughClamps(v) else { return false }
        switch nodes[p].opType {
        case "Reciprocal": return isNorm(nodes[p].inputs.first ?? nil)
        case "Pow":
            guard nodes[p].inputs.count == 2, let e = nodes[p].inputs[1], (try? values[e].facts?.constant?.floatValues()) == [-0.5] else { return false }
            return throughClamps(nodes[p].inputs[0]).map { ["ReduceSum", "ReduceSumSquare"].contains(nodes[$0].opType) } ?? false
        default: return false
        }
    }

    /// The producer of `v`, looking back through clamps and broadcasts (Clip, Max, Add, Expand).
    private func throughClamps(_ v: Int?) -> Int? {
        var current = v
        for _ in 0..<4 {
            guard let c = current, let p = values[c].producer else { return nil }
            guard ["Clip", "Max", "Expand", "Add"].contains(nodes[p].opType) else { return p }
            current = nodes[p].inputs.first ?? nil
        }
        return nil
    }

    /// The input of Mul node `node` that is multiplied by one over its norm, if it is such a Mul.
    private func scaledByInverseNorm(_ node: Node) -> Int? {
        guard node.opType == "Mul", node.inputs.count == 2, let a = node.inputs[0], let b = node.inputs[1] else { return nil }
        return isInverseNorm(b) ? a : isInverseNorm(a) ? b : nil
    }
}
