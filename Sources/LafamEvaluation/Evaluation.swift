import Dispatch
import Foundation
import Lafam
import LafamImaging

/// One metric row: an image explained by a method at a node.
public struct ResultRow: Sendable, Equatable {
    public var image: String
    public var method: String
    public var node: String
    public var predictedClass: Int?
    public var metrics: [String: Double]
    /// Wall time of the explainer alone for this image (model loaded, image decoded).
    public var seconds: Double

    public var key: String { "\(image)\u{1}\(method)\u{1}\(node)" }
}

/// Runs saliency methods over annotated images and scores each map with the localisation
/// metrics against the object mask (after the same centre crop and resize as the image).
public struct Evaluation {
    public let model: Model
    public let methods: [SaliencyMethod]
    /// Target nodes (empty: each method's default).
    public let nodes: [String]
    public let preprocessing: Preprocessing
    public let maskSource: MaskSource
    public let topK: Int
    public let ties: LocalisationMetrics.TieRule
    /// Told about maps the metrics refuse (constant or negative everywhere).
    public var warn: ((String) -> Void)?

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
                rows.append(ResultRow(image: item.id, method: method.name.rawValue, node: node,
                                      predictedClass: predictedClass(e), metrics: metrics, seconds: seconds / Double(explanations.count)))
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
