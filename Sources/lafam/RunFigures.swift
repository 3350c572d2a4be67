import Foundation
import Lafam
import LafamEvaluation
import LafamImaging

/// One map of a comparison sheet.
struct SheetCell {
    let method: SaliencyMethod.Name
    let target: String
    let picture: RGBImage
    /// What the map explains ("explains espresso (967), p = 0.99" or "label-free · …").
    let classLine: String
}

/// The pictures `run` writes: each map as a figure that says what it shows (input, model, method,
/// layer, class or "label-free", and what the colours mean), or bare with --plain; and the
/// comparison sheet of several methods and layers.
struct FigureMaker {
    let modelName: String
    /// The model output holding class scores, when it is a classifier.
    let scoresOutput: String?
    let labels: ClassLabels?
    let colormap: Colormap
    let alpha: Float
    let plain: Bool
    /// Top of RELAX's uncertainty scale (the same for every image).
    let uncertaintyMax: Float

    /// B×H×W maps as a bare picture: blended over the photo (with `outline`'s boundary drawn on
    /// top), or (for .npy inputs) colourised side by side.
    func panel(_ maps: Tensor, photo: RGBImage?, outline: (mask: [Bool], width: Int, height: Int)? = nil) throws -> RGBImage {
        let (b, h, w) = (maps.shape[0], maps.shape[1], maps.shape[2])
        let values = maps.floats
        if let photo {
            let picture = try overlay(map: values, mapWidth: w, mapHeight: h, on: photo, colormap: colormap, alpha: alpha)
            return outline.map { picture.outlined(by: $0.mask, width: $0.width, height: $0.height) } ?? picture
        }
        return sideBySide(try (0..<b).map { i in
            try colorize(map: Array(values[(i * h * w)..<((i + 1) * h * w)]), width: w, height: h, colormap: colormap)
        }, spacing: 4)
    }

    /// One map's figure (`meanOf`: the layers a mean map averages). RELAX's figure holds a second
    /// panel, the uncertainty, on a fixed scale from 0 to `uncertaintyMax`, so that panels of
    /// different images compare: per-image min-max would stretch any spread to the full range.
    func figure(_ maps: Tensor, explanation e: Explanation, meanOf: [String]?, job: InputFile) throws -> RGBImage {
        let picture = try panel(maps, photo: job.photo, outline: job.outline)
        let uncertainty = meanOf == nil ? e.extras["uncertainty"] : nil
        let uncertaintyPicture = try uncertainty.map { u -> RGBImage in
            try panel(Tensor(shape: u.shape, floats: u.floats.map { min($0 / uncertaintyMax, 1) }), photo: job.photo)
        }
        if plain {
            return uncertaintyPicture.map { sideBySide([picture, $0], spacing: 8) } ?? picture
        }
        let method = SaliencyMethod.Name(rawValue: e.method)
        let name = method?.displayName ?? e.method
        let source = "\((job.path as NSString).lastPathComponent) · \(modelName)"
        let layer = meanOf.map { "mean of \($0.count) layers: " + $0.joined(separator: ", ") } ?? e.targetTensor
        let what = method == .relax ? "\(name) importance, embedding \(layer)" : method == .gradient ? "\(name) (input pixels)" : "\(name) at \(layer)"
        let explains = method?.explainsAClass == true ? job.explains : nil
        let main = Figure.titled(picture, title: [source, what, explains ?? classLine(e, method: method)], colormap: colormap,
                                 scale: scale(for: method, explainsAClass: explains == nil))
        guard let uncertainty, let uncertaintyPicture else { return main }
        let values = uncertainty.floats
        let range = String(format: "this image: %.4g to %.4g", values.min() ?? 0, values.max() ?? 0)
        let second = Figure.titled(uncertaintyPicture, title: [source, "\(name) uncertainty, embedding \(layer)", range],
                                   colormap: colormap,
                                   scale: Figure.Scale(low: "0", high: String(format: "≥ %g", uncertaintyMax),
                                                       caption: "variance of the similarity; fixed scale"))
        return sideBySide([main, second], spacing: 12, background: (255, 255, 255))
    }

    /// What a colour bar's ends mean for `method`'s maps (all min-max normalised per map).
    func scale(for method: SaliencyMethod.Name?, explainsAClass: Bool = true) -> Figure.Scale {
        switch method {
        case .lafam?: return Figure.Scale(low: "0: weakest", high: "1: strongest", caption: "mean activation over channels, min-max per map")
        case .relax?: return Figure.Scale(low: "0: least", high: "1: most", caption: "importance to the embedding, min-max per map")
        case .eigencam?: return Figure.Scale(low: "0: least", high: "1: most", caption: "first principal component, min-max per map")
        case .gradient?: return Figure.Scale(low: "0: least", high: "1: most", caption: "gradient magnitude, min-max per map")
        default: return Figure.Scale(low: "0: least", high: "1: most", caption: "evidence for \(explainsAClass ? "the class" : "what it explains"), min-max per map")
        }
    }

    /// "explains espresso (967), p = 0.83" or "label-free · top class espresso (967), p = 0.83".
    func classLine(_ e: Explanation, method: SaliencyMethod.Name?) -> String {
        let scores = scoresOutput.flatMap { e.outputs[$0] }
        let probabilities = (try? scores?.softmaxRows()) ?? nil
        func described(_ k: Int, image: Int) -> String {
            var text = labels.map { "\($0.name(k)) (\(k))" } ?? "class \(k)"
            if let probabilities, image < probabilities.count, probabilities[image].indices.contains(k) {
                text += String(format: ", p = %.2f", probabilities[image][k])
            }
            return text
        }
        if method?.explainsAClass == true, let classes = e.classes, !classes.isEmpty {
            return "explains " + classes.enumerated().prefix(4).map { described($1, image: $0) }.joined(separator: "; ")
                + (classes.count > 4 ? "; …" : "")
        }
        guard let scores, let best = try? scores.argmax(), !best.isEmpty else { return "label-free" }
        return "label-free · top class " + best.enumerated().prefix(4).map { described($1, image: $0) }.joined(separator: "; ")
            + (best.count > 4 ? "; …" : "")
    }

    /// Methods side by side (columns) for each layer (rows), panels at most 256 px, one colour bar.
    func sheet(_ cells: [SheetCell], job: InputFile, predictions: [[String: Any]]) throws -> RGBImage {
        var methods: [SaliencyMethod.Name] = [], rows: [String] = []
        for c in cells {
            if !methods.contains(c.method) { methods.append(c.method) }
            if c.method.explainsALayer && !rows.contains(c.target) { rows.append(c.target) }
        }
        if rows.isEmpty { rows = [""] }
        var grid = [[RGBImage?]](repeating: [RGBImage?](repeating: nil, count: methods.count), count: rows.count)
        for c in cells {
            var picture = c.picture
            if picture.width > 256 { picture = try picture.resized(width: 256, height: max(1, picture.height * 256 / picture.width)) }
            let row = c.method.explainsALayer ? rows.firstIndex(of: c.target)! : 0
            grid[row][methods.firstIndex(of: c.method)!] = picture
        }
        let columnLabels = methods.map(\.displayName)
        // One layer: named in the title rather than in a row heading.
        let body = Figure.sheet(grid, rowLabels: rows.count > 1 ? rows : [], columnLabels: columnLabels)
        let top = ((predictions.first?["top"] as? [[String: Any]])?.first).map { c in
            String(format: "top class %@ (%d), p = %.2f", (c["name"] as? String) ?? "class \(c["class"] as? Int ?? 0)",
                   c["class"] as? Int ?? 0, c["probability"] as? Double ?? 0)
        }
        var title = ["\((job.path as NSString).lastPathComponent) · \(modelName)" + (top.map { " · " + $0 } ?? "")]
        if rows.count == 1, !rows[0].isEmpty { title.append("layer " + rows[0]) }
        if let explained = cells.first(where: { $0.method.explainsAClass })?.classLine { title.append("class methods: " + explained) }
        if let relax = cells.first(where: { $0.method == .relax }) { title.append("RELAX: embedding " + relax.target) }
        return Figure.stacked([Figure.text(title, width: max(body.width, 240)), body,
                               Figure.colorBar(colormap, scale: Figure.Scale(low: "0: least", high: "1: most", caption: "each map min-max normalised within itself"),
                                               width: min(max(body.width, 240), 480))], spacing: 4)
    }
}

/// `manifest.json` in an output folder: every run into the folder (newest last) with lafam's
/// version, the model and its SHA-256, every option, the inputs and the files written. lafam adds
/// to it; a file of that name that is not a lafam manifest is never touched.
struct Manifest {
    let path: String
    private let runs: [Any]

    init(folder: OutputFolder) throws {
        path = (folder.path as NSString).appendingPathComponent("manifest.json")
        guard FileManager.default.fileExists(atPath: path) else { runs = []; return }
        let file = try MappedFile(path: path, what: "manifest")
        guard let object = try? JSONSerialization.jsonObject(with: Data(file.bytes)) as? [String: Any],
              object["lafamManifest"] as? Int == 1, let runs = object["runs"] as? [Any] else {
            throw CLIError("'\(path)' exists and is not a lafam manifest; choose another --output")
        }
        self.runs = runs
    }

    /// Writes the manifest with `run` added (atomically: a reader sees the old or the new one).
    func append(_ run: [String: Any]) throws {
        let object: [String: Any] = ["lafamManifest": 1, "runs": runs + [run]]
        let data = try JSONSerialization.data(withJSONObject: object, options: [.prettyPrinted, .sortedKeys])
        do { try data.write(to: URL(fileURLWithPath: path), options: .atomic) } catch {
            throw CLIError("cannot write '\(path)': \(error.localizedDescription)")
        }
    }
}

/// The model as the manifest and --json describe it: path, SHA-256 of the file, inputs, outputs.
func modelDescription(_ m: Model, path: String) -> [String: Any] {
    var out: [String: Any] = ["path": path, "inputs": m.inputs.map { ["name": $0.name, "shape": jsonShape($0.shape)] },
                              "outputs": m.outputs.map { ["name": $0.name, "shape": jsonShape($0.shape)] }]
    if let file = try? MappedFile(path: path, what: "model") { out["sha256"] = SHA256.hex(of: file.bytes) }
    return out
}

/// `object` as pretty-printed JSON with sorted keys.
func jsonText(_ object: Any) throws -> String {
    String(decoding: try JSONSerialization.data(withJSONObject: object, options: [.prettyPrinted, .sortedKeys, .withoutEscapingSlashes]), as: UTF8.self)
}

extension RunCommand {
    /// report.html for a run: what was run, then per input its sheet, figures and top classes.
    func runReport(_ run: [String: Any], modelPath: String) throws -> HTMLReport {
        let model = run["model"] as? [String: Any] ?? [:]
        var report = HTMLReport(title: "lafam run — \((modelPath as NSString).lastPathComponent)", lines: [
            "model \(modelPath)" + ((model["sha256"] as? String).map { " (sha256 \($0.prefix(16))…)" } ?? ""),
            "methods \(chosenMethods.map(\.displayName).joined(separator: ", "))" + (node.isEmpty ? "" : "; nodes \(node.joined(separator: ", "))"),
            "lafam \(lafamVersion), \(run["date"] as? String ?? "")" + ((run["labels"] as? String).map { "; class names from \($0)" } ?? ""),
        ])
        func picture(_ path: String, caption: String) throws -> HTMLReport.Picture {
            HTMLReport.Picture(caption: caption, bytes: try MappedFile(path: path, what: "figure").array, mimeType: "image/png")
        }
        for image in run["images"] as? [[String: Any]] ?? [] {
            let input = image["input"] as? String ?? ""
            report.heading((input as NSString).lastPathComponent)
            for prediction in image["predictions"] as? [[String: Any]] ?? [] {
                let top = (prediction["top"] as? [[String: Any]] ?? []).map { c in
                    String(format: "%@ (%d) %.3f", (c["name"] as? String) ?? "class", c["class"] as? Int ?? 0, c["probability"] as? Double ?? 0)
                }
                if !top.isEmpty { report.paragraph((prediction["image"] as? Int ?? 0 > 0 ? "image \(prediction["image"]!): " : "") + "top classes: " + top.joined(separator: ", ")) }
            }
            if let sheet = image["sheet"] as? String {
                report.pictures([try picture(sheet, caption: (sheet as NSString).lastPathComponent)])
            }
            let figures = try (image["maps"] as? [[String: Any]] ?? []).compactMap { map -> HTMLReport.Picture? in
                guard let png = (map["files"] as? [String: String])?["png"] else { return nil }
                return try picture(png, caption: (png as NSString).lastPathComponent)
            }
            report.pictures(figures, maxWidth: 420)
        }
        return report
    }
}
