import Foundation

/// Names of a classifier's output classes, and where they came from (said to users, so that an
/// assumed list is never mistaken for the model's own).
public struct ClassLabels: Sendable, Equatable {
    /// One name per class index.
    public let names: [String]
    /// Where the names came from: a file, the model's metadata, or ImageNet-1k assumed.
    public let source: String

    /// Labels `names` (one per class index) that came from `source`.
    public init(names: [String], source: String) {
        self.names = names
        self.source = source
    }

    /// The name of class `index`, or "class N" past the end of the list.
    public func name(_ index: Int) -> String {
        names.indices.contains(index) ? names[index] : "class \(index)"
    }

    /// Reads names from a file: a JSON array of strings, or one name per line (an empty last line
    /// is ignored, other empty lines are names too: they keep the indices aligned).
    public static func read(path: String) throws -> ClassLabels {
        let file = try MappedFile(path: path, what: "labels file")
        guard let text = String(bytes: file.bytes, encoding: .utf8) else {
            throw LafamError.invalidArgument("labels file '\(path)' is not UTF-8 text")
        }
        let trimmed = text.trimmingCharacters(in: .whitespacesAndNewlines)
        var names: [String]
        if trimmed.hasPrefix("[") {
            guard let decoded = try? JSONDecoder().decode([String].self, from: Data(trimmed.utf8)) else {
                throw LafamError.invalidArgument("labels file '\(path)' starts with '[' but is not a JSON array of strings")
            }
            names = decoded
        } else {
            names = text.split(omittingEmptySubsequences: false, whereSeparator: \.isNewline).map(String.init)
            if names.last == "" { names.removeLast() }
        }
        guard !names.isEmpty else { throw LafamError.invalidArgument("labels file '\(path)' holds no names") }
        return ClassLabels(names: names, source: "'\(path)'")
    }

    /// The labels to use for `model`'s first output of `classes` classes: the model's own
    /// (`lafam.class_names` metadata), else ImageNet-1k for a 1000-class output, else none.
    public static func of(_ model: Model, classes: Int?) -> ClassLabels? {
        if let names = model.classNames, classes == nil || names.count == classes {
            return ClassLabels(names: names, source: "model metadata")
        }
        return classes == 1000 ? .imageNet1k : nil
    }

    /// Checks that the list names exactly `classes` classes.
    public func check(classes: Int) throws {
        guard names.count == classes else {
            throw LafamError.invalidArgument("the labels from \(source) name \(names.count) classes but the model's output has \(classes)")
        }
    }

    /// A class given as an index or a name (case-insensitive); an unknown name lists close ones.
    public func index(of text: String, classes: Int?) throws -> Int {
        if let k = Int(text) {
            if let classes, !(0..<classes).contains(k) {
                throw LafamError.invalidArgument("class \(k) is out of range: the model has \(classes) classes (0…\(classes - 1))")
            }
            return k
        }
        if let k = names.firstIndex(where: { $0.caseInsensitiveCompare(text) == .orderedSame }) { return k }
        let close = names.filter { $0.lowercased().contains(text.lowercased()) }.prefix(5)
        throw LafamError.invalidArgument("no class named '\(text)' in the labels from \(source)"
            + (close.isEmpty ? "" : "; did you mean " + close.map { "'\($0)'" }.joined(separator: ", ") + "?"))
    }
}
