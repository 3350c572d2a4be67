import Dispatch
import Foundation
import Lafam
import LafamImaging

/// One metric row: an image explained by a method at a node.
public struct ResultRow: Sendable, Equatable {
    /// The image's id (`EvalItem.id`).
    public var image: String
    /// The saliency method's name, such as `lafam` or `gradcam++`.
    public var method: String
    /// The target node as given; `default` when none was given, and `input` when a method that
    /// ignores nodes (input gradient, RELAX) was given several.
    public var node: String
    /// The class the method explained or, failing that, the argmax of the model's first output
    /// when that is a float32 batch × classes tensor; nil otherwise.
    public var predictedClass: Int?
    /// Each localisation metric by name (`LocalisationMetrics.names`); NaN where undefined (a map
    /// the metrics refuse, an empty mask).
    public var metrics: [String: Double]
    /// Wall time of the explainer alone for this image (model loaded, image decoded).
    public var seconds: Double

    /// Identifies the row by image, method and node, so a resumed run can skip rows already done.
    public var key: String { "\(image)\u{1}\(method)\u{1}\(node)" }
}

/// Runs saliency methods over annotated images and scores each map with the localisation
/// metrics against the object mask (after the same centre crop and resize as the image).
public struct Evaluation {
    /// The model whose outputs are explained.
    public let model: Model
    /// The saliency methods run on each image.
    public let methods: [SaliencyMethod]
    /// Target nodes (empty: each method's default).
    public let nodes: [String]
    /// How an image becomes the model's input; masks get the same centre crop and size.
    public let preprocessing: Preprocessing
    /// How object masks are read.
    public let maskSource: MaskSource
    /// k of the Top-K Intersection metric, in pixels (default 1000).
    public let topK: Int
    /// How equal map values are ordered by the metrics that rank pixels (Top-K, Relevance Rank).
    public let ties: LocalisationMetrics.TieRule
    /// Told about maps the metrics refuse (constant or negative everywhere).
    public var warn: ((String) -> Void)?
    /// Given each map as it is scored, with the photo and mask it was scored against: what a
    /// report draws thumbnails from.
    public var onMap: ((ScoredMap) -> Void)?

    /// One map `evaluate` scored, for reports.
    public struct ScoredMap {
        /// The image's dataset entry.
        public let item: EvalItem
        /// The row the map's scores went to (image id, method, node, metrics).
        public let row: ResultRow
        /// The map at the model's input resolution, values in [0, 1], shape [1, H, W].
        public let maps: Tensor
        /// The decoded photo (whole, before the centre crop).
        public let photo: RGBImage
        /// The object mask at the model's input resolution (after the centre crop), row-major.
        public let mask: [Bool]
    }

    /// An evaluation of `methods` at `nodes` (empty: each method's default target) on `model`.
    public init(model: Model, methods: [SaliencyMethod], nodes: [String], preprocessing: Preprocessing,
                maskSource: MaskSource = .binary, topK: Int = 1000, ties: LocalisationMetrics.TieRule = .firstPixelFirst) {
        self.model = model
        self.methods = methods
        self.nodes = nodes
        self.preprocessing = preprocessing
        self.maskSource = maskSource
        self.topK = topK
        self.ties = ties
    }

    /// The rows for one image (every method, every node); `skip` names rows already done.
    public func evaluate(_ item: EvalItem, skip: Set<String> = []) throws -> [ResultRow] {
        let image = try ImageIO.readImage(path: item.image)
        let input = try preprocessing.tensor(image)
        let mask = try EvalDataset.mask(item, source: maskSource, width: preprocessing.width, height: preprocessing.height,
                                        expected: (image.width, image.height))
        var rows: [ResultRow] = []
        for method in methods {
            let nodeLabels = nodes.isEmpty ? ["default"] : nodes
            if nodeLabels.allSatisfy({ skip.contains(ResultRow(image: item.id, method: method.name.rawValue, node: $0, metrics: [:], seconds: 0).key) }) { continue }
            let start = DispatchTime.now().uptimeNanoseconds
            let explanations = try method.explain(input, model: model, nodes: nodes)
            let seconds = Double(DispatchTime.now().uptimeNanoseconds - start) / 1e9
            for (k, e) in explanations.enumerated() {
                let node = explanations.count == 1 && nodeLabels.count > 1 ? "input" : nodeLabels[min(k, nodeLabels.count - 1)]
                var metrics: [String: Double]
                do {
                    metrics = try LocalisationMetrics.all(e.maps.floats, mask: mask, k: topK, ties: ties)
                } catch let LafamError.invalidArgument(message) {
                    // Quantus refuses such maps (e.g. constant ones); the row is kept, undefined, and
                    // counted apart, so one bad map does not stop a long run.
                    warn?("\(item.image), \(method.name.rawValue): \(message); its metrics are recorded as undefined")
                    metrics = Dictionary(uniqueKeysWithValues: LocalisationMetrics.names.map { ($0, Double.nan) })
                }
                if !mask.contains(true) { metrics = metrics.mapValues { _ in .nan } }
                let row = ResultRow(image: item.id, method: method.name.rawValue, node: node,
                                    predictedClass: predictedClass(e), metrics: metrics, seconds: seconds / Double(explanations.count))
                rows.append(row)
                onMap?(ScoredMap(item: item, row: row, maps: e.maps, photo: image, mask: mask))
            }
        }
        return rows
    }

    private func predictedClass(_ e: Explanation) -> Int? {
        if let c = e.classes?.first { return c }
        guard let first = model.outputs.first, let y = e.outputs[first.name], y.rank == 2, y.dtype == .float32 else { return nil }
        let v = y.floats
        return v.indices.prefix(y.shape[1]).max { v[$0] < v[$1] }
    }
}
