import ArgumentParser
import Foundation
import Lafam
import LafamEvaluation
import LafamImaging

/// A failure reported to the user as one line on stderr with exit code 1.
struct CLIError: Error, CustomStringConvertible {
    let description: String
    init(_ message: String) { description = message }
}

/// Runs a command body, turning library errors into one-line CLI errors; where the user can
/// fix one with an option, the message says which.
func reporting<T>(_ body: () throws -> T) throws -> T {
    do {
        return try body()
    } catch let e as LafamError {
        if case .unknownName(_, let suggestions) = e, suggestions.isEmpty {
            throw CLIError(e.description + "; run 'lafam inspect MODEL' to list node names")
        }
        throw CLIError(e.description)
    } catch let e as ExplainerError {
        switch e {
        case .noDefaultTarget: throw CLIError(e.description + " with --node")
        case .noDefaultEmbedding: throw CLIError(e.description + " with --embedding")
        }
    } catch let e as EvaluationError {
        throw CLIError(e.description + "; choose another --output")
    } catch let e as ImagingError {
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
        return try Model(path: path, options: ModelOptions(threads: threads, disabledPasses: Set(disabledPasses)))
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

/// The array in `path` as a model input: float64 arrays are read as float32, as images are.
func inputTensor(path: String) throws -> Tensor {
    let t = Tensor(try NPYArray.read(path: path))
    return t.dtype == .float64 ? try t.converted(to: .float32) : t
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
