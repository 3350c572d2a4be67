import ArgumentParser
import Foundation
import Lafam

struct InspectCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "inspect",
        abstract: "Print a model's facts, inputs and outputs, and every Conv node with its output shape.")

    @Argument(help: "ONNX model (or --model; default: the bundled MobileNetV2).")
    var modelPath: String?

    @OptionGroup var modelSelection: ModelSelection

    @OptionGroup var taskOption: TaskOption

    @Flag(help: "Print one JSON object instead of tables.")
    var json = false

    @OptionGroup var memory: MemoryOptions

    func run() throws {
        try reporting(memory) {
            let m = try loadModel(try modelSelection.path(positional: modelPath), options: ModelOptions(memoryBudget: .current))
            let report = InspectionReport(m, task: taskOption.reading(for: m))
            if json {
                let data = try JSONSerialization.data(withJSONObject: report.json, options: [.prettyPrinted, .sortedKeys])
                print(String(decoding: data, as: UTF8.self))
            } else {
                print(report.text)
            }
        }
    }
}

/// What `inspect` shows, gathered once from the graph's static facts (nothing is run).
struct InspectionReport {
    struct ConvRow {
        let node: String, output: String, kernel: [Int], strides: [Int], group: Int, outputShape: [Dim]?
    }
    /// A vision transformer's token tensor (a LayerNorm or residual output) and its patch grid.
    struct TokenRow {
        let node: String, output: String, shape: [Dim]?, layout: TokenLayout
    }
    let model: Model
    let task: TaskReading
    let convs: [ConvRow]
    let tokens: [TokenRow]
    let target: Int?

    init(_ model: Model, task: TaskReading) {
        self.model = model
        self.task = task
        let g = model.graph
        convs = g.nodes.filter { $0.opType == "Conv" }.map { n in
            func ints(_ k: String) -> [Int]? { if case .ints(let v)? = n.attributes[k] { return v }; return nil }
            let w = n.inputs.count > 1 ? n.inputs[1].flatMap { g.values[$0].facts?.shape } : nil
            let kernel = ints("kernel_shape") ?? (w.map { Array($0.dropFirst(2)).compactMap(\.value) } ?? [])
            var group = 1
            if case .int(let v)? = n.attributes["group"] { group = v }
            return ConvRow(node: n.name, output: g.values[n.outputs[0]].name, kernel: kernel,
                           strides: ints("strides") ?? [1, 1], group: group, outputShape: g.values[n.outputs[0]].facts?.shape)
        }
        // LayerNorm outputs and residual sums (an Add of two token tensors, not a bias add).
        let layouts = g.tokenLayouts(), layerNorms = g.layerNormOutputs()
        tokens = g.nodes.filter { n in
            !n.isFolded && (layerNorms.contains(n.outputs[0])
                || (n.opType == "Add" && n.inputs.allSatisfy { $0.map { layouts[$0] != nil } ?? false }))
        }.compactMap { n in
            let v = n.outputs[0]
            guard let layout = layouts[v], layout.order != .sequenceFirst else { return nil }
            return TokenRow(node: n.name, output: g.values[v].name, shape: g.values[v].facts?.shape, layout: layout)
        }
        target = model.defaultTarget
    }

    /// How a detector's head is decoded, or what to do when lafam does not decode it.
    private var headSummary: String {
        model.detectionHead?.summary ?? "not decoded by lafam: name decoded boxes and scores with run's --boxes and --scores"
    }

    private var targetInfo: (node: String, tensor: String, shape: [Dim]?)? {
        guard let t = target else { return nil }
        let v = model.graph.values[t]
        return (v.producer.map { model.graph.nodes[$0].name } ?? "", v.name, v.facts?.shape)
    }

    var json: [String: Any] {
        let f = model.format
        func io(_ infos: [TensorInfo]) -> [[String: Any]] {
            infos.map { ["name": $0.name, "shape": jsonShape($0.shape), "type": $0.dtype.rawValue] }
        }
        var out: [String: Any] = [
            "path": model.path,
            "irVersion": f.irVersion,
            "opsets": f.opsets.reduce(into: [String: Int]()) { $0[$1.key.isEmpty ? "ai.onnx" : $1.key] = $1.value },
            "producer": f.producer,
            "nodeCount": model.graph.nodes.count,
            "inputs": io(model.inputs),
            "outputs": io(model.outputs),
            "task": ["task": task.task.rawValue, "outputs": task.outputs, "reason": task.reason],
            "detectionHead": task.task == .detect ? headSummary : NSNull(),
            "convNodes": convs.map { c -> [String: Any] in
                ["name": c.node, "output": c.output, "outputShape": jsonShape(c.outputShape),
                 "kernel": c.kernel, "strides": c.strides, "group": c.group]
            },
        ]
        out["tokenTensors"] = tokens.map { t -> [String: Any] in
            ["node": t.node, "output": t.output, "shape": jsonShape(t.shape), "grid": [t.layout.height, t.layout.width],
             "skip": t.layout.skip, "layout": t.layout.order.rawValue]
        }
        if let t = targetInfo {
            out["defaultTarget"] = ["node": t.node, "tensor": t.tensor, "shape": jsonShape(t.shape)]
        } else {
            out["defaultTarget"] = NSNull()
        }
        return out
    }

    var text: String {
        let f = model.format
        var lines: [String] = []
        lines.append("model     \(model.path)")
        lines.append("ir        \(f.irVersion)")
        lines.append("opsets    " + f.opsets.sorted { $0.key < $1.key }.map { "\($0.key.isEmpty ? "ai.onnx" : $0.key) \($0.value)" }.joined(separator: ", "))
        lines.append("producer  \(f.producer.isEmpty ? "-" : f.producer)")
        lines.append("nodes     \(model.graph.nodes.count)")
        for i in model.inputs { lines.append("input     \(i.name)  \(i.dtype)  \(describe(i.shape))") }
        for o in model.outputs { lines.append("output    \(o.name)  \(o.dtype)  \(describe(o.shape))") }
        lines.append("task      \(task.task.rawValue): \(task.reason)")
        if task.task == .detect { lines.append("head      \(headSummary)") }
        if let t = targetInfo {
            lines.append("target    \(t.tensor)  \(describe(t.shape))  (default LaFAM target, from node \(t.node))")
        }
        lines.append("")
        lines.append("\(convs.count) Conv nodes (* = produces or leads to the default target):")
        let header = ["node", "output", "kernel", "strides", "group", "output shape"]
        var rows = convs.map { c in
            [c.node, c.output, c.kernel.map(String.init).joined(separator: "×"),
             c.strides.map(String.init).joined(separator: ","), String(c.group), describe(c.outputShape)]
        }
        let marked = markedConv
        for i in rows.indices { rows[i][0] = (i == marked && tokens.isEmpty ? "* " : "  ") + rows[i][0] }
        lines += Self.table(header: header, rows: rows)
        if !tokens.isEmpty {
            lines.append("")
            lines.append("\(tokens.count) token tensors, LayerNorm and residual outputs (* = the default target):")
            let targetName = targetInfo?.tensor
            lines += Self.table(header: ["node", "output", "shape", "tokens"], rows: tokens.map { t in
                [(t.output == targetName ? "* " : "  ") + t.node, t.output, describe(t.shape), t.layout.description]
            })
        }
        return lines.joined(separator: "\n")
    }

    /// Rows under a header, columns padded to their widest cell (the header indented like unmarked rows).
    private static func table(header: [String], rows: [[String]]) -> [String] {
        let all = [["  " + header[0]] + header.dropFirst()] + rows
        let widths = (0..<header.count).map { col in all.map { $0[col].count }.max() ?? 0 }
        return all.map { r in r.enumerated().map { $1.padding(toLength: widths[$0], withPad: " ", startingAt: 0) }.joined(separator: "  ") }
    }

    /// The last Conv at or before the default target's producer: the conv whose activation the
    /// default LaFAM target is.
    private var markedConv: Int? {
        guard let t = target, let producer = model.graph.values[t].producer else { return nil }
        let convNodes = model.graph.nodes.indices.filter { model.graph.nodes[$0].opType == "Conv" }
        return convNodes.lastIndex(where: { $0 <= producer })
    }
}
