import ArgumentParser
import Foundation
import Lafam
import LafamImaging

/// The model a command works on: `--model`/`-m` in every command; `inspect`, `bench` and `taps`
/// also take it as their first argument, as before.
struct ModelSelection: ParsableArguments {
    @Option(name: [.customShort("m"), .long], help: "ONNX model (default: the bundled MobileNetV2).")
    var model: String?

    /// The model's path: `--model`, else `positional`, else the bundled model (when allowed).
    func path(positional: String? = nil, bundledByDefault: Bool = true) throws -> String {
        if let model, let positional, model != positional {
            throw CLIError("two models given: '\(positional)' and --model '\(model)'; give one")
        }
        if let path = model ?? positional { return path }
        guard bundledByDefault else { throw CLIError("no model given; pass --model MODEL.onnx") }
        return Bundled.model
    }
}

extension ModelTask: ExpressibleByArgument {}
extension DetectionHead.BoxFormat: ExpressibleByArgument {}

/// What the model computes, when the reading of its graph (`Model.inferredTask`) is not what the
/// user means.
struct TaskOption: ParsableArguments {
    @Option(help: "What the model computes: classify, embed, segment or detect (default: read from the graph; inspect says how).")
    var task: ModelTask?

    /// The user's task, or the graph's reading.
    func reading(for model: Model) -> TaskReading {
        let inferred = model.inferredTask
        guard let task, task != inferred.task else { return inferred }
        return TaskReading(task: task, outputs: inferred.outputs.isEmpty ? model.outputs.prefix(1).map(\.name) : inferred.outputs,
                           reason: "given with --task (the graph reads as \(inferred.task.rawValue): \(inferred.reason))")
    }
}

/// How photos become the model's input: size, normalisation, channel order (as `run` and `eval`
/// preprocess, and `taps` for photos).
struct PreprocessingOptions: ParsableArguments {
    @Option(help: "Model input size as N or HxW (default: from the model's input shape, else 224).") var size: String?
    @Option(help: "Channel means, comma-separated R,G,B (default: model metadata or ImageNet).") var mean: String?
    @Option(help: "Channel standard deviations R,G,B (default: model metadata or ImageNet).") var std: String?
    @Option(help: "Multiplier of 0…255 pixel values before mean/std.") var scale: Float = 1.0 / 255
    @Flag(help: "Feed channels in BGR order.") var bgr = false
    @Flag(help: "Standardise each image by its own mean and std (FaceNet's prewhiten) instead of --mean/--std (default: when the model's metadata lafam.normalisation says so).")
    var perImageStandardisation = false

    /// The pipeline for `model`'s first input: torchvision's resize and centre crop to the input
    /// size, then `(pixel · scale − mean) / std`.
    func preprocessing(for model: Model) throws -> Preprocessing {
        guard let info = model.inputs.first, info.shape.count == 4 else {
            throw CLIError("the model's first input is not a 4-D image batch; feed a preprocessed .npy array instead of a photo")
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
            guard let text = option ?? model.format.metadata[key] else { return value }
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
            layout: layout == .nchw ? .nchw : .nhwc,
            perImageStandardisation: perImageStandardisation || model.format.metadata["lafam.normalisation"]?.hasPrefix("per-image standardisation") == true)
    }
}

/// Class names for commands that print or pick classes.
struct LabelOptions: ParsableArguments {
    @Option(help: "Class names: one per line, or a JSON array (default: the model's own, else ImageNet-1k for 1000 classes).")
    var labels: String?

    /// The names for `model`'s classifier output of `classes` classes (nil: not a classifier).
    func labels(for model: Model, classes: Int?) throws -> ClassLabels? {
        guard let labels else { return ClassLabels.of(model, classes: classes) }
        let read = try ClassLabels.read(path: labels)
        if let classes { try read.check(classes: classes) }
        return read
    }
}

/// The number of classes of `model`'s first output when it is `[N, C]` float scores.
func classCount(of model: Model) -> Int? {
    guard let first = model.outputs.first, first.dtype == .float32, first.shape.count == 2 else { return nil }
    return first.shape[1].value
}

/// One input file: a photo (batch of 1) or a preprocessed array (batch B).
struct InputFile {
    let path: String
    /// The file name without extension; with `.det-<i>` for the i-th detection explained.
    var stem: String
    let tensor: Tensor
    /// The detection this job explains (detectors' class methods: one job per detection).
    var detection: Detection?
    /// The layer that explains this job's detection when no --node is given: its scale's map.
    var detectionLayer: String?
    /// The other image of a `--reference` pair, its embedding and the pair's cosine similarity:
    /// this job is explained by its similarity to it.
    var versus: (stem: String, embedding: Tensor, cosine: Double)?
    /// What the class methods explain for this job, for figure titles ("explains similarity to
    /// chelsea, cosine 0.83"); nil: the classifier's class line.
    var explains: String?
    /// The part of the photo the model saw (centre crop), for drawing maps on; nil for .npy inputs.
    let photo: RGBImage?
    /// Pixels to outline on the maps (a segment's), as a row-major mask on a width × height grid.
    var outline: (mask: [Bool], width: Int, height: Int)?
    /// The photo's size as read (nil for .npy inputs).
    let photoSize: (width: Int, height: Int)?

    init(path: String, preprocessing: Preprocessing?, model: Model) throws {
        self.path = path
        stem = ((path as NSString).lastPathComponent as NSString).deletingPathExtension
        if path.lowercased().hasSuffix(".onnx") {
            throw CLIError("'\(path)' is an ONNX model, not an input; did you mean --model \(path)?")
        }
        if path.lowercased().hasSuffix(".npy") {
            let t = try inputTensor(path: path)
            try checkInput(t, from: path, model: model)
            tensor = t
            photo = nil
            photoSize = nil
        } else {
            guard let preprocessing else {
                throw CLIError("'\(path)': the model's first input is not a 4-D image batch, so photos cannot be fed; give a .npy array")
            }
            let image = try ImageIO.readImage(path: path)
            tensor = try preprocessing.tensor(image)
            photo = try preprocessing.visibleRegion(of: image)
            photoSize = (image.width, image.height)
        }
    }

    /// The files named on the command line, a folder standing for its PNG and JPEG images (sorted).
    static func expand(_ paths: [String]) throws -> [String] {
        try paths.flatMap { path -> [String] in
            var isDir: ObjCBool = false
            guard FileManager.default.fileExists(atPath: path, isDirectory: &isDir), isDir.boolValue else { return [path] }
            let names = (try? FileManager.default.contentsOfDirectory(atPath: path)) ?? []
            let images = names.filter { ImageFormat.fromExtension(of: $0) != nil }.sorted()
            guard !images.isEmpty else { throw CLIError("folder '\(path)' holds no PNG or JPEG images") }
            return images.map { (path as NSString).appendingPathComponent($0) }
        }
    }
}

/// A warning on stderr: an option that does not apply, an assumption the user should know of.
func warn(_ message: String) {
    FileHandle.standardError.write(Data(("warning: " + message.escapingControlCharacters + "\n").utf8))
}
