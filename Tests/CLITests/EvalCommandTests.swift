import Foundation
import LafamTestSupport
import Lafam
import LafamEvaluation
import LafamImaging
import XCTest

/// `lafam eval` end to end on a tiny annotated set made here: resuming, sharding and merging,
/// empty masks counted apart, and its errors.
final class EvalCommandTests: CLITestCase {
    func makeDataset() throws -> String { try makeEvalDataset(in: try temporaryFolder()) }

    /// --compare: per image and method, the agreement with a second model (here the bundled
    /// model's int8 QOperator deployment) in <output>.compare.csv and the summary.
    func testEvalComparesTwoModels() throws {
        let data = try makeDataset()
        let out = data + "/results.csv"
        let r = try lafam(["eval", "--dataset", data, "--method", "gradcam", "--method", "lafam", "--output", out, "--json",
                           "--compare", Fixtures.path("quantized/mobilenet_v2.qoperator.onnx")])
        XCTAssertEqual(r.status, 0, r.stderr)
        let comparison = (try JSONSerialization.jsonObject(with: Data(r.stdout.utf8)) as! [String: Any])["comparison"] as! [String: Any]
        let methods = comparison["methods"] as! [[String: Any]]
        XCTAssertEqual(methods.map { $0["method"] as? String }, ["gradcam", "lafam"])
        for m in methods {
            XCTAssertEqual(m["images"] as? Int, 3)
            XCTAssertGreaterThan((m["spearman"] as! [String: Any])["mean"] as! Double, 0.8)
            XCTAssertEqual(m["topClassAgreement"] as? Double ?? 0, 2.0 / 3, accuracy: 1e-9, "int8 turns chelsea's Egyptian cat into a tiger cat")
        }
        let csv = try String(contentsOfFile: data + "/results.compare.csv", encoding: .utf8).split(separator: "\n")
        XCTAssertEqual(csv.first, "image,method,spearman,top10_overlap,top_class,other_top_class")
        XCTAssertEqual(csv.count, 7)
        let again = try lafam(["eval", "--dataset", data, "--output", out, "--compare", Fixtures.path("quantized/mobilenet_v2.qoperator.onnx")])
        XCTAssertEqual(again.status, 1, "the comparison file exists: refused without --overwrite")
        XCTAssertTrue(again.stderr.contains("results.compare.csv' already exists"), again.stderr)
    }

    func testEvalWritesRowsResumesShardsAndMerges() throws {
        let data = try makeDataset()
        let out = data + "/results.csv"
        let first = try lafam(["eval", "--dataset", data, "--method", "lafam", "--method", "eigencam", "--output", out, "--markdown", data + "/table.md"])
        XCTAssertEqual(first.status, 0, first.stderr)
        let rows = try ResultsFile.read(out)
        XCTAssertEqual(rows.count, 6)
        XCTAssertEqual(Set(rows.map(\.method)), ["lafam", "eigencam"])
        let coffee = rows.first { $0.image == "coffee" && $0.method == "lafam" }!
        XCTAssertEqual(coffee.predictedClass, 967)
        for name in LocalisationMetrics.names { XCTAssertFalse(coffee.metrics[name]!.isNaN, name) }
        XCTAssertTrue(rows.first { $0.image == "rocket" }!.metrics["auc"]!.isNaN, "an empty mask gives NaN")
        XCTAssertTrue(first.stdout.contains("| lafam | default | 3 |"), first.stdout)
        XCTAssertTrue(first.stdout.contains("(1 n/a)"), first.stdout)
        XCTAssertTrue(try String(contentsOfFile: data + "/table.md", encoding: .utf8).contains("Pointing-Game"))

        let again = try lafam(["eval", "--dataset", data, "--method", "lafam", "--method", "eigencam", "--output", out])
        XCTAssertTrue(again.stdout.contains("(0 new)"), again.stdout)
        XCTAssertEqual(try ResultsFile.read(out).count, 6)

        for i in 0..<2 {
            let r = try lafam(["eval", "--list", data + "/index.csv", "--shard", "\(i)/2", "--output", "\(data)/shard\(i).csv"])
            XCTAssertEqual(r.status, 0, r.stderr)
        }
        XCTAssertEqual(try ResultsFile.read(data + "/shard0.csv").map(\.image), ["coffee", "rocket"])
        let merged = try lafam(["eval", "--merge", "--output", data + "/all.csv", data + "/shard0.csv", data + "/shard1.csv"])
        XCTAssertEqual(merged.status, 0, merged.stderr)
        XCTAssertEqual(Set(try ResultsFile.read(data + "/all.csv").map(\.image)), ["coffee", "chelsea", "rocket"])
        try expectFailure(["eval", "--merge", "--output", data + "/all.csv", data + "/shard0.csv"], ["already exists"])
        try expectFailure(["eval", "--dataset", data, "--shard", "2/2", "--output", data + "/x.csv"], ["--shard"])
        try expectFailure(["eval", "--dataset", data + "/nope", "--output", data + "/x.csv"], ["neither index.csv"])
        try expectFailure(["eval", "--dataset", data, "--output", data + "/table.md"], ["not a lafam eval results file"])
    }

    /// The CI subset of the bundled evaluation set (Models/evalset/ci-subset.csv).
    func testEvalOnTheBundledSubset() throws {
        let dir = try temporaryFolder()
        let r = try lafam(["eval", "--list", Fixtures.repository + "/Models/evalset/ci-subset.csv", "--method", "lafam",
                           "--method", "gradcam", "--output", dir + "/ci.csv"])
        XCTAssertEqual(r.status, 0, r.stderr)
        let rows = try ResultsFile.read(dir + "/ci.csv")
        XCTAssertEqual(rows.count, 24)
        XCTAssertTrue(rows.allSatisfy { row in LocalisationMetrics.names.allSatisfy { !(row.metrics[$0]!.isNaN) } })
        print(r.stdout)
    }
}

/// A map the metrics refuse is reported with its image and kept as an undefined row.
final class EvaluationWarningTests: CLITestCase {
    func testConstantMapsAreNamedAndCountedApart() throws {
        let dir = try temporaryFolder()
        try ImageIO.write(RGBImage(width: 32, height: 32), to: dir + "/black.png")
        var mask = RGBImage(width: 32, height: 32)
        for i in stride(from: 0, to: mask.pixels.count / 2, by: 1) { mask.pixels[i] = 255 }
        try ImageIO.write(mask, to: dir + "/mask.png")
        let model = try Model(path: Fixtures.path("models/relax_region.onnx"))
        var evaluation = Evaluation(model: model, methods: [SaliencyMethod(.lafam)], nodes: [],
                                    preprocessing: Preprocessing(width: 32, height: 32, mean: [0], std: [1]))
        var warnings: [String] = []
        evaluation.warn = { warnings.append($0) }
        let rows = try evaluation.evaluate(EvalItem(id: "black", image: dir + "/black.png", mask: dir + "/mask.png"))
        XCTAssertEqual(rows.count, 1)
        XCTAssertTrue(rows[0].metrics.values.allSatisfy(\.isNaN))
        XCTAssertEqual(warnings.count, 1)
        XCTAssertTrue(warnings[0].contains("black.png") && warnings[0].contains("constant"), warnings[0])
    }
}

/// A tiny annotated set in `dir`: coffee and chelsea with a central box mask, rocket with an empty mask.
func makeEvalDataset(in dir: String) throws -> String {
    try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
    try FileManager.default.createDirectory(atPath: dir + "/images", withIntermediateDirectories: true)
    try FileManager.default.createDirectory(atPath: dir + "/masks", withIntermediateDirectories: true)
    var lines = ["id,image,mask"]
    for (k, stem) in ["coffee", "chelsea", "rocket"].enumerated() {
        let photo = try ImageIO.readImage(path: Fixtures.repository + "/Models/samples/\(stem).jpg")
        try ImageIO.write(photo, to: "\(dir)/images/\(stem).jpg")
        var mask = RGBImage(width: photo.width, height: photo.height)
        // A central box for the first two; an empty mask for the third.
        if k < 2 {
            for y in (photo.height / 4)..<(3 * photo.height / 4) {
                for x in (photo.width / 3)..<(2 * photo.width / 3) {
                    let i = 3 * (y * photo.width + x)
                    mask.pixels[i] = 255; mask.pixels[i + 1] = 255; mask.pixels[i + 2] = 255
                }
            }
        }
        try ImageIO.write(mask, to: "\(dir)/masks/\(stem).png")
        lines.append("\(stem),images/\(stem).jpg,masks/\(stem).png")
    }
    try (lines.joined(separator: "\n") + "\n").write(toFile: dir + "/index.csv", atomically: true, encoding: .utf8)
    return dir
}
