import Foundation
import Lafam
import LafamImaging

/// The HTML page of an evaluation (`lafam eval --html`): the summary table, the worst images per
/// metric, and every row with thumbnails of the photo (object outlined) and of each map.
public struct EvaluationReport {
    /// Thumbnail side in pixels.
    public static let thumbnailSide = 96

    /// Map thumbnails by `ResultRow.key`.
    public private(set) var maps: [String: HTMLReport.Picture] = [:]
    /// Photo thumbnails (the model's crop, the object outlined in magenta) by image id.
    public private(set) var photos: [String: HTMLReport.Picture] = [:]
    /// The colormap of the map thumbnails.
    public var colormap: Colormap

    /// An empty report drawing maps with `colormap`.
    public init(colormap: Colormap = .turbo) { self.colormap = colormap }

    /// Keeps thumbnails of a scored map (and of its photo, once per image).
    public mutating func add(_ scored: Evaluation.ScoredMap, preprocessing: Preprocessing) throws {
        let side = Self.thumbnailSide
        let crop = try preprocessing.visibleRegion(of: scored.photo, maxSide: 4 * side).resized(width: side, height: side)
        let (h, w) = (scored.maps.shape[1], scored.maps.shape[2])
        let map = try overlay(map: try scored.maps.floatValues(), mapWidth: w, mapHeight: h, on: crop, colormap: colormap)
        maps[scored.row.key] = HTMLReport.Picture(caption: "\(scored.row.method) on \(scored.row.image)",
                                                  bytes: try ImageFormat.jpeg.encode(map, jpegQuality: 85), mimeType: "image/jpeg")
        if photos[scored.item.id] == nil {
            photos[scored.item.id] = HTMLReport.Picture(caption: scored.item.id, bytes: try ImageFormat.jpeg.encode(
                crop.outlined(by: scored.mask, width: preprocessing.width, height: preprocessing.height), jpegQuality: 85),
                mimeType: "image/jpeg")
        }
    }

    /// The page for `rows` (thumbnails where `add` saw the map; rows resumed from an earlier run
    /// have none). `worst` rows per metric are listed lowest first.
    public func html(rows: [ResultRow], title: String, lines: [String], worst: Int = 5) -> String {
        var report = HTMLReport(title: title, lines: lines)
        let summary = ResultsSummary(rows)
        report.heading("Summary: mean and 95% half-width per method and node")
        report.table(HTMLReport.Table(
            header: ["method", "node", "images", "seconds"] + LocalisationMetrics.names.flatMap { [$0, "±"] },
            rows: summary.groups.map { g in
                [.text(g.method), .text(g.node), .number(Double(g.images), digits: 0), .number(g.seconds, digits: 3)]
                    + LocalisationMetrics.names.flatMap { name -> [HTMLReport.Cell] in
                        guard let c = g.cells[name] else { return [.number(nil, digits: 3), .number(nil, digits: 3)] }
                        return [.number(c.mean, digits: 3), .number(c.halfWidth, digits: 3)]
                    }
            }))
        report.heading("Worst \(worst) maps per metric")
        for name in LocalisationMetrics.names {
            let scored = rows.filter { ($0.metrics[name] ?? .nan).isFinite }.sorted { $0.metrics[name]! < $1.metrics[name]! }
            report.paragraph(name)
            report.table(table(Array(scored.prefix(worst)), metrics: [name], sortable: false))
        }
        report.heading("Every map (click a heading to sort; lowest \(LocalisationMetrics.names[0]) first)")
        let ordered = rows.sorted { ($0.metrics[LocalisationMetrics.names[0]] ?? .infinity) < ($1.metrics[LocalisationMetrics.names[0]] ?? .infinity) }
        report.table(table(ordered, metrics: LocalisationMetrics.names, sortable: true))
        return report.html()
    }

    private func table(_ rows: [ResultRow], metrics: [String], sortable: Bool) -> HTMLReport.Table {
        HTMLReport.Table(header: ["image", "photo", "method", "node", "map", "class"] + metrics, rows: rows.map { r in
            [.text(r.image), photos[r.image].map { .picture($0) } ?? .text("–"), .text(r.method), .text(r.node),
             maps[r.key].map { .picture($0) } ?? .text("–"), .number(r.predictedClass.map(Double.init), digits: 0)]
                + metrics.map { .number(r.metrics[$0], digits: 3) }
        }, sortable: sortable)
    }
}
