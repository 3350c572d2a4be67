import ArgumentParser
import Lafam

/// `lafam`: explains what image CNNs exported to ONNX look at. A thin layer over the Lafam
/// library: every command parses options, calls the library and prints or writes results.
struct LafamCLI: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "lafam",
        abstract: "Saliency maps (LaFAM) for any ONNX CNN, with a Swift interpreter and activation taps.",
        version: "lafam 0.1.0 (OpenBLAS core \(BLASInfo.coreName), lafam kernels \(KernelInfo.instructionSet))",
        subcommands: [InspectCommand.self, RunCommand.self, TapsCommand.self, BenchCommand.self, EvalCommand.self]
    )
}

/// An argument that reads as a cluster of short flags but is meant as a file name (`-dash.jpg`):
/// lafam's only short flag is -h, so the parser would show the help and succeed. Arguments after
/// `--` are names, and negative numbers are values.
func misreadFileName(_ arguments: [String]) -> String? {
    for argument in arguments.prefix(while: { $0 != "--" }) {
        guard argument.count > 2, argument.hasPrefix("-"), !argument.hasPrefix("--") else { continue }
        if let second = argument.dropFirst().first, second.isNumber || second == "." { continue }
        return argument
    }
    return nil
}

if let name = misreadFileName(Array(CommandLine.arguments.dropFirst())) {
    LafamCLI.exit(withError: CLIError("'\(name)' looks like short options; write a file name as ./\(name) or after '--', an option's value as --option=\(name)"))
}
// The command's work is lafam's alone: keep freed activation buffers for the next pass.
MemoryPolicy.keepFreedBuffers()
LafamCLI.main()
