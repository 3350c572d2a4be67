@testable import LafamOps
import LafamRuntime
import LafamTestSupport
import Foundation
import XCTest

/// Erf and exact GELU use a rational approximation (`erfApproximation`, fitted by
/// tools/fixtures/fit_erf.py) instead of glibc's erff: it must stay within 4e-7 relative error of the
/// double-precision erf everywhere, keep erf's symmetry, and pass NaN and infinities through.
final class ErfApproximationTests: XCTestCase {
    func testRelativeErrorBelowFourTenMillionths() {
        var worst = 0.0, worstX: Float = 0
        var samples: [Float] = stride(from: Float(-6), through: 6, by: 1e-4).map { $0 }
        samples += (-30...0).flatMap { e in [Float(pow(10, Double(e))), Float(3 * pow(10, Double(e)))] }
        for x in samples where x != 0 {
            let reference = Foundation.erf(Double(x))
            let error = Swift.abs(Double(erfApproximation(x)) - reference) / Swift.abs(reference)
            if error > worst { (worst, worstX) = (error, x) }
            XCTAssertEqual(erfApproximation(-x), -erfApproximation(x), "odd at \(x)")
        }
        XCTAssertLessThan(worst, 4e-7, "worst at x = \(worstX)")
    }

    func testSpecialValues() {
        XCTAssertEqual(erfApproximation(0), 0)
        XCTAssertEqual(erfApproximation(-0.0 as Float).sign, .minus)
        XCTAssertEqual(erfApproximation(.infinity), 1)
        XCTAssertEqual(erfApproximation(-.infinity), -1)
        XCTAssertEqual(erfApproximation(1e30), 1)
        XCTAssertTrue(erfApproximation(.nan).isNaN)
        XCTAssertEqual(erfApproximation(.leastNonzeroMagnitude), .leastNonzeroMagnitude * 1.1283791)
    }
}
