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

// The command's work is lafam's alone: keep freed activation buffers for the next pass.
MemoryPolicy.keepFreedBuffers()
LafamCLI.main()
