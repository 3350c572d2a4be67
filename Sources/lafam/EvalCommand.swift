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
    @Option(help: "ONNX model (default: the bundled MobileNetV2).") var model: String?
    @Option(name: .customLong("method"), help: "Method to evaluate (repeatable; default lafam).") var methods: [SaliencyMethod.Name] = []
    @Option(help: "Target node (repeatable; default: each method's default).") var node: [String] = []
    @Option(help: "Results CSV (appended to and resumed if it exists).") var output: String
    @Option(help: "Also write the summary table as Markdown to this file.") var markdown: String?
    @Option(help: "Evaluate only shard i of n (i from 0).") var shard: String?
    @Option(help: "Masks are VOC class-index PNGs: keep this class index.") var maskClass: Int?
    @Option(help: "k of Top-K Intersection.") var topK = 1000
    @Option(help: "Tie order for Top-K and RRA: first (lower pixel index ranks higher) or last.") var ties: String = "first"
    @Option(help: "Evaluate at most this many images (after sharding).") var limit: Int?
    @Option(help: "Masks for --method relax.") var relaxMasks = 2048
    @Flag(help: "Join the results files given as arguments into --output and summarise them.") var merge = false
    @Argument(help: "Results files to merge (with --merge).") var files: [String] = []
    @OptionGroup var execution: ExecutionOptions
    @OptionGroup var memory: MemoryOptions

    func run() throws {
        try reporting(memory) {
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
            let m = try execution.model(model ?? Bundled.model)
            let done = FileManager.default.fileExists(atPath: output) ? try ResultsFile.read(output) : []
            let skip = Set(done.map(\.key))
            let chosen = (methods.isEmpty ? [.lafam] : methods).map { name in
                SaliencyMethod(name, relax: RELAX(mode: .lafamPaper, masks: relaxMasks))
            }
            var evaluation = Evaluation(model: m, methods: chosen, nodes: node, preprocessing: try preprocessing(for: m),
                                        maskSource: maskClass.map { .vocClass($0) } ?? .binary, topK: topK, ties: tieRule)
            evaluation.warn = { FileHandle.standardError.write(Data(("\nwarning: " + $0 + "\n").utf8)) }
            let progress = ProgressBar.onTerminal(label: "eval", unit: "images")
            var rows = done
            for (n, item) in items.enumerated() {
                let new = try evaluation.evaluate(item, skip: skip)
                try ResultsFile.append(new, to: output)
                rows += new
                progress?(n + 1, items.count)
            }
            print("\(items.count) images, \(rows.count) rows in \(output) (\(rows.count - done.count) new)")
            try report(rows)
        }
    }

    private func preprocessing(for m: Model) throws -> Preprocessing {
        guard let info = m.inputs.first, info.shape.count == 4 else { throw CLIError("the model's first input is not a 4-D image batch") }
        let layout = ImageLayout.detect(info.shape)
        let spatial = layout == .nchw ? Array(info.shape[2...]) : Array(info.shape[1...2])
        func floats(_ key: String, _ fallback: [Float]) -> [Float] {
            m.format.metadata[key].map { $0.split(separator: ",").compactMap { Float($0.trimmingCharacters(in: .whitespaces)) } } ?? fallback
        }
        return Preprocessing(width: spatial[1].value ?? 224, height: spatial[0].value ?? 224,
                             mean: floats("lafam.mean", Preprocessing.imagenetMean), std: floats("lafam.std", Preprocessing.imagenetStd),
                             layout: layout == .nchw ? .nchw : .nhwc)
    }

    private func mergeResults() throws {
        guard !files.isEmpty else { throw CLIError("--merge needs the results files to join") }
        guard !FileManager.default.fileExists(atPath: output) else {
            throw CLIError("'\(output)' already exists; merge into a new file")
        }
        var seen = Set<String>(), rows: [ResultRow] = []
        for f in files {
            for r in try ResultsFile.read(f) where seen.insert(r.key).inserted { rows.append(r) }
        }
        try ResultsFile.write(rows, to: output)
        print("merged \(files.count) files: \(rows.count) rows → \(output)")
        try report(rows)
    }

    private func report(_ rows: [ResultRow]) throws {
        let summary = ResultsSummary(rows)
        let table = summary.markdown + "\n\nIn the paper's layout (means × 100):\n\n" + summary.paperMarkdown
        print(table)
        if let markdown {
            do { try Data((table + "\n").utf8).write(to: URL(fileURLWithPath: markdown), options: .atomic) } catch {
                throw CLIError("cannot write '\(markdown)': \(error.localizedDescription)")
            }
        }
    }
}
