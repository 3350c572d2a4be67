import Foundation
import XCTest
@testable import LafamImaging

final class ImageWriteTests: XCTestCase {
    func testWriteChoosesFormatByExtensionAndLeavesNoTempFile() throws {
        let temp = try TempFolder()
        defer { temp.cleanup() }
        let image = makeTestImage(width: 20, height: 10)
        try ImageIO.write(image, to: temp.file("a.png"))
        try ImageIO.write(image, to: temp.file("b.JPG"), jpegQuality: 80)
        try ImageIO.write(image, to: temp.file("c.jpeg"))
        XCTAssertEqual(try temp.contents(), ["a.png", "b.JPG", "c.jpeg"])
        XCTAssertEqual(try ImageIO.readImage(path: temp.file("a.png")), image)
        let jpegBytes = try XCTUnwrap(FileManager.default.contents(atPath: temp.file("b.JPG")))
        XCTAssertEqual(ImageFormat.detect(magic: [UInt8](jpegBytes)), .jpeg)
    }

    func testOverwriteReplacesContent() throws {
        let temp = try TempFolder()
        defer { temp.cleanup() }
        let path = temp.file("out.png")
        try ImageIO.write(makeTestImage(width: 8, height: 8), to: path)
        let second = makeTestImage(width: 3, height: 5)
        try ImageIO.write(second, to: path)
        XCTAssertEqual(try ImageIO.readImage(path: path), second)
        XCTAssertEqual(try temp.contents(), ["out.png"])
    }

    func testFailedWritesDoNotClobberOrLeaveTempFiles() throws {
        let temp = try TempFolder()
        defer { temp.cleanup() }
        let path = temp.file("keep.png")
        let original = makeTestImage(width: 6, height: 4)
        try ImageIO.write(original, to: path)
        let before = try XCTUnwrap(FileManager.default.contents(atPath: path))

        // Encoding fails (empty image): nothing on disk changes.
        assertThrowsImagingError(["keep.png", "no pixels"]) { try ImageIO.write(RGBImage(width: 0, height: 0), to: path) }
        XCTAssertEqual(FileManager.default.contents(atPath: path), before)

        // Rename fails (a folder occupies the name): the folder survives, no temp file remains.
        let folderPath = temp.file("taken.png")
        try FileManager.default.createDirectory(atPath: folderPath, withIntermediateDirectories: false)
        try "x".write(toFile: folderPath + "/inside.txt", atomically: false, encoding: .utf8)
        assertThrowsImagingError(["taken.png", "replacing it failed"]) { try ImageIO.write(original, to: folderPath) }
        var isDir: ObjCBool = false
        XCTAssertTrue(FileManager.default.fileExists(atPath: folderPath, isDirectory: &isDir) && isDir.boolValue)
        XCTAssertEqual(try temp.contents(), ["keep.png", "taken.png"])
        XCTAssertEqual(FileManager.default.contents(atPath: path), before)
    }

    func testUnwritableOrMissingFolderErrors() throws {
        let temp = try TempFolder()
        defer { temp.cleanup() }
        let image = makeTestImage(width: 4, height: 4)
        assertThrowsImagingError(["missing/x.png", "does not exist", "create it first"]) {
            try ImageIO.write(image, to: temp.file("missing/x.png"))
        }
        let plainFile = temp.file("file")
        try "x".write(toFile: plainFile, atomically: false, encoding: .utf8)
        assertThrowsImagingError(["file/x.png", "not a folder"]) { try ImageIO.write(image, to: plainFile + "/x.png") }
        assertThrowsImagingError(["unknown file extension", ".png"]) { try ImageIO.write(image, to: temp.file("x.bmp")) }
        assertThrowsImagingError(["path ends in '/'"]) { try ImageIO.write(image, to: temp.path + "/") }
        XCTAssertEqual(try temp.contents(), ["file"])
        if geteuid() != 0 {
            // Permission checks do not apply to root, so only test them as a normal user.
            let locked = temp.file("locked")
            try FileManager.default.createDirectory(atPath: locked, withIntermediateDirectories: false)
            chmod(locked, 0o555)
            defer { chmod(locked, 0o755) }
            assertThrowsImagingError(["locked", "not writable"]) { try ImageIO.write(image, to: locked + "/x.png") }
            XCTAssertEqual(try FileManager.default.contentsOfDirectory(atPath: locked), [])
        }
    }

    func testWriteToReadOnlyFilesystemFails() throws {
        // /proc is never writable, even for root.
        guard FileManager.default.fileExists(atPath: "/proc/self") else { throw XCTSkip("no /proc") }
        assertThrowsImagingError(["/proc/self/x.png", "cannot write"]) {
            try ImageIO.write(makeTestImage(width: 2, height: 2), to: "/proc/self/x.png")
        }
    }
}
