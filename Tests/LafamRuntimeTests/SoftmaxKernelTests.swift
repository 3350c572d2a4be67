import CKernels
import LafamRuntime
@testable import LafamOps
import LafamTestSupport
import XCTest

/// The AVX2 softmax kernel against a float64 softmax: within 1e-6 relative on rows of every
/// length class (shorter than, a multiple of and past 8 lanes), with values far below the row's
/// maximum (exp underflow) and rows holding NaN or ±∞ treated as the scalar rule treats them.
final class SoftmaxKernelTests: XCTestCase {
    func reference(_ row: [Float]) -> [Float] {
        let m = Double(row.max()!)
        let e = row.map { Foundation.exp(Double($0) - m) }
        let sum = e.reduce(0, +)
        return e.map { Float($0 / sum) }
    }

    func testMatchesFloat64Softmax() throws {
        try XCTSkipUnless(cpuHasAVX2FMA, "this CPU has no AVX2/FMA; the portable softmax runs here")
        var rng = SplitMix64(seed: 11)
        for length in [1, 3, 8, 13, 49, 197] {
            var rows = (0..<(3 * length)).map { _ in rng.normal() * 6 }
            rows[0] = -200  // underflows to 0
            let expected = (0..<3).flatMap { reference(Array(rows[($0 * length)..<(($0 + 1) * length)])) }
            rows.withUnsafeMutableBufferPointer { lafam_softmax_rows($0.baseAddress!, 3, length) }
            for (got, want) in zip(rows, expected) { XCTAssertEqual(got, want, accuracy: 1e-6 * max(want, 1e-30) + 1e-12, "length \(length)") }
            for r in 0..<3 { XCTAssertEqual(rows[(r * length)..<((r + 1) * length)].reduce(0, +), 1, accuracy: 1e-5) }
        }
    }

    func testNaNAndInfiniteRowsFollowTheScalarRule() throws {
        try XCTSkipUnless(cpuHasAVX2FMA, "this CPU has no AVX2/FMA; the portable softmax runs here")
        var rows: [Float] = [1, .nan, 2, 0, 0, 0, 0, 0, 0, .infinity, 1, 2, 3, 4, 5, 6, 7, 8,
                             -.infinity, -.infinity, -.infinity, -.infinity, -.infinity, -.infinity, -.infinity, -.infinity, -.infinity]
        rows.withUnsafeMutableBufferPointer { lafam_softmax_rows($0.baseAddress!, 3, 9) }
        XCTAssertTrue(rows[0..<9].allSatisfy(\.isNaN), "a NaN makes the row NaN")
        XCTAssertTrue(rows[9].isNaN, "+∞ − +∞ is NaN")
        XCTAssertTrue(rows[18..<27].allSatisfy(\.isNaN), "a row of −∞ has no maximum to subtract")
    }
}
