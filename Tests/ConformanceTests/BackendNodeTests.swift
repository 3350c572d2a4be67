import Foundation
import LafamRuntime
import XCTest

/// ONNX's backend test cases as Debian's libonnx-testdata installs them: every case whose ops are
/// all implemented must pass ONNX's own rule (exact shape and dtype, then
/// |a − e| ≤ 1e-7 + 1e-3·|e|). A case is skipped only when lafam reports that it does not implement
/// something the case needs (an op, an attribute value, an element type, training mode, sequence or
/// optional values), and the reason is printed.
final class BackendNodeTests: XCTestCase {
    static let dataRoot = "/usr/share/libonnx-testdata/data"
    static let suites = ["node", "pytorch-converted", "pytorch-operator", "simple"]
    static let priorityOps = ["Conv", "Relu", "Add", "Sub", "Mul", "Div", "Gemm", "MatMul", "MaxPool", "AveragePool",
                              "GlobalAveragePool", "ReduceMean", "Flatten", "Reshape", "Identity", "Constant",
                              "BatchNormalization", "Concat", "Clip", "Sigmoid", "HardSigmoid", "HardSwish", "Transpose",
                              "Split", "Slice", "Shape", "Gather", "Unsqueeze", "Squeeze", "Cast", "ConstantOfShape",
                              "LayerNormalization", "Erf", "Gelu", "Pow", "Sqrt", "Softmax", "LRN", "Dropout", "Sum", "Pad"]

    enum Outcome {
        case passed(ops: Set<String>)
        case failed(String)
        case skipped(String)
    }

    func testBackendCases() throws {
        guard FileManager.default.fileExists(atPath: Self.dataRoot) else {
            XCTFail("\(Self.dataRoot) is missing: install Debian's libonnx-testdata (bash tools/install-deps.sh)")
            return
        }
        var passed = 0, failures: [String] = [], skips: [String: [String]] = [:]
        var perOp: [String: Int] = [:]
        for suite in Self.suites {
            let dir = "\(Self.dataRoot)/\(suite)"
            for name in try FileManager.default.contentsOfDirectory(atPath: dir).sorted() {
                let label = "\(suite)/\(name)"
                switch Self.run(caseAt: "\(dir)/\(name)") {
                case .passed(let ops):
                    passed += 1
                    for op in ops { perOp[op, default: 0] += 1 }
                case .failed(let why):
                    failures.append("\(label): \(why)")
                case .skipped(let why):
                    skips[why, default: []].append(label)
                }
            }
        }
        let skipped = skips.values.map(\.count).reduce(0, +)
        print("ONNX backend tests (libonnx-testdata): skip reasons")
        for (why, cases) in skips.sorted(by: { $0.value.count > $1.value.count }) {
            print("  \(cases.count) × \(why): \(cases.prefix(4).joined(separator: ", "))\(cases.count > 4 ? ", …" : "")")
        }
        print("ONNX backend tests: passing cases per priority op: "
              + Self.priorityOps.map { "\($0) \(perOp[$0, default: 0])" }.joined(separator: ", "))
        for f in failures { XCTFail(f) }
        print("backend: \(passed) passed, \(failures.count) failed, \(skipped) skipped")
    }

    /// Loads, runs and checks one test folder (model.onnx + test_data_set_K/{input,output}_I.pb).
    static func run(caseAt dir: String) -> Outcome {
        do {
            let model = try Model(path: dir + "/model.onnx")
            let sets = try FileManager.default.contentsOfDirectory(atPath: dir).filter { $0.hasPrefix("test_data_set_") }.sorted()
            guard !sets.isEmpty else { return .skipped("no test data set") }
            for set in sets {
                let files = try FileManager.default.contentsOfDirectory(atPath: "\(dir)/\(set)")
                func load(_ prefix: String) throws -> [(Tensor, Int)] {
                    let count = files.filter { $0.hasPrefix(prefix) && $0.hasSuffix(".pb") }.count
                    return try (0..<count).map { try ONNXReader.readTensorFile(path: "\(dir)/\(set)/\(prefix)\($0).pb") }
                }
                let inputs = try load("input_"), outputs = try load("output_")
                guard inputs.count == model.inputs.count else {
                    return .failed("\(inputs.count) input files for \(model.inputs.count) graph inputs")
                }
                var feeds: [String: Tensor] = [:]
                for (info, input) in zip(model.inputs, inputs) {
                    if let declared = info.shape.concrete, declared != input.0.shape {
                        return .skipped("broken test data: an input's shape contradicts the model's static input shape")
                    }
                    // numpy has no bfloat16: ONNX's test data stores bfloat16 inputs as their uint16 bits.
                    if info.dtype == .bfloat16, input.1 == DType.uint16.onnxCode {
                        let bits = input.0.int64s.map { Float(bitPattern: UInt32($0) << 16) }
                        feeds[info.name] = Tensor(uncheckedShape: input.0.shape, storage: .float(bits), dtype: .bfloat16)
                    } else {
                        feeds[info.name] = input.0
                    }
                }
                let result = try model.run(feeds)
                guard outputs.count == model.outputs.count else {
                    return .failed("\(outputs.count) output files for \(model.outputs.count) graph outputs")
                }
                for (k, (info, expected)) in zip(model.outputs, outputs).enumerated() {
                    guard var actual = result.outputs[info.name] else { return .failed("output \(info.name) missing") }
                    // numpy has no bfloat16: ONNX's runner compares bfloat16 outputs as their uint16 bits.
                    if actual.dtype == .bfloat16, expected.1 == DType.uint16.onnxCode {
                        actual = Tensor(uncheckedShape: actual.shape, storage: .int64(actual.floats.map { Int64($0.bitPattern >> 16) }), dtype: .uint16)
                    }
                    if let why = actual.mismatch(from: expected.0, rtol: 1e-3, atol: 1e-7) { return .failed("\(set) output \(k) (\(info.name)): \(why)") }
                }
            }
            return .passed(ops: Set(model.graph.nodes.map(\.opType)))
        } catch let LafamError.unsupportedOp(opType, domain, _, opset) {
            return .skipped("op \(domain.isEmpty ? "" : domain + ".")\(opType) (opset \(opset)) not implemented")
        } catch let LafamError.unsupported(message) {
            return .skipped(skipReason(message))
        } catch {
            return .failed(String(describing: error))
        }
    }

    /// Groups "unsupported" messages by what is unsupported, dropping node names.
    static func skipReason(_ message: String) -> String {
        if let colon = message.range(of: "): ") { return String(message[colon.upperBound...]) }
        if let has = message.range(of: " has ") { return String(message[has.upperBound...]) }
        if let isA = message.range(of: " is a ") { return String(message[isA.upperBound...]) }
        return message
    }
}
