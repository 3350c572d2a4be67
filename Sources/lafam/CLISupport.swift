import ArgumentParser
import Foundation
import Lafam
import LafamImaging

/// A failure reported to the user as one line on stderr with exit code 1.
struct CLIError: Error, CustomStringConvertible {
    let description: String
    init(_ message: String) { description = message }
}

/// Runs a command body, turning library errors into one-line CLI errors.
func reporting<T>(_ body: () throws -> T) throws -> T {
    do {
        return try body()
    } catch let e as LafamError {
        throw CLIError(e.description)
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
    @Option(name: .long, help: "Threads for forward passes, lafam's and OpenBLAS's (default: OpenBLAS's choice, the core count).")
    var threads: Int?

    func apply() throws {
        if let threads {
            guard threads >= 1 else { throw CLIError("--threads must be at least 1, got \(threads)") }
            BLASInfo.setThreads(threads)
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

extension Tensor {
    init(_ npy: NPYArray, path: String) throws {
        switch npy.data {
        case .float32(let v): self.init(shape: npy.shape, floats: v)
        case .float64(let v): self.init(shape: npy.shape, floats: v.map { Float($0) })
        case .int64(let v): self.init(shape: npy.shape, int64s: v)
        case .bool(let v): self.init(shape: npy.shape, bools: v)
        default: throw CLIError("'\(path)' holds \(npy.data.dtypeName); lafam reads float32, float64, int64 and bool arrays")
        }
    }

    /// The tensor as a numpy array of the nearest dtype NPY files here hold: float16 and
    /// bfloat16 widen to float32, integers other than int32 and uint8 to int64.
    var npy: NPYArray {
        get throws {
            switch storage {
            case .float(let v): return try NPYArray(shape: shape, data: .float32(v))
            case .double(let v): return try NPYArray(shape: shape, data: .float64(v))
            case .int64(let v):
                switch dtype {
                case .int32: return try NPYArray(shape: shape, data: .int32(v.map { Int32($0) }))
                case .uint8: return try NPYArray(shape: shape, data: .uint8(v.map { UInt8($0) }))
                case .uint64 where v.contains(where: { $0 < 0 }):
                    throw CLIError("uint64 values above 2^63 - 1 cannot be written as .npy (lafam writes int64)")
                default: return try NPYArray(shape: shape, data: .int64(v))
                }
            case .bool(let v): return try NPYArray(shape: shape, data: .bool(v))
            case .string: throw CLIError("string tensors cannot be written as .npy")
            }
        }
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
