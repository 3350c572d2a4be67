import Foundation
import LafamTensor

/// External tensor data: side files next to the model, each mapped once and shared by every
/// tensor stored in it.
final class ExternalData {
    let baseDirectory: String
    private var files: [String: Data] = [:]

    init(baseDirectory: String) { self.baseDirectory = baseDirectory }

    /// Calls `body` with the bytes that `entries` (location, offset, length) designate.
    func withBytes<T>(for entries: [String: String], tensor: String, _ body: (UnsafeRawBufferPointer) throws -> T) throws -> T {
        guard let location = entries["location"], !location.isEmpty else {
            throw LafamError.invalidTensor(name: tensor, reason: "external data without a 'location'")
        }
        if location.hasPrefix("/") || location.hasPrefix("\\") {
            throw LafamError.invalidTensor(name: tensor, reason: "external data location '\(location)' is an absolute path; only paths inside the model's folder are allowed")
        }
        let components = location.split(whereSeparator: { $0 == "/" || $0 == "\\" })
        if components.contains("..") {
            throw LafamError.invalidTensor(name: tensor, reason: "external data location '\(location)' leaves the model's folder ('..' is not allowed)")
        }
        let data = try file(location, tensor: tensor)
        let offset = try number(entries["offset"], default: 0, key: "offset", tensor: tensor)
        let length = try number(entries["length"], default: data.count - min(offset, data.count), key: "length", tensor: tensor)
        guard offset <= data.count, length <= data.count - offset else {
            throw LafamError.invalidTensor(name: tensor, reason: "external data range \(offset)+\(length) lies beyond the end of '\(location)' (\(data.count) bytes)")
        }
        return try data.withUnsafeBytes { try body(UnsafeRawBufferPointer(rebasing: $0[offset..<(offset + length)])) }
    }

    private func file(_ location: String, tensor: String) throws -> Data {
        if let d = files[location] { return d }
        let path = (baseDirectory as NSString).appendingPathComponent(location)
        guard let d = try? Data(contentsOf: URL(fileURLWithPath: path), options: .alwaysMapped) else {
            throw LafamError.invalidTensor(name: tensor, reason: "external data file '\(path)' cannot be read; keep it beside the model")
        }
        files[location] = d
        return d
    }

    private func number(_ s: String?, default value: Int, key: String, tensor: String) throws -> Int {
        guard let s else { return value }
        guard let v = Int(s), v >= 0 else {
            throw LafamError.invalidTensor(name: tensor, reason: "external data \(key) '\(s)' is not a non-negative integer")
        }
        return v
    }
}
