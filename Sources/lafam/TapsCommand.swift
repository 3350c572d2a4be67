import ArgumentParser
import Foundation
import Lafam
import LafamImaging

struct TapsCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "taps",
        abstract: "Run a model on an .npy array and write the named tensors and the outputs as .npy files.")

    @Argument(help: "ONNX model.")
    var model: String

    @Option(help: "float32 .npy array fed to the model's first input (any batch size).")
    var input: String

    @Option(name: .customLong("tensor"), help: "Tensor or node name to write (repeatable); a node means its first output.")
    var tensors: [String] = []

    @Option(help: "Folder for <tensor>.npy files (created if missing).")
    var output: String

    @Flag(help: "Replace files that already exist in the output folder.")
    var overwrite = false

    @OptionGroup var execution: ExecutionOptions
    @OptionGroup var memory: MemoryOptions

    func run() throws {
        try reporting(memory) {
            let m = try execution.model(model)
            let x = try inputTensor(path: input)
            try checkInput(x, from: input, model: m)
            let folder = try OutputFolder(output, overwrite: overwrite)
            let result = try m.run(x, taps: tensors)
            let named = result.taps.merging(result.outputs) { a, _ in a }
            // Check every destination before writing any, so a refusal leaves nothing behind.
            let files = try named.keys.sorted().map { ($0, try folder.file(safeFileName($0) + ".npy")) }
            for (name, path) in files {
                try NPYArray(named[name]!).write(to: path)
                print("\(name)  \(named[name]!.shape)  → \(path)")
            }
        }
    }
}
