import Foundation
import Lafam
import LafamImaging

/// The model `--compare` names, loaded, when it takes the same input as `m`.
func comparedModel(_ path: String, against m: Model, modelPath: String, execution: ExecutionOptions) throws -> Model {
    let other = try execution.model(path)
    guard let a = m.inputs.first, let b = other.inputs.first, a.shape.count == b.shape.count,
          zip(a.shape, b.shape).allSatisfy({ $0.value == nil || $1.value == nil || $0 == $1 }) else {
        throw CLIError("--compare: '\(path)' takes input \(other.inputs.first.map { "\($0.shape.shapeString)" } ?? "none"), '\(modelPath)' takes \(m.inputs.first.map { "\($0.shape.shapeString)" } ?? "none"); the models must take the same input")
    }
    return other
}

extension RunCommand {
    /// `run --compare`: each input explained by both models with every chosen method, written
    /// as one sheet per input (methods as rows, the two models as columns) with each method's
    /// agreement, and the same numbers in the records (`--json`) and the manifest.
    func compareModels(_ m: Model, modelPath: String, with otherPath: String, explainers: [SaliencyMethod], files: [String],
                       preprocessing: Preprocessing?, folder: OutputFolder, labels: ClassLabels?, started: Date) throws {
        let other = try comparedModel(otherPath, against: m, modelPath: modelPath, execution: execution)
        let (name, otherName) = ((modelPath as NSString).lastPathComponent, (otherPath as NSString).lastPathComponent)
        let otherStem = ((otherName as NSString).deletingPathExtension as String)
        let jobs = try files.map { try InputFile(path: $0, preprocessing: preprocessing, model: m) }
        let sheets = try jobs.map { try folder.file("\($0.stem).compare-\(OutputNaming.fileName(tensor: otherStem)).png") }
        let manifest = try Manifest(folder: folder)
        let figures = FigureMaker(modelName: name, scoresOutput: nil, labels: labels, colormap: colormap, alpha: alpha, plain: plain, uncertaintyMax: relax.uncertaintyTop)
        func className(_ k: Int) -> String { labels.map { "\($0.name(k)) (\(k))" } ?? "class \(k)" }
        var written: [String] = [], records: [[String: Any]] = []
        do {
            for (job, sheet) in zip(jobs, sheets) {
                var grid: [[RGBImage?]] = [], rows: [String] = [], methods: [String: Any] = [:], top: (Int, Int)?
                for explainer in explainers {
                    let c = try ModelComparison(explainer, first: m, second: other, input: job.tensor)
                    let agreement = c.agreements[0]
                    grid.append(try [c.first, c.second].map { e -> RGBImage? in
                        var picture = try figures.panel(e.maps, photo: job.photo)
                        if picture.width > 256 { picture = try picture.resized(width: 256, height: max(1, picture.height * 256 / picture.width)) }
                        return picture
                    })
                    rows.append(String(format: "%@: Spearman %.2f, top 10%% overlap %.2f", explainer.name.displayName, agreement.spearman, agreement.topOverlap))
                    var entry: [String: Any] = ["spearman": agreement.spearman.isNaN ? NSNull() : agreement.spearman as Any,
                                                "topOverlap": agreement.topOverlap, "topFraction": agreement.fraction,
                                                "targets": [c.first.targetTensor, c.second.targetTensor]]
                    if let classes = c.first.classes, explainer.name.explainsAClass { entry["class"] = classes[0] }
                    methods[explainer.name.rawValue] = entry
                    if let t = c.topClasses { top = (t.first[0], t.second[0]) }
                }
                var title = ["\((job.path as NSString).lastPathComponent): \(name) (left) vs \(otherName) (right)"]
                if let (p, q) = top {
                    title.append("top class " + (p == q ? "agrees: \(className(p))" : "differs: \(className(p)) vs \(className(q))"))
                }
                let body = Figure.sheet(grid, rowLabels: rows, columnLabels: [name, otherName])
                let picture = Figure.stacked([Figure.text(title, width: max(body.width, 240)), body,
                                              Figure.colorBar(colormap, scale: Figure.Scale(low: "0: least", high: "1: most", caption: "each map min-max normalised within itself"),
                                                              width: min(max(body.width, 240), 480))], spacing: 4)
                try ImageIO.write(picture, to: sheet)
                written.append(sheet)
                var comparison: [String: Any] = ["model": modelDescription(other, path: otherPath), "methods": methods, "sheet": sheet]
                if let (p, q) = top { comparison["topClass"] = [p, q]; comparison["topClassAgrees"] = p == q }
                let record: [String: Any] = ["input": job.path, "compare": comparison]
                records.append(record)
                if !json {
                    print("\(job.path): \(rows.joined(separator: "; "))" + (top.map { $0.0 == $0.1 ? "; top class agrees" : "; top class differs: \(className($0.0)) vs \(className($0.1))" } ?? ""))
                    print("\(job.path): comparison → \(sheet)")
                }
            }
            let run = runDescription(model: m, modelPath: modelPath, labels: labels, records: records, seconds: Date().timeIntervalSince(started))
            try manifest.append(run)
            if json { print(try jsonText(run)) }
        } catch {
            for path in written { unlink(path) }
            throw error
        }
    }
}
