import Foundation
@testable import Lafam
import LafamTestSupport
import XCTest

/// RELAX's estimators on a model whose true importance is known: an embedding that sees only
/// rows and columns 8..15 of a 32×32 image (Tests/Fixtures/models/relax_region.onnx).
final class RELAXTests: XCTestCase {
    let model = try! Model(path: Fixtures.path("models/relax_region.onnx"))
    let image: Tensor = {
        var rng = SplitMix64(seed: 11)
        return Tensor(uncheckedShape: [1, 3, 32, 32], floats: (0..<(3 * 32 * 32)).map { _ in 0.5 + rng.uniform() })
    }()

    func region(_ i: Int) -> Bool { (8..<16).contains(i / 32) && (8..<16).contains(i % 32) }

    func testImportanceLocalisesTheRegionTheEmbeddingSees() throws {
        for mode in RELAX.MaskMode.allCases {
            let e = try RELAX(mode: mode, masks: 2000, seed: 1).explain(image, model: model, target: "embedding")
            XCTAssertEqual(e.targetTensor, "embedding")
            let r = e.raw.floats
            let inside = r.indices.filter(region).map { r[$0] }, outside = r.indices.filter { !region($0) }.map { r[$0] }
            let meanIn = inside.reduce(0, +) / Float(inside.count), meanOut = outside.reduce(0, +) / Float(outside.count)
            let spread = outside.map { abs($0 - meanOut) }.reduce(0, +) / Float(outside.count)
            XCTAssertGreaterThan(meanIn - meanOut, 3 * spread, mode.rawValue)
            XCTAssertTrue(region(r.indices.max { r[$0] < r[$1] }!), "\(mode.rawValue): the most important pixel lies in the region")
            XCTAssertEqual(e.maps.floats.max()!, 1, accuracy: 1e-3)
            // U-RELAX keeps importance only where the uncertainty is at most its median.
            let u = e.extras["uncertainty"]!.floats, ur = e.extras["urelax"]!.floats
            let median = u.sorted()[u.count / 2 - 1]
            for i in u.indices { XCTAssertEqual(ur[i], u[i] <= median ? r[i] : 0) }
        }
    }

    func testEstimatesConvergeAsMasksGrow() throws {
        let reference = try RELAX(masks: 6000, seed: 99).explain(image, model: model, target: "embedding")
        func error(_ masks: Int, _ key: String?) throws -> Float {
            let e = try RELAX(masks: masks, seed: 5).explain(image, model: model, target: "embedding")
            let a = key.map { e.extras[$0]! } ?? e.raw, b = key.map { reference.extras[$0]! } ?? reference.raw
            return zip(a.floats, b.floats).map { abs($0 - $1) }.reduce(0, +) / Float(a.count)
        }
        XCTAssertLessThan(try error(2000, nil), 0.6 * (try error(150, nil)), "importance error shrinks with more masks")
        XCTAssertLessThan(try error(2000, "uncertainty"), 0.6 * (try error(150, "uncertainty")), "uncertainty settles with more masks")
    }

    func testMasksDependOnTheSeedAloneAndCanBeReplayed() throws {
        let a = try RELAX(masks: 230, batchSize: 100, seed: 4).explain(image, model: model, target: "embedding")
        let b = try RELAX(masks: 230, batchSize: 7, seed: 4).explain(image, model: model, target: "embedding")
        XCTAssertEqual(a.raw.floats, b.raw.floats)
        var generator = MaskGenerator(mode: .wickstrom, cells: 7, keep: 0.5, height: 32, width: 32, seed: 4)
        let masks = (0..<230).flatMap { _ in generator.next() }
        XCTAssertTrue(masks.allSatisfy { $0 >= 0 && $0 <= 1 })
        XCTAssertEqual(masks.reduce(0, +) / Float(masks.count), 0.5, accuracy: 0.05)
        let replayed = try RELAX(masks: 1, seed: 0, maskFile: Tensor(uncheckedShape: [230, 32, 32], floats: masks)).explain(image, model: model, target: "embedding")
        for (x, y) in zip(replayed.raw.floats, a.raw.floats) { XCTAssertEqual(x, y, accuracy: 1e-6) }
        var hard = MaskGenerator(mode: .lafamPaper, cells: 7, keep: 0.5, height: 32, width: 32, seed: 4)
        XCTAssertTrue(hard.next().allSatisfy { $0 == 0 || $0 == 1 })
        XCTAssertThrowsMessage(try RELAX(maskFile: Tensor(uncheckedShape: [2, 16, 16], repeating: 1)).explain(image, model: model, target: "embedding"),
                               contains: ["N×32×32"])
    }
}

/// RELAX against the reference package relax-xai 0.0.5 on the bundled MobileNetV2
/// (tools/fixtures/make_relax_fixtures.py): its 100 masks rebuilt from their grids and shifts, its
/// similarities, its importance.
final class RELAXParityTests: XCTestCase {
    func referenceMasks() throws -> Tensor {
        let grids = try Fixtures.tensor("relax/grids.npy").floats
        let shifts = try Fixtures.tensor("relax/shifts.npy").int64s
        var masks: [Float] = []
        for k in 0..<100 {
            let grid = Tensor(uncheckedShape: [1, 7, 7], floats: Array(grids[(k * 49)..<((k + 1) * 49)]))
            masks += MaskGenerator.smoothMask(grid: grid, height: 224, width: 224, top: Int(shifts[2 * k]), left: Int(shifts[2 * k + 1]))
        }
        return Tensor(uncheckedShape: [100, 224, 224], floats: masks)
    }

    func testMasksAreRebuiltExactly() throws {
        let masks = try referenceMasks().floats
        let four = try Fixtures.tensor("relax/masks4.npy").floats
        XCTAssertLessThanOrEqual(maxAbsDifference(Array(masks[0..<four.count]), four), 1e-6)
    }

    func testEstimatorsOnTheReferenceMasksAndSimilarities() throws {
        let masks = try referenceMasks().floats
        let similarities = try Fixtures.tensor("relax/similarities.npy").floats
        var estimator = RELAXEstimator(pixels: 224 * 224)
        for k in 0..<100 { estimator.add(mask: masks[(k * 50176)..<((k + 1) * 50176)], similarity: Double(similarities[k])) }
        XCTAssertLessThanOrEqual(maxAbsDifference(estimator.importance, try Fixtures.tensor("relax/importance.npy").floats), 1e-5)
        // relax-xai keeps Σ m·(s − R)² undivided; lafam's U is that divided by Σ m.
        let theirs = try Fixtures.tensor("relax/uncertainty.npy").floats
        let ours = zip(estimator.uncertainty, estimator.weights).map { $0 * $1 }
        XCTAssertLessThanOrEqual(maxAbsDifference(ours, theirs) / theirs.max()!, 1e-5)
    }

    func testReplayingTheMasksThroughTheModelGivesTheReferenceImportance() throws {
        let model = try Model(path: Fixtures.mobilenet)
        let x = try Fixtures.tensor("mobilenet_v2/coffee.input.npy")
        let e = try RELAX(batchSize: 50, maskFile: try referenceMasks()).explain(x, model: model, target: nil)
        XCTAssertEqual(e.targetTensor, "/GlobalAveragePool_output_0")
        XCTAssertLessThanOrEqual(maxAbsDifference(e.raw.floats, try Fixtures.tensor("relax/importance.npy").floats), 1e-5)
    }
}
