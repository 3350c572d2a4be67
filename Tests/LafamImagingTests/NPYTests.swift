import Foundation
import XCTest
@testable import LafamImaging

final class NPYTests: XCTestCase {
    func testRoundTripEveryDtype() throws {
        let temp = try TempFolder()
        defer { temp.cleanup() }
        let arrays: [NPYArray] = [
            try NPYArray(shape: [2, 3], data: .float32([0, -1.5, .infinity, 3.25, -0.0, 1e-30])),
            try NPYArray(shape: [4], data: .float64([.pi, -2, 1e300, 0])),
            try NPYArray(shape: [1, 2], data: .int64([Int64.min, Int64.max])),
            try NPYArray(shape: [3, 1, 1], data: .int32([Int32.min, 0, Int32.max])),
            try NPYArray(shape: [2, 2], data: .uint8([0, 1, 254, 255])),
            try NPYArray(shape: [3], data: .bool([true, false, true])),
            try NPYArray(shape: [], data: .float32([42])),
            try NPYArray(shape: [0, 5], data: .int64([])),
        ]
        for (i, array) in arrays.enumerated() {
            let path = temp.file("a\(i).npy")
            try array.write(to: path)
            XCTAssertEqual(try NPYArray.read(path: path), array)
            let bytes = array.encoded()
            // numpy's layout: header padded so the data starts at a multiple of 64.
            let headerLength = Int(bytes[8]) | Int(bytes[9]) << 8
            XCTAssertEqual((10 + headerLength) % 64, 0)
            XCTAssertEqual(bytes[10 + headerLength - 1], 0x0A)
        }
        XCTAssertEqual(try temp.contents().count, arrays.count) // no temp files left
    }

    func testHeaderTextMatchesNumpy() throws {
        let bytes = try NPYArray(shape: [2, 3], floats: [Float](repeating: 0, count: 6)).encoded()
        let header = String(decoding: bytes[10..<74], as: UTF8.self)
        XCTAssertTrue(header.hasPrefix("{'descr': '<f4', 'fortran_order': False, 'shape': (2, 3), }"), header)
        let one = try NPYArray(shape: [5], data: .uint8([1, 2, 3, 4, 5])).encoded()
        XCTAssertTrue(String(decoding: one[10..<64], as: UTF8.self).contains("'shape': (5,)"))
        let scalar = try NPYArray(shape: [], data: .bool([true])).encoded()
        XCTAssertTrue(String(decoding: scalar[10..<64], as: UTF8.self).contains("'descr': '|b1', 'fortran_order': False, 'shape': ()"))
    }

    /// Arrays written by numpy (see npy_cases.json): element i in C order equals "formula"(i).
    func testNumpyWrittenFixtures() throws {
        let cases = try Fixtures.json("npy_cases.json")
        XCTAssertGreaterThanOrEqual(cases.count, 10)
        for c in cases {
            let file = try XCTUnwrap(c["file"] as? String)
            let shape = try XCTUnwrap(c["shape"] as? [Int])
            let formula = try XCTUnwrap(c["formula"] as? String)
            let array = try NPYArray.read(path: Fixtures.path(file))
            XCTAssertEqual(array.shape, shape, file)
            let n = NPYArray.elementCount(shape)!
            XCTAssertEqual(array.count, n, file)
            for i in 0..<n {
                let want = Self.evaluate(formula, i)
                switch array.data {
                case .float32(let v): XCTAssertEqual(v[i], Float(want), file)
                case .float64(let v): XCTAssertEqual(v[i], want, file)
                case .int64(let v):
                    if formula == "i*1000000007-5" { XCTAssertEqual(v[i], Int64(i) * 1_000_000_007 - 5, file) }
                    else { XCTAssertEqual(Double(v[i]), want, file) }
                case .int32(let v): XCTAssertEqual(Double(v[i]), want, file)
                case .uint8(let v): XCTAssertEqual(Double(v[i]), want, file)
                case .bool(let v): XCTAssertEqual(v[i], want != 0, file)
                }
            }
        }
    }

    /// The formulas used by tools/fixtures/make_imaging_fixtures.py, evaluated like numpy would.
    static func evaluate(_ formula: String, _ i: Int) -> Double {
        let x = Double(i)
        switch formula {
        case "i*0.25-3": return Double(Float(x) * 0.25 - 3)
        case "pi": return Double.pi
        case "i*1000000007-5": return x * 1_000_000_007 - 5
        case "i*-7": return x * -7
        case "i%256": return Double(i % 256)
        case "i%3==0": return i % 3 == 0 ? 1 : 0
        case "i*0.001": return Double(Float(x) * Float(0.001))
        case "i*0.5-1": return x * 0.5 - 1
        case "i/3": return x / 3
        case "i": return x
        case "i+0.5": return x + 0.5
        case "i-2": return x - 2
        case "0": return 0
        default: XCTFail("unknown formula \(formula)"); return .nan
        }
    }

    func testFortranOrderIsTransposed() throws {
        let array = try NPYArray.read(path: Fixtures.path("npy_fortran_int32.npy"))
        XCTAssertEqual(array.shape, [2, 3, 4])
        XCTAssertEqual(array.data, .int32((0..<24).map { Int32($0) }))
    }

    func testHeaderParsingIsRobustToSpacing() throws {
        let payload: [UInt8] = [1, 0, 0, 0, 2, 0, 0, 0]
        for dict in ["{'descr':'<i4','fortran_order':False,'shape':(2,)}",
                     "{ \"shape\" : ( 2 , ) ,  'fortran_order' : False , 'descr' : '<i4' , }",
                     "{'descr': '<i4', 'fortran_order': False, 'shape': (2L,), }"] {
            let array = try NPYArray.decode(Self.npyBytes(header: dict, payload: payload))
            XCTAssertEqual(array.shape, [2], dict)
            XCTAssertEqual(array.data, .int32([1, 2]), dict)
        }
    }

    func testMalformedFilesGiveClearErrors() throws {
        let ok = "{'descr': '<f4', 'fortran_order': False, 'shape': (2,), }"
        let payload = [UInt8](repeating: 0, count: 8)
        assertThrowsImagingError(["signature"]) { _ = try NPYArray.decode(Array("PK\u{3}\u{4}not numpy".utf8)) }
        assertThrowsImagingError(["signature"]) { _ = try NPYArray.decode([]) }
        var badVersion = Self.npyBytes(header: ok, payload: payload)
        badVersion[6] = 9
        assertThrowsImagingError(["version 9.0"]) { _ = try NPYArray.decode(badVersion) }
        assertThrowsImagingError(["truncated", "8 data bytes", "only 4"]) {
            _ = try NPYArray.decode(Self.npyBytes(header: ok, payload: [0, 0, 0, 0]))
        }
        let full = Self.npyBytes(header: ok, payload: payload)
        assertThrowsImagingError(["truncated", "header"]) { _ = try NPYArray.decode(Array(full.prefix(30))) }
        assertThrowsImagingError(["unsupported dtype '<f2'", "astype"]) {
            _ = try NPYArray.decode(Self.npyBytes(header: ok.replacingOccurrences(of: "<f4", with: "<f2"), payload: payload))
        }
        assertThrowsImagingError(["structured"]) {
            _ = try NPYArray.decode(Self.npyBytes(header: "{'descr': [('a', '<f4')], 'fortran_order': False, 'shape': (2,), }", payload: payload))
        }
        assertThrowsImagingError(["malformed header"]) {
            _ = try NPYArray.decode(Self.npyBytes(header: "{'descr': '<f4', 'fortran_order': False, 'shape': (2,", payload: payload))
        }
        assertThrowsImagingError(["'shape'"]) {
            _ = try NPYArray.decode(Self.npyBytes(header: "{'descr': '<f4', 'fortran_order': False}", payload: payload))
        }
        assertThrowsImagingError(["non-negative"]) {
            _ = try NPYArray.decode(Self.npyBytes(header: "{'descr': '<f4', 'fortran_order': False, 'shape': (-2,)}", payload: payload))
        }
        assertThrowsImagingError(["too large"]) {
            _ = try NPYArray.decode(Self.npyBytes(header: "{'descr': '<f4', 'fortran_order': False, 'shape': (9223372036854775807, 4)}", payload: payload))
        }
        assertThrowsImagingError(["no such file", "missing.npy"]) { _ = try NPYArray.read(path: "/nonexistent/missing.npy") }
        assertThrowsImagingError(["needs 6 elements"]) { _ = try NPYArray(shape: [2, 3], floats: [1]) }
        // Every prefix of a valid file fails cleanly.
        for cut in 0..<full.count { XCTAssertThrowsError(try NPYArray.decode(Array(full.prefix(cut)))) }
    }

    func testFailedWriteLeavesExistingFile() throws {
        let temp = try TempFolder()
        defer { temp.cleanup() }
        let path = temp.file("x.npy")
        let a = try NPYArray(shape: [2], floats: [1, 2])
        try a.write(to: path)
        assertThrowsImagingError(["does not exist"]) { try a.write(to: temp.file("no/such/dir/x.npy")) }
        XCTAssertEqual(try NPYArray.read(path: path), a)
        XCTAssertEqual(try temp.contents(), ["x.npy"])
    }

    func testAsFloats() throws {
        XCTAssertEqual(try NPYArray(shape: [3], data: .bool([true, false, true])).asFloats(), [1, 0, 1])
        XCTAssertEqual(try NPYArray(shape: [2], data: .int64([-3, 7])).asFloats(), [-3, 7])
        XCTAssertNil(try NPYArray(shape: [1], data: .uint8([3])).floats)
    }

    /// A version 1.0 file with the given header text (padded like numpy) and payload.
    static func npyBytes(header: String, payload: [UInt8]) -> [UInt8] {
        var text = Array(header.utf8)
        let total = (10 + text.count + 1 + 63) / 64 * 64
        text += [UInt8](repeating: 0x20, count: total - 10 - text.count - 1) + [0x0A]
        let n = text.count
        return [0x93] + Array("NUMPY".utf8) + [1, 0, UInt8(n & 0xFF), UInt8(n >> 8)] + text + payload
    }
}
