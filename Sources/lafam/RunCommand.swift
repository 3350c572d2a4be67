import ArgumentParser
import Foundation
import Lafam
import LafamImaging

extension SaliencyMethod.Name: ExpressibleByArgument {}

struct RunCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "run",
        abstract: "Explain images (or preprocessed .npy batches): write saliency maps over the photos.")

    enum Target: String, ExpressibleByArgument, CaseIterable { case logit, probability }

    @Option(help: "ONNX model (default: the bundled MobileNetV2).") var model: String?
    @Option(help: "Node name, tensor name or abbreviation such as /layer4/conv3 (default: the last feature map before global pooling). Repeat for one map per node plus their mean.")
    var node: [String] = []
    @Option(help: "Saliency method: \(SaliencyMethod.Name.allCases.map(\.rawValue).joined(separator: ", ")).") var method: SaliencyMethod.Name = .lafam
    @Option(help: "Output folder (created if missing).") var output = "lafam-output"
    @Flag(help: "Also write <stem>.<method>.npy (map at input size, [0,1]) and <stem>.<method>.raw.npy (layer resolution).")
    var npy = false
    @Flag(help: "Replace files that already exist in the output folder.") var overwrite = false
    @Argument(help: "PNG/JPEG images or preprocessed float32 .npy arrays (default: the bundled sample photos).")
    var inputs: [String] = []

    @Option(help: "LaFAM channel reduction: \(LaFAM.Reduction.allCases.map(\.rawValue).joined(separator: ", ")).")
    var reduction: String = LaFAM.Reduction.mean.rawValue
    @Option(help: "Upsampling to the input size: nearest (paper) or bilinear.") var upsampling: String = "nearest"
    @Option(help: "Colormap: \(Colormap.allCases.map(\.rawValue).joined(separator: ", ")).") var colormap: String = "turbo"
    @Option(help: "Opacity of the heatmap over the photo, 0…1.") var alpha: Float = 0.5
    @Option(help: "Model input size as N or HxW (default: from the model's input shape, else 224).") var size: String?
    @Option(help: "Channel means, comma-separated R,G,B (default: model metadata or ImageNet).") var mean: String?
    @Option(help: "Channel standard deviations R,G,B (default: model metadata or ImageNet).") var std: String?
    @Option(help: "Multiplier of 0…255 pixel values before mean/std.") var scale: Float = 1.0 / 255
    @Flag(help: "Feed channels in BGR order.") var bgr = false
    @Option(help: "Number of top classes to print for ImageNet classifiers.") var top = 5
    @Option(name: .customLong("class"), help: "Class to explain for gradient methods: an index or a class name (default: the top class).")
    var targetClass: String?
    @Option(help: "What gradient methods differentiate: logit or probability (softmax).") var target: Target = .logit
    @OptionGroup(title: "RELAX") var relax: RELAXOptions
    @Option(help: "Post-processing of gradient-method and EigenCAM maps: paper (min-max, --upsampling) or pytorch-grad-cam (min-max, bilinear, min-max).")
    var postprocess: String = Postprocessing.paper.rawValue
    @OptionGroup var execution: ExecutionOptions
    @OptionGroup var memory: MemoryOptions

    func run() throws {
        try reporting(memory) {
            let m = try execution.model(model ?? Bundled.model)
            guard let reduction = LaFAM.Reduction(rawValue: reduction) else {
                throw CLIError("unknown --reduction '\(reduction)'; choose \(LaFAM.Reduction.allCases.map(\.rawValue).joined(separator: ", "))")
            }
            guard let upsampling = SaliencyMaps.Upsampling(rawValue: upsampling) else {
                throw CLIError("unknown --upsampling '\(upsampling)'; choose nearest or bilinear")
            }
            let colormap = try Colormap.named(colormap)
            guard (0...1).contains(alpha) else { throw CLIError("--alpha must be between 0 and 1, got \(alpha)") }
            guard let postprocessing = Postprocessing(rawValue: postprocess) else {
                throw CLIError("unknown --postprocess '\(postprocess)'; choose paper or pytorch-grad-cam")
            }
            let classes = try targetClass.map { [try resolveClass($0, model: m)] }
            let gradientTarget: GradientTarget = target == .logit ? .logit(classes: classes) : .probability(classes: classes)
            let explainer = SaliencyMethod(method, lafam: LaFAM(reduction: reduction, upsampling: upsampling), target: gradientTarget,
                                           postprocessing: postprocessing, upsampling: upsampling,
                                           relax: method == .relax ? try relax.explainer() : RELAX(), relaxEmbedding: relax.embedding)
            let files = inputs.isEmpty ? Bundled.samplePhotos : inputs
            guard !files.isEmpty else { throw CLIError("no inputs given and no bundled sample photos found") }
            for n in node { _ = try m.graph.resolveTensor(n) }
            let preprocessing = try makePreprocessing(m)
            let folder = try OutputFolder(output, overwrite: overwrite)

            // Decode everything and name every output first: a bad input or an existing file fails
            // the command before anything is computed or written.
            let jobs = try files.map { try Job(path: $0, preprocessing: preprocessing, model: m) }
            var stems = Set<String>()
            for job in jobs where !stems.insert(job.stem).inserted {
                throw CLIError("two inputs are named '\(job.stem)'; output files would collide")
            }
            let targets = try explainer.targets(model: m, nodes: node)
            let plans = try jobs.map {
                try OutputPlan(stem: $0.stem, method: method.rawValue, targets: targets,
                               extras: npy ? explainer.extraMaps : [], npy: npy, folder: folder)
            }
            // All of the run's new files or none: a failure part-way removes those already written.
            var written: [String] = []
            do {
                for (job, plan) in zip(jobs, plans) {
                    let explanations = try explainer.explain(job.tensor, model: m, nodes: node)
                    written += try write(job, explanations, plan: plan, colormap: colormap)
                    printPredictions(job, explanations[0], model: m)
                }
            } catch {
                for path in written where !plans.contains(where: { $0.existing.contains(path) }) { unlink(path) }
                throw error
            }
        }
    }

    /// The files one input's explanations go to, named before anything is computed:
    /// `<stem>.<method>.*` for one target; with several, `<stem>.<method>.<tensor>.*` each plus
    /// their mean map as `<stem>.<method>.png/.npy`. Further maps (RELAX's uncertainty and
    /// U-RELAX) are arrays beside the map.
    struct OutputPlan {
        struct Map { let png: String; let npy: String?; let raw: String? }
        let maps: [Map]
        let extras: [(key: String, path: String)]
        /// Planned paths that existed before the run (replaced only with --overwrite).
        let existing: Set<String>

        init(stem: String, method: String, targets: [String], extras extraKeys: [String], npy: Bool, folder: OutputFolder) throws {
            var bases = targets.count == 1 ? ["\(stem).\(method)"] : targets.map { "\(stem).\(method).\(safeFileName($0))" }
            var hasRaw = Array(repeating: true, count: bases.count)
            if targets.count > 1 { bases.append("\(stem).\(method)"); hasRaw.append(false) }
            maps = try zip(bases, hasRaw).map { base, raw in
                Map(png: try folder.file(base + ".png"),
                    npy: npy ? try folder.file(base + ".npy") : nil,
                    raw: npy && raw ? try folder.file(base + ".raw.npy") : nil)
            }
            let extraNames = ["uncertainty": "\(stem).\(method)-uncertainty.npy", "urelax": "\(stem).u\(method).npy"]
            extras = try extraKeys.map { ($0, try folder.file(extraNames[$0] ?? "\(stem).\(method).\($0).npy")) }
            let all = maps.flatMap { [$0.png, $0.npy, $0.raw].compactMap { $0 } } + extras.map(\.path)
            existing = Set(all.filter { FileManager.default.fileExists(atPath: $0) })
        }
    }

    /// One input file: a photo (batch of 1) or a preprocessed array (batch B).
    struct Job {
        let path: String
        let stem: String
        let tensor: Tensor
        /// The photo as the model saw it (centre crop), for the overlay; nil for .npy inputs.
        let photo: RGBImage?

        init(path: String, preprocessing: Preprocessing, model: Model) throws {
            self.path = path
            stem = ((path as NSString).lastPathComponent as NSString).deletingPathExtension
            if path.lowercased().hasSuffix(".npy") {
                let t = try inputTensor(path: path)
                guard t.dtype == .float32, t.rank == 4 else {
                    throw CLIError("'\(path)' must hold a float32 4-D batch of preprocessed images, got \(t.dtype) \(t.shape)")
                }
                try checkInput(t, from: path, model: model)
                tensor = t
                photo = nil
            } else {
                let image = try ImageIO.readImage(path: path)
                tensor = try preprocessing.tensor(image)
                let box = Preprocessing.centerCropBox(width: image.width, height: image.height)
                var crop = try image.cropped(x: box.x, y: box.y, width: box.side, height: box.side)
                if crop.width > 512 { crop = try crop.resized(width: 512, height: 512) }
                photo = crop
            }
        }
    }

    private func makePreprocessing(_ m: Model) throws -> Preprocessing {
        guard let info = m.inputs.first, info.shape.count == 4 else {
            throw CLIError("the model's first input is not a 4-D image batch; feed a preprocessed .npy array with 'lafam taps'")
        }
        let layout = ImageLayout.detect(info.shape)
        let spatial = layout == .nchw ? Array(info.shape[2...]) : Array(info.shape[1...2])
        var height = spatial[0].value ?? 224, width = spatial[1].value ?? 224
        if let size {
            let texts = size.lowercased().split(separator: "x", omittingEmptySubsequences: false)
            let parts = texts.compactMap { Int($0) }
            guard parts.count == texts.count, parts.count == 1 || parts.count == 2, parts.allSatisfy({ $0 > 0 }) else {
                throw CLIError("--size must be N or HxW with positive numbers, got '\(size)'")
            }
            height = parts[0]; width = parts.count == 2 ? parts[1] : parts[0]
        }
        func floats(_ option: String?, metadata key: String, default value: [Float], name: String) throws -> [Float] {
            guard let text = option ?? m.format.metadata[key] else { return value }
            let v = text.split(separator: ",").map { Float($0.trimmingCharacters(in: .whitespaces)) }
            guard v.count == 3 || v.count == 1, v.allSatisfy({ $0 != nil }) else {
                throw CLIError("\(name) must be 1 or 3 comma-separated numbers, got '\(text)'")
            }
            return v.map { $0! }
        }
        return Preprocessing(
            width: width, height: height, scale: scale,
            mean: try floats(mean, metadata: "lafam.mean", default: Preprocessing.imagenetMean, name: "--mean"),
            std: try floats(std, metadata: "lafam.std", default: Preprocessing.imagenetStd, name: "--std"),
            channelOrder: bgr ? .bgr : .rgb,
            layout: layout == .nchw ? .nchw : .nhwc)
    }

    /// Writes one input's explanations to the files `plan` named; returns the paths written.
    private func write(_ job: Job, _ explanations: [Explanation], plan: OutputPlan, colormap: Colormap) throws -> [String] {
        var maps: [(maps: Tensor, raw: Tensor?)] = explanations.map { ($0.maps, $0.raw) }
        if explanations.count > 1 { maps.append((SaliencyMaps.aggregate(explanations.map(\.maps)), nil)) }
        guard maps.count == plan.maps.count else {
            throw CLIError("internal error: \(maps.count) maps for \(plan.maps.count) planned outputs of '\(job.path)'")
        }
        var written: [String] = []
        for (item, path) in zip(maps, plan.maps) {
            let (h, w) = (item.maps.shape[1], item.maps.shape[2])
            var picture = try render(item.maps, photo: job.photo, colormap: colormap)
            if let uncertainty = explanations[0].extras["uncertainty"], maps.count == 1 {
                // RELAX: the uncertainty (min-max normalised) beside the importance.
                picture = sideBySide([picture, try render(SaliencyMaps.minMaxNormalize(uncertainty), photo: job.photo, colormap: colormap)], spacing: 8)
            }
            try ImageIO.write(picture, to: path.png)
            written.append(path.png)
            // A photo is a batch of one: its arrays drop the batch axis, as the map is per image.
            if let p = path.npy {
                try NPYArray(job.photo == nil ? item.maps : item.maps.viewed(as: [h, w])).write(to: p)
                written.append(p)
            }
            if let p = path.raw, let raw = item.raw {
                try NPYArray(job.photo == nil ? raw : raw.viewed(as: Array(raw.shape.dropFirst()))).write(to: p)
                written.append(p)
            }
        }
        for (key, path) in plan.extras {
            guard let extra = explanations[0].extras[key] else { continue }
            try NPYArray(job.photo == nil ? extra : extra.viewed(as: Array(extra.shape.dropFirst()))).write(to: path)
            written.append(path)
        }
        let targets = explanations.map(\.targetTensor).joined(separator: ", ")
        let explained = explanations[0].classes.map { "; class " + $0.map(String.init).joined(separator: ",") } ?? ""
        print("\(job.path): \(explanations[0].method) at \(targets)\(explained) → " + written.joined(separator: ", "))
        return written
    }

    /// B×H×W maps as a picture: blended over the photo, or (for .npy inputs) colorised side by side.
    private func render(_ maps: Tensor, photo: RGBImage?, colormap: Colormap) throws -> RGBImage {
        let (b, h, w) = (maps.shape[0], maps.shape[1], maps.shape[2])
        let values = maps.floats
        if let photo { return try overlay(map: values, mapWidth: w, mapHeight: h, on: photo, colormap: colormap, alpha: alpha) }
        return sideBySide(try (0..<b).map { i in
            try colorize(map: Array(values[(i * h * w)..<((i + 1) * h * w)]), width: w, height: h, colormap: colormap)
        }, spacing: 4)
    }

    /// A class index or an exact class name from the model's metadata.
    private func resolveClass(_ text: String, model m: Model) throws -> Int {
        if let k = Int(text) { return k }
        guard let names = m.classNames else { throw CLIError("--class '\(text)' is not a number and the model carries no class names") }
        if let k = names.firstIndex(where: { $0.caseInsensitiveCompare(text) == .orderedSame }) { return k }
        let close = names.filter { $0.lowercased().contains(text.lowercased()) }.prefix(5)
        throw CLIError("no class named '\(text)'" + (close.isEmpty ? "" : "; did you mean " + close.map { "'\($0)'" }.joined(separator: ", ") + "?"))
    }

    private func printPredictions(_ job: Job, _ e: Explanation, model m: Model) {
        guard top > 0, let first = m.outputs.first, let logits = e.outputs[first.name],
              logits.rank == 2, logits.dtype == .float32 else { return }
        let classes = logits.shape[1]
        let names = m.classNames
        guard classes == 1000 || names?.count == classes else { return }
        let v = logits.floats
        for b in 0..<logits.shape[0] {
            let row = Array(v[(b * classes)..<((b + 1) * classes)])
            let peak = row.max() ?? 0
            let exps = row.map { Foundation.exp($0 - peak) }
            let total = exps.reduce(0, +)
            let best = row.indices.sorted { row[$0] > row[$1] }.prefix(top)
            let label = logits.shape[0] > 1 ? "\(job.stem)[\(b)]" : job.stem
            print("  \(label) top-\(best.count): " + best.map { i in
                let name = names.flatMap { i < $0.count ? $0[i] : nil } ?? "class \(i)"
                return String(format: "%@ (%d) %.3f", name, i, exps[i] / total)
            }.joined(separator: ", "))
        }
    }
}
