import Foundation
import XCTest
@testable import LafamImaging

/// Helpers shared by the LafamImaging tests.
enum Fixtures {
    /// Tests/Fixtures/imaging, found from this source file (symlinks resolved,
    /// so it also works from a package that links this folder in).
    static let directory: String = {
        let here = URL(fileURLWithPath: #filePath)
        for base in [here, here.resolvingSymlinksInPath()] {
            let dir = base.deletingLastPathComponent().deletingLastPathComponent()
                .appendingPathComponent("Fixtures").appendingPathComponent("imaging")
            if FileManager.default.fileExists(atPath: dir.path) { return dir.path }
        }
        return here.resolvingSymlinksInPath().deletingLastPathComponent().deletingLastPathComponent()
            .appendingPathComponent("Fixtures/imaging").path
    }()

    static func path(_ name: String) -> String { directory + "/" + name }

    static func json(_ name: String) throws -> [[String: Any]] {
        let data = try Data(contentsOf: URL(fileURLWithPath: path(name)))
        return try XCTUnwrap(JSONSerialization.jsonObject(with: data) as? [[String: Any]], "\(name) is not a JSON list")
    }

    /// Loads a uint8 H x W x 3 .npy fixture as an image.
    static func rgbNPY(_ name: String) throws -> RGBImage {
        let array = try NPYArray.read(path: path(name))
        guard case .uint8(let bytes) = array.data, array.shape.count == 3, array.shape[2] == 3 else {
            throw ImagingError.invalidArgument("\(name): expected uint8 HxWx3, got \(array.data.dtypeName) \(array.shape)")
        }
        return try RGBImage(width: array.shape[1], height: array.shape[0], pixels: bytes)
    }
}

/// A fresh temporary folder, removed by `cleanup()`.
final class TempFolder {
    let path: String

    init() throws {
        let base = NSTemporaryDirectory() + "lafam-imaging-tests-" + UUID().uuidString
        try FileManager.default.createDirectory(atPath: base, withIntermediateDirectories: true)
        path = base
    }

    func file(_ name: String) -> String { path + "/" + name }

    func contents() throws -> [String] {
        try FileManager.default.contentsOfDirectory(atPath: path).sorted()
    }

    func cleanup() { try? FileManager.default.removeItem(atPath: path) }
}

/// Largest per-byte difference between two equally sized images.
func maxAbsDiff(_ a: RGBImage, _ b: RGBImage) -> Int {
    precondition(a.width == b.width && a.height == b.height)
    var worst = 0
    for i in 0..<a.pixels.count { worst = max(worst, abs(Int(a.pixels[i]) - Int(b.pixels[i]))) }
    return worst
}

/// A deterministic test image with gradients and a little texture.
func makeTestImage(width: Int, height: Int) -> RGBImage {
    var img = RGBImage(width: width, height: height)
    for y in 0..<height {
        for x in 0..<width {
            img[x, y] = (UInt8((x * 255) / max(1, width - 1)), UInt8((y * 255) / max(1, height - 1)),
                         UInt8(((x ^ y) * 7) & 0xFF))
        }
    }
    return img
}

extension XCTestCase {
    /// Asserts that `body` throws an ImagingError whose message contains every one of `fragments`.
    func assertThrowsImagingError(_ fragments: [String], file: StaticString = #filePath, line: UInt = #line,
                                  _ body: () throws -> Void) {
        do {
            try body()
            XCTFail("expected an error containing \(fragments)", file: file, line: line)
        } catch let error as ImagingError {
            for fragment in fragments {
                XCTAssertTrue(error.description.contains(fragment),
                              "error \"\(error.description)\" does not mention \"\(fragment)\"", file: file, line: line)
            }
        } catch {
            XCTFail("expected ImagingError, got \(error)", file: file, line: line)
        }
    }
}
