import ArgumentParser
import Foundation
import Lafam
import LafamEvaluation
import LafamImaging

/// A failure reported to the user as one line on stderr with exit code 1.
struct CLIError: Error, CustomStringConvertible {
    let description: String
    init(_ message: String) { description = message.escapingControlCharacters }
}

/// Runs a command body with the memory budget in force, turning library errors into one-line
/// CLI errors; where the user can fix one with an option, the message says which.
func reporting<T>(_ memory: MemoryOptions, _ body: () throws -> T) throws -> T {
    do {
        let budget = try memory.budget()
        return try MemoryBudget.$current.withValue(budget, operation: body)
    } catch LafamError.overMemoryBudget(let what, let bytes, let budget) {
        let need = bytes == .max ? "more memory than can be addressed" : Sizes.describe(bytes: bytes)
        throw CLIError("\(what) would need \(need), more than the memory budget of \(Sizes.describe(bytes: budget)); "
                       + "raise it with --max-memory if the machine has the memory")
    } catch let e as LafamError {
        if case .unknownName(_, let suggestions) = e, suggestions.isEmpty {
            throw CLIError(e.description + "; run 'lafam inspect MODEL' to list node names")
        }
        throw CLIError(e.description)
    } catch let e as ExplainerError {
        switch e {
        case .noDefaultTarget: throw CLIError(e.description + " with --node")
        case .noDefaultEmbedding: throw CLIError(e.description + " with --embedding")
        case .nonFiniteMap: throw CLIError(e.description)
        }
    } catch let e as EvaluationError {
        throw CLIError(e.description + "; choose another --output")
    } catch let e as ImagingError {
        throw CLIError(e.description)
    } catch let e as TensorError {
        throw CLIError(e.description)
    } catch let e as FileReadError {
        throw CLIError(e.description)
    }
}

/// Where the bundled model and sample photos live: `$LAFAM_MODELS`, else the `Models/` folder of
/// the source tree this binary was built from, else a `Models/` folder above the executable.
enum Bundled {
    static var modelsDirectory: String {
        let fm = FileManager.default
        if let env = ProcessInfo.processInfo.environment["LAFAM_MODELS"], !env.isEmpty { return env }
        let source = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
            .deletingLastPathComponent().appendingPathComponent("Models").path
        if fm.fileExists(atPath: source + "/mobilenet_v2.onnx") { return source }
        var dir = URL(fileURLWithPath: CommandLine.arguments[0]).resolvingSymlinksInPath().deletingLastPathComponent()
        for _ in 0..<6 {
            let candidate = dir.appendingPathComponent("Models").path
            if fm.fileExists(atPath: candidate + "/mobilenet_v2.onnx") { return candidate }
            dir.deleteLastPathComponent()
        }
        return source
    }

    static var model: String { modelsDirectory + "/mobilenet_v2.onnx" }

    static var samplePhotos: [String] {
        let dir = modelsDirectory + "/samples"
        let names = (try? FileManager.default.contentsOfDirectory(atPath: dir)) ?? []
        return names.filter { ImageFormat.fromExtension(of: $0) != nil }.sorted().map { dir + "/" + $0 }
    }
}

/// How much memory a command may allocate for what its inputs ask for (`MemoryBudget`).
struct MemoryOptions: ParsableArguments {
    @Option(name: .customLong("max-memory"),
            help: "Most memory for tensors and images sized by the model or inputs, e.g. 8G, 512M (default: half the physical memory).")
    var maxMemory: String?

    func budget() throws -> MemoryBudget {
        guard let maxMemory else { return .default }
        guard let budget = MemoryBudget(parsing: maxMemory) else {
            throw CLIError("--max-memory must be a size such as 8G, 512M or 100000000, got '\(maxMemory)'")
        }
        return budget
    }
}

/// Options shared by commands that execute a model.
struct ExecutionOptions: ParsableArguments {
    @Option(name: .long, help: "Threads for a forward or backward pass (default: the number of processors).")
    var threads: Int?

    @Option(name: .customLong("disable-pass"),
            help: ArgumentHelp("Do not run this graph pass (repeatable), e.g. to measure what it gains: "
                               + GraphPass.standard.map(\.name).joined(separator: ", ") + "."))
    var disabledPasses: [String] = []

    /// `path` loaded with these options.
    func model(_ path: String) throws -> Model {
        if let threads, threads < 1 { throw CLIError("--threads must be at least 1, got \(threads)") }
        let known = GraphPass.standard.map(\.name)
        for name in disabledPasses where !known.contains(name) {
            throw CLIError("--disable-pass: no graph pass is named '\(name)'; the passes are \(known.joined(separator: ", "))")
        }
        let model = try loadModel(path, options: ModelOptions(threads: threads, disabledPasses: Set(disabledPasses), memoryBudget: .current))
        // The command's work is lafam's alone: keep freed activation buffers for the next pass.
        // Set after loading, so that the file's and the protobuf's copies of the weights, freed
        // during loading, go back to the system instead of staying in the heap.
        MemoryPolicy.keepFreedBuffers()
        return model
    }
}

/// `Model(path:options:)`, with errors about the graph saying which file they are about.
func loadModel(_ path: String, options: ModelOptions) throws -> Model {
    do {
        return try Model(path: path, options: options)
    } catch let e as LafamError {
        switch e {
        case .modelFile, .overMemoryBudget: throw e
        default: throw CLIError("cannot load model '\(path)': \(e.description)")
        }
    }
}

/// An output folder: created if missing; refuses to replace existing files unless allowed.
struct OutputFolder {
    let path: String
    let overwrite: Bool

    init(_ path: String, overwrite: Bool) throws {
        self.path = path
        self.overwrite = overwrite
        var isDir: ObjCBool = false
        if FileManager.default.fileExists(atPath: path, isDirectory: &isDir) {
            guard isDir.boolValue else { throw CLIError("output '\(path)' exists and is not a folder") }
        } else {
            do {
                try FileManager.default.createDirectory(atPath: path, withIntermediateDirectories: true)
            } catch {
                throw CLIError("cannot create output folder '\(path)': \(error.localizedDescription)")
            }
        }
        guard FileManager.default.isWritableFile(atPath: path) else {
            throw CLIError("output folder '\(path)' is not writable; choose another with --output")
        }
    }

    /// The path of `name` inside the folder, checked against overwriting.
    func file(_ name: String) throws -> String {
        let p = (path as NSString).appendingPathComponent(name)
        if !overwrite && FileManager.default.fileExists(atPath: p) {
            throw CLIError("'\(p)' already exists; pass --overwrite to replace it or choose another --output")
        }
        return p
    }
}

/// `name` with every character outside `A-Za-z0-9._-` replaced by `_`.
func safeFileName(_ name: String) -> String {
    String(name.unicodeScalars.map { s -> Character in
        let ok = (s >= "a" && s <= "z") || (s >= "A" && s <= "Z") || (s >= "0" && s <= "9") || s == "." || s == "_" || s == "-"
        return ok ? Character(s) : "_"
    })
}

/// The array in `path` as a model input: float64 arrays are read as float32, as images are. A
/// float array holding NaN or an infinity is refused, naming the images (along axis 0) that do.
func inputTensor(path: String) throws -> Tensor {
    var t = Tensor(try NPYArray.read(path: path))
    guard t.rank > 0, t.count > 0 else {
        throw CLIError("'\(path)' holds no values (shape \(t.shape)); give a batch of at least one image")
    }
    if t.dtype == .float64 { t = try t.converted(to: .float32) }
    if t.dtype == .float32, t.rank > 0 {
        let values = try t.floatValues(), per = t.count / max(1, t.shape[0])
        let bad = (0..<t.shape[0]).filter { b in values[(b * per)..<((b + 1) * per)].contains { !$0.isFinite } }
        if !bad.isEmpty {
            let count = values.lazy.filter { !$0.isFinite }.count
            let which = bad.count == 1 ? "image \(bad[0])" : "images " + bad.prefix(8).map(String.init).joined(separator: ", ") + (bad.count > 8 ? ", …" : "")
            throw CLIError("'\(path)': \(which) of the batch \(bad.count == 1 ? "holds" : "hold") NaN or infinite values (\(count) in all); a model cannot be explained on them")
        }
    }
    return t
}

/// `x`, read from `path`, checked as `model`'s first input: a mismatch names the file.
func checkInput(_ x: Tensor, from path: String, model: Model) throws {
    guard let first = model.inputs.first else { return }
    do {
        try model.checkInputs([first.name: x])
    } catch let e as LafamError {
        throw CLIError("'\(path)' does not fit the model: \(e.description)")
    }
}

/// Shapes printed for humans: `[batch, 3, 224, 224]`.
func describe(_ shape: [Dim]?) -> String { shape?.shapeString ?? "?" }

/// JSON form of a static shape: numbers for known dimensions, strings for symbols, null for unknown.
func jsonShape(_ shape: [Dim]?) -> Any {
    guard let shape else { return NSNull() }
    return shape.map { d -> Any in
        switch d {
        case .known(let v): return v
        case .symbol(let s): return s
        case .unknown: return NSNull()
        }
    }
}
