import ArgumentParser
import Foundation
import Lafam
import LafamImaging

/// `lafam run --method relax` options, and the progress bar RELAX draws on a terminal.
struct RELAXOptions: ParsableArguments {
    @Option(help: "RELAX embedding tensor (default: the pooled feature vector the default target feeds).")
    var embedding: String?
    @Option(help: "RELAX masks: wickstrom (relax-xai's smooth shifted masks) or lafam-paper (hard, nearest).")
    var maskMode: String = RELAX.MaskMode.wickstrom.rawValue
    @Option(help: "Number of RELAX masks (default 3000 wickstrom, 2048 lafam-paper).") var masks: Int?
    @Option(help: "Masked inputs per forward batch.") var maskBatch = 100
    @Option(help: "Grid cells per side of a RELAX mask.") var cells = 7
    @Option(help: "Probability that a grid cell is kept.") var keep: Float = 0.5
    @Option(help: "Seed of the mask generator (masks depend on it alone).") var seed: UInt64 = 0
    @Option(help: "Replay masks from a float32 N×H×W .npy file instead of generating them.") var maskFile: String?
    @Option(help: "Embedding similarity: cosine or euclidean (negative distance).") var similarity: String = "cosine"

    func explainer() throws -> RELAX {
        guard let mode = RELAX.MaskMode(rawValue: maskMode) else { throw CLIError("unknown --mask-mode '\(maskMode)'; choose wickstrom or lafam-paper") }
        guard let similarity = RELAX.Similarity(rawValue: similarity) else { throw CLIError("unknown --similarity '\(similarity)'; choose cosine or euclidean") }
        guard (masks ?? 1) >= 1, maskBatch >= 1, cells >= 1, (0...1).contains(keep) else {
            throw CLIError("--masks, --mask-batch and --cells must be ≥ 1 and --keep within [0, 1]")
        }
        let replay = try maskFile.map { path -> Tensor in
            let a = try NPYArray.read(path: path)
            guard case .float32(let v) = a.data, a.shape.count == 3 else {
                throw CLIError("'\(path)' must hold float32 N×H×W masks, got \(a.data.dtypeName) \(a.shape)")
            }
            return try Tensor(shape: a.shape, floats: v)
        }
        return RELAX(mode: mode, masks: masks, batchSize: maskBatch, cells: cells, keepProbability: keep, seed: seed,
                     similarity: similarity, maskFile: replay, progress: ProgressBar.onTerminal(label: "RELAX"))
    }
}

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
