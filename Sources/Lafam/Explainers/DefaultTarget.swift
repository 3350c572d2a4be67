extension Model {
    /// The tensor a saliency method explains when none is named: the last 4-D activation with
    /// spatial size > 1 that feeds a global pooling (GlobalAveragePool/GlobalMaxPool, or
    /// ReduceMean over both spatial axes); for ResNet-50 the `layer4` output. Models without
    /// such pooling: a vision transformer's last attention input, a segmenter's last Conv input,
    /// a detector's last map where its head branches, else the last 4-D activation with spatial
    /// size > 1.
    public var defaultTarget: Int? {
        let g = graph
        func isSpatialMap(_ v: Int) -> Bool {
            guard let s = g.values[v].facts?.shape, s.count == 4, g.values[v].producer != nil else { return false }
            return !(s[2] == .known(1) && s[3] == .known(1))
        }
        for node in g.nodes.reversed() {
            guard let x = node.inputs.first ?? nil, isSpatialMap(x) else { continue }
            switch node.opType {
            case "GlobalAveragePool", "GlobalMaxPool":
                return x
            case "ReduceMean":
                var axes: [Int]? = nil
                if case .ints(let a)? = node.attributes["axes"] { axes = a }
                if node.inputs.count > 1, let a = node.inputs[1], let c = g.constant(a) { axes = c.asInts }
                if let axes, Set(axes.map { $0 < 0 ? $0 + 4 : $0 }) == [2, 3] { return x }
            default:
                continue
            }
        }
        if let tokens = transformerTarget { return tokens }
        switch inferredTask.task {
        case .segment: return segmenterTarget(isSpatialMap) ?? g.values.indices.last(where: isSpatialMap)
        case .detect: return detectorTarget(isSpatialMap) ?? g.values.indices.last(where: isSpatialMap)
        case .classify, .embed: return g.values.indices.last(where: isSpatialMap)
        }
    }

    /// For a detector: the last feature map on an s-times-downsampled grid of the input (both
    /// axes, one s; any 4-D map when the input's size is not fixed) that two or more Convs read
    /// — where a head splits into its box and class branches (YOLOv8: the neck's last C2f;
    /// MTCNN's P-Net: the map before its box and face convs) — else the last such map; not the
    /// decoded head's `[N, 1, 4, A]` reshapes.
    private func detectorTarget(_ isSpatialMap: (Int) -> Bool) -> Int? {
        let g = graph
        guard let input = g.inputs.first.flatMap({ g.values[$0].facts?.shape }), input.count == 4 else { return nil }
        func onGrid(_ v: Int) -> Bool {
            guard let ih = input[2].value, let iw = input[3].value else { return isSpatialMap(v) }
            guard g.values[v].producer != nil, let s = g.values[v].facts?.shape, s.count == 4, let h = s[2].value, let w = s[3].value,
                  h > 1, w > 1, ih % h == 0, iw % w == 0 else { return false }
            return ih / h == iw / w
        }
        let consumers = g.consumers
        let maps = g.values.indices.filter(onGrid)
        return maps.last { g.isHeadBranch($0, consumers: consumers) } ?? maps.last
    }

    /// For a segmenter: the input of its last Conv, the features its classifier
    /// reads (pytorch-grad-cam's examples explain the backbone's last layer), not the upsampled
    /// class scores the fallback would pick.
    private func segmenterTarget(_ isSpatialMap: (Int) -> Bool) -> Int? {
        graph.nodes.last { $0.opType == "Conv" && !$0.isFolded && ($0.inputs.first ?? nil).map(isSpatialMap) == true }?.inputs.first ?? nil
    }

    /// For a vision transformer without spatial pooling (ViT, DeiT): the input of its last
    /// attention — the tokens the last block's first LayerNorm gives, pytorch-grad-cam's
    /// `blocks[-1].norm1` — found by walking back from the last Softmax to the nearest token
    /// tensor (`Graph.tokenLayout(of:)`), preferring a layer norm's output (a LayerNormalization
    /// node or one written as elementary ops, `Graph.layerNormOutputs()`), then a
    /// batch-first one. The last block's output would not do for gradient methods: after the
    /// last attention the patch tokens no longer reach the class token, so their gradients are 0.
    private var transformerTarget: Int? {
        let g = graph
        let layouts = g.tokenLayouts()
        guard !layouts.isEmpty, let softmax = g.nodes.last(where: { $0.opType == "Softmax" }) else { return nil }
        var frontier = softmax.inputs.compactMap { $0 }, seen = Set(frontier)
        var found: [Int] = []
        // Back through the attention's own ops (projections, head reshapes, transposes) to the block's
        // input, not further: a few dozen steps.
        for _ in 0..<24 where !frontier.isEmpty {
            var next: [Int] = []
            for v in frontier {
                if layouts[v] != nil { found.append(v) }
                guard let p = g.values[v].producer else { continue }
                for case let u? in g.nodes[p].inputs where seen.insert(u).inserted { next.append(u) }
            }
            frontier = next
        }
        let layerNorms = g.layerNormOutputs()
        return found.first(where: layerNorms.contains)
            ?? found.first { layouts[$0]?.order == .batchFirst }
            ?? found.first
    }

    /// The embedding a label-free method compares when none is named: the output of the global
    /// pooling that the default target feeds (the pooled feature vector), else the default target.
    public var defaultEmbedding: Int? {
        guard let target = defaultTarget else { return nil }
        for node in graph.nodes where node.inputs.first == target {
            if ["GlobalAveragePool", "GlobalMaxPool", "ReduceMean"].contains(node.opType) { return node.outputs[0] }
        }
        return target
    }

    /// The name of the tensor `defaultTarget` designates (what users see and type), if any.
    public var defaultTargetName: String? { defaultTarget.map { graph.values[$0].name } }

    /// The name of the tensor `defaultEmbedding` designates, if any.
    public var defaultEmbeddingName: String? { defaultEmbedding.map { graph.values[$0].name } }
}
