import Foundation
import Lafam

/// The per-image results CSV: one row per image × method × node, appended as rows finish so a
/// run can resume; and the summary table (mean and 95% interval per metric and method).
public enum ResultsFile {
    /// The results CSV's columns: image, method, node, predicted class, each metric, seconds.
    public static let header = ["image", "method", "node", "predicted_class"] + LocalisationMetrics.names + ["seconds"]

    /// Rows of an existing results file (a torn last line from an interrupted run is ignored).
    public static func read(_ path: String) throws -> [ResultRow] {
        guard let text = try? String(contentsOfFile: path, encoding: .utf8) else {
            throw LafamError.invalidArgument("cannot read results file '\(path)'")
        }
        let rows = CSV.parse(text)
        guard let first = rows.first, first == header else {
            throw EvaluationError.notAResultsFile(path: path)
        }
        return rows.dropFirst().compactMap { r -> ResultRow? in
            guard r.count == header.count, let seconds = Double(r[r.count - 1]) else { return nil }
            var metrics: [String: Double] = [:]
            for (i, name) in LocalisationMetrics.names.enumerated() { metrics[name] = Double(r[4 + i]) ?? .nan }
            return ResultRow(image: r[0], method: r[1], node: r[2], predictedClass: Int(r[3]), metrics: metrics, seconds: seconds)
        }
    }

    /// Appends rows, writing the header first when the file is new; each row is flushed whole.
    public static func append(_ rows: [ResultRow], to path: String) throws {
        let fm = FileManager.default
        if !fm.fileExists(atPath: path) {
            guard fm.createFile(atPath: path, contents: Data((CSV.line(header) + "\n").utf8)) else {
                throw LafamError.invalidArgument("cannot create results file '\(path)'; is its folder writable?")
            }
        }
        guard let handle = FileHandle(forWritingAtPath: path) else { throw LafamError.invalidArgument("cannot write results file '\(path)'") }
        defer { try? handle.close() }
        handle.seekToEndOfFile()
        for row in rows { handle.write(Data((CSV.line(fields(row)) + "\n").utf8)) }
    }

    static func fields(_ r: ResultRow) -> [String] {
        [r.image, r.method, r.node, r.predictedClass.map(String.init) ?? ""]
            + LocalisationMetrics.names.map { r.metrics[$0].map { $0.isNaN ? "nan" : String(format: "%.6f", $0) } ?? "nan" }
            + [String(format: "%.4f", r.seconds)]
    }

    /// Writes rows to a new file atomically (temporary file, then rename).
    public static func write(_ rows: [ResultRow], to path: String) throws {
        let text = ([header] + rows.map(fields)).map(CSV.line).joined(separator: "\n") + "\n"
        do {
            try Data(text.utf8).write(to: URL(fileURLWithPath: path), options: .atomic)
        } catch {
            throw LafamError.invalidArgument("cannot write '\(path)': \(error.localizedDescription)")
        }
    }
}

/// Mean and 95% interval (normal approximation, 1.96·sd/√n) of each metric per method and node.
public struct ResultsSummary {
    /// One metric of one group: the `mean` of its defined values, the `halfWidth` of their 95%
    /// interval (0 for fewer than two), their `count`, and how many rows were `undefined` (NaN).
    public struct Cell { public let mean: Double; public let halfWidth: Double; public let count: Int; public let undefined: Int }
    /// One entry per method and node, in order of first appearance: the number of distinct images,
    /// a cell per metric name, and the mean explainer time per row in seconds.
    public let groups: [(method: String, node: String, images: Int, cells: [String: Cell], seconds: Double)]

    /// Summarises `rows` by method and node; NaN metrics are left out of the statistics and
    /// counted as undefined.
    public init(_ rows: [ResultRow]) {
        var order: [String] = []
        var byGroup: [String: [ResultRow]] = [:]
        for r in rows {
            let key = r.method + "\u{1}" + r.node
            if byGroup[key] == nil { order.append(key) }
            byGroup[key, default: []].append(r)
        }
        groups = order.map { key in
            let rs = byGroup[key]!
            var cells: [String: Cell] = [:]
            for name in LocalisationMetrics.names {
                let values = rs.compactMap { $0.metrics[name] }.filter { !$0.isNaN }
                let n = Double(values.count)
                let mean = values.reduce(0, +) / max(n, 1)
                let sd = values.count > 1 ? (values.reduce(0) { $0 + ($1 - mean) * ($1 - mean) } / (n - 1)).squareRoot() : 0
                cells[name] = Cell(mean: mean, halfWidth: values.count > 1 ? 1.96 * sd / n.squareRoot() : 0,
                                   count: values.count, undefined: rs.count - values.count)
            }
            let seconds = rs.map(\.seconds).reduce(0, +) / Double(rs.count)
            return (rs[0].method, rs[0].node, Set(rs.map(\.image)).count, cells, seconds)
        }
    }

    static let titles = ["pointing_game": "Pointing-Game", "topk_intersection": "Top-K Intersection",
                         "relevance_rank_accuracy": "Relevance Rank Accuracy", "relevance_mass_accuracy": "Relevance Mass Accuracy",
                         "attribution_localisation": "Attribution Localisation", "auc": "AUC", "sparseness": "Sparseness"]

    /// A Markdown table: one row per method (and node), mean ± 95% half-width per metric.
    public var markdown: String {
        let metricNames = LocalisationMetrics.names
        var lines = ["| method | node | images | " + metricNames.map { Self.titles[$0]! }.joined(separator: " | ") + " | s/image |",
                     "|---|---|---|" + String(repeating: "---|", count: metricNames.count) + "---|"]
        for g in groups {
            let cells = metricNames.map { name -> String in
                let c = g.cells[name]!
                let base = String(format: "%.3f ± %.3f", c.mean, c.halfWidth)
                return c.undefined > 0 ? base + " (\(c.undefined) n/a)" : base
            }
            lines.append("| \(g.method) | \(g.node) | \(g.images) | " + cells.joined(separator: " | ") + String(format: " | %.3f |", g.seconds))
        }
        return lines.joined(separator: "\n")
    }

    /// The paper's layout (its Tables 1–2): one row per metric in the paper's order, one column per
    /// method (and node), means × 100.
    public var paperMarkdown: String {
        let order = ["pointing_game", "sparseness", "relevance_mass_accuracy", "relevance_rank_accuracy", "topk_intersection", "auc"]
        let names = groups.map { $0.node == "default" ? $0.method : "\($0.method) (\($0.node))" }
        var lines = ["| Metric | " + names.joined(separator: " | ") + " |", "|---|" + String(repeating: "---|", count: names.count)]
        for metric in order {
            lines.append("| \(Self.titles[metric]!) | " + groups.map { String(format: "%.2f", 100 * $0.cells[metric]!.mean) }.joined(separator: " | ") + " |")
        }
        return lines.joined(separator: "\n")
    }
}
