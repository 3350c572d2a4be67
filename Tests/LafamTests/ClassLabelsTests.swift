import Foundation
import Lafam
import LafamTestSupport
import XCTest

/// Class names: from files, from the model, ImageNet-1k assumed, and names to indices.
final class ClassLabelsTests: XCTestCase {
    func folder() throws -> String {
        let dir = NSTemporaryDirectory() + "lafam-labels-\(UUID().uuidString)"
        try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
        addTeardownBlock { try? FileManager.default.removeItem(atPath: dir) }
        return dir
    }

    func testReadsLinesAndJSONArrays() throws {
        let dir = try folder()
        try "cat\r\ndog\n\nbird\n".write(toFile: dir + "/a.txt", atomically: true, encoding: .utf8)
        XCTAssertEqual(try ClassLabels.read(path: dir + "/a.txt").names, ["cat", "dog", "", "bird"])
        try " [\"x\", \"y\"]\n".write(toFile: dir + "/b.json", atomically: true, encoding: .utf8)
        XCTAssertEqual(try ClassLabels.read(path: dir + "/b.json").names, ["x", "y"])
        try "[1, 2]".write(toFile: dir + "/c.json", atomically: true, encoding: .utf8)
        XCTAssertThrowsMessage(try ClassLabels.read(path: dir + "/c.json"), contains: ["not a JSON array of strings"])
        try "".write(toFile: dir + "/d.txt", atomically: true, encoding: .utf8)
        XCTAssertThrowsMessage(try ClassLabels.read(path: dir + "/d.txt"), contains: ["holds no names"])
        XCTAssertThrowsMessage(try ClassLabels.read(path: dir), contains: ["folder"])
    }

    func testModelNamesThenImageNetForThousandClasses() throws {
        let mobilenet = try Model(path: Fixtures.mobilenet)
        XCTAssertEqual(ClassLabels.of(mobilenet, classes: 1000)?.source, "model metadata")
        // Names, not value indices, where users see targets.
        XCTAssertEqual(mobilenet.defaultTargetName, "/features/features.18/features.18.2/Clip_output_0")
        XCTAssertEqual(mobilenet.defaultEmbeddingName, "/GlobalAveragePool_output_0")
        let bare = try Model(path: Fixtures.path("models/classifier_1000_no_names.onnx"))
        XCTAssertNil(bare.classNames)
        XCTAssertEqual(ClassLabels.of(bare, classes: 1000), .imageNet1k)
        XCTAssertNil(ClassLabels.of(bare, classes: 10))
        XCTAssertEqual(ClassLabels.imageNet1k.names.count, 1000)
        XCTAssertEqual(ClassLabels.imageNet1k.names, mobilenet.classNames, "the bundled model carries torchvision's names too")
    }

    func testIndexOfANameOrNumber() throws {
        let labels = ClassLabels.imageNet1k
        XCTAssertEqual(try labels.index(of: "Espresso", classes: 1000), 967)
        XCTAssertEqual(try labels.index(of: "12", classes: 1000), 12)
        XCTAssertThrowsMessage(try labels.index(of: "1000", classes: 1000), contains: ["out of range"])
        XCTAssertThrowsMessage(try labels.index(of: "espress", classes: 1000), contains: ["did you mean", "'espresso'"])
        XCTAssertEqual(labels.name(5000), "class 5000")
        XCTAssertThrowsMessage(try labels.check(classes: 10), contains: ["1000 classes", "10"])
    }
}
