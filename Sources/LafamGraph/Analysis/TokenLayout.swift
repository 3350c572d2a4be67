import LafamTensor

/// How a vision transformer's token tensor maps to an image grid: which of its tokens are patches
/// (the first `skip` are class, distillation or register tokens), the grid of patches and the
/// tensor's axis order (a channels-last `[N, H, W, C]` map counts too). Derived from the graph's structure and shapes (`Graph.tokenLayout(of:)`),
/// never from node names; a caller may also give one.
public struct TokenLayout: Sendable, Equatable, CustomStringConvertible {
    /// How the tensor holds the tokens: `[N, T, C]` (batch first), `[T, N, C]` (sequence first,
    /// as torch's attention works inside), or `[N, H, W, C]` (channels last: Swin's stages and
    /// ConvNeXt's LayerNorm/Linear, a grid with no other tokens).
    public enum Order: String, Sendable { case batchFirst, sequenceFirst, channelsLast }

    /// The axis order of the token tensor.
    public var order: Order
    /// Leading tokens that are not patches (class, distillation, register tokens).
    public var skip: Int
    /// Patch rows of the grid.
    public var height: Int
    /// Patch columns of the grid.
    public var width: Int

    /// A layout of `height`×`width` patches after `skip` other tokens.
    public init(order: Order = .batchFirst, skip: Int, height: Int, width: Int) {
        self.order = order
        self.skip = skip
        self.height = height
        self.width = width
    }

    /// "grid 14×14, 1 token skipped" and the axis order.
    public var description: String {
        switch order {
        case .channelsLast: return "grid \(height)×\(width), channels last"
        case .sequenceFirst: return "grid \(height)×\(width), \(skip) token\(skip == 1 ? "" : "s") skipped, sequence first"
        case .batchFirst: return "grid \(height)×\(width), \(skip) token\(skip == 1 ? "" : "s") skipped"
        }
    }

    /// The tokens a tensor of this layout holds: `skip` plus the patches.
    public var tokenCount: Int { skip + height * width }

    /// The patch tokens of `tokens` as a feature map `[N, C, height, width]` (the other tokens
    /// dropped), what a CNN layer's activation looks like to the explainers.
    public func fold(_ tokens: Tensor) throws -> Tensor {
        if order == .channelsLast {
            guard tokens.rank == 4, tokens.shape[1] == height, tokens.shape[2] == width else {
                throw TensorError("a channels-last map of a \(height)×\(width) grid is [N, \(height), \(width), C], got shape \(tokens.shape)")
            }
            let (n, c, plane) = (tokens.shape[0], tokens.shape[3], height * width)
            let values = try tokens.floatValues()
            var out = [Float](repeating: 0, count: values.count)
            for image in 0..<n {
                for p in 0..<plane {
                    for channel in 0..<c { out[(image * c + channel) * plane + p] = values[(image * plane + p) * c + channel] }
                }
            }
            return try Tensor(shape: [n, c, height, width], floats: out)
        }
        guard tokens.rank == 3 else { throw TensorError("a token tensor is 3-D, got shape \(tokens.shape)") }
        let (n, t, c) = order == .batchFirst ? (tokens.shape[0], tokens.shape[1], tokens.shape[2])
                                             : (tokens.shape[1], tokens.shape[0], tokens.shape[2])
        guard t == tokenCount else {
            throw TensorError("a token tensor of shape \(tokens.shape) does not hold \(skip) + \(height)×\(width) tokens")
        }
        let values = try tokens.floatValues()
        let plane = height * width
        var out = [Float](repeating: 0, count: n * c * plane)
        for image in 0..<n {
            for p in 0..<plane {
                let token = skip + p
                let source = order == .batchFirst ? (image * t + token) * c : (token * n + image) * c
                for channel in 0..<c { out[(image * c + channel) * plane + p] = values[source + channel] }
            }
        }
        return try Tensor(shape: [n, c, height, width], floats: out)
    }
}

extension Graph {
    /// Patch embeddings: Conv nodes whose kernel equals their stride and that have no padding
    /// (ViT's `conv_proj`, Swin's patch partition), with their output grid, by output value.
    public var patchGrids: [Int: (height: Int, width: Int)] {
        var grids: [Int: (height: Int, width: Int)] = [:]
        for node in nodes where node.opType == "Conv" && node.domain.isEmpty {
            guard case .ints(let kernel)? = node.attributes["kernel_shape"], kernel.count == 2,
                  case .ints(let strides)? = node.attributes["strides"], strides == kernel, kernel.allSatisfy({ $0 > 1 }) else { continue }
            if case .ints(let pads)? = node.attributes["pads"], pads.contains(where: { $0 != 0 }) { continue }
            let out = node.outputs[0]
            guard let shape = values[out].facts?.shape, shape.count == 4,
                  let h = shape[2].value, let w = shape[3].value, h * w > 1 else { continue }
            grids[out] = (h, w)
        }
        return grids
    }

    /// The token layout of value `v`: a 3-D `[N, T, C]` or `[T, N, C]` tensor downstream of a
    /// patch embedding whose T is the grid's patches plus at most 8 leading tokens, or a
    /// channels-last `[N, H, W, C]` map of the grid. Nil when the shape does not say so (a user
    /// may still give a layout). For many values, `tokenLayouts()` analyses the graph once.
    public func tokenLayout(of v: Int) -> TokenLayout? {
        let grids = patchGrids
        guard !grids.isEmpty, descendants(of: Array(grids.keys)).contains(v) else { return nil }
        return layout(of: v, grids: Array(grids.values))
    }

    /// The token layout of every value that has one (see `tokenLayout(of:)`), from one pass.
    public func tokenLayouts() -> [Int: TokenLayout] {
        let grids = patchGrids
        guard !grids.isEmpty else { return [:] }
        var layouts: [Int: TokenLayout] = [:]
        for v in descendants(of: Array(grids.keys)) {
            if let l = layout(of: v, grids: Array(grids.values)) { layouts[v] = l }
        }
        return layouts
    }

    /// The rule of `tokenLayout(of:)` on `v`'s shape, for a value downstream of the `grids`.
    private func layout(of v: Int, grids: [(height: Int, width: Int)]) -> TokenLayout? {
        guard let shape = values[v].facts?.shape, shape.count == 3 || shape.count == 4,
              let c = shape.last?.value, c > 0 else { return nil }
        if shape.count == 4 { return channelsLastLayout(shape, grids: grids) }
        // The batch axis is the model's batch symbol (or a known size when the batch is static);
        // an unknown leading axis is a product such as batch·heads (attention internals), and a
        // last axis as long as the sequence is a token × token score matrix, not channels.
        var candidates: [(TokenLayout.Order, Int)] = []
        switch (shape[0], shape[1]) {
        case let (.symbol, .known(t)): candidates = [(.batchFirst, t)]
        case let (.known(t), .symbol): candidates = [(.sequenceFirst, t)]
        case let (.known(n), .known(t)): candidates = [(.batchFirst, t), (.sequenceFirst, n)]
        default: return nil
        }
        for (order, t) in candidates where t != c {
            for grid in grids.sorted(by: { $0.height * $0.width > $1.height * $1.width }) {
                let skip = t - grid.height * grid.width
                if (0...8).contains(skip) { return TokenLayout(order: order, skip: skip, height: grid.height, width: grid.width) }
            }
        }
        return nil
    }

    /// `[N, H, W, C]` with (H, W) a patch grid or one of its halvings (Swin's stages), when
    /// `[N, C, H, W]` would not read as a grid too (then it is taken as a CNN's map).
    private func channelsLastLayout(_ shape: [Dim], grids: [(height: Int, width: Int)]) -> TokenLayout? {
        switch shape[0] { case .symbol, .known: break; case .unknown: return nil }
        func isGrid(_ h: Int?, _ w: Int?) -> Bool {
            guard let h, let w, h > 0, w > 0 else { return false }
            return grids.contains { g in (0...6).contains { s in (g.height + (1 << s) - 1) >> s == h && (g.width + (1 << s) - 1) >> s == w } }
        }
        guard isGrid(shape[1].value, shape[2].value), !isGrid(shape[2].value, shape[3].value),
              let h = shape[1].value, let w = shape[2].value, h * w > 1 else { return nil }
        return TokenLayout(order: .channelsLast, skip: 0, height: h, width: w)
    }

    /// Values computed (directly or not) from any of `sources`, the sources included.
    func descendants(of sources: [Int]) -> Set<Int> {
        var reached = Set(sources)
        for node in nodes where node.inputs.contains(where: { $0.map(reached.contains) ?? false }) {
            reached.formUnion(node.outputs)
        }
        return reached
    }
}
