import Foundation
import Lafam
import LafamImaging
import LafamTestSupport
import XCTest

/// The command line's contract (SPEC §4): figures and sheets, names that say what was asked,
/// labels, photos everywhere an input is read, one grammar for the model, one overwrite rule,
/// JSON, exit codes, warnings and the manifest.
final class CLIContractTests: CLITestCase {
    let coffee = Fixtures.repository + "/Models/samples/coffee.jpg"
    let chelsea = Fixtures.repository + "/Models/samples/chelsea.jpg"

    /// Repeated --method and --node: one figure per method and node, each mean, and one sheet.
    func testRepeatableMethodsAndNodesWriteFiguresAndASheet() throws {
        let dir = try temporaryFolder()
        let r = try lafam(["run", "--output", dir, "--method", "lafam", "--method", "gradcam", "--method", "lafam",
                           "--node", "/features/features.18/features.18.2/Clip", "--node", "/features/features.16/conv/conv.2/Conv", coffee])
        XCTAssertEqual(r.status, 0, r.stderr)
        let files = Set(try FileManager.default.contentsOfDirectory(atPath: dir))
        for method in ["lafam", "gradcam"] {
            for node in ["features_features.18_features.18.2_Clip", "features_features.16_conv_conv.2_Conv", "mean-of-2-nodes"] {
                XCTAssertTrue(files.contains("coffee.\(method).\(node).png"), "\(method) \(node): \(files.sorted())")
            }
        }
        let sheetName = "coffee.sheet.lafam+gradcam.features_features.18_features.18.2_Clip+features_features.16_conv_conv.2_Conv.png"
        XCTAssertTrue(files.contains(sheetName), files.sorted().description)
        XCTAssertEqual(files.count, 8, "6 maps, the sheet and manifest.json: \(files.sorted())")
        // Two columns (methods) of panels at most 256 px and two rows (layers) with a heading column.
        let sheet = try ImageIO.readImage(path: dir + "/" + sheetName)
        XCTAssertGreaterThan(sheet.width, 2 * 256)
        XCTAssertLessThanOrEqual(sheet.width, 2 * 256 + 8 + 160)
        XCTAssertGreaterThan(sheet.height, 2 * 256)
        XCTAssertTrue(r.stdout.contains("comparison sheet → \(dir)/\(sheetName)"), r.stdout)
    }

    /// A figure is the bare overlay plus a title strip above and a colour bar below; --plain is the
    /// overlay alone, and its name says so.
    func testFiguresCarryATitleAndAColourBarAndPlainDoesNot() throws {
        let dir = try temporaryFolder()
        XCTAssertEqual(try lafam(["run", "--output", dir, coffee]).status, 0)
        XCTAssertEqual(try lafam(["run", "--output", dir, "--plain", coffee]).status, 0)
        let figure = try ImageIO.readImage(path: dir + "/coffee.lafam.png")
        let plain = try ImageIO.readImage(path: dir + "/coffee.lafam.plain.png")
        XCTAssertEqual(figure.width, plain.width)
        XCTAssertGreaterThan(figure.height, plain.height + 3 * BitmapFont.standard.lineHeight)
        // The overlay sits below the title, unchanged.
        let top = (1..<(figure.height - plain.height)).first { y in
            (0..<plain.width).allSatisfy { x in pixel(figure, x, y) == pixel(plain, x, 0) }
        }
        guard let top else { return XCTFail("the bare overlay does not appear in the figure") }
        for y in stride(from: 0, to: plain.height, by: 37) {
            XCTAssertTrue((0..<plain.width).allSatisfy { x in pixel(figure, x, top + y) == pixel(plain, x, y) }, "row \(y)")
        }
        XCTAssertGreaterThan(top, 2 * BitmapFont.standard.lineHeight, "title lines above the overlay")
        // Title pixels: dark text on white.
        var dark = 0
        for y in 0..<top {
            for x in 0..<figure.width where pixel(figure, x, y).allSatisfy({ $0 < 100 }) { dark += 1 }
        }
        XCTAssertGreaterThan(dark, 200)
        // The colour bar's first row below the overlay runs through turbo from dark blue to dark red.
        guard let bar = ((top + plain.height)..<figure.height).first(where: { y in pixel(figure, 8, y) != [255, 255, 255] }) else {
            return XCTFail("no colour bar below the overlay")
        }
        XCTAssertGreaterThan(pixel(figure, 6, bar)[2], pixel(figure, 6, bar)[0], "low end is blue")
        XCTAssertGreaterThan(pixel(figure, figure.width - 7, bar)[0], pixel(figure, figure.width - 7, bar)[2], "high end is red")
    }

    /// What was asked is in the name: a node and non-default options do not collide with the default.
    func testFileNamesEncodeTheNodeAndTheOptions() throws {
        let dir = try temporaryFolder()
        XCTAssertEqual(try lafam(["run", "--output", dir, chelsea]).status, 0)
        let r = try lafam(["run", "--output", dir, "--reduction", "relu-mean", "--upsampling", "bilinear", "--colormap", "inferno", chelsea])
        XCTAssertEqual(r.status, 0, r.stderr)
        let n = try lafam(["run", "--output", dir, "--node", "/features/features.14/conv/conv.2", chelsea])
        XCTAssertEqual(n.status, 0, n.stderr)
        let g = try lafam(["run", "--output", dir, "--method", "gradcam", "--class", "tabby", "--target", "probability", chelsea])
        XCTAssertEqual(g.status, 0, g.stderr)
        let files = Set(try FileManager.default.contentsOfDirectory(atPath: dir))
        XCTAssertEqual(files, ["chelsea.lafam.png", "chelsea.lafam.relu-mean.bilinear.inferno.png",
                               "chelsea.lafam.features_features.14_conv_conv.2.png",
                               "chelsea.gradcam.probability.class-tabby.png", "manifest.json"])
    }

    /// --labels (lines or a JSON array) names the classes; a 1000-class model without names gets
    /// ImageNet-1k's, said so; a wrong count is an error.
    func testLabelsFromAFileAndImageNetByDefault() throws {
        let dir = try temporaryFolder()
        let model = Fixtures.path("models/classifier_1000_no_names.onnx")
        let r = try lafam(["run", "--model", model, "--output", dir + "/a", "--method", "gradcam", "--class", "goldfish", coffee])
        XCTAssertEqual(r.status, 0, r.stderr)
        XCTAssertTrue(r.stdout.contains("class names: ImageNet-1k, assumed"), r.stdout)
        XCTAssertTrue(r.stdout.contains("class goldfish"), r.stdout)
        XCTAssertTrue(r.stdout.contains("top-5: "), r.stdout)
        let lines = (0..<1000).map { "thing \($0)" }.joined(separator: "\n") + "\n"
        try lines.write(toFile: dir + "/labels.txt", atomically: true, encoding: .utf8)
        let l = try lafam(["run", "--model", model, "--output", dir + "/b", "--labels", dir + "/labels.txt", "--method", "gradcam", "--class", "thing 7", coffee])
        XCTAssertEqual(l.status, 0, l.stderr)
        XCTAssertTrue(l.stdout.contains("class thing 7"), l.stdout)
        XCTAssertFalse(l.stdout.contains("ImageNet"), l.stdout)
        let json = "[" + (0..<1000).map { "\"json \($0)\"" }.joined(separator: ",") + "]"
        try json.write(toFile: dir + "/labels.json", atomically: true, encoding: .utf8)
        let j = try lafam(["run", "--model", model, "--output", dir + "/c", "--labels", dir + "/labels.json", coffee])
        XCTAssertEqual(j.status, 0, j.stderr)
        XCTAssertTrue(j.stdout.contains("json "), j.stdout)
        try "a\nb\n".write(toFile: dir + "/short.txt", atomically: true, encoding: .utf8)
        try expectFailure(["run", "--model", model, "--output", dir + "/d", "--labels", dir + "/short.txt", coffee], ["name 2 classes", "1000"])
        try expectFailure(["run", "--model", model, "--output", dir + "/d", "--method", "gradcam", "--class", "goldfsh", coffee], ["no class named 'goldfsh'"])
    }

    /// taps reads photos with run's preprocessing: the same tensors as from the preprocessed array.
    func testTapsAcceptsAPhoto() throws {
        let dir = try temporaryFolder()
        let node = "/features/features.17/conv/conv.2/Conv"
        let a = try lafam(["taps", "--model", Fixtures.mobilenet, "--input", Fixtures.repository + "/Models/samples/astronaut.jpg",
                           "--tensor", node, "--output", dir + "/photo"])
        XCTAssertEqual(a.status, 0, a.stderr)
        let b = try lafam(["taps", Fixtures.mobilenet, "--input", Fixtures.path("mobilenet_v2/astronaut.input.npy"),
                           "--tensor", node, "--output", dir + "/array"])
        XCTAssertEqual(b.status, 0, b.stderr)
        for name in ["_features_features.17_conv_conv.2_Conv_output_0.npy", "logits.npy"] {
            let x = try NPYArray.read(path: "\(dir)/photo/\(name)"), y = try NPYArray.read(path: "\(dir)/array/\(name)")
            XCTAssertEqual(x.shape, y.shape)
            XCTAssertLessThanOrEqual(maxAbsDifference(x.floats!, y.floats!), 1e-3, name)
        }
    }

    /// A folder argument means its images; an ONNX file as input suggests --model; the model by
    /// --model/-m in every command, and as the first argument where it was.
    func testFolderInputsAndOneModelGrammar() throws {
        let dir = try temporaryFolder()
        let photos = dir + "/photos"
        try FileManager.default.createDirectory(atPath: photos, withIntermediateDirectories: true)
        for stem in ["coffee", "chelsea"] {
            try FileManager.default.copyItem(atPath: Fixtures.repository + "/Models/samples/\(stem).jpg", toPath: "\(photos)/\(stem).jpg")
        }
        try "notes".write(toFile: photos + "/README.txt", atomically: true, encoding: .utf8)
        let r = try lafam(["run", "-m", Fixtures.mobilenet, "--output", dir + "/out", photos])
        XCTAssertEqual(r.status, 0, r.stderr)
        XCTAssertTrue(FileManager.default.fileExists(atPath: dir + "/out/coffee.lafam.png"))
        XCTAssertTrue(FileManager.default.fileExists(atPath: dir + "/out/chelsea.lafam.png"))
        try expectFailure(["run", Fixtures.mobilenet, coffee, "--output", dir + "/x"], ["is an ONNX model", "did you mean --model"])
        for command in [["inspect"], ["bench", "--runs", "1", "--warmup", "0"]] {
            let a = try lafam(command + ["--model", Fixtures.mobilenet])
            XCTAssertEqual(a.status, 0, a.stderr)
            let b = try lafam(command + ["-m", Fixtures.mobilenet])
            XCTAssertEqual(b.status, 0, b.stderr)
        }
        try expectFailure(["inspect", Fixtures.mobilenet, "--model", Fixtures.path("models/constant_weights.onnx")], ["two models given"])
        try expectFailure(["taps", "--input", coffee, "--output", dir + "/t"], ["no model given", "--model"])
    }

    /// One overwrite rule: every writing command refuses an existing file without --overwrite,
    /// before doing any work, and replaces it with it.
    func testEveryWritingCommandRefusesToOverwriteWithoutOverwrite() throws {
        let dir = try temporaryFolder()
        XCTAssertEqual(try lafam(["run", "--output", dir + "/run", coffee]).status, 0)
        try expectFailure(["run", "--output", dir + "/run", coffee], ["coffee.lafam.png", "already exists", "--overwrite"])
        XCTAssertEqual(try lafam(["run", "--output", dir + "/run", "--overwrite", coffee]).status, 0)

        let taps = ["taps", Fixtures.mobilenet, "--input", coffee, "--output", dir + "/taps"]
        XCTAssertEqual(try lafam(taps).status, 0)
        try expectFailure(taps, ["logits.npy", "already exists", "--overwrite"])
        XCTAssertEqual(try lafam(taps + ["--overwrite"]).status, 0)

        let data = try makeEvalDataset(in: dir + "/data")
        let table = dir + "/table.md"
        try "mine".write(toFile: table, atomically: true, encoding: .utf8)
        let eval = ["eval", "--dataset", data, "--limit", "1", "--output", dir + "/results.csv", "--markdown", table]
        try expectFailure(eval, ["table.md", "already exists", "--overwrite"])
        XCTAssertFalse(FileManager.default.fileExists(atPath: dir + "/results.csv"), "refused before any work")
        XCTAssertEqual(try String(contentsOfFile: table, encoding: .utf8), "mine")
        XCTAssertEqual(try lafam(eval + ["--overwrite"]).status, 0)
        XCTAssertNotEqual(try String(contentsOfFile: table, encoding: .utf8), "mine")

        try "x".write(toFile: dir + "/all.csv", atomically: true, encoding: .utf8)
        let merge = ["eval", "--merge", "--output", dir + "/all.csv", dir + "/results.csv"]
        try expectFailure(merge, ["all.csv", "already exists", "--overwrite"])
        XCTAssertEqual(try lafam(merge + ["--overwrite"]).status, 0)
        try expectFailure(["eval", "--merge", "--overwrite", "--output", dir + "/results.csv", dir + "/results.csv"], ["one of the files to merge"])
    }

    /// --json everywhere parses, with the documented camelCase keys.
    func testJSONOfEveryCommandHasTheDocumentedCamelCaseKeys() throws {
        let dir = try temporaryFolder()
        func object(_ args: [String]) throws -> [String: Any] {
            let r = try lafam(args)
            XCTAssertEqual(r.status, 0, r.stderr)
            return try JSONSerialization.jsonObject(with: Data(r.stdout.utf8)) as! [String: Any]
        }
        func keys(_ value: Any) -> [String] {
            if let d = value as? [String: Any] { return d.keys + d.values.flatMap(keys) }
            if let a = value as? [Any] { return a.flatMap(keys) }
            return []
        }
        let run = try object(["run", "--json", "--output", dir + "/run", "--method", "gradcam", "--npy", coffee])
        XCTAssertEqual(Set(run.keys), ["command", "lafamVersion", "date", "model", "options", "images", "seconds", "labels"])
        let image = (run["images"] as! [[String: Any]])[0]
        XCTAssertEqual(image["input"] as? String, coffee)
        let top = ((image["predictions"] as! [[String: Any]])[0]["top"] as! [[String: Any]])[0]
        XCTAssertEqual(top["class"] as? Int, 967)
        XCTAssertEqual(top["name"] as? String, "espresso")
        let map = (image["maps"] as! [[String: Any]])[0]
        XCTAssertEqual(map["method"] as? String, "gradcam")
        XCTAssertEqual(map["classes"] as? [Int], [967])
        let files = map["files"] as! [String: String]
        XCTAssertEqual(Set(files.keys), ["png", "npy", "raw"])
        XCTAssertTrue(files.values.allSatisfy { FileManager.default.fileExists(atPath: $0) })

        let bench = try object(["bench", "--json", "--runs", "2", "--warmup", "0"])
        for key in ["minMs", "medianMs", "maxMs", "peakRssMb", "batch", "runs", "threads", "blasCore"] {
            XCTAssertNotNil(bench[key], key)
        }
        let inspect = try object(["inspect", "--json"])
        XCTAssertNotNil(inspect["convNodes"])
        let data = try makeEvalDataset(in: dir + "/data")
        let eval = try object(["eval", "--json", "--dataset", data, "--limit", "2", "--output", dir + "/r.csv"])
        XCTAssertEqual(eval["rows"] as? Int, 2)
        let group = (eval["groups"] as! [[String: Any]])[0]
        XCTAssertEqual(group["method"] as? String, "lafam")
        let pointing = (group["metrics"] as! [String: Any])["pointing_game"] as? [String: Any]
        XCTAssertNotNil(pointing?["halfWidth95"])
        for (name, o) in [("run", run), ("bench", bench), ("inspect", inspect), ("eval", eval)] {
            // Metric names are the CSV's column names, data rather than keys of the format.
            let formatKeys = keys(o).filter { !LocalisationMetrics.names.contains($0) }
            XCTAssertEqual(formatKeys.filter { $0.contains("_") || $0.contains("-") }, [], name)
        }
    }

    /// Usage errors exit 2, runtime errors 1, each with one line; inapplicable options warn.
    func testExitCodesAndWarnings() throws {
        let dir = try temporaryFolder()
        for args in [["run", "--no-such-option"], ["run", "--alpha", "2"], ["run", "--method", "magic"], ["eval"]] {
            let r = try lafam(args)
            XCTAssertEqual(r.status, 2, args.joined(separator: " ") + ": " + r.stderr)
            XCTAssertEqual(r.stderr.split(separator: "\n").count, 1, r.stderr)
            XCTAssertTrue(r.stderr.hasPrefix("Error: ") && r.stderr.contains("--help"), r.stderr)
        }
        let missing = try lafam(["inspect", dir + "/missing.onnx"])
        XCTAssertEqual(missing.status, 1)
        let w = try lafam(["run", "--output", dir + "/w", "--class", "espresso", "--reduction", "relu-mean", "--masks", "10",
                           "--method", "gradcam", coffee])
        XCTAssertEqual(w.status, 0, w.stderr)
        XCTAssertTrue(w.stderr.contains("warning: --reduction does not apply to gradcam"), w.stderr)
        XCTAssertTrue(w.stderr.contains("warning: RELAX options does not apply"), w.stderr)
        XCTAssertFalse(w.stderr.contains("--class does not apply"), w.stderr)
        let bench = try lafam(["bench", "--runs", "1", "--warmup", "0", "--relax-masks", "5"])
        XCTAssertEqual(bench.status, 0, bench.stderr)
        XCTAssertTrue(bench.stderr.contains("warning: --relax-masks and --relax-batch do not apply"), bench.stderr)
        let relax = try lafam(["run", "--output", dir + "/r", "--method", "relax", "--masks", "20", "--node", "/features/conv.2", coffee])
        XCTAssertEqual(relax.status, 0, relax.stderr)
        XCTAssertTrue(relax.stderr.contains("warning: --node does not apply to relax"), relax.stderr)
        XCTAssertTrue(relax.stdout.contains("relax at /GlobalAveragePool_output_0"), "--node is not the embedding: \(relax.stdout)")
    }

    /// inspect lists a vision transformer's token tensors with their grid and marks the default
    /// target; run explains it there.
    func testInspectAndRunOnAVisionTransformer() throws {
        let vit = Fixtures.path("models/tiny_vit.onnx")
        let r = try lafam(["inspect", "--json", vit])
        XCTAssertEqual(r.status, 0, r.stderr)
        let object = try JSONSerialization.jsonObject(with: Data(r.stdout.utf8)) as! [String: Any]
        let tokens = object["tokenTensors"] as! [[String: Any]]
        XCTAssertEqual(tokens.count, 9, "ln_1, residual, ln_2, residual per block, and the final norm")
        XCTAssertEqual(tokens[0]["grid"] as? [Int], [4, 4])
        XCTAssertEqual(tokens[0]["skip"] as? Int, 1)
        XCTAssertEqual((object["defaultTarget"] as! [String: Any])["tensor"] as? String,
                       "/encoder/layers/encoder_layer_1/ln_1/LayerNormalization_output_0")
        let text = try lafam(["inspect", vit])
        XCTAssertTrue(text.stdout.contains("9 token tensors, LayerNorm and residual outputs"), text.stdout)
        XCTAssertTrue(text.stdout.contains("grid 4×4, 1 token skipped"), text.stdout)
        let dir = try temporaryFolder()
        let run = try lafam(["run", "-m", vit, "--output", dir, "--method", "lafam", "--method", "gradcam", "--size", "32", coffee])
        XCTAssertEqual(run.status, 0, run.stderr)
        XCTAssertTrue(run.stdout.contains("lafam at /encoder/layers/encoder_layer_1/ln_1/LayerNormalization_output_0"), run.stdout)
        let options = try lafam(["run", "-m", vit, "--output", dir, "--reduction", "centered-relu-mean", "--scale-quantile", "0.99",
                                 "--tokens", "grid=3x4,skip=5", "--npy", coffee])
        XCTAssertEqual(options.status, 0, options.stderr)
        let raw = try NPYArray.read(path: dir + "/coffee.lafam.centered-relu-mean.q0.99.tokens-3x4-skip5.raw.npy")
        XCTAssertEqual(raw.shape, [3, 4], "the given grid, not the graph's 4×4")
        let bad = try lafam(["run", "-m", vit, "--output", dir, "--tokens", "grid=3", coffee])
        XCTAssertEqual(bad.status, 2, bad.stderr)
    }

    /// inspect says which task it read from the graph and why; --task overrides it and says so.
    func testInspectSaysTheTaskAndTaskOverridesIt() throws {
        let text = try lafam(["inspect", Fixtures.path("models/tiny_detector.onnx")])
        XCTAssertEqual(text.status, 0, text.stderr)
        XCTAssertTrue(text.stdout.contains("task      detect: output output0 [N, 6, 1024] holds 6 box and score rows for each of 1024 candidates"), text.stdout)
        let r = try lafam(["inspect", "--json", "--task", "embed", Fixtures.mobilenet])
        XCTAssertEqual(r.status, 0, r.stderr)
        let task = (try JSONSerialization.jsonObject(with: Data(r.stdout.utf8)) as! [String: Any])["task"] as! [String: Any]
        XCTAssertEqual(task["task"] as? String, "embed")
        XCTAssertEqual(task["outputs"] as? [String], ["logits"])
        XCTAssertTrue((task["reason"] as? String ?? "").hasPrefix("given with --task (the graph reads as classify: "), "\(task)")
        let bad = try lafam(["inspect", "--task", "caption", Fixtures.mobilenet])
        XCTAssertEqual(bad.status, 2, bad.stderr)
    }

    /// run by task: a segmenter's class over its pixels (or a region) and the pixel shares, an
    /// embedding's similarity to a reference and its norm, --class refused on an embedding,
    /// --reference off one, and a detector's detections explained one by one (or the one a box
    /// picks), label-free maps as ever.
    func testRunExplainsWhatTheTaskMeans() throws {
        let dir = try temporaryFolder()
        let segmenter = Fixtures.path("models/torch_segmenter.onnx")
        let seg = try lafam(["run", "-m", segmenter, "--method", "gradcam", "--class", "0", "--size", "32", "--json", "--output", dir, coffee])
        XCTAssertEqual(seg.status, 0, seg.stderr)
        let image = ((try JSONSerialization.jsonObject(with: Data(seg.stdout.utf8)) as! [String: Any])["images"] as! [[String: Any]])[0]
        XCTAssertEqual(image["task"] as? String, "segment")
        XCTAssertEqual((image["maps"] as! [[String: Any]])[0]["classes"] as? [Int], [0])
        XCTAssertEqual((image["maps"] as! [[String: Any]])[0]["target"] as? String, "/body/body.3/Relu_output_0", "the classifier's input")
        let shares = ((image["pixels"] as! [[String: Any]])[0]["classes"] as! [[String: Any]]).map { $0["share"] as! Double }
        XCTAssertEqual(shares.reduce(0, +), 1, accuracy: 1e-9, "the five largest of at most four classes cover every pixel")

        // --region: the left half of the photo; the figure outlines it.
        let photo = try ImageIO.readImage(path: coffee)
        var half = RGBImage(width: photo.width, height: photo.height)
        for y in 0..<photo.height { for x in 0..<(photo.width / 2) { half[x, y] = (255, 255, 255) } }
        try ImageIO.write(half, to: dir + "/left.png")
        let region = try lafam(["run", "-m", segmenter, "--method", "gradcam", "--class", "1", "--region", dir + "/left.png", "--size", "32", "--plain",
                                "--output", dir, coffee])
        XCTAssertEqual(region.status, 0, region.stderr)
        let figure = try ImageIO.readImage(path: dir + "/coffee.gradcam.class-1.region-left.plain.png")
        let magenta = (0..<figure.height).flatMap { y in (0..<figure.width).map { x in figure[x, y] } }.filter { $0 == (255, 0, 255) }.count
        XCTAssertGreaterThan(magenta, figure.height, "the region's boundary is drawn")
        try expectFailure(["run", "--method", "gradcam", "--region", dir + "/left.png", "--output", dir, coffee], ["--region selects pixels of a segmenter"])

        let embedder = Fixtures.path("models/torch_embedder.onnx")
        let similar = try lafam(["run", "-m", embedder, "--method", "gradcam", "--reference", chelsea, "--size", "32", "--output", dir, coffee])
        XCTAssertEqual(similar.status, 0, similar.stderr)
        XCTAssertTrue(FileManager.default.fileExists(atPath: dir + "/coffee.gradcam.vs-chelsea.png"), similar.stdout)
        XCTAssertTrue(FileManager.default.fileExists(atPath: dir + "/chelsea.gradcam.vs-coffee.png"), "written for both images: \(similar.stdout)")
        XCTAssertTrue(similar.stdout.contains("coffee embedding output: 6 values, norm 1"), similar.stdout)
        let relax = try lafam(["run", "-m", embedder, "--method", "relax", "--masks", "20", "--mask-batch", "10", "--size", "32", "--json",
                               "--output", dir, coffee])
        XCTAssertEqual(relax.status, 0, relax.stderr)
        let relaxMap = (((try JSONSerialization.jsonObject(with: Data(relax.stdout.utf8)) as! [String: Any])["images"] as! [[String: Any]])[0]["maps"]
            as! [[String: Any]])[0]
        XCTAssertEqual(relaxMap["target"] as? String, "output", "RELAX compares the model's embedding")
        try expectFailure(["run", "-m", embedder, "--method", "gradcam", "--class", "3", "--size", "32", "--output", dir, coffee],
                          ["--class", "is an embedding model", "L2-normalised", "--reference IMAGE"])
        try expectFailure(["run", "--method", "gradcam", "--reference", chelsea, "--output", dir, coffee],
                          ["--reference compares embeddings", "classify model", "--task embed"])

        let detector = Fixtures.path("models/torch_detector.onnx")
        let detected = try lafam(["run", "-m", detector, "--method", "gradcam", "--detections", "2", "--score-threshold", "0", "--json",
                                  "--output", dir, coffee])
        XCTAssertEqual(detected.status, 0, detected.stderr)
        let records = (try JSONSerialization.jsonObject(with: Data(detected.stdout.utf8)) as! [String: Any])["images"] as! [[String: Any]]
        XCTAssertEqual(records.count, 2, "one record per detection")
        let boxes = records.map { ($0["detection"] as! [String: Any])["box"] as! [Double] }
        XCTAssertTrue(FileManager.default.fileExists(atPath: dir + "/coffee.det-2.gradcam.png"))
        let scores = records.map { ($0["detection"] as! [String: Any])["score"] as! Double }
        XCTAssertGreaterThanOrEqual(scores[0], scores[1], "best first")
        // --box picks the detection overlapping it most: the second one's box gives the second one.
        let chosen = try lafam(["run", "-m", detector, "--method", "gradcam", "--score-threshold", "0", "--json", "--overwrite",
                                "--box", boxes[1].map { String($0) }.joined(separator: ","), "--output", dir, coffee])
        XCTAssertEqual(chosen.status, 0, chosen.stderr)
        let one = (try JSONSerialization.jsonObject(with: Data(chosen.stdout.utf8)) as! [String: Any])["images"] as! [[String: Any]]
        XCTAssertEqual(one.count, 1)
        XCTAssertEqual((one[0]["detection"] as! [String: Any])["box"] as? [Double], boxes[1])
        try expectFailure(["run", "-m", detector, "--method", "gradcam", "--score-threshold", "1.5", "--output", dir, coffee],
                          ["no detection scores 1.5 or more", "--score-threshold"])
        try expectFailure(["run", "--method", "gradcam", "--box", "1,2,3,4", "--output", dir, coffee], ["--box chooses a detection"])
        for (args, fragment) in [(["--detections=-1"], "--detections must be at least 1"), (["--detections", "0"], "--detections must be at least 1"),
                                 (["--box", "4,2,3"], "is not x0,y0,x1,y1"), (["--box", "1,2,nan,4"], "is not x0,y0,x1,y1"),
                                 (["--score-threshold", "nan"], "--score-threshold must be a finite number")] {
            let bad = try lafam(["run", "-m", detector, "--method", "gradcam", "--output", dir, coffee] + args)
            XCTAssertEqual(bad.status, 2, "\(args): \(bad.stderr)")
            XCTAssertTrue(bad.stderr.contains(fragment), "\(args): \(bad.stderr)")
        }
        let pair = Fixtures.path("models/torch_pair_detector.onnx")
        let named = try lafam(["run", "-m", pair, "--method", "gradcam", "--boxes", "boxes", "--scores", "scores", "--normalised-boxes", "--overwrite",
                               "--score-threshold", "0", "--detections", "1", "--json", "--output", dir, coffee])
        XCTAssertEqual(named.status, 0, named.stderr)
        let pairImages = (try JSONSerialization.jsonObject(with: Data(named.stdout.utf8)) as! [String: Any])["images"] as! [[String: Any]]
        let pairBox = (pairImages[0]["detection"] as! [String: Any])["box"] as! [Double]
        XCTAssertTrue(pairBox.allSatisfy { $0 > -64 && $0 < 128 }, "in pixels of the 64×64 input: \(pairBox)")
        try expectFailure(["run", "-m", pair, "--method", "gradcam", "--output", dir, coffee], ["--boxes and --scores"])
        try expectFailure(["run", "-m", pair, "--boxes", "boxes", "--output", dir, coffee], ["--boxes and --scores go together"])
        try expectFailure(["run", "-m", pair, "--boxes", "boxes", "--scores", "nothing", "--output", dir, coffee], ["'nothing' is not an output"])
        let label = try lafam(["run", "-m", Fixtures.path("models/tiny_detector.onnx"), "--output", dir, coffee])
        XCTAssertEqual(label.status, 0, label.stderr)

        // A grid head with real weights (MTCNN's P-Net): inspect says how it reads it, run finds
        // the astronaut's face and explains it.
        let pnet = Fixtures.path("models/mtcnn_pnet.onnx")
        let inspected = try lafam(["inspect", pnet])
        XCTAssertTrue(inspected.stdout.contains("head      grid of 12-pixel windows every 2 pixels"), inspected.stdout)
        let face = try lafam(["run", "-m", pnet, "--method", "gradcam", "--method", "lafam", "--size", "96", "--mean", "0.498", "--std", "0.502",
                              "--detections", "1", "--json", "--output", dir, Fixtures.repository + "/Models/samples/astronaut.jpg"])
        XCTAssertEqual(face.status, 0, face.stderr)
        let faceRecord = ((try JSONSerialization.jsonObject(with: Data(face.stdout.utf8)) as! [String: Any])["images"] as! [[String: Any]])[0]
        let faceDetection = faceRecord["detection"] as! [String: Any]
        XCTAssertEqual(faceDetection["class"] as? Int, 1, "the face channel, not the background")
        XCTAssertGreaterThan(faceDetection["score"] as? Double ?? 0, 0.9)
        let faceBox = faceDetection["box"] as! [Double]
        // The astronaut's face spans about x 30..50, y 10..32 of the 96×96 input.
        XCTAssertTrue(faceBox[0] > 25 && faceBox[2] < 55 && faceBox[1] > 5 && faceBox[3] < 37, "\(faceBox)")
    }

    /// --compare: both models' maps side by side per image with their agreement, in the JSON
    /// record too; options that name one model's tensors are refused.
    func testCompareTwoModels() throws {
        let dir = try temporaryFolder()
        let quantized = Fixtures.path("quantized/mobilenet_v2.qoperator.onnx")
        let r = try lafam(["run", "--method", "gradcam", "--method", "lafam", "--compare", quantized, "--json", "--output", dir, coffee])
        XCTAssertEqual(r.status, 0, r.stderr)
        let record = ((try JSONSerialization.jsonObject(with: Data(r.stdout.utf8)) as! [String: Any])["images"] as! [[String: Any]])[0]
        let comparison = record["compare"] as! [String: Any]
        XCTAssertEqual(comparison["topClass"] as? [Int], [967, 967])
        XCTAssertEqual(comparison["topClassAgrees"] as? Bool, true)
        let methods = comparison["methods"] as! [String: [String: Any]]
        for method in ["gradcam", "lafam"] {
            XCTAssertGreaterThan(methods[method]?["spearman"] as? Double ?? 0, 0.9, method)
            XCTAssertGreaterThan(methods[method]?["topOverlap"] as? Double ?? 0, 0.5, method)
        }
        XCTAssertEqual(methods["gradcam"]?["class"] as? Int, 967)
        XCTAssertTrue(FileManager.default.fileExists(atPath: dir + "/coffee.compare-mobilenet_v2.qoperator.png"))
        let bad = try lafam(["run", "--compare", quantized, "--node", "/features/features.18", "--output", dir, coffee])
        XCTAssertEqual(bad.status, 2, bad.stderr)
        XCTAssertTrue(bad.stderr.contains("--node cannot go with it"), bad.stderr)
        try expectFailure(["run", "--compare", Fixtures.path("models/tiny_detector.onnx"), "--output", dir, "--overwrite", coffee],
                          ["the models must take the same input"])
    }

    /// manifest.json records each run into the folder: version, model and its SHA-256, options, files.
    func testManifestRecordsEveryRun() throws {
        let dir = try temporaryFolder()
        XCTAssertEqual(try lafam(["run", "--output", dir, coffee]).status, 0)
        XCTAssertEqual(try lafam(["run", "--output", dir, "--method", "relax", "--masks", "20", "--seed", "3", chelsea]).status, 0)
        let manifest = try JSONSerialization.jsonObject(with: Data(contentsOf: URL(fileURLWithPath: dir + "/manifest.json"))) as! [String: Any]
        let runs = manifest["runs"] as! [[String: Any]]
        XCTAssertEqual(runs.count, 2)
        let model = runs[0]["model"] as! [String: Any]
        let sum = try run("/usr/bin/sha256sum", [Fixtures.mobilenet]).stdout.split(separator: " ").first.map(String.init)
        XCTAssertEqual(model["sha256"] as? String, sum)
        XCTAssertEqual(runs[0]["lafamVersion"] as? String, "0.1.0")
        let relax = (runs[1]["options"] as! [String: Any])["relax"] as! [String: Any]
        XCTAssertEqual(relax["seed"] as? Int, 3)
        XCTAssertEqual(relax["masks"] as? Int, 20)
        let written = ((runs[1]["images"] as! [[String: Any]])[0]["maps"] as! [[String: Any]])[0]["files"] as! [String: String]
        XCTAssertEqual(written["png"], dir + "/chelsea.relax.masks-20.seed-3.png")
        // A manifest.json that is not lafam's is never touched.
        let other = dir + "/other"
        try FileManager.default.createDirectory(atPath: other, withIntermediateDirectories: true)
        try "{\"mine\": true}".write(toFile: other + "/manifest.json", atomically: true, encoding: .utf8)
        try expectFailure(["run", "--output", other, coffee], ["manifest.json", "not a lafam manifest"])
        XCTAssertEqual(try FileManager.default.contentsOfDirectory(atPath: other), ["manifest.json"])
    }
}

/// The colour at (`x`, `y`) as [r, g, b], comparable in assertions.
private func pixel(_ image: RGBImage, _ x: Int, _ y: Int) -> [UInt8] { rgb(image[x, y]) }
private func rgb(_ c: (r: UInt8, g: UInt8, b: UInt8)) -> [UInt8] { [c.r, c.g, c.b] }
