import Foundation
import LafamTensor

/// External tensor data: side files next to the model, each mapped once and shared by every
/// tensor stored in it. A location must name a regular file whose real path (symbolic links
/// resolved) lies inside the model's real folder.
final class ExternalData {
    /// The model's folder; nil for a model held in memory, which may not refer to files.
    let baseDirectory: String?
    private var files: [String: MappedFile] = [:]

    init(baseDirectory: String?) { self.baseDirectory = baseDirectory }

    /// Calls `body` with the bytes that `entries` (location, offset, length) designate.
    func withBytes<T>(for entries: [String: String], tensor: String, _ body: (UnsafeRawBufferPointer) throws -> T) throws -> T {
        guard let location = entries["location"], !location.isEmpty else {
            throw LafamError.invalidTensor(name: tensor, reason: "external data without a 'location'")
        }
        let data = try file(location, tensor: tensor).bytes
        let offset = try number(entries["offset"], default: 0, key: "offset", tensor: tensor)
        let length = try number(entries["length"], default: data.count - min(offset, data.count), key: "length", tensor: tensor)
        guard offset <= data.count, length <= data.count - offset else {
            throw LafamError.invalidTensor(name: tensor, reason: "external data range \(offset)+\(length) lies beyond the end of '\(location)' (\(data.count) bytes)")
        }
        return try body(UnsafeRawBufferPointer(rebasing: data[offset..<(offset + length)]))
    }

    private func file(_ location: String, tensor: String) throws -> MappedFile {
        if let f = files[location] { return f }
        guard let baseDirectory else {
            throw LafamError.invalidTensor(name: tensor, reason: "external data '\(location)' cannot be read for a model held in memory; load the model from its file")
        }
        if location.hasPrefix("/") || location.hasPrefix("\\") {
            throw LafamError.invalidTensor(name: tensor, reason: "external data location '\(location)' is an absolute path; only files inside the model's folder are read")
        }
        let path = (baseDirectory.isEmpty ? "." : baseDirectory) + "/" + location
        // Lexically first (`..` may not climb above the folder), then by real path (nor may a
        // symbolic link lead outside it).
        var depth = 0
        for part in location.split(whereSeparator: { $0 == "/" || $0 == "\\" }) where part != "." {
            depth += part == ".." ? -1 : 1
            guard depth >= 0 else {
                throw LafamError.invalidTensor(name: tensor, reason: "external data location '\(location)' leads outside the model's folder; only files inside it are read")
            }
        }
        guard let folder = realPath(baseDirectory.isEmpty ? "." : baseDirectory) else {
            throw LafamError.invalidTensor(name: tensor, reason: "the model's folder '\(baseDirectory)' cannot be resolved")
        }
        guard let resolved = realPath(path) else {
            throw LafamError.invalidTensor(name: tensor, reason: "external data file '\(path)' does not exist; keep it beside the model")
        }
        guard resolved.hasPrefix(folder == "/" ? "/" : folder + "/") else {
            throw LafamError.invalidTensor(name: tensor, reason: "external data '\(location)' resolves to '\(resolved)', outside the model's folder '\(folder)'; only files inside it are read")
        }
        let f: MappedFile
        do {
            f = try MappedFile(path: resolved, what: "external data file")
        } catch let e as FileReadError {
            throw LafamError.invalidTensor(name: tensor, reason: e.description)
        }
        files[location] = f
        return f
    }

    private func realPath(_ path: String) -> String? {
        guard let p = realpath(path, nil) else { return nil }
        defer { free(p) }
        return String(cString: p)
    }

    private func number(_ s: String?, default value: Int, key: String, tensor: String) throws -> Int {
        guard let s else { return value }
        guard let v = Int(s), v >= 0 else {
            throw LafamError.invalidTensor(name: tensor, reason: "external data \(key) '\(s)' is not a non-negative integer")
        }
        return v
    }
}
