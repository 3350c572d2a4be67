import Foundation
import Lafam
import LafamTestSupport
import LafamImaging
import XCTest

/// The localisation metrics against Quantus 0.6.0 (tools/fixtures/make_metric_fixtures.py): PointingGame,
/// AUC, RMA, AttributionLocalisation and Sparseness within 1e-6; TopK and RRA exactly where no
/// tie straddles the cut, and otherwise equal to the ascending-index rule and within the range
/// any tie order can give (which contains Quantus's own value).
final class MetricsTests: XCTestCase {
    static let root = Fixtures.path("metrics")
    nonisolated(unsafe) static let cases = (try! JSONSerialization.jsonObject(with: Data(contentsOf: URL(fileURLWithPath: root + "/cases.json"))) as! [String: Any])["cases"] as! [[String: Any]]

    func load(_ c: [String: Any]) throws -> ([Float], [Bool]) {
        var a = try NPYArray.read(path: Self.root + "/" + (c["a"] as! String)).asFloats()
        if let factor = c["a_upsample_nearest"] as? Int {
            let cells = Int(Double(a.count).squareRoot()), side = cells * factor
            a = (0..<(side * side)).map { a[(($0 / side) / factor) * cells + ($0 % side) / factor] }
        }
        let s = try NPYArray.read(path: Self.root + "/" + (c["s"] as! String)).asFloats().map { $0 != 0 }
        return (a, s)
    }

    func ours(_ key: String, _ a: [Float], _ s: [Bool]) throws -> Double? {
        switch key {
        case "PointingGame": return LocalisationMetrics.pointingGame(a, mask: s)
        case "TopKIntersection": return try LocalisationMetrics.topKIntersection(a, mask: s, k: 1000, ties: .firstPixelFirst)
        case "RelevanceRankAccuracy": return LocalisationMetrics.relevanceRankAccuracy(a, mask: s, ties: .firstPixelFirst)
        case "RelevanceMassAccuracy": return LocalisationMetrics.relevanceMassAccuracy(a, mask: s)
        case "AttributionLocalisation": return LocalisationMetrics.attributionLocalisation(a, mask: s)
        case "AUC": return LocalisationMetrics.auc(a, mask: s)
        case "Sparseness": return LocalisationMetrics.sparseness(a)
        default:
            if key.hasPrefix("TopKIntersection(k="), let k = Int(key.dropFirst(19).dropLast()) {
                return try LocalisationMetrics.topKIntersection(a, mask: s, k: k, ties: .firstPixelFirst)
            }
            return nil // parameter variants lafam does not offer (e.g. normalise=False)
        }
    }

    func testEveryMetricAgreesWithQuantus() throws {
        var compared = 0
        for c in Self.cases {
            let name = c["name"] as! String
            let (a, s) = try load(c)
            let results = c["results"] as! [String: [String: Any]]
            let ties = c["ties"] as? [String: [String: Any]] ?? [:]
            for (key, r) in results.sorted(by: { $0.key < $1.key }) {
                let label = "\(name) \(key)"
                let supported = ["PointingGame", "TopKIntersection", "RelevanceRankAccuracy", "RelevanceMassAccuracy",
                                 "AttributionLocalisation", "AUC", "Sparseness"].contains(key) || key.hasPrefix("TopKIntersection(k=")
                guard supported else { continue }
                if let exception = r["exception"] as? [String: Any] {
                    // Quantus refuses constant/negative maps and k ≥ pixels; lafam refuses the same inputs.
                    XCTAssertThrowsError(try { try LocalisationMetrics.validate(a, s); _ = try ours(key, a, s) }(), "\(label): Quantus raised \(exception["type"]!)")
                    compared += 1
                    continue
                }
                guard let value = try ours(key, a, s) else { continue }
                if (!s.contains(true) && key != "Sparseness") || (r["nan"] as? Bool) == true {
                    XCTAssertTrue(value.isNaN, "\(label): expected NaN (empty mask or undefined)")
                    compared += 1
                    continue
                }
                let expected = (r["value"] as! NSNumber).doubleValue
                if let t = ties[key], t["cut_splits_a_tie"] as? Bool == true {
                    XCTAssertEqual(value, (t["stable_ascending_index"] as! NSNumber).doubleValue, accuracy: 1e-12, label)
                    let (lo, hi) = ((t["min"] as! NSNumber).doubleValue, (t["max"] as! NSNumber).doubleValue)
                    XCTAssertTrue(lo <= expected && expected <= hi, label)
                    XCTAssertLessThanOrEqual(abs(value - expected), hi - lo + 1e-12, label)
                } else if key.hasPrefix("TopK") || key.hasPrefix("RelevanceRank") {
                    XCTAssertEqual(value, expected, accuracy: 1e-12, label)
                } else {
                    XCTAssertEqual(value, expected, accuracy: 1e-6, label)
                }
                compared += 1
            }
        }
        XCTAssertGreaterThan(compared, 120)
    }

    /// The 4×4 example worked by hand in tools/fixtures/make_metric_fixtures.py.
    func testWorkedExample() throws {
        let c = Self.cases.first { $0["name"] as? String == "worked_4x4" }!
        let (a, s) = try load(c)
        XCTAssertEqual(LocalisationMetrics.pointingGame(a, mask: s), 1)
        XCTAssertEqual(LocalisationMetrics.relevanceRankAccuracy(a, mask: s, ties: .firstPixelFirst), 0.8, accuracy: 1e-12)
        XCTAssertEqual(LocalisationMetrics.relevanceMassAccuracy(a, mask: s), 23.0 / 31.0, accuracy: 1e-9)
        XCTAssertEqual(LocalisationMetrics.auc(a, mask: s), 54.0 / 55.0, accuracy: 1e-12)
        XCTAssertEqual(try LocalisationMetrics.topKIntersection(a, mask: s, k: 5, ties: .firstPixelFirst), 0.8, accuracy: 1e-12)
    }
}
