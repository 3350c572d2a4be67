import Foundation
import Lafam
import LafamImaging

/// One image's agreement between two models' maps of one method (`eval --compare`): the
/// evaluated model and a second one on the same input, such as its int8 deployment.
public struct ComparisonRow: Sendable, Equatable {
    /// The image's id (`EvalItem.id`).
    public var image: String
    /// The saliency method's name.
    public var method: String
    /// `MapAgreement.spearman` of the two input-size maps (NaN when one is constant).
    public var spearman: Double
    /// `MapAgreement.topOverlap` at the top 10% of pixels.
    public var topOverlap: Double
    /// Each model's top class, when their first outputs are class scores.
    public var topClasses: (first: Int, second: Int)?

    public static func == (a: ComparisonRow, b: ComparisonRow) -> Bool {
        a.image == b.image && a.method == b.method && a.spearman.bitPattern == b.spearman.bitPattern
            && a.topOverlap == b.topOverlap && a.topClasses?.first == b.topClasses?.first && a.topClasses?.second == b.topClasses?.second
    }
}

extension Evaluation {
    /// Each method's agreement on `item` between this evaluation's model and `other`
    /// (`ModelComparison`: each at its default target, class methods on the first model's top
    /// class), after the same preprocessing.
    public func compare(_ item: EvalItem, with other: Model) throws -> [ComparisonRow] {
        let input = try preprocessing.tensor(try ImageIO.readImage(path: item.image))
        return try methods.map { method in
            let c = try ModelComparison(method, first: model, second: other, input: input)
            return ComparisonRow(image: item.id, method: method.name.rawValue, spearman: c.agreements[0].spearman,
                                 topOverlap: c.agreements[0].topOverlap, topClasses: c.topClasses.map { ($0.first[0], $0.second[0]) })
        }
    }
}

/// The comparison CSV `eval --compare` writes beside its results, and its summary.
public enum ComparisonFile {
    /// The columns: image, method, spearman, top10_overlap, top_class, other_top_class.
    public static let header = ["image", "method", "spearman", "top10_overlap", "top_class", "other_top_class"]

    /// Writes `rows` to `path` (replacing it; the caller checks it may).
    public static func write(_ rows: [ComparisonRow], to path: String) throws {
        var lines = [CSV.line(header)]
        for r in rows {
            lines.append(CSV.line([r.image, r.method, r.spearman.isNaN ? "nan" : String(format: "%.6f", r.spearman), String(format: "%.6f", r.topOverlap),
                                   r.topClasses.map { "\($0.first)" } ?? "", r.topClasses.map { "\($0.second)" } ?? ""]))
        }
        try FileAccess.writeAtomically(Array((lines.joined(separator: "\n") + "\n").utf8), to: path, what: "comparison results")
    }

    /// Per method: the images, mean Spearman and top-10% overlap with their 95% half-widths
    /// (1.96·sd/√n; constant maps left out and counted), and the share of images whose top class
    /// both models agree on.
    public static func summary(_ rows: [ComparisonRow]) -> [(method: String, images: Int, spearman: (Double, Double), undefined: Int,
                                                             topOverlap: (Double, Double), topClassAgreement: Double?)] {
        var order: [String] = []
        var byMethod: [String: [ComparisonRow]] = [:]
        for r in rows {
            if byMethod[r.method] == nil { order.append(r.method) }
            byMethod[r.method, default: []].append(r)
        }
        func meanAndHalfWidth(_ v: [Double]) -> (Double, Double) {
            let n = Double(v.count), mean = v.reduce(0, +) / max(n, 1)
            let sd = v.count > 1 ? (v.reduce(0) { $0 + ($1 - mean) * ($1 - mean) } / (n - 1)).squareRoot() : 0
            return (mean, v.count > 1 ? 1.96 * sd / n.squareRoot() : 0)
        }
        return order.map { method in
            let rs = byMethod[method]!
            let defined = rs.map(\.spearman).filter { !$0.isNaN }
            let classes = rs.compactMap(\.topClasses)
            return (method, rs.count, meanAndHalfWidth(defined), rs.count - defined.count, meanAndHalfWidth(rs.map(\.topOverlap)),
                    classes.isEmpty ? nil : Double(classes.filter { $0.first == $0.second }.count) / Double(classes.count))
        }
    }

    /// The summary as a Markdown table.
    public static func markdown(_ rows: [ComparisonRow], models: (String, String)) -> String {
        var lines = ["Agreement of \(models.0) and \(models.1) (mean ± 95% half-width over images):", "",
                     "| method | images | Spearman | top 10% overlap | top class agrees |", "|---|---|---|---|---|"]
        for s in summary(rows) {
            let rho = String(format: "%.3f ± %.3f", s.spearman.0, s.spearman.1) + (s.undefined > 0 ? " (\(s.undefined) n/a)" : "")
            lines.append("| \(s.method) | \(s.images) | \(rho) | " + String(format: "%.3f ± %.3f", s.topOverlap.0, s.topOverlap.1)
                         + " | " + (s.topClassAgreement.map { String(format: "%.0f%%", 100 * $0) } ?? "–") + " |")
        }
        return lines.joined(separator: "\n")
    }
}
