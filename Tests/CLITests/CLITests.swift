import Foundation
import Lafam
import LafamImaging
import LafamTestSupport
import XCTest

/// The `lafam` executable end to end: the command-line contract and its error paths.
final class CLITests: CLITestCase {
    func testInspectJSON() throws {
        let r = try lafam(["inspect", "--json"])
        XCTAssertEqual(r.status, 0, r.stderr)
        let object = try JSONSerialization.jsonObject(with: Data(r.stdout.utf8)) as! [String: Any]
        let inputs = object["inputs"] as! [[String: Any]]
        XCTAssertEqual(inputs[0]["name"] as? String, "input")
        XCTAssertEqual(inputs[0]["type"] as? String, "float32")
        XCTAssertEqual((inputs[0]["shape"] as! [Any]).count, 4)
        XCTAssertEqual((object["outputs"] as! [[String: Any]])[0]["name"] as? String, "logits")
        let convs = object["convNodes"] as! [[String: Any]]
        XCTAssertEqual(convs.count, 52)
        XCTAssertEqual(convs[0]["outputShape"] as? [AnyHashable], ["batch", 32, 112, 112])
        let target = object["defaultTarget"] as! [String: Any]
        XCTAssertEqual(target["tensor"] as? String, "/features/features.18/features.18.2/Clip_output_0")
        XCTAssertEqual(target["node"] as? String, "/features/features.18/features.18.2/Clip")
        XCTAssertEqual(target["shape"] as? [AnyHashable], ["batch", 1280, 7, 7])
    }

    func testVersionNamesTheKernelsInUse() throws {
        let r = try lafam(["--version"])
        XCTAssertEqual(r.status, 0, r.stderr)
        XCTAssertTrue(r.stdout.contains("OpenBLAS core \(BLASInfo.coreName)"), r.stdout)
        XCTAssertTrue(r.stdout.contains("lafam kernels \(KernelInfo.instructionSet)"), r.stdout)
    }

    func testInspectTableMarksTheTarget() throws {
        let r = try lafam(["inspect", Fixtures.mobilenet])
        XCTAssertEqual(r.status, 0)
        XCTAssertTrue(r.stdout.contains("* /features/features.18/features.18.0/Conv"))
        XCTAssertTrue(r.stdout.contains("ir        7"))
    }

    func testTapsWritesNamedTensorsAndOutputs() throws {
        let dir = try temporaryFolder()
        let tapNode = "/features/features.17/conv/conv.2/Conv"
        let r = try lafam(["taps", Fixtures.mobilenet, "--input", Fixtures.path("mobilenet_v2/astronaut.input.npy"),
                           "--tensor", tapNode, "--output", dir])
        XCTAssertEqual(r.status, 0, r.stderr)
        let tap = try NPYArray.read(path: dir + "/_features_features.17_conv_conv.2_Conv_output_0.npy")
        let expected = try Fixtures.tensor("mobilenet_v2/astronaut.tap.npy")
        XCTAssertEqual(tap.shape, expected.shape)
        XCTAssertLessThanOrEqual(maxAbsDifference(tap.floats!, expected.floats), 1e-3)
        XCTAssertEqual(try NPYArray.read(path: dir + "/logits.npy").shape, [1, 1000])
    }

    func testRunOnPhotoWritesPictureAndArrays() throws {
        let dir = try temporaryFolder()
        let photo = Fixtures.repository + "/Models/samples/coffee.jpg"
        let r = try lafam(["run", "--output", dir, "--npy", photo])
        XCTAssertEqual(r.status, 0, r.stderr)
        XCTAssertTrue(r.stdout.contains("espresso (967)"), r.stdout)
        let picture = try ImageIO.readImage(path: dir + "/coffee.lafam.png")
        XCTAssertEqual(picture.width, 400)
        let map = try NPYArray.read(path: dir + "/coffee.lafam.npy")
        XCTAssertEqual(map.shape, [224, 224])
        XCTAssertEqual(map.floats!.max()!, 1, accuracy: 1e-6)
        XCTAssertEqual(map.floats!.min()!, 0, accuracy: 1e-6)
        XCTAssertEqual(try NPYArray.read(path: dir + "/coffee.lafam.raw.npy").shape, [7, 7])
        // Nothing is overwritten unless asked.
        let before = try Data(contentsOf: URL(fileURLWithPath: dir + "/coffee.lafam.png"))
        try expectFailure(["run", "--output", dir, photo], ["already exists", "--overwrite"])
        XCTAssertEqual(try Data(contentsOf: URL(fileURLWithPath: dir + "/coffee.lafam.png")), before)
        XCTAssertEqual(try lafam(["run", "--output", dir, "--overwrite", photo]).status, 0)
        // Other options write other files, side by side.
        XCTAssertEqual(try lafam(["run", "--output", dir, "--colormap", "jet", "--reduction", "relu-mean", photo]).status, 0)
        XCTAssertTrue(FileManager.default.fileExists(atPath: dir + "/coffee.lafam.relu-mean.jet.png"))
        XCTAssertEqual(try Data(contentsOf: URL(fileURLWithPath: dir + "/coffee.lafam.png")), before)
    }

    func testRunOnNpyBatchKeepsTheBatchAxis() throws {
        let dir = try temporaryFolder()
        let a = try Fixtures.tensor("mobilenet_v2/coffee.input.npy").floats
        let b = try Fixtures.tensor("mobilenet_v2/chelsea.input.npy").floats
        try NPYArray(shape: [2, 3, 224, 224], floats: a + b).write(to: dir + "/pair.npy")
        let r = try lafam(["run", "--output", dir + "/out", "--npy", "--node", "/features/features.16/conv/conv.2/Conv", dir + "/pair.npy"])
        XCTAssertEqual(r.status, 0, r.stderr)
        XCTAssertEqual(try NPYArray.read(path: dir + "/out/pair.lafam.features_features.16_conv_conv.2_Conv.npy").shape, [2, 224, 224])
        XCTAssertEqual(try NPYArray.read(path: dir + "/out/pair.lafam.features_features.16_conv_conv.2_Conv.raw.npy").shape, [2, 7, 7])
        XCTAssertTrue(r.stdout.contains("pair[1] top-5: Egyptian cat"), r.stdout)
    }

    func testGradCAMWithSeveralNodesWritesOneMapEachAndTheirAggregate() throws {
        let dir = try temporaryFolder()
        let photo = Fixtures.repository + "/Models/samples/chelsea.jpg"
        let r = try lafam(["run", "--method", "gradcam", "--class", "tabby", "--npy", "--output", dir,
                           "--node", "/features/features.18/features.18.2/Clip", "--node", "/features/conv.2", photo])
        XCTAssertEqual(r.status, 0, r.stderr)
        XCTAssertTrue(r.stdout.contains("class tabby"), r.stdout)
        for stem in ["chelsea.gradcam.features_features.18_features.18.2_Clip.class-tabby",
                     "chelsea.gradcam.features_conv.2.class-tabby"] {
            XCTAssertEqual(try NPYArray.read(path: "\(dir)/\(stem).npy").shape, [224, 224])
            XCTAssertEqual(try NPYArray.read(path: "\(dir)/\(stem).raw.npy").shape, [7, 7])
            XCTAssertTrue(FileManager.default.fileExists(atPath: "\(dir)/\(stem).png"))
        }
        let aggregate = try NPYArray.read(path: dir + "/chelsea.gradcam.mean-of-2-nodes.class-tabby.npy")
        XCTAssertEqual(aggregate.shape, [224, 224])
        XCTAssertEqual(aggregate.floats!.max()!, 1, accuracy: 1e-5)
        for method in ["eigencam", "gradient", "layercam"] {
            let out = try lafam(["run", "--method", method, "--npy", "--output", dir, photo])
            XCTAssertEqual(out.status, 0, out.stderr)
            XCTAssertEqual(try NPYArray.read(path: "\(dir)/chelsea.\(method).npy").shape, [224, 224])
        }
        try expectFailure(["run", "--method", "gradcam", "--class", "no such animal", "--output", dir, photo], ["no class named"])
    }

    func testErrorsAreOneLineAndNonZero() throws {
        let dir = try temporaryFolder()
        try expectFailure(["inspect", dir + "/missing.onnx"], ["no such file"])
        try expectFailure(["inspect", Fixtures.path("models/truncated.onnx")], ["not a valid ONNX protobuf"])
        try expectFailure(["inspect", Fixtures.path("models/unknown_op.onnx")], ["unsupported op 'FrobnicateX'", "'bad_node'", "opset 13"])
        try expectFailure(["run", "--node", "/features/features.18/Clp", "--output", dir], ["no node or tensor named", "did you mean"])
        try expectFailure(["run", "--node", "/conv.2/Conv", "--output", dir], ["matches", "nodes"])
        let bad = dir + "/broken.jpg"
        try Data("definitely not a jpeg".utf8).write(to: URL(fileURLWithPath: bad))
        let out = dir + "/out"
        try expectFailure(["run", "--output", out, Fixtures.repository + "/Models/samples/coffee.jpg", bad], ["broken.jpg"])
        XCTAssertEqual((try? FileManager.default.contentsOfDirectory(atPath: out)) ?? [], [], "no partial output")
        try expectFailure(["run", "--output", bad], ["not a folder"])
        try expectFailure(["run", "--output", "/proc/lafam-not-here"], ["cannot create output folder"])
        try expectFailure(["taps", Fixtures.mobilenet, "--input", dir + "/none.npy", "--output", dir], ["none.npy"])
        try expectFailure(["bench", "--threads", "0"], ["--threads"])
        try expectFailure(["bench", "--disable-pass", "fuse-all"], ["--disable-pass", "'fuse-all'", "winograd"])
        try expectFailure(["run", "--node", "/nothing/like/this", "--output", dir], ["no node or tensor named", "lafam inspect"])
    }

    /// The DocC getting-started article's program is built, runs on the bundled model, and is shown
    /// in the article exactly as it is.
    func testExplainTourExample() throws {
        let dir = try temporaryFolder()
        let r = try run(Self.executable("explain-tour"), [Fixtures.mobilenet, Fixtures.repository + "/Models/samples/coffee.jpg", dir])
        XCTAssertEqual(r.status, 0, r.stderr)
        XCTAssertTrue(r.stdout.contains("top class espresso (967)"), r.stdout)
        XCTAssertTrue(r.stdout.contains("tap /features/features.18/features.18.0/Conv_output_0: [1, 1280, 7, 7]"), r.stdout)
        for name in ["lafam", "gradcam"] {
            let picture = try ImageIO.readImage(path: "\(dir)/\(name).png")
            XCTAssertEqual([picture.width, picture.height], [400, 400], "drawn over the 400×400 centre crop of the 400×600 photo")
        }
        let source = try String(contentsOfFile: Fixtures.repository + "/Examples/ExplainTour/main.swift", encoding: .utf8)
        let article = try String(contentsOfFile: Fixtures.repository + "/Sources/Lafam/Lafam.docc/GettingStarted.md", encoding: .utf8)
        XCTAssertTrue(article.contains(source), "GettingStarted.md shows Examples/ExplainTour/main.swift as it is")
    }

    /// The README's interpreter example (uses LafamRuntime only) is built, runs, and is shown in the
    /// README exactly as it is.
    func testRuntimeTourExample() throws {
        let tour = Self.executable("runtime-tour")
        let r = try run(tour, [Fixtures.mobilenet])
        XCTAssertEqual(r.status, 0, r.stderr)
        XCTAssertTrue(r.stdout.contains("tap /features/features.18/features.18.0/Conv_output_0: [1, 1280, 7, 7]"), r.stdout)
        XCTAssertTrue(r.stdout.contains("gradient of logit"), r.stdout)
        let source = try String(contentsOfFile: Fixtures.repository + "/Examples/RuntimeTour/main.swift", encoding: .utf8)
        let readme = try String(contentsOfFile: Fixtures.repository + "/README.md", encoding: .utf8)
        XCTAssertTrue(readme.contains(source), "README.md shows Examples/RuntimeTour/main.swift as it is")
        let missing = try run(tour, ["/nonexistent/model.onnx"])
        XCTAssertNotEqual(missing.status, 0)
        XCTAssertTrue(missing.stderr.contains("no such file"), missing.stderr)
    }

    /// `bench --disable-pass` runs without the named passes and says so in its JSON.
    func testBenchWithoutPasses() throws {
        let r = try lafam(["bench", "--runs", "1", "--warmup", "0", "--json", "--disable-pass", "winograd", "--disable-pass", "fuse-silu"])
        XCTAssertEqual(r.status, 0, r.stderr)
        let object = try XCTUnwrap(JSONSerialization.jsonObject(with: Data(r.stdout.utf8)) as? [String: Any])
        XCTAssertEqual(object["disabledPasses"] as? [String], ["fuse-silu", "winograd"])
    }
}
