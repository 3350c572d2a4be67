import ArgumentParser
import Foundation
import Lafam
import LafamImaging

/// `lafam run --method relax` options, and the progress bar RELAX draws on a terminal. Every
/// option is optional so that `run` can tell which were given (for warnings and file names).
struct RELAXOptions: ParsableArguments {
    @Option(help: "RELAX embedding tensor (default: the pooled feature vector the default target feeds).")
    var embedding: String?
    @Option(help: "RELAX masks: wickstrom (relax-xai's smooth shifted masks; default) or lafam-paper (hard, nearest).")
    var maskMode: RELAX.MaskMode?
    @Option(help: "Number of RELAX masks (default 3000 wickstrom, 2048 lafam-paper).") var masks: Int?
    @Option(help: "Masked inputs per forward batch (default 100).") var maskBatch: Int?
    @Option(help: "Grid cells per side of a RELAX mask (default 7).") var cells: Int?
    @Option(help: "Probability that a grid cell is kept (default 0.5).") var keep: Float?
    @Option(help: "Seed of the mask generator (masks depend on it alone; default 0).") var seed: UInt64?
    @Option(help: "Replay masks from a float32 N×H×W .npy file instead of generating them.") var maskFile: String?
    @Option(help: "Embedding similarity: cosine (default) or euclidean (negative distance).") var similarity: RELAX.Similarity?
    @Option(help: "Top of the uncertainty colour scale, the same for every image (default 0.01; values above it share the top colour).")
    var uncertaintyMax: Float?

    var anyGiven: Bool {
        embedding != nil || maskMode != nil || masks != nil || maskBatch != nil || cells != nil || keep != nil
            || seed != nil || maskFile != nil || similarity != nil || uncertaintyMax != nil
    }

    /// The uncertainty colour scale's top.
    var uncertaintyTop: Float { uncertaintyMax ?? 0.01 }

    func explainer() throws -> RELAX {
        guard (masks ?? 1) >= 1, (maskBatch ?? 1) >= 1, (cells ?? 1) >= 1, (0...1).contains(keep ?? 0.5) else {
            throw CLIError("--masks, --mask-batch and --cells must be ≥ 1 and --keep within [0, 1]")
        }
        guard uncertaintyTop.isFinite, uncertaintyTop > 0 else { throw CLIError("--uncertainty-max must be a positive number, got \(uncertaintyTop)") }
        let replay = try maskFile.map { path -> Tensor in
            let a = try NPYArray.read(path: path)
            guard case .float32(let v) = a.data, a.shape.count == 3 else {
                throw CLIError("'\(path)' must hold float32 N×H×W masks, got \(a.data.dtypeName) \(a.shape)")
            }
            return try Tensor(shape: a.shape, floats: v)
        }
        return RELAX(mode: maskMode ?? .wickstrom, masks: masks, batchSize: maskBatch ?? 100, cells: cells ?? 7,
                     keepProbability: keep ?? 0.5, seed: seed ?? 0, similarity: similarity ?? .cosine, maskFile: replay,
                     progress: ProgressBar.onTerminal(label: "RELAX"))
    }

    /// The options that change RELAX's maps, as parts of a file name (defaults left out).
    var fileNameParts: [String] {
        var parts: [String] = []
        if let embedding { parts.append("embedding-" + OutputNaming.fileName(tensor: embedding)) }
        if let maskMode, maskMode != .wickstrom { parts.append(maskMode.rawValue) }
        if let masks { parts.append("masks-\(masks)") }
        if let cells, cells != 7 { parts.append("cells-\(cells)") }
        if let keep, keep != 0.5 { parts.append("keep-\(keep)") }
        if let seed, seed != 0 { parts.append("seed-\(seed)") }
        if let similarity, similarity != .cosine { parts.append(similarity.rawValue) }
        if let maskFile { parts.append("maskfile-" + safeFileName(((maskFile as NSString).lastPathComponent as NSString).deletingPathExtension)) }
        if let uncertaintyMax { parts.append("umax-\(uncertaintyMax)") }
        return parts
    }

    /// The settings in force, for the manifest.
    var description: [String: Any] {
        var out: [String: Any] = ["maskMode": (maskMode ?? .wickstrom).rawValue, "maskBatch": maskBatch ?? 100, "cells": cells ?? 7,
                                  "keep": Double(keep ?? 0.5), "seed": seed ?? 0, "similarity": (similarity ?? .cosine).rawValue,
                                  "uncertaintyMax": Double(uncertaintyTop)]
        if let masks { out["masks"] = masks }
        if let embedding { out["embedding"] = embedding }
        if let maskFile { out["maskFile"] = maskFile }
        return out
    }
}

extension RELAX.MaskMode: ExpressibleByArgument {}
extension RELAX.Similarity: ExpressibleByArgument {}

/// A one-line progress bar on stderr (count, rate, time left), drawn only when stderr is a terminal.
enum ProgressBar {
    static func onTerminal(label: String, unit: String = "masks") -> ((Int, Int) -> Void)? {
        guard isatty(STDERR_FILENO) != 0 else { return nil }
        let start = Date()
        return { done, total in
            let elapsed = Date().timeIntervalSince(start)
            let rate = Double(done) / max(elapsed, 1e-9)
            let left = rate > 0 ? Double(total - done) / rate : 0
            let width = 30, filled = total > 0 ? width * done / total : width
            let bar = String(repeating: "=", count: filled) + String(repeating: " ", count: width - filled)
            let line = String(format: "\r%@ [%@] %d/%d %@  %.1f/s  %.0f s left", label, bar, done, total, unit, rate, left)
            FileHandle.standardError.write(Data((line + (done >= total ? "\n" : "")).utf8))
        }
    }
}
