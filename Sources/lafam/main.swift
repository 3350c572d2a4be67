import ArgumentParser
import Foundation
import Lafam

/// The version `lafam --version` prints and manifests record.
let lafamVersion = "0.1.0"

/// `lafam`: explains what image CNNs exported to ONNX look at. A thin layer over the Lafam
/// library: every command parses options, calls the library and prints or writes results.
struct LafamCLI: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "lafam",
        abstract: "Saliency maps (LaFAM) for any ONNX CNN, with a Swift interpreter and activation taps.",
        version: "lafam \(lafamVersion) (OpenBLAS core \(BLASInfo.coreName), lafam kernels \(KernelInfo.instructionSet))",
        subcommands: [InspectCommand.self, RunCommand.self, TapsCommand.self, BenchCommand.self, EvalCommand.self]
    )
}

/// An argument that reads as a cluster of short flags but is meant as a file name (`-dash.jpg`):
/// lafam's only short flags are -h and -m, so the parser would show the help and succeed. Arguments after
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
do {
    var command = try LafamCLI.parseAsRoot()
    try command.run()
} catch {
    // Help and --version exit 0, runtime errors 1 with their one-line message (ArgumentParser's
    // own handling); a usage error (unknown option, missing or invalid value) exits 2 with one line
    // instead of ArgumentParser's 64 and usage block.
    guard LafamCLI.exitCode(for: error) == .validationFailure else { LafamCLI.exit(withError: error) }
    let message = LafamCLI.message(for: error).split(separator: "\n").first.map(String.init) ?? "invalid arguments"
    let subcommand = CommandLine.arguments.dropFirst().first { name in
        LafamCLI.configuration.subcommands.contains { $0.configuration.commandName == name }
    }
    let help = "lafam " + (subcommand.map { $0 + " " } ?? "") + "--help"
    FileHandle.standardError.write(Data("Error: \(message.escapingControlCharacters) (see '\(help)')\n".utf8))
    exit(2)
}
