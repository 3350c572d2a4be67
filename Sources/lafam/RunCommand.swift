import ArgumentParser
import Foundation
import Lafam
import LafamEvaluation
import LafamImaging

extension SaliencyMethod.Name: ExpressibleByArgument {}
extension LaFAM.Reduction: ExpressibleByArgument {}
extension SaliencyMaps.Upsampling: ExpressibleByArgument {}
extension Postprocessing: ExpressibleByArgument {}
extension Colormap: ExpressibleByArgument {}

/// `--tokens grid=HxW,skip=K[,layout=batch-first|sequence-first|channels-last]`.
extension TokenLayout: ExpressibleByArgument {
    public init?(argument: String) {
        var grid: (Int, Int)?, skip = 0, order = TokenLayout.Order.batchFirst
        for part in argument.split(separator: ",") {
            let kv = part.split(separator: "=", maxSplits: 1).map(String.init)
            guard kv.count == 2 else { return nil }
            switch kv[0] {
            case "grid":
                let hw = kv[1].lowercased().split(separator: "x").compactMap { Int($0) }
                guard hw.count == 2, hw.allSatisfy({ $0 > 0 && $0 <= 4096 }) else { return nil }
                grid = (hw[0], hw[1])
            case "skip":
                guard let k = Int(kv[1]), (0...4096).contains(k) else { return nil }
                skip = k
            case "layout":
                switch kv[1] {
                case "batch-first": order = .batchFirst
                case "sequence-first": order = .sequenceFirst
                case "channels-last": order = .channelsLast
                default: return nil
                }
            default: return nil
            }
        }
        guard let grid else { return nil }
        self.init(order: order, skip: order == .channelsLast ? 0 : skip, height: grid.0, width: grid.1)
    }
}

struct RunCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "run",
        abstract: "Explain images (or preprocessed .npy batches): write saliency maps over the photos.",
        discussion: """
        Each map is written as a figure (title, map over the part of the photo the model saw, colour \
        bar) named <stem>.<method>[.<node>][.<options>].png, where the optional parts name a --node \
        and every option that differs from its default. With several methods or nodes, a sheet \
        <stem>.sheet.<methods>[.<nodes>].png shows them side by side on one colour scale. \
        manifest.json in the output folder records every run into it.
        """)

    enum Target: String, ExpressibleByArgument, CaseIterable { case logit, probability }

    @OptionGroup var modelSelection: ModelSelection
    @Option(help: "Node name, tensor name or abbreviation such as /layer4/conv3 (default: the last feature map before global pooling). Repeat for one map per node plus their mean.")
    var node: [String] = []
    @Option(name: .customLong("method"), help: "Saliency method (repeat to compare): \(SaliencyMethod.Name.allCases.map(\.rawValue).joined(separator: ", ")) (default lafam).")
    var methods: [SaliencyMethod.Name] = []
    @Option(help: "Output folder (created if missing).") var output = "lafam-output"
    @Flag(help: "Also write each map as .npy (input size, [0,1]) and .raw.npy (layer resolution).")
    var npy = false
    @Flag(help: "Write the bare overlay, without title and colour bar (for composing your own figures).") var plain = false
    @Flag(help: "Replace files that already exist in the output folder.") var overwrite = false
    @Flag(help: "Print one JSON object (inputs, predictions, files written, seconds) instead of lines.") var json = false
    @Flag(help: "Also write report.html: one self-contained page with every figure and the top classes (opens offline).") var html = false
    @Argument(help: "PNG/JPEG images, folders of them, or preprocessed float32 .npy arrays (default: the bundled sample photos).")
    var inputs: [String] = []

    @Option(help: "LaFAM channel reduction: \(LaFAM.Reduction.allCases.map(\.rawValue).joined(separator: ", ")) (default mean).")
    var reduction: LaFAM.Reduction?
    @Option(help: "LaFAM colour scale top as a quantile of each map, e.g. 0.99, so a few outlier tokens do not flatten the rest (default: the maximum).")
    var scaleQuantile: Float?
    @Option(help: "Token layout of the target when the graph does not tell it: grid=HxW,skip=K[,layout=batch-first|sequence-first|channels-last].")
    var tokens: TokenLayout?
    @Option(help: "Upsampling to the input size: nearest (paper, default) or bilinear.") var upsampling: SaliencyMaps.Upsampling?
    @Option(help: "Colormap: \(Colormap.allCases.map(\.rawValue).joined(separator: ", ")).") var colormap: Colormap = .turbo
    @Option(help: "Opacity of the heatmap over the photo, 0…1.") var alpha: Float = 0.5
    @OptionGroup var preprocess: PreprocessingOptions
    @Option(help: "Number of top classes to print for classifiers.") var top = 5
    @OptionGroup var labelOptions: LabelOptions
    @Option(name: .customLong("class"), help: "Class to explain for gradient methods: an index or a class name (default: the top class).")
    var targetClass: String?
    @Option(help: "What gradient methods differentiate: logit (default) or probability (softmax).") var target: Target?
    @OptionGroup var taskOption: TaskOption
    @Option(help: "Embedding models: explain each input's cosine similarity to this image's embedding (gradient methods; default: the embedding's norm).")
    var reference: String?
    @Option(help: "Detectors: how many detections to explain per image, best first (gradient methods; default 3).")
    var detections = 3
    @Option(help: "Detectors: explain the detection that overlaps this box most, given as x0,y0,x1,y1 in pixels of the model's input.")
    var box: String?
    @Option(help: "Detectors: the lowest score a detection may have (default 0.25).")
    var scoreThreshold: Float = 0.25
    @Option(help: "Detectors whose boxes and scores are separate outputs: the boxes [N, A, 4] (with --scores).")
    var boxes: String?
    @Option(help: "Detectors whose boxes and scores are separate outputs: the class scores [N, A, C] (with --boxes).")
    var scores: String?
    @Option(help: "How --boxes reads: xyxy (left, top, right, bottom; default) or cxcywh (centre, width, height).")
    var boxFormat: DetectionHead.BoxFormat = .xyxy
    @Flag(help: "The --boxes are fractions of the input's width and height, not pixels.")
    var normalisedBoxes = false
    @Option(help: "Segmenters: explain the class over the pixels of this mask (a PNG the size of the photo, pixels > 127 inside; default: the pixels predicted as the class).")
    var region: String?
    @OptionGroup(title: "RELAX") var relax: RELAXOptions
    @Option(help: "Post-processing of gradient-method and EigenCAM maps: paper (min-max, --upsampling; default) or pytorch-grad-cam (min-max, bilinear, min-max).")
    var postprocess: Postprocessing?
    @Option(help: ArgumentHelp("Another model of the same input — --model's int8 or float16 deployment, say: every map is also made with it, at its own default target (class methods explain --model's top class with both), and each image's maps are written side by side (<stem>.compare-<model>.png) with their agreement: Spearman rank correlation, overlap of the top 10% pixels, and whether the top classes agree.", valueName: "model"))
    var compare: String?
    @OptionGroup var execution: ExecutionOptions
    @OptionGroup var memory: MemoryOptions

    func validate() throws {
        guard (0...1).contains(alpha) else { throw ValidationError("--alpha must be between 0 and 1, got \(alpha)") }
        guard top >= 0 else { throw ValidationError("--top must be at least 0, got \(top)") }
        if let q = scaleQuantile, !(q > 0 && q <= 1) { throw ValidationError("--scale-quantile must be in (0, 1], got \(q)") }
        guard detections >= 1 else { throw ValidationError("--detections must be at least 1, got \(detections)") }
        guard scoreThreshold.isFinite else { throw ValidationError("--score-threshold must be a finite number, got \(scoreThreshold)") }
        _ = try chosenBox()
        if compare != nil {
            for (given, option) in [(!node.isEmpty, "--node"), (reference != nil, "--reference"), (region != nil, "--region"), (box != nil, "--box"),
                                    (boxes != nil || scores != nil, "--boxes/--scores")] where given {
                throw ValidationError("--compare explains each model at its own default target and class; \(option) cannot go with it")
            }
        }
    }

    /// --box as a detection to match by overlap; nil when not given.
    func chosenBox() throws -> Detection? {
        guard let box else { return nil }
        let edges = box.split(separator: ",", omittingEmptySubsequences: false).map { Float($0.trimmingCharacters(in: .whitespaces)) }
        guard edges.count == 4, let e = edges as? [Float], e.allSatisfy(\.isFinite), e[2] > e[0], e[3] > e[1] else {
            throw ValidationError("--box '\(box)' is not x0,y0,x1,y1 with x1 > x0 and y1 > y0")
        }
        return Detection(x0: e[0], y0: e[1], x1: e[2], y1: e[3], classIndex: -1, score: 0, candidate: -1)
    }

    /// The methods asked for, each once, in the order given.
    var chosenMethods: [SaliencyMethod.Name] {
        var seen = Set<SaliencyMethod.Name>()
        return (methods.isEmpty ? [.lafam] : methods).filter { seen.insert($0).inserted }
    }

    func run() throws {
        let started = Date()
        try reporting(memory) {
            let chosen = chosenMethods
            warnAboutInapplicableOptions(chosen)
            let modelPath = try modelSelection.path()
            let m = try execution.model(modelPath)
            let pair = try namedHead(m)
            let reading = pair.map { TaskReading(task: .detect, outputs: [$0.output, $0.scoresOutput], reason: "boxes and scores given with --boxes and --scores") }
                ?? taskOption.reading(for: m)
            try checkTask(reading, chosen: chosen, model: m, modelPath: modelPath)
            let classes = reading.task == .classify ? classCount(of: m) : nil
            let labels = try labelOptions.labels(for: m, classes: classes)
            if let labels, labels == .imageNet1k, !json {
                print("class names: ImageNet-1k, assumed for the model's 1000 classes (it carries none; --labels FILE gives yours)")
            }
            let explainedClass = try targetClass.map { text -> Int in
                guard let labels else {
                    guard let k = Int(text) else { throw CLIError("--class '\(text)' is not a number and there are no class names; pass --labels FILE") }
                    return k
                }
                return try labels.index(of: text, classes: classes)
            }
            let preprocessing = m.inputs.first?.shape.count == 4 ? try preprocess.preprocessing(for: m) : nil
            let goal = try explanationGoal(reading, model: m, explainedClass: explainedClass)
            let gradientTarget: GradientTarget = target == .probability
                ? .probability(classes: explainedClass.map { [$0] }) : .logit(classes: explainedClass.map { [$0] })
            let relaxExplainer = chosen.contains(.relax) ? try relax.explainer() : RELAX()
            let explainers = chosen.map {
                SaliencyMethod($0, lafam: LaFAM(reduction: reduction ?? .mean, upsampling: upsampling ?? .nearest, scaleQuantile: scaleQuantile),
                               target: gradientTarget, postprocessing: postprocess ?? .paper, upsampling: upsampling ?? .nearest,
                               relax: relaxExplainer, relaxEmbedding: relax.embedding ?? (reading.task == .embed ? reading.outputs.first : nil),
                               tokens: tokens)
            }
            let files = try InputFile.expand(inputs.isEmpty ? Bundled.samplePhotos : inputs)
            guard !files.isEmpty else { throw CLIError("no inputs given and no bundled sample photos found") }
            for n in node { _ = try m.graph.resolveTensor(n) }
            let folder = try OutputFolder(output, overwrite: overwrite)
            if let compare {
                guard reading.task == .classify || reading.task == .embed else {
                    throw CLIError("--compare compares classifiers and embedding models; '\((modelPath as NSString).lastPathComponent)' reads as a \(reading.task.rawValue) model")
                }
                return try compareModels(m, modelPath: modelPath, with: compare, explainers: explainers, files: files, preprocessing: preprocessing,
                                         folder: folder, labels: labels, started: started)
            }

            // Decode everything and name every output first: a bad input or an existing file fails
            // the command before anything is computed or written.
            var jobs = try files.map { try InputFile(path: $0, preprocessing: preprocessing, model: m) }
            if let reference {
                jobs = try referencePairs(jobs, reference: reference, output: reading.outputs.first ?? "", model: m, preprocessing: preprocessing)
            }
            let head = pair ?? (reading.task == .detect ? m.detectionHead : nil)
            if let head, chosen.contains(where: \.explainsAClass) {
                jobs = try jobs.flatMap { try detectionJobs($0, head: head, model: m, explainedClass: explainedClass) }
            }
            var stems = Set<String>()
            for job in jobs where !stems.insert(job.stem + (job.versus.map { " vs " + $0.stem } ?? "")).inserted {
                throw CLIError("two inputs are named '\(job.stem)'; output files would collide")
            }
            let naming = OutputNaming(run: self)
            let targets = try explainers.map { try $0.targets(model: m, nodes: node) }
            let plans = try jobs.map { job in
                try zip(explainers, targets).map { explainer, tensors in
                    try OutputPlan(naming: naming, stem: job.stem, versus: job.versus?.stem, method: explainer.name, nodes: explainer.name.explainsALayer ? node : [],
                                   targets: tensors.count, extras: npy ? explainer.extraMaps : [], npy: npy, folder: folder)
                }
            }
            let sheetCount = zip(explainers, targets).map { $1.count }.reduce(0, +)
            let sheets = try jobs.map { job in sheetCount > 1 ? try folder.file(naming.sheet(stem: job.stem, methods: chosen, nodes: node, versus: job.versus?.stem)) : nil }
            let manifest = try Manifest(folder: folder)
            let reportPath = html ? try folder.file("report.html") : nil
            let figures = FigureMaker(modelName: (modelPath as NSString).lastPathComponent, scoresOutput: classes == nil ? nil : m.outputs.first?.name, labels: labels,
                                      colormap: colormap, alpha: alpha, plain: plain, uncertaintyMax: relax.uncertaintyTop)

            // All of the run's new files or none: a failure part-way removes those already written.
            var written: [String] = []
            var records: [[String: Any]] = []
            do {
                for (j, job) in jobs.enumerated() {
                    var maps: [[String: Any]] = []
                    var cells: [SheetCell] = []
                    var predictions: [[String: Any]] = [], summaries: [[String: Any]] = []
                    // The task's goal for this input (embedding norms and segment masks need its outputs).
                    let resolved: ResolvedGoal?
                    if let head, let d = job.detection {
                        resolved = try m.gradientTarget(for: .detection(head: head, detections: [d]), input: job.tensor)
                    } else if let versus = job.versus {
                        resolved = try m.gradientTarget(for: .similarity(output: reading.outputs.first ?? "", reference: versus.embedding), input: job.tensor)
                    } else if chosen.contains(where: \.explainsAClass) && reading.task != .classify {
                        resolved = try m.gradientTarget(for: try regionGoal(goal, job: job, preprocessing: preprocessing), input: job.tensor)
                    } else {
                        resolved = nil
                    }
                    // A segment's pixels are outlined on its figures.
                    var job = job
                    if let masks = resolved?.masks, masks.masks.count == 1 { job.outline = (masks.masks[0], masks.width, masks.height) }
                    job.explains = goalDescription(job, reading: reading, resolved: resolved)
                    for (explainer, plan) in zip(explainers, plans[j]) {
                        var explainer = explainer
                        if let resolved, explainer.name.explainsAClass { explainer.target = resolved.target }
                        let layers = node.isEmpty ? job.detectionLayer.map { [$0] } ?? [] : node
                        let explanations = try explainer.explain(job.tensor, model: m, nodes: explainer.name.explainsALayer ? layers : [])
                        var result = try write(job, explanations, plan: plan, figures: figures)
                        if let classes = resolved?.classes, explainer.name.explainsAClass {
                            for k in result.records.indices { result.records[k]["classes"] = classes }
                        }
                        written += result.files
                        maps += result.records
                        cells += try explanations.map {
                            SheetCell(method: explainer.name, target: $0.targetTensor, picture: try figures.panel($0.maps, photo: job.photo, outline: job.outline),
                                      classLine: (explainer.name.explainsAClass ? job.explains : nil) ?? figures.classLine($0, method: explainer.name))
                        }
                        if predictions.isEmpty && reading.task == .classify { predictions = self.predictions(explanations[0], model: m, labels: labels) }
                        if summaries.isEmpty { summaries = try taskSummaries(explanations[0], reading: reading) }
                    }
                    var record: [String: Any] = ["input": job.path, "maps": maps, "predictions": predictions, "task": reading.task.rawValue]
                    if let d = job.detection {
                        record["detection"] = ["class": d.classIndex, "score": Double(d.score), "candidate": d.candidate,
                                               "box": [d.x0, d.y0, d.x1, d.y1].map(Double.init)]
                    }
                    if !summaries.isEmpty { record[reading.task == .embed ? "embeddings" : "pixels"] = summaries }
                    if let sheet = sheets[j] {
                        try ImageIO.write(figures.sheet(cells, job: job, predictions: predictions), to: sheet)
                        written.append(sheet)
                        record["sheet"] = sheet
                    }
                    records.append(record)
                    if !json { printRecord(record, job: job, labels: labels) }
                }
                let run = runDescription(model: m, modelPath: modelPath, labels: labels, records: records,
                                         seconds: Date().timeIntervalSince(started))
                if let reportPath {
                    try FileAccess.writeAtomically(Array(try runReport(run, modelPath: modelPath).html().utf8), to: reportPath, what: "report")
                    written.append(reportPath)
                    if !json { print("report → \(reportPath)") }
                }
                try manifest.append(run)
                written.append(manifest.path)
                if json { print(try jsonText(run)) }
            } catch {
                for path in written where !plans.joined().contains(where: { $0.existing.contains(path) }) && path != manifest.path {
                    unlink(path)
                }
                throw error
            }
        }
    }

    /// A warning for each option given that none of the chosen methods uses.
    private func warnAboutInapplicableOptions(_ chosen: [SaliencyMethod.Name]) {
        func check(_ given: Bool, _ option: String, appliesTo: (SaliencyMethod.Name) -> Bool, what: String) {
            guard given, !chosen.contains(where: appliesTo) else { return }
            warn("\(option) does not apply to \(chosen.map(\.rawValue).joined(separator: ", ")) (only to \(what)); ignored")
        }
        let gradientFamily = "gradcam, gradcam++, hirescam, xgradcam, layercam and gradient"
        check(targetClass != nil, "--class", appliesTo: \.explainsAClass, what: gradientFamily)
        check(target != nil, "--target", appliesTo: \.explainsAClass, what: gradientFamily)
        check(reduction != nil, "--reduction", appliesTo: { $0 == .lafam }, what: "lafam")
        check(scaleQuantile != nil, "--scale-quantile", appliesTo: { $0 == .lafam }, what: "lafam")
        check(tokens != nil, "--tokens", appliesTo: \.explainsALayer, what: "methods that explain a layer")
        check(upsampling != nil, "--upsampling", appliesTo: { $0 != .relax && $0 != .gradient }, what: "lafam, eigencam and the Grad-CAM family")
        check(postprocess != nil, "--postprocess", appliesTo: { $0.explainsALayer && $0 != .lafam }, what: "eigencam and the Grad-CAM family")
        check(!node.isEmpty, "--node", appliesTo: \.explainsALayer, what: "methods that explain a layer; relax compares embeddings (see --embedding)")
        check(relax.anyGiven, "RELAX options", appliesTo: { $0 == .relax }, what: "relax")
    }

    /// The files one method's explanations of one input go to, named before anything is computed
    /// (`OutputNaming`): one map per node, plus their mean (`mean-of-N-nodes`) when there are
    /// several. Further maps (RELAX's uncertainty and U-RELAX) are arrays beside the first.
    struct OutputPlan {
        struct Map { let png: String; let npy: String?; let raw: String? }
        let maps: [Map]
        let extras: [(key: String, path: String)]
        /// Planned paths that existed before the run (replaced only with --overwrite).
        let existing: Set<String>

        init(naming: OutputNaming, stem: String, versus: String?, method: SaliencyMethod.Name, nodes: [String], targets: Int,
             extras extraKeys: [String], npy: Bool, folder: OutputFolder) throws {
            var labels: [String?] = nodes.isEmpty ? [nil] : nodes.map { OutputNaming.fileName(tensor: $0) }
            labels = Array(labels.prefix(targets))
            var hasRaw = Array(repeating: true, count: labels.count)
            if labels.count > 1 { labels.append("mean-of-\(labels.count)-nodes"); hasRaw.append(false) }
            let bases = labels.map { naming.base(stem: stem, method: method, node: $0, versus: versus) }
            maps = try zip(bases, hasRaw).map { name, raw in
                Map(png: try folder.file(name + ".png"),
                    npy: npy ? try folder.file(name + ".npy") : nil,
                    raw: npy && raw ? try folder.file(name + ".raw.npy") : nil)
            }
            extras = try extraKeys.map { ($0, try folder.file("\(bases[0]).\($0).npy")) }
            let all = maps.flatMap { [$0.png, $0.npy, $0.raw].compactMap { $0 } } + extras.map(\.path)
            existing = Set(all.filter { FileManager.default.fileExists(atPath: $0) })
        }
    }

    /// Writes one input's explanations by one method to the files `plan` named; returns the paths
    /// written and a record of each map for --json and the manifest.
    private func write(_ job: InputFile, _ explanations: [Explanation], plan: OutputPlan,
                       figures: FigureMaker) throws -> (files: [String], records: [[String: Any]]) {
        var maps: [(maps: Tensor, raw: Tensor?, explanation: Explanation?)] = explanations.map { ($0.maps, $0.raw, $0) }
        if explanations.count > 1 { maps.append((SaliencyMaps.aggregate(explanations.map(\.maps)), nil, nil)) }
        guard maps.count == plan.maps.count else {
            throw CLIError("internal error: \(maps.count) maps for \(plan.maps.count) planned outputs of '\(job.path)'")
        }
        var written: [String] = [], records: [[String: Any]] = []
        for (item, path) in zip(maps, plan.maps) {
            let (h, w) = (item.maps.shape[1], item.maps.shape[2])
            let picture = try figures.figure(item.maps, explanation: item.explanation ?? explanations[0],
                                             meanOf: item.explanation == nil ? explanations.map(\.targetTensor) : nil, job: job)
            try ImageIO.write(picture, to: path.png)
            written.append(path.png)
            var files = ["png": path.png]
            // A photo is a batch of one: its arrays drop the batch axis, as the map is per image.
            if let p = path.npy {
                try NPYArray(job.photo == nil ? item.maps : item.maps.viewed(as: [h, w])).write(to: p)
                written.append(p)
                files["npy"] = p
            }
            if let p = path.raw, let raw = item.raw {
                try NPYArray(job.photo == nil ? raw : raw.viewed(as: Array(raw.shape.dropFirst()))).write(to: p)
                written.append(p)
                files["raw"] = p
            }
            var record: [String: Any] = ["method": explanations[0].method, "files": files,
                                         "target": item.explanation?.targetTensor ?? "mean of " + explanations.map(\.targetTensor).joined(separator: ", ")]
            if let classes = item.explanation?.classes ?? explanations[0].classes { record["classes"] = classes }
            records.append(record)
        }
        for (key, path) in plan.extras {
            guard let extra = explanations[0].extras[key] else { continue }
            try NPYArray(job.photo == nil ? extra : extra.viewed(as: Array(extra.shape.dropFirst()))).write(to: path)
            written.append(path)
            records[0]["files", default: [String: String]()] = (records[0]["files"] as? [String: String] ?? [:]).merging([key: path]) { $1 }
        }
        return (written, records)
    }

    /// Refuses what the task cannot mean: --class on an embedding, --reference off one, --region
    /// off a segmenter, --box off a detector, and class methods on a detector head lafam cannot
    /// decode.
    private func checkTask(_ reading: TaskReading, chosen: [SaliencyMethod.Name], model m: Model, modelPath: String) throws {
        let name = (modelPath as NSString).lastPathComponent
        if reading.task == .embed, targetClass != nil {
            throw CLIError("--class: '\(name)' is an embedding model (\(reading.reason)) and has no classes; explain its similarity to another image with --reference IMAGE, or pass --task classify")
        }
        if reading.task != .segment, region != nil {
            throw CLIError("--region selects pixels of a segmenter, but '\(name)' reads as a \(reading.task.rawValue) model (\(reading.reason)); pass --task segment if it segments")
        }
        if reading.task != .embed, reference != nil {
            throw CLIError("--reference compares embeddings, but '\(name)' reads as a \(reading.task.rawValue) model (\(reading.reason)); pass --task embed if its output is an embedding")
        }
        let classBased = chosen.filter(\.explainsAClass)
        if reading.task == .detect, !classBased.isEmpty, m.detectionHead == nil, boxes == nil {
            throw CLIError("explaining one detection with \(classBased.map(\.rawValue).joined(separator: ", ")) needs a head lafam decodes (a one-output YOLO head, or box and score maps over cells whose windows the graph gives) or decoded boxes and scores named with --boxes and --scores; '\(name)' reads as a detector with \(reading.reason), which lafam does not decode by itself; label-free methods (lafam, eigencam, relax) work on it, or pass --task classify to differentiate its first output as class scores")
        }
        if reading.task != .detect, box != nil {
            throw CLIError("--box chooses a detection, but '\(name)' reads as a \(reading.task.rawValue) model (\(reading.reason)); pass --task detect if it detects")
        }
    }

    /// "Why are these two similar", written for both images: each input paired with the
    /// reference (the input explained by its similarity to the reference's embedding) and the
    /// reference paired with each input (by its similarity to that input's embedding).
    private func referencePairs(_ jobs: [InputFile], reference: String, output: String, model m: Model,
                                preprocessing: Preprocessing?) throws -> [InputFile] {
        let other = try InputFile(path: reference, preprocessing: preprocessing, model: m)
        func embedding(_ job: InputFile) throws -> Tensor {
            guard job.tensor.shape.first == 1 else {
                throw CLIError("--reference pairs one image with another; '\(job.path)' holds \(job.tensor.shape.first ?? 0)")
            }
            guard let e = try m.run(job.tensor, taps: [output]).taps[output] else { throw CLIError("the model computed no '\(output)'") }
            return e
        }
        let otherEmbedding = try embedding(other)
        return try jobs.flatMap { job -> [InputFile] in
            let own = try embedding(job)
            let (a, b) = (try own.floatValues(), try otherEmbedding.floatValues())
            let norms = try own.rowNorms()[0] * otherEmbedding.rowNorms()[0]
            let cosine = norms > 0 ? zip(a, b).reduce(0.0) { $0 + Double($1.0) * Double($1.1) } / norms : 0
            var input = job, mirror = other
            input.versus = (other.stem, otherEmbedding, cosine)
            mirror.versus = (job.stem, own, cosine)
            return [input, mirror]
        }
    }

    /// The detector head --boxes and --scores name (both graph outputs), if given.
    private func namedHead(_ m: Model) throws -> DetectionHead? {
        guard boxes != nil || scores != nil else { return nil }
        guard let boxes, let scores else { throw CLIError("--boxes and --scores go together: name both outputs") }
        for name in [boxes, scores] where !m.outputs.contains(where: { $0.name == name }) {
            throw CLIError("'\(name)' is not an output of the model; its outputs are \(m.outputs.map { "'\($0.name)'" }.joined(separator: ", "))")
        }
        return DetectionHead(boxes: boxes, scores: scores, boxFormat: boxFormat, normalised: normalisedBoxes)
    }

    /// One job per detection to explain in `job`'s image: the best `--detections` after
    /// non-maximum suppression (of `--class` only, when given), or the one overlapping `--box` most;
    /// each with its box outlined on the figures.
    private func detectionJobs(_ job: InputFile, head: DetectionHead, model m: Model, explainedClass: Int?) throws -> [InputFile] {
        guard job.tensor.shape.first == 1 else {
            throw CLIError("explaining detections takes one image per input; '\(job.path)' holds \(job.tensor.shape.first ?? 0)")
        }
        let (h, w) = (job.tensor.shape[2], job.tensor.shape[3])
        var found = try head.decode(try m.run(job.tensor).outputs, inputSize: (w, h), scoreThreshold: scoreThreshold)[0]
        if let explainedClass { found = found.filter { $0.classIndex == explainedClass } }
        if let wanted = try chosenBox() {
            found = found.max { $0.iou(wanted) < $1.iou(wanted) }.map { [$0] } ?? []
        }
        found = Array(found.prefix(detections))
        guard !found.isEmpty else {
            throw CLIError("no detection\(explainedClass.map { " of class \($0)" } ?? "") scores \(scoreThreshold) or more in '\(job.path)'; lower --score-threshold")
        }
        let scales = m.detectionScales(for: head)
        return found.enumerated().map { i, d in
            var j = job
            j.stem += ".det-\(i + 1)"
            j.detection = d
            j.detectionLayer = scales.first { $0.candidates.contains(d.candidate) }?.tensor
            let (x0, y0, x1, y1) = (Int(d.x0.rounded()), Int(d.y0.rounded()), Int(d.x1.rounded()), Int(d.y1.rounded()))
            j.outline = ((0..<(h * w)).map { p in (x0...max(x0, x1)).contains(p % w) && (y0...max(y0, y1)).contains(p / w) }, w, h)
            return j
        }
    }

    /// What gradient methods explain, in the task's terms.
    private func explanationGoal(_ reading: TaskReading, model m: Model, explainedClass: Int?) throws -> ExplanationGoal {
        let output = reading.outputs.first ?? m.outputs.first?.name ?? ""
        switch reading.task {
        case .classify, .detect:
            return .classScore(classes: explainedClass.map { [$0] }, probability: target == .probability)
        case .segment:
            return .segmentClass(output: output, classes: explainedClass.map { [$0] }, region: nil)
        case .embed:
            // With --reference each job carries the other image's embedding (`referencePairs`).
            return .embeddingNorm(output: output)
        }
    }

    /// What the class methods explain for `job` in words, for figure titles: a detection, a
    /// similarity (with its cosine), an embedding's norm, a segment class and its pixels.
    private func goalDescription(_ job: InputFile, reading: TaskReading, resolved: ResolvedGoal?) -> String? {
        guard let resolved else { return nil }
        if let d = job.detection {
            return String(format: "explains %@, class %d, score %.2f", job.stem.components(separatedBy: ".").last ?? "", d.classIndex, d.score)
        }
        if let versus = job.versus {
            return String(format: "explains similarity to %@, cosine %.2f", versus.stem, versus.cosine)
        }
        if let classes = resolved.classes, let pixels = resolved.pixels, let k = classes.first, let n = pixels.first {
            return "explains class \(k) over \(n) pixels" + (region == nil ? " predicted as it" : " of the region")
        }
        return reading.task == .embed ? "explains the embedding's norm" : nil
    }

    /// `goal` with --region's mask, cropped and resized (nearest) as the photo was, when given.
    private func regionGoal(_ goal: ExplanationGoal, job: InputFile, preprocessing: Preprocessing?) throws -> ExplanationGoal {
        guard let region, case .segmentClass(let output, let classes, _) = goal else { return goal }
        guard let size = job.photoSize, let preprocessing else {
            throw CLIError("--region needs photo inputs (a mask the size of the photo); '\(job.path)' is an array")
        }
        let inside = try EvalDataset.mask(EvalItem(id: job.stem, image: job.path, mask: region), source: .binary,
                                          width: preprocessing.width, height: preprocessing.height, expected: size)
        guard inside.contains(true) else { throw CLIError("--region '\(region)' selects no pixel of what the model sees of '\(job.path)'") }
        let mask = try Tensor(shape: [preprocessing.height, preprocessing.width], floats: inside.map { $0 ? 1 : 0 })
        return .segmentClass(output: output, classes: classes, region: mask)
    }

    /// Per image, what an embedding or a segmenter gave: the embedding's size and norm, or the
    /// share of pixels of each predicted class (the largest five).
    private func taskSummaries(_ e: Explanation, reading: TaskReading) throws -> [[String: Any]] {
        guard let name = reading.outputs.first, let y = e.outputs[name], y.rank >= 1, y.shape[0] > 0 else { return [] }
        let n = y.shape[0]
        switch reading.task {
        case .embed:
            return try y.rowNorms().enumerated().map { b, norm in ["image": b, "output": name, "dimensions": y.count / n, "norm": norm] }
        case .segment:
            let pixels = try y.pixelClasses(), plane = pixels.count / n
            return (0..<n).map { b in
                var counts: [Int: Int] = [:]
                for k in pixels[(b * plane)..<((b + 1) * plane)] { counts[k, default: 0] += 1 }
                let shares = counts.sorted { $0.value > $1.value || ($0.value == $1.value && $0.key < $1.key) }.prefix(5)
                return ["image": b, "output": name, "classes": shares.map { ["class": $0.key, "share": Double($0.value) / Double(plane)] }]
            }
        case .classify, .detect:
            return []
        }
    }

    /// The top classes per image of the first output, when it is a classifier's `[N, C]` scores.
    private func predictions(_ e: Explanation, model m: Model, labels: ClassLabels?) -> [[String: Any]] {
        guard top > 0, let first = m.outputs.first, let scores = e.outputs[first.name], scores.rank == 2,
              scores.dtype == .float32, let best = try? scores.topK(top) else { return [] }
        return best.enumerated().map { b, row in
            ["image": b, "top": row.map { c -> [String: Any] in
                var entry: [String: Any] = ["class": c.index, "probability": Double(c.probability)]
                if let labels { entry["name"] = labels.name(c.index) }
                return entry
            }]
        }
    }

    private func printRecord(_ record: [String: Any], job: InputFile, labels: ClassLabels?) {
        for map in record["maps"] as? [[String: Any]] ?? [] {
            let files = (map["files"] as? [String: String] ?? [:]).sorted { $0.key > $1.key }.map(\.value)
            let explained = (map["classes"] as? [Int]).map { "; class " + $0.map { labels?.name($0) ?? String($0) }.joined(separator: ", ") } ?? ""
            print("\(job.path): \(map["method"] ?? "") at \(map["target"] ?? "")\(explained) → " + files.joined(separator: ", "))
        }
        if let sheet = record["sheet"] as? String { print("\(job.path): comparison sheet → \(sheet)") }
        for image in record["embeddings"] as? [[String: Any]] ?? [] {
            let label = job.photo == nil ? "\(job.stem)[\(image["image"] as? Int ?? 0)]" : job.stem
            print(String(format: "  %@ embedding %@: %d values, norm %.4g", label, image["output"] as? String ?? "",
                         image["dimensions"] as? Int ?? 0, image["norm"] as? Double ?? 0))
        }
        for image in record["pixels"] as? [[String: Any]] ?? [] {
            let label = job.photo == nil ? "\(job.stem)[\(image["image"] as? Int ?? 0)]" : job.stem
            let shares = (image["classes"] as? [[String: Any]] ?? []).map { c in
                String(format: "class %d %.1f%%", c["class"] as? Int ?? 0, 100 * (c["share"] as? Double ?? 0))
            }
            print("  \(label) pixels: " + shares.joined(separator: ", "))
        }
        if let d = record["detection"] as? [String: Any], let box = d["box"] as? [Double] {
            let k = d["class"] as? Int ?? 0
            print(String(format: "  %@: class %d%@ score %.3f box %.0f,%.0f,%.0f,%.0f", job.stem, k, labels.map { " (\($0.name(k)))" } ?? "",
                         d["score"] as? Double ?? 0, box[0], box[1], box[2], box[3]))
        }
        for image in record["predictions"] as? [[String: Any]] ?? [] {
            let b = image["image"] as? Int ?? 0
            let label = job.photo == nil ? "\(job.stem)[\(b)]" : job.stem
            let row = (image["top"] as? [[String: Any]] ?? []).map { c in
                String(format: "%@ (%d) %.3f", (c["name"] as? String) ?? "class \(c["class"] as? Int ?? 0)", c["class"] as? Int ?? 0, c["probability"] as? Double ?? 0)
            }
            print("  \(label) top-\(row.count): " + row.joined(separator: ", "))
        }
    }

    /// What this run did, for --json and the manifest: version, model, options, inputs and outputs.
    func runDescription(model m: Model, modelPath: String, labels: ClassLabels?, records: [[String: Any]], seconds: Double) -> [String: Any] {
        var options: [String: Any] = ["methods": chosenMethods.map(\.rawValue), "nodes": node, "colormap": colormap.rawValue,
                                      "alpha": Double(alpha), "plain": plain, "npy": npy, "top": top]
        if let reduction { options["reduction"] = reduction.rawValue }
        if let scaleQuantile { options["scaleQuantile"] = Double(scaleQuantile) }
        if let tokens { options["tokens"] = ["grid": [tokens.height, tokens.width], "skip": tokens.skip, "layout": tokens.order.rawValue] }
        if let upsampling { options["upsampling"] = upsampling.rawValue }
        if let postprocess { options["postprocess"] = postprocess.rawValue }
        if html { options["html"] = true }
        if let targetClass { options["class"] = targetClass }
        if let target { options["target"] = target.rawValue }
        if let task = taskOption.task { options["task"] = task.rawValue }
        if let reference { options["reference"] = reference }
        if let region { options["region"] = region }
        if let box { options["box"] = box }
        if let boxes, let scores { options["boxes"] = boxes; options["scores"] = scores; options["boxFormat"] = boxFormat.rawValue; options["normalisedBoxes"] = normalisedBoxes }
        if records.contains(where: { $0["detection"] != nil }) { options["detections"] = detections; options["scoreThreshold"] = Double(scoreThreshold) }
        if chosenMethods.contains(.relax) { options["relax"] = relax.description }
        if let compare { options["compare"] = compare }
        var out: [String: Any] = ["command": "run", "lafamVersion": lafamVersion, "model": modelDescription(m, path: modelPath),
                                  "options": options, "images": records, "seconds": seconds,
                                  "date": ISO8601DateFormatter().string(from: Date())]
        if let labels { out["labels"] = labels.source }
        return out
    }
}

/// How `run` names its files: what was asked is in the name, so runs with different nodes or
/// options write side by side into one folder. Defaults are left out.
struct OutputNaming {
    /// The command whose options name the files.
    let run: RunCommand

    /// `<stem>.<method>[.<node>][.<options>]`, options in a fixed order, each only where it applies.
    /// `versus`: the other image of a `--reference` pair, named in every file of the pair.
    func base(stem: String, method: SaliencyMethod.Name, node: String?, versus: String? = nil) -> String {
        var parts = [stem, method.rawValue]
        if let node { parts.append(node) }
        if method == .lafam, let reduction = run.reduction, reduction != .mean { parts.append(reduction.rawValue) }
        if method == .lafam, let quantile = run.scaleQuantile { parts.append("q\(quantile)") }
        if method.explainsALayer, let tokens = run.tokens {
            parts.append("tokens-\(tokens.height)x\(tokens.width)-skip\(tokens.skip)" + (tokens.order == .batchFirst ? "" : "-\(tokens.order.rawValue)"))
        }
        if method != .relax, method != .gradient, let upsampling = run.upsampling, upsampling != .nearest { parts.append(upsampling.rawValue) }
        if method.explainsALayer, method != .lafam, let postprocess = run.postprocess, postprocess != .paper { parts.append(postprocess.rawValue) }
        if method.explainsAClass {
            if let target = run.target, target != .logit { parts.append(target.rawValue) }
            if let targetClass = run.targetClass { parts.append("class-" + safeFileName(targetClass)) }
            if let region = run.region {
                parts.append("region-" + safeFileName(((region as NSString).lastPathComponent as NSString).deletingPathExtension))
            }
        }
        if let versus { parts.append("vs-" + safeFileName(versus)) }
        if method == .relax { parts += run.relax.fileNameParts }
        if run.colormap != .turbo { parts.append(run.colormap.rawValue) }
        if run.alpha != 0.5 { parts.append("alpha-\(run.alpha)") }
        if run.plain { parts.append("plain") }
        return parts.joined(separator: ".")
    }

    /// The comparison sheet: `<stem>.sheet.<method+method…>[.<node+node…>].png`.
    func sheet(stem: String, methods: [SaliencyMethod.Name], nodes: [String], versus: String? = nil) -> String {
        var parts = [stem, "sheet", methods.map(\.rawValue).joined(separator: "+")]
        if !nodes.isEmpty { parts.append(nodes.count > 3 ? "\(nodes.count)-nodes" : nodes.map(Self.fileName(tensor:)).joined(separator: "+")) }
        if let versus { parts.append("vs-" + safeFileName(versus)) }
        if run.colormap != .turbo { parts.append(run.colormap.rawValue) }
        return parts.joined(separator: ".") + ".png"
    }

    /// A node or tensor name as part of a file name: without its leading slash, `/` and other
    /// characters outside `A-Za-z0-9._-` as `_`.
    static func fileName(tensor: String) -> String {
        safeFileName(tensor.hasPrefix("/") ? String(tensor.dropFirst()) : tensor)
    }
}
