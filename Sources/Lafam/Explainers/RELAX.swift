import Foundation

/// RELAX (Wickstrøm et al.): label-free occlusion saliency with uncertainty. Random masks
/// multiply the (preprocessed) input; each masked input's embedding is compared with the
/// unmasked one (cosine similarity s, or −‖e − e₀‖). Per pixel, with weights m (the masks):
///   importance  R = Σ m·s / Σ m
///   uncertainty U = Σ m·(s − R)² / Σ m
///   U-RELAX       = R where U ≤ median(U), else 0.
/// (relax-xai keeps U as the running sum Σ m·(s − R)², without dividing by Σ m.)
public struct RELAX: Explainer {
    /// How random masks are drawn; the raw value is its command-line name.
    public enum MaskMode: String, Sendable, CaseIterable {
        /// relax-xai's generator: a cells×cells Bernoulli(keep) grid, bilinear upsampling to the
        /// input size (align_corners = false), reflect padding of cells/2 px, a random shift of
        /// 0..cells−1 px in each direction (a crop back to the input size).
        case wickstrom
        /// The LaFAM paper's variant: hard cells×cells Bernoulli(keep) grids upsampled nearest, no shift.
        case lafamPaper = "lafam-paper"
    }

    /// How a masked input's embedding is compared with the unmasked one.
    public enum Similarity: String, Sendable, CaseIterable {
        /// Cosine similarity of the embeddings (the default).
        case cosine
        /// Negative Euclidean distance between the embeddings.
        case euclidean
    }

    /// How masks are drawn (default `.wickstrom`).
    public var mode: MaskMode
    /// Masks per image (default 3000 for `.wickstrom`, 2048 for `.lafamPaper`); ignored when
    /// `maskFile` is given.
    public var masks: Int
    /// Masked inputs per model run (default 100); the masks drawn do not depend on it.
    public var batchSize: Int
    /// Cells per side of the random grid a mask is drawn on (default 7).
    public var cells: Int
    /// Probability that a grid cell is kept, in [0, 1] (default 0.5).
    public var keepProbability: Float
    /// Seed of the mask stream; every image of a batch gets the same masks (default 0).
    public var seed: UInt64
    /// How embeddings are compared (default `.cosine`).
    public var similarity: Similarity
    /// Masks to replay instead of generating them: N×H×W float32 (one mask per row).
    public var maskFile: Tensor?
    /// Called after each batch with (masks done, masks in all) for every image.
    public var progress: ((Int, Int) -> Void)?

    /// RELAX with these settings; `masks` defaults by `mode`. Settings are checked by `explain`.
    public init(mode: MaskMode = .wickstrom, masks: Int? = nil, batchSize: Int = 100, cells: Int = 7,
                keepProbability: Float = 0.5, seed: UInt64 = 0, similarity: Similarity = .cosine,
                maskFile: Tensor? = nil, progress: ((Int, Int) -> Void)? = nil) {
        self.mode = mode
        self.masks = masks ?? (mode == .wickstrom ? 3000 : 2048)
        self.batchSize = batchSize
        self.cells = cells
        self.keepProbability = keepProbability
        self.seed = seed
        self.similarity = similarity
        self.maskFile = maskFile
        self.progress = progress
    }

    /// The method's name: `relax`.
    public var name: String { "relax" }

    /// Explains a batch by the similarity of masked copies' embeddings to the image's own.
    /// - Parameters:
    ///   - input: the batch, shaped as the model's first input.
    ///   - model: the model to explain.
    ///   - target: the embedding tensor (node, tensor or abbreviation); nil for
    ///     `Model.defaultEmbedding`.
    public func explain(_ input: Tensor, model: Model, target: String?) throws -> Explanation {
        guard masks >= 1, batchSize >= 1, cells >= 1, (0...1).contains(keepProbability) else {
            throw LafamError.invalidArgument("RELAX needs masks ≥ 1, batch size ≥ 1, cells ≥ 1 and a keep probability in [0, 1]")
        }
        let embedding = try embeddingName(target, in: model)
        let size = try inputSize(input, model: model)
        let layout = ImageLayout.detect(model.inputs[0].shape)
        let plane = size.height * size.width
        if let maskFile {
            guard maskFile.rank == 3, maskFile.shape[1] == size.height, maskFile.shape[2] == size.width, maskFile.dtype == .float32 else {
                throw LafamError.invalidArgument("the mask file must hold float32 N×\(size.height)×\(size.width) masks, got \(maskFile.dtype) \(maskFile.shape)")
            }
        }
        let total = maskFile?.shape[0] ?? masks
        let images = input.shape[0]
        let perImage = input.count / images
        let unmasked = try model.run(input, taps: [embedding])
        let reference = unmasked.taps[embedding]!
        let width = reference.count / images
        var importance = [Float](), uncertainty = [Float](), urelax = [Float]()
        for b in 0..<images {
            let x = Array(input.floats[(b * perImage)..<((b + 1) * perImage)])
            let e0 = Array(reference.floats[(b * width)..<((b + 1) * width)])
            var generator = MaskGenerator(mode: mode, cells: cells, keep: keepProbability, height: size.height, width: size.width, seed: seed)
            var estimator = RELAXEstimator(pixels: plane)
            var done = 0
            while done < total {
                let count = min(batchSize, total - done)
                let batchMasks: [Float] = maskFile.map { Array($0.floats[(done * plane)..<((done + count) * plane)]) }
                    ?? (0..<count).flatMap { _ in generator.next() }
                let masked = apply(batchMasks, count: count, to: x, plane: plane, layout: layout)
                let shape = [count] + Array(input.shape.dropFirst())
                let e = try model.run(Tensor(uncheckedShape: shape, floats: masked), taps: [embedding]).taps[embedding]!.floats
                for j in 0..<count {
                    estimator.add(mask: batchMasks[(j * plane)..<((j + 1) * plane)], similarity: score(Array(e[(j * width)..<((j + 1) * width)]), e0))
                }
                done += count
                progress?(done + b * total, total * images)
            }
            importance += estimator.importance
            uncertainty += estimator.uncertainty
            urelax += estimator.uRELAX
        }
        let shape = [images, size.height, size.width]
        let raw = Tensor(uncheckedShape: shape, floats: importance)
        return try Explanation(method: name, targetTensor: embedding, raw: raw, maps: SaliencyMaps.minMaxNormalize(raw),
                           outputs: unmasked.outputs,
                           extras: ["uncertainty": Tensor(uncheckedShape: shape, floats: uncertainty), "urelax": Tensor(uncheckedShape: shape, floats: urelax)])
    }

    /// The embedding tensor `explain` compares: `target` resolved, or `Model.defaultEmbedding`.
    public func embeddingName(_ target: String?, in model: Model) throws -> String {
        if let target { return model.graph.values[try model.graph.resolveTensor(target)].name }
        guard let e = model.defaultEmbedding else { throw ExplainerError.noDefaultEmbedding(method: name) }
        return model.graph.values[e].name
    }

    /// `count` copies of the image x, each multiplied by its mask (broadcast over channels).
    private func apply(_ masks: [Float], count: Int, to x: [Float], plane: Int, layout: ImageLayout) -> [Float] {
        let channels = x.count / plane
        var out = [Float](repeating: 0, count: count * x.count)
        for j in 0..<count {
            for c in 0..<channels {
                for i in 0..<plane {
                    let index = layout == .nchw ? c * plane + i : i * channels + c
                    out[j * x.count + index] = x[index] * masks[j * plane + i]
                }
            }
        }
        return out
    }

    private func score(_ e: [Float], _ e0: [Float]) -> Double {
        switch similarity {
        case .cosine:
            var dot = 0.0, a = 0.0, b = 0.0
            for (p, q) in zip(e, e0) { dot += Double(p) * Double(q); a += Double(p) * Double(p); b += Double(q) * Double(q) }
            return dot / max(a.squareRoot() * b.squareRoot(), 1e-8)
        case .euclidean:
            return -zip(e, e0).reduce(0.0) { $0 + Double($1.0 - $1.1) * Double($1.0 - $1.1) }.squareRoot()
        }
    }
}

/// RELAX's per-pixel estimators, accumulated mask by mask in float64:
/// R = Σ m·s / Σ m, U = Σ m·(s − R)² / Σ m = Σ m·s² / Σ m − R², U-RELAX = R where U ≤ median(U).
public struct RELAXEstimator: Sendable {
    private var weight: [Double], weighted: [Double], weightedSquares: [Double]

    /// An empty estimator for maps of `pixels` pixels.
    public init(pixels: Int) {
        weight = [Double](repeating: 0, count: pixels)
        weighted = weight
        weightedSquares = weight
    }

    /// Adds one mask (one weight per pixel) with the similarity its masked input scored.
    public mutating func add<M: Collection>(mask: M, similarity s: Double) where M.Element == Float {
        var i = 0
        for w in mask {
            let m = Double(w)
            weight[i] += m
            weighted[i] += m * s
            weightedSquares[i] += m * s * s
            i += 1
        }
    }

    /// The summed weights Σ m per pixel.
    public var weights: [Float] { weight.map(Float.init) }

    /// The importance R = Σ m·s / Σ m per pixel (0 where no mask weighed it).
    public var importance: [Float] { importanceValues.map(Float.init) }

    /// The uncertainty U = Σ m·(s − R)² / Σ m per pixel (0 where no mask weighed it).
    public var uncertainty: [Float] { uncertaintyValues.map(Float.init) }

    /// Importance where the uncertainty is at most its lower median (as torch.median), else 0.
    public var uRELAX: [Float] {
        let u = uncertaintyValues
        guard !u.isEmpty else { return [] }
        let median = u.sorted()[(u.count - 1) / 2]
        return zip(importanceValues, u).map { $1 <= median ? Float($0) : 0 }
    }

    private var importanceValues: [Double] { weight.indices.map { weight[$0] > 0 ? weighted[$0] / weight[$0] : 0 } }

    private var uncertaintyValues: [Double] {
        let r = importanceValues
        return weight.indices.map { weight[$0] > 0 ? max(0, weightedSquares[$0] / weight[$0] - r[$0] * r[$0]) : 0 }
    }
}

/// Deterministic mask source: a SplitMix64 stream drawn in a fixed order on one thread, so the
/// masks depend on the seed only (not on batch size or thread count).
public struct MaskGenerator {
    let mode: RELAX.MaskMode
    let cells: Int
    let keep: Float
    let height: Int, width: Int
    var random: SplitMix64

    init(mode: RELAX.MaskMode, cells: Int, keep: Float, height: Int, width: Int, seed: UInt64) {
        (self.mode, self.cells, self.keep, self.height, self.width) = (mode, cells, keep, height, width)
        random = SplitMix64(seed: seed)
    }

    /// The next mask, height × width values in [0, 1].
    mutating func next() -> [Float] {
        let grid = Tensor(uncheckedShape: [1, cells, cells], floats: (0..<(cells * cells)).map { _ in random.uniform() < keep ? 1 : 0 })
        switch mode {
        case .lafamPaper:
            return SaliencyMaps.upsample(grid, height: height, width: width, mode: .nearest).floats
        case .wickstrom:
            let shiftRows = Int(random.next() % UInt64(cells)), shiftCols = Int(random.next() % UInt64(cells))
            return MaskGenerator.smoothMask(grid: grid, height: height, width: width, top: shiftRows, left: shiftCols)
        }
    }

    /// relax-xai's mask from a 1×cells×cells grid: bilinear upsampling to height × width
    /// (align_corners = false), reflect padding of cells/2 px, then the height × width window
    /// at (top, left), each in 0..<cells.
    public static func smoothMask(grid: Tensor, height: Int, width: Int, top: Int, left: Int) -> [Float] {
        let smooth = SaliencyMaps.upsample(grid, height: height, width: width, mode: .bilinear).floats
        return reflectCrop(smooth, height: height, width: width, pad: grid.shape[1] / 2, top: top, left: left)
    }

    /// The height × width window at (top, left) of the mask reflect-padded by `pad` px
    /// (PyTorch's 'reflect': the edge row is not repeated).
    static func reflectCrop(_ m: [Float], height: Int, width: Int, pad: Int, top: Int, left: Int) -> [Float] {
        func reflect(_ i: Int, _ n: Int) -> Int {
            guard n > 1 else { return 0 }
            var j = i
            let period = 2 * (n - 1)
            j = ((j % period) + period) % period
            return j < n ? j : period - j
        }
        var out = [Float](repeating: 0, count: height * width)
        for y in 0..<height {
            let sy = reflect(y + top - pad, height)
            for x in 0..<width { out[y * width + x] = m[sy * width + reflect(x + left - pad, width)] }
        }
        return out
    }
}
