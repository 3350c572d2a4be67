import Foundation
import LafamRuntime
import LafamTestSupport
import XCTest

/// The library on hostile input (issue 14): what an embedding program passes or loads gives a
/// thrown error, never a trap, an unbounded allocation or a file read outside the model's folder.
/// The models are the committed corpus of `tools/fixtures/make_hostile_corpus.py`, which the CLI
/// runs case by case in `HostileInputTests`; here the same files go through the library in-process.
final class UntrustedInputTests: XCTestCase {
    private static let hostile = Fixtures.path("hostile/models")
    private let tight = ModelOptions(threads: 1, memoryBudget: MemoryBudget(bytes: 256 << 20))

    func testTensorInitialisersThrowInsteadOfTrapping() throws {
        XCTAssertThrowsMessage(try Tensor(shape: [2, 3], floats: [1, 2, 3]), contains: ["6", "3"])
        XCTAssertThrowsMessage(try Tensor(shape: [-1, 3], floats: []), contains: ["-1"])
        XCTAssertThrowsMessage(try Tensor(shape: [1 << 40, 1 << 40], floats: []), contains: ["more elements than can be addressed"])
        XCTAssertThrowsMessage(try Tensor(shape: [1 << 62], repeating: 0), contains: ["memory budget"])
        let t = try Tensor(shape: [2, 2], int64s: [1, 2, 3, 4])
        XCTAssertThrowsMessage(try t.floatValues(), contains: ["int64"])
        XCTAssertThrowsMessage(try t.reshaped([3]), contains: ["[3]"])
        XCTAssertEqual(try t.integerValues(), [1, 2, 3, 4])
        XCTAssertEqual(try t.reshaped([4]).shape, [4])
    }

    func testSizesAreCheckedArithmetic() {
        XCTAssertEqual(try Sizes.elementCount([2, 3, 4]), 24)
        XCTAssertThrowsMessage(try Sizes.elementCount([1 << 32, 1 << 32]), contains: ["more elements than can be addressed"])
        XCTAssertThrowsMessage(try Sizes.elementCount([4, -2]), contains: ["-2"])
        XCTAssertThrowsMessage(try Sizes.bytes(count: 1 << 61, width: 4), contains: ["overflow"])
        XCTAssertThrowsMessage(try Sizes.integer(.nan, "the limit"), contains: ["the limit"])
    }

    func testMemoryBudgetParsesSizesAsPeopleWriteThem() {
        XCTAssertEqual(MemoryBudget(parsing: "8G")?.bytes, 8 << 30)
        XCTAssertEqual(MemoryBudget(parsing: "512mb")?.bytes, 512 << 20)
        XCTAssertEqual(MemoryBudget(parsing: "1.5K")?.bytes, 1536)
        XCTAssertEqual(MemoryBudget(parsing: "4096")?.bytes, 4096)
        for bad in ["", "G", "-1G", "0", "nan", "1e30T", "8 apples"] { XCTAssertNil(MemoryBudget(parsing: bad), bad) }
        XCTAssertThrowsMessage(try MemoryBudget(bytes: 1000).check(count: 1000, width: 4, for: "the thing"),
                               contains: ["the thing", "memory budget"])
    }

    /// Every corpus model either loads or throws, and a model that loads runs on a zero input of its
    /// declared shape (symbols as 1) or throws: in-process, under a 256 MB budget.
    func testEveryHostileModelLoadsOrThrows() throws {
        let names = try FileManager.default.contentsOfDirectory(atPath: Self.hostile).filter { $0.hasSuffix(".onnx") }.sorted()
        XCTAssertGreaterThan(names.count, 150)
        var loaded = 0, ran = 0
        for name in names {
            guard let model = try? Model(path: Self.hostile + "/" + name, options: tight) else { continue }
            loaded += 1
            guard model.inputs.count == 1, model.inputs[0].dtype == .float32 else { continue }
            let shape = model.inputs[0].shape.map { $0.value ?? 1 }
            guard let count = try? Sizes.elementCount(shape), count <= 1 << 20 else { continue }
            if (try? model.run(Tensor(shape: shape, repeating: 0))) != nil { ran += 1 }
        }
        print("hostile models in-process: \(names.count) files, \(loaded) loaded, \(ran) ran")
    }

    /// The causes issue 14 listed, each refused with a message naming it.
    func testListedCausesAreCleanErrors() {
        let expectations: [(String, [String])] = [
            ("init_dims_overflow_2d", ["culprit"]),                  // element count overflowing Int64
            ("init_dims_bytes_overflow", ["culprit"]),               // byte count overflowing
            ("init_raw_short", ["culprit"]),
            ("conv_pads_2_40", ["culprit", "pads"]),                 // window arithmetic
            ("conv_dilations_2_40", ["culprit", "dilations"]),
            ("conv_bias_length", ["culprit", "B has 5"]),             // bias length checked at load
            ("no_opset_import_ir8", ["opset"]),
            ("opset_minus_5", ["opset", "-5"]),
            ("too_many_inputs", ["culprit", "3 inputs"]),
            ("maxpool_pads_ge_kernel", ["culprit", "pads"]),
            ("slice_axes_duplicate", ["culprit", "twice"]),
            ("range_limit_nan", ["culprit"]),
            ("nested_graph_bomb", ["If"]),                            // subgraphs skipped, not recursed into
        ]
        for (name, fragments) in expectations {
            XCTAssertThrowsMessage(try Model(path: Self.hostile + "/\(name).onnx", options: tight), contains: fragments)
        }
    }

    /// What the fuzzers found (tools/fuzz/run.sh; the files are also seeds of Fuzz/Corpus/).
    func testFuzzFindingsAreCleanErrors() throws {
        let folder = Fixtures.path("fuzz-findings")
        // An int64 tensor in Resize's scales slot was read as floats (a trap).
        for name in ["resize_int64_in_scales_slot_a", "resize_int64_in_scales_slot_b"] {
            XCTAssertThrowsMessage(try Model(path: folder + "/\(name).onnx", options: tight), contains: ["scales", "int64"])
        }
        // Pad's axes as a float NaN were converted to Int (a trap).
        XCTAssertThrowsMessage(try Model(path: folder + "/pad_float_nan_axes.onnx", options: tight), contains: ["axes", "int64"])
        // A Concat of scalars (an Unsqueeze with no axes) indexed an empty shape.
        XCTAssertThrowsMessage(try Model(path: folder + "/concat_scalar_inputs.onnx", options: tight), contains: ["rank"])
        // A cubic resize to 20M outputs summed 256 terms per output, each allocating: now 16 terms,
        // no allocation per output; under a 16 MB budget (the fuzzer's) it is refused at once.
        let resize = try Model(path: folder + "/resize_cubic_20m_outputs.onnx",
                               options: ModelOptions(threads: 1, memoryBudget: MemoryBudget(bytes: 16 << 20)))
        XCTAssertThrowsMessage(try resize.run(Tensor(shape: [1, 2, 6, 7], repeating: 1)), contains: ["memory budget"])
        // An empty output (one axis 0) with another axis of 2⁵⁰ built that axis's tables first.
        let empty = try Model(path: folder + "/resize_empty_output_2_50_axis.onnx", options: tight)
        XCTAssertEqual(try empty.run(Tensor(shape: [1, 2, 6, 7], repeating: 1)).outputs.first?.value.count, 0)
        // A linear resize of all 4 axes to 4.2M outputs summed 16 terms per output (12 s under the
        // fuzzer's sanitizers, a timeout): now one pass per axis, 2 terms per element each.
        let fourAxes = try Model(path: folder + "/resize_linear_4_axes_4m_outputs.onnx",
                                 options: ModelOptions(threads: 1, memoryBudget: MemoryBudget(bytes: 32 << 20)))
        let x = try Tensor(shape: [2, 3, 4, 5], floats: (0..<120).map(Float.init))
        let y = try fourAxes.run(x).outputs["y"]!
        XCTAssertEqual(y.shape, [1539, 43, 7, 9])
        // align_corners keeps the corners: the first and last outputs are the first and last inputs.
        XCTAssertEqual(y.floats.first, 0)
        XCTAssertEqual(y.floats.last!, 119, accuracy: 1e-4)
        // Each output's weights sum to 1, so a seed of ones gives back one per output in all.
        let dx = try fourAxes.gradients(["x": x], target: .seeds(["y": try Tensor(shape: y.shape, repeating: 1)]), withRespectTo: ["x"])
        XCTAssertEqual(Double(dx.gradients["x"]!.floats.reduce(0, +)), Double(y.count), accuracy: Double(y.count) * 1e-4)
        // Concat of empty tensors whose outer size is 1.6e9 looped that often at constant folding (45 s).
        let started = Date()
        _ = try? Model(path: folder + "/concat_empty_2_30_outer.onnx", options: tight)
        XCTAssertLessThan(Date().timeIntervalSince(started), 5)
        // Split with num_outputs 0 divided by zero.
        XCTAssertThrowsMessage(try Model(path: folder + "/split_num_outputs_0.onnx", options: tight), contains: ["num_outputs 0"])
    }

    /// Sizes only the run knows: the plan's peak is checked before anything is allocated.
    func testBudgetRefusesAPlanBeforeAllocating() throws {
        let model = try Model(path: Self.hostile + "/conv_output_34gb.onnx", options: tight)
        XCTAssertThrowsMessage(try model.run(Tensor(shape: [1, 1, 4, 4], repeating: 0)), contains: ["memory budget", "culprit"])
        let tiny = try Model(path: Fixtures.mobilenet, options: ModelOptions(threads: 1, memoryBudget: MemoryBudget(bytes: 40 << 20)))
        XCTAssertThrowsMessage(try tiny.run(Tensor(shape: [64, 3, 224, 224], repeating: 0)), contains: ["memory budget"])
    }

    /// Constant folding leaves a huge constant to run instead of materialising it at load.
    func testFoldingDoesNotMaterialiseHugeConstants() throws {
        let model = try Model(path: Self.hostile + "/fold_tile_7_5gib.onnx", options: tight)
        XCTAssertThrowsMessage(try model.run(Tensor(shape: [1, 1], floats: [0])), contains: ["memory budget"])
    }

    /// External data resolved to its real path: a symbolic link out of the model's folder is refused.
    func testExternalDataSymlinkOutsideTheFolderIsRefused() throws {
        let folder = FileManager.default.temporaryDirectory.appendingPathComponent("lafam-ext-\(UUID().uuidString)").path
        try FileManager.default.createDirectory(atPath: folder, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: folder) }
        try FileManager.default.copyItem(atPath: Self.hostile + "/ext_symlink.onnx", toPath: folder + "/m.onnx")
        try FileManager.default.createSymbolicLink(atPath: folder + "/weights.bin", withDestinationPath: "/etc/passwd")
        XCTAssertThrowsMessage(try Model(path: folder + "/m.onnx", options: tight), contains: ["outside the model's folder"])
    }

    func testModelFileMustBeARegularFile() {
        XCTAssertThrowsMessage(try Model(path: "/dev/zero", options: tight), contains: ["/dev/zero", "regular file"])
        XCTAssertThrowsMessage(try Model(path: Self.hostile, options: tight), contains: ["folder"])
    }

    func testModelFromBytesChecksLikeAFile() throws {
        let data = try Data(contentsOf: URL(fileURLWithPath: Self.hostile + "/opset_minus_5.onnx"))
        XCTAssertThrowsMessage(try Model(data: data, options: tight), contains: ["opset"])
        let valid = try Data(contentsOf: URL(fileURLWithPath: Self.hostile + "/valid_tiny_cnn.onnx"))
        XCTAssertEqual(try Model(data: valid, options: tight).outputs.count, 1)
    }

    /// Names from the model are printed on one line, control characters escaped.
    func testControlCharactersInNamesAreEscaped() {
        do {
            _ = try Model(path: Self.hostile + "/node_name_newline.onnx", options: tight)
            XCTFail("expected an error")
        } catch {
            XCTAssertFalse(String(describing: error).contains("\n"), String(describing: error))
        }
    }
}
