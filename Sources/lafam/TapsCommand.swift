import ArgumentParser
import Foundation
import Lafam
import LafamImaging

struct TapsCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "taps",
        abstract: "Run a model on a photo or an .npy array and write the named tensors and the outputs as .npy files.")

    @Argument(help: "ONNX model (or give it with --model).")
    var modelPath: String?

    @OptionGroup var modelSelection: ModelSelection

    @Option(help: "PNG/JPEG photo (preprocessed as 'lafam run' does) or float32 .npy array (any batch size) fed to the model's first input.")
    var input: String

    @Option(name: .customLong("tensor"), help: "Tensor or node name to write (repeatable); a node means its first output.")
    var tensors: [String] = []

    @Option(help: "Folder for <tensor>.npy files (created if missing).")
    var output: String

    @Flag(help: "Replace files that already exist in the output folder.")
    var overwrite = false

    @Flag(help: "Write a quantized tensor's integers as stored (int8 as int64, uint8 as uint8) instead of the real values they stand for.")
    var raw = false

    @OptionGroup var preprocess: PreprocessingOptions
    @OptionGroup var execution: ExecutionOptions
    @OptionGroup var memory: MemoryOptions

    func run() throws {
        try reporting(memory) {
            let m = try execution.model(try modelSelection.path(positional: modelPath, bundledByDefault: false))
            let isArray = input.lowercased().hasSuffix(".npy")
            let x = try InputFile(path: input, preprocessing: isArray ? nil : try preprocess.preprocessing(for: m), model: m).tensor
            let folder = try OutputFolder(output, overwrite: overwrite)
            // Check every destination before computing or writing any, so a refusal leaves nothing behind.
            let tapped = try tensors.map { m.graph.values[try m.graph.resolveTensor($0)].name }
            let names = Set(tapped + m.outputs.map(\.name)).sorted()
            let files = try Dictionary(uniqueKeysWithValues: names.map { ($0, try folder.file(safeFileName($0) + ".npy")) })
            let result = try m.run(x, taps: tensors)
            let taps = raw ? result.rawTaps.merging(result.taps) { a, _ in a } : result.taps
            let named = taps.merging(result.outputs) { a, _ in a }
            for name in names {
                guard let value = named[name], let path = files[name] else { continue }
                try NPYArray(value).write(to: path)
                print("\(name)  \(value.shape)  → \(path)")
            }
        }
    }
}
