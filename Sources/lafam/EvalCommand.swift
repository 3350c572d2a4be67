import ArgumentParser
import Foundation
import Lafam
import LafamEvaluation
import LafamImaging

struct EvalCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "eval",
        abstract: "Score saliency methods with localisation metrics over images with object masks.",
        discussion: """
        Writes one CSV row per image × method × node (metrics, predicted class, explainer seconds) and prints \
        the mean and 95% interval of each metric per method. Rows are appended as images finish: rerunning \
        with the same --output resumes. --shard i/n (0 ≤ i < n) takes every n-th image from the i-th, for \
        array jobs; `lafam eval --merge --output all.csv shard-*.csv` joins the shards.
        """)

    @Option(help: "Folder with index.csv, or with images/ and masks/<name>.png.") var dataset: String?
    @Option(name: .customLong("list"), help: "CSV with 'image' and 'mask' columns (and optionally 'id'), paths relative to it.")
    var listFile: String?
    @OptionGroup var modelSelection: ModelSelection
    @Option(name: .customLong("method"), help: "Method to evaluate (repeatable; default lafam).") var methods: [SaliencyMethod.Name] = []
    @Option(help: "Target node (repeatable; default: each method's default).") var node: [String] = []
    @Option(help: "Results CSV (appended to and resumed if it exists).") var output: String
    @Option(help: "Also write the summary table as Markdown to this file.") var markdown: String?
    @Flag(help: "Replace the --markdown file, or the --output of --merge, when it exists.") var overwrite = false
    @Flag(help: "Print the summary as one JSON object (per method and node: images, mean and 95% interval of each metric, seconds).")
    var json = false
    @Flag(help: "Also write the results as one self-contained HTML page beside the CSV (RESULTS.html): sortable tables, worst maps per metric, thumbnails.")
    var html = false
    @Option(help: "Evaluate only shard i of n (i from 0).") var shard: String?
    @Option(help: "Masks are VOC class-index PNGs: keep this class index.") var maskClass: Int?
    @Option(help: "k of Top-K Intersection.") var topK = 1000
    @Option(help: "Tie order for Top-K and RRA: first (lower pixel index ranks higher) or last.") var ties: String = "first"
    @Option(help: "Evaluate at most this many images (after sharding).") var limit: Int?
    @Option(help: "Masks for --method relax (default 2048).") var relaxMasks: Int?
    @Flag(help: "Join the results files given as arguments into --output and summarise them.") var merge = false
    @Option(help: ArgumentHelp("Another model of the same input (--model's int8 or float16 deployment, say): also measure, per image and method, how much its maps agree with --model's (Spearman, top-10% overlap, top class) into <output>.compare.csv, summarised.", valueName: "model"))
    var compare: String?
    @Argument(help: "Results files to merge (with --merge).") var files: [String] = []
    @OptionGroup var preprocess: PreprocessingOptions
    @OptionGroup var execution: ExecutionOptions
    @OptionGroup var memory: MemoryOptions

    func run() throws {
        try reporting(memory) {
            if let markdown { try checkWritable(markdown) }
            if relaxMasks != nil && !methods.contains(.relax) { warn("--relax-masks does not apply without --method relax; ignored") }
            let htmlPath = html ? ((output as NSString).deletingPathExtension + ".html") : nil
            if let htmlPath { try checkWritable(htmlPath) }
            if merge { return try mergeResults() }
            guard let tieRule = LocalisationMetrics.TieRule(rawValue: ties) else { throw CLIError("--ties must be first or last") }
            var items: [EvalItem]
            switch (dataset, listFile) {
            case let (d?, nil): items = try EvalDataset.folder(d)
            case let (nil, l?): items = try EvalDataset.list(l)
            default: throw CLIError("give exactly one of --dataset DIR and --list FILE.csv")
            }
            if let shard {
                let parts = shard.split(separator: "/").compactMap { Int($0) }
                guard parts.count == 2, parts[1] >= 1, (0..<parts[1]).contains(parts[0]) else {
                    throw CLIError("--shard must be i/n with 0 ≤ i < n, got '\(shard)'")
                }
                items = items.enumerated().filter { $0.offset % parts[1] == parts[0] }.map(\.element)
            }
            if let limit { items = Array(items.prefix(limit)) }
            let modelPath = try modelSelection.path()
            let m = try execution.model(modelPath)
            let done = FileManager.default.fileExists(atPath: output) ? try ResultsFile.read(output) : []
            let skip = Set(done.map(\.key))
            let chosen = (methods.isEmpty ? [.lafam] : methods).map { name in
                SaliencyMethod(name, relax: RELAX(mode: .lafamPaper, masks: relaxMasks ?? 2048))
            }
            var evaluation = Evaluation(model: m, methods: chosen, nodes: node, preprocessing: try preprocess.preprocessing(for: m),
                                        maskSource: maskClass.map { .vocClass($0) } ?? .binary, topK: topK, ties: tieRule)
            evaluation.warn = { FileHandle.standardError.write(Data(("\nwarning: " + $0 + "\n").utf8)) }
            var thumbnails = EvaluationReport()
            var thumbnailError: Error?
            if htmlPath != nil {
                let preprocessing = evaluation.preprocessing
                evaluation.onMap = { scored in
                    do { try thumbnails.add(scored, preprocessing: preprocessing) } catch { thumbnailError = error }
                }
            }
            let other = try compare.map { try comparedModel($0, against: m, modelPath: modelPath, execution: execution) }
            let comparisonPath = (output as NSString).deletingPathExtension + ".compare.csv"
            if other != nil { try checkWritable(comparisonPath) }
            let progress = ProgressBar.onTerminal(label: "eval", unit: "images")
            var rows = done, comparisons: [ComparisonRow] = []
            for (n, item) in items.enumerated() {
                let new = try evaluation.evaluate(item, skip: skip)
                try ResultsFile.append(new, to: output)
                rows += new
                if let other { comparisons += try evaluation.compare(item, with: other) }
                progress?(n + 1, items.count)
            }
            if !json { print("\(items.count) images, \(rows.count) rows in \(output) (\(rows.count - done.count) new)") }
            if other != nil, let compare {
                try ComparisonFile.write(comparisons, to: comparisonPath)
                if !json {
                    print(ComparisonFile.markdown(comparisons, models: ((modelPath as NSString).lastPathComponent, (compare as NSString).lastPathComponent)))
                    print("comparison → \(comparisonPath)")
                }
            }
            if let thumbnailError { throw thumbnailError }
            try report(rows, comparisons: comparisons)
            if let htmlPath {
                let page = thumbnails.html(rows: rows, title: "lafam eval — \((modelPath as NSString).lastPathComponent)", lines: [
                    "model \(modelPath)", "dataset \(dataset ?? listFile ?? ""), \(items.count) images, results \(output)",
                    "lafam \(lafamVersion), \(ISO8601DateFormatter().string(from: Date()))"])
                try FileAccess.writeAtomically(Array(page.utf8), to: htmlPath, what: "report")
                if !json { print("report → \(htmlPath)") }
            }
            var options: [String: Any] = ["methods": (methods.isEmpty ? [.lafam] : methods).map(\.rawValue), "nodes": node,
                                          "topK": topK, "ties": ties, "relaxMasks": relaxMasks ?? 2048]
            if let maskClass { options["maskClass"] = maskClass }
            if let shard { options["shard"] = shard }
            if let limit { options["limit"] = limit }
            if let compare { options["compare"] = compare; options["comparison"] = comparisonPath }
            var run: [String: Any] = ["command": "eval", "lafamVersion": lafamVersion, "model": modelDescription(m, path: modelPath),
                                      "date": ISO8601DateFormatter().string(from: Date()), "options": options,
                                      "dataset": dataset ?? listFile ?? "", "images": items.count, "results": output]
            if let markdown { run["markdown"] = markdown }
            let folder = (output as NSString).deletingLastPathComponent
            try Manifest(folder: try OutputFolder(folder.isEmpty ? "." : folder, overwrite: true)).append(run)
        }
    }

    /// The one overwrite rule: an existing file is replaced only with --overwrite, checked before work starts.
    private func checkWritable(_ path: String) throws {
        if !overwrite && FileManager.default.fileExists(atPath: path) {
            throw CLIError("'\(path)' already exists; pass --overwrite to replace it or choose another file")
        }
    }

    private func mergeResults() throws {
        guard !files.isEmpty else { throw CLIError("--merge needs the results files to join") }
        try checkWritable(output)
        if files.contains(where: { URL(fileURLWithPath: $0).standardizedFileURL == URL(fileURLWithPath: output).standardizedFileURL }) {
            throw CLIError("--output '\(output)' is one of the files to merge; merge into a new file")
        }
        var seen = Set<String>(), rows: [ResultRow] = []
        for f in files {
            for r in try ResultsFile.read(f) where seen.insert(r.key).inserted { rows.append(r) }
        }
        if overwrite { unlink(output) }
        try ResultsFile.write(rows, to: output)
        if !json { print("merged \(files.count) files: \(rows.count) rows → \(output)") }
        try report(rows)
    }

    /// Prints (and with --markdown writes) the summary; `comparisons` are --compare's rows.
    private func report(_ rows: [ResultRow], comparisons: [ComparisonRow] = []) throws {
        let summary = ResultsSummary(rows)
        let table = summary.markdown + "\n\nIn the paper's layout (means × 100):\n\n" + summary.paperMarkdown
        if json {
            var object: [String: Any] = ["rows": rows.count, "results": output, "groups": summary.groups.map { g -> [String: Any] in
                ["method": g.method, "node": g.node, "images": g.images, "seconds": g.seconds,
                 "metrics": g.cells.mapValues { ["mean": $0.mean, "halfWidth95": $0.halfWidth, "count": $0.count, "undefined": $0.undefined] }]
            }]
            if let compare, !comparisons.isEmpty {
                object["comparison"] = ["model": compare, "results": (output as NSString).deletingPathExtension + ".compare.csv",
                                        "methods": ComparisonFile.summary(comparisons).map { s -> [String: Any] in
                    ["method": s.method, "images": s.images, "spearman": ["mean": s.spearman.0, "halfWidth95": s.spearman.1, "undefined": s.undefined],
                     "topOverlap": ["mean": s.topOverlap.0, "halfWidth95": s.topOverlap.1], "topClassAgreement": s.topClassAgreement ?? NSNull()]
                }]
            }
            print(try jsonText(object))
        } else {
            print(table)
        }
        if let markdown {
            do { try Data((table + "\n").utf8).write(to: URL(fileURLWithPath: markdown), options: .atomic) } catch {
                throw CLIError("cannot write '\(markdown)': \(error.localizedDescription)")
            }
        }
    }
}
