import ArgumentParser
import Foundation
import Lafam

struct BenchCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "bench",
        abstract: "Time the forward pass alone (model loaded, input ready) and print min/median/max ms.")

    @Argument(help: "ONNX model (or --model; default: the bundled MobileNetV2).")
    var modelPath: String?

    @OptionGroup var modelSelection: ModelSelection

    @Option(help: "Batch size.") var batch = 1
    @Option(help: "Timed runs.") var runs = 20
    @Option(help: "Untimed warm-up runs.") var warmup = 3
    @Flag(help: "Print one JSON object.") var json = false
    @Flag(help: "Also print the time per op type (median over the runs).") var profile = false
    @Flag(help: "With --profile: per node (name and output shape) instead of per op type.") var byNode = false
    @Option(help: "Also time this saliency method end to end (model loaded) and report it as a multiple of the forward pass.")
    var method: SaliencyMethod.Name?
    @Option(help: "Masks for --method relax (default 200).") var relaxMasks: Int?
    @Option(help: "Mask batch for --method relax (default 100).") var relaxBatch: Int?
    @OptionGroup var execution: ExecutionOptions
    @OptionGroup var memory: MemoryOptions

    func run() throws {
        try reporting(memory) {
            guard batch >= 1, runs >= 1, warmup >= 0 else { throw CLIError("--batch and --runs must be ≥ 1 and --warmup ≥ 0") }
            if (relaxMasks != nil || relaxBatch != nil) && method != .relax {
                warn("--relax-masks and --relax-batch do not apply without --method relax; ignored")
            }
            let relaxMasks = self.relaxMasks ?? 200, relaxBatch = self.relaxBatch ?? 100
            guard relaxMasks >= 1, relaxBatch >= 1 else { throw CLIError("--relax-masks and --relax-batch must be ≥ 1") }
            let m = try execution.model(try modelSelection.path(positional: modelPath))
            guard let info = m.inputs.first else { throw CLIError("the model has no inputs") }
            let shape = try info.shape.enumerated().map { i, d -> Int in
                if i == 0 { return batch }
                guard let v = d.value else { throw CLIError("input '\(info.name)' has a dynamic dimension \(i) (\(d)); bench needs fixed non-batch sizes") }
                return v
            }
            var rng = SplitMix64(seed: 42)
            let x = try normalInput(shape, &rng)
            let times = try timed { _ = try m.run(x) }
            let explainer = method.map {
                SaliencyMethod($0, relax: RELAX(masks: relaxMasks, batchSize: relaxBatch))
            }
            let methodTimes = try explainer.map { e in try timed { _ = try e.explain(x, model: m, nodes: []) } }
            var perOp: [String: [Double]] = [:]
            if profile {
                for _ in 0..<runs {
                    for (op, ns) in try m.profile(x, byNode: byNode) { perOp[op, default: []].append(Double(ns) / 1e6) }
                }
            }
            let opMedians = perOp.mapValues { median($0) }
            let medianTime = median(times)
            let methodMedian = methodTimes.map(median)
            // RELAX's yardstick: ⌈N / batch⌉ forward passes of a full mask batch.
            var relaxBudget: (batched: Double, budget: Double)? = nil
            if method == .relax {
                let batchShape = [relaxBatch] + Array(shape.dropFirst())
                let xb = try normalInput(batchShape, &rng)
                let batched = median(try timed { _ = try m.run(xb) })
                relaxBudget = (batched, Double((relaxMasks + relaxBatch - 1) / relaxBatch) * batched)
            }
            if json {
                var object: [String: Any] = ["model": m.path, "batch": batch, "runs": runs, "threads": m.options.threads, "disabledPasses": m.options.disabledPasses.sorted(),
                                             "blasCore": BLASInfo.coreName, "minMs": times.first!, "medianMs": medianTime, "maxMs": times.last!,
                                             "peakRssMb": peakResidentMegabytes()]
                if profile { object["opMedianMs"] = opMedians }
                if let relaxBudget, let methodMedian {
                    object["relaxOverBatchedForwards"] = methodMedian / relaxBudget.budget
                }
                if let method, let methodMedian {
                    object["method"] = method.rawValue
                    object["methodMedianMs"] = methodMedian
                    object["methodOverForward"] = methodMedian / medianTime
                }
                let data = try JSONSerialization.data(withJSONObject: object, options: [.sortedKeys])
                print(String(decoding: data, as: UTF8.self))
            } else {
                print(String(format: "%@  batch %d  threads %d  OpenBLAS %@  min %.2f ms  median %.2f ms  max %.2f ms",
                             (m.path as NSString).lastPathComponent, batch, m.options.threads, BLASInfo.coreName,
                             times.first!, medianTime, times.last!))
                print(String(format: "  peak resident memory %.1f MB", peakResidentMegabytes()))
                if let method, let methodMedian {
                    print(String(format: "  %@ end to end: median %.2f ms = %.2f × forward", method.rawValue, methodMedian, methodMedian / medianTime))
                }
                if let relaxBudget {
                    print(String(format: "  relax: %d masks / batch %d × batched forward %.1f ms = %.1f ms; relax / that = %.3f",
                                 relaxMasks, relaxBatch, relaxBudget.batched, relaxBudget.budget, methodMedian! / relaxBudget.budget))
                }
                for (op, ms) in opMedians.sorted(by: { $0.value > $1.value }) {
                    print("  " + op.padding(toLength: max(24, op.count), withPad: " ", startingAt: 0)
                          + String(format: "%8.2f ms  %5.1f%%", ms, 100 * ms / medianTime))
                }
            }
        }
    }
}

extension BenchCommand {
    /// Runs `body` `warmup` times untimed, then `runs` times timed; milliseconds, sorted.
    func timed(_ body: () throws -> Void) throws -> [Double] {
        for _ in 0..<warmup { try body() }
        var times: [Double] = []
        for _ in 0..<runs {
            let start = DispatchTime.now().uptimeNanoseconds
            try body()
            times.append(Double(DispatchTime.now().uptimeNanoseconds - start) / 1e6)
        }
        return times.sorted()
    }
}

/// A float32 input of `shape` (read from the model) drawn from the standard normal, its size
/// held to the memory budget.
func normalInput(_ shape: [Int], _ rng: inout SplitMix64) throws -> Tensor {
    let count = try Sizes.elementCount(shape)
    try MemoryBudget.current.check(count: count, width: 4, for: "an input of shape \(shape)")
    return try Tensor(shape: shape, floats: (0..<count).map { _ in rng.normal() })
}

func median(_ values: [Double]) -> Double {
    let v = values.sorted()
    guard !v.isEmpty else { return 0 }
    return v.count % 2 == 1 ? v[v.count / 2] : (v[v.count / 2 - 1] + v[v.count / 2]) / 2
}

/// The process's peak resident set size so far (getrusage reports kilobytes on Linux).
func peakResidentMegabytes() -> Double {
    var usage = rusage()
    getrusage(__rusage_who_t(RUSAGE_SELF.rawValue), &usage)
    return Double(usage.ru_maxrss) / 1024
}
