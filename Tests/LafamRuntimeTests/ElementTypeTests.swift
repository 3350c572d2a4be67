import LafamRuntime
import LafamTestSupport
import XCTest

/// Element types beyond float32/int64/bool: results must be values of the type itself, as if
/// computed in it (wrap-around for integers, rounding for float16/bfloat16, unsigned uint64).
final class ElementTypeTests: XCTestCase {
    func int(_ values: [Int64], _ dtype: DType) -> Tensor {
        Tensor(uncheckedShape: [values.count], storage: .int64(values), dtype: dtype)
    }

    func testNarrowIntegersWrapLikeTwosComplement() {
        let t = Tensor(uncheckedShape: [4], int64s: [300, -129, 65_536 + 7, -1])
        XCTAssertEqual(t.conformed(to: .uint8).int64s, [44, 127, 7, 255])
        XCTAssertEqual(t.conformed(to: .int8).int64s, [44, 127, 7, -1])
        XCTAssertEqual(t.conformed(to: .uint16).int64s, [300, 65_407, 7, 65_535])
        XCTAssertEqual(t.conformed(to: .int32).dtype, .int32)
    }

    func testFloat16AndBFloat16Rounding() throws {
        let x = Tensor(uncheckedShape: [3], floats: [0.1, 65_520, 1.00390625])
        XCTAssertEqual(x.conformed(to: .float16).floats, [Float(Float16(0.1)), .infinity, 1.0039062])
        // bfloat16 keeps 8 significant bits: 1 + 2^-8 is a tie between 1 and 1 + 2^-7 (ties to even: 1).
        XCTAssertEqual(x.conformed(to: .bfloat16).floats[2], 1)
        // Cast before opset 19 truncates instead (ONNX 1.12's reference and test data).
        let justBelow = Tensor(uncheckedShape: [1], floats: [Float(bitPattern: 0x3F80_FFFF)])
        XCTAssertEqual(try justBelow.converted(to: .bfloat16, truncatingBFloat16: true).floats, [Float(bitPattern: 0x3F80_0000)])
        XCTAssertEqual(try justBelow.converted(to: .bfloat16).floats, [Float(bitPattern: 0x3F81_0000)])
    }

    /// lafam's float16 rounding (integer operations, not a library call per element) equals
    /// Swift's Float16 conversion: checked on all 2³² patterns once (tools: a loop over every
    /// pattern, 0 mismatches), here on every 4099th pattern and the edges.
    func testFloat16RoundingEqualsFloat16Conversion() {
        var patterns: [UInt32] = [0, 0x8000_0000, 0x3880_0000, 0x387F_FFFF, 0x3380_0000, 0x3300_0000, 0x477F_E000, 0x477F_F000,
                                  0x477F_EFFF, 0x7F80_0000, 0xFF80_0000, 0x7FC0_0000]
        var p: UInt32 = 0
        while p < UInt32.max - 4099 { patterns.append(p); p += 4099 }
        let values = patterns.map { Float(bitPattern: $0) }
        let rounded = Tensor(uncheckedShape: [values.count], floats: values).conformed(to: .float16).floats
        for (v, r) in zip(values, rounded) {
            let expected = Float(Float16(v))
            XCTAssertTrue(r.bitPattern == expected.bitPattern || (r.isNaN && expected.isNaN), "\(v.bitPattern): \(r) vs \(expected)")
        }
    }

    func testCastMatrix() throws {
        let f = Tensor(uncheckedShape: [4], floats: [-2.7, 2.7, 300, .nan])
        XCTAssertEqual(try f.converted(to: .int32).int64s, [-2, 2, 300, 0])
        XCTAssertEqual(try f.converted(to: .uint8).int64s, [254, 2, 44, 0])
        XCTAssertEqual(try f.converted(to: .bool).bools, [true, true, true, true])
        XCTAssertEqual(try f.converted(to: .float64).doubles[1], Double(Float(2.7)))
        XCTAssertEqual(try Tensor(uncheckedShape: [2], floats: [0.039187793, 1]).converted(to: .string).strings, ["0.039187793", "1.0"])
        XCTAssertEqual(try Tensor(uncheckedShape: [3], strings: ["0.5", "-INF", "NaN"]).converted(to: .float32).floats.prefix(2), [0.5, -.infinity])
        XCTAssertThrowsMessage(try Tensor(uncheckedShape: [1], strings: ["abc"]).converted(to: .float32), contains: ["'abc'", "number"])
        let big = int([-1], .uint64)
        XCTAssertEqual(try big.converted(to: .float64).doubles, [0x1p64], "2^64 − 1 rounds to 2^64")
        XCTAssertEqual(try big.converted(to: .string).strings, ["18446744073709551615"])
        XCTAssertEqual(try Tensor(uncheckedShape: [1], doubles: [1e19]).converted(to: .uint64).int64s, [Int64(bitPattern: 10_000_000_000_000_000_000)])
    }
}
