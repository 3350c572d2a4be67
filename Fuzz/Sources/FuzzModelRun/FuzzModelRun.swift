import Foundation
import LafamRuntime

/// Largest known input dimension fed; a model declaring a larger one is loaded but not run.
let maxDim = 64
/// Largest number of elements of one input tensor.
let maxElements = 100_000

/// libFuzzer entry point: the input is an ONNX file. If it loads, every graph input gets a small
/// deterministic tensor (symbolic and unknown dimensions become 2), the model runs once, and, if
/// an output and an input are float32, one reverse pass seeds that output with ones. Any thrown
/// error is expected; only crashes, hangs and memory beyond the rss limit are bugs.
@_cdecl("LLVMFuzzerTestOneInput")
public func fuzz(_ start: UnsafeRawPointer, _ count: Int) -> CInt {
    let bytes = UnsafeRawBufferPointer(start: start, count: count)
    // A small budget keeps each execution fast: larger outputs are refused, which is a path worth fuzzing too.
    let options = ModelOptions(threads: 1, memoryBudget: MemoryBudget(bytes: 16 << 20))
    guard let model = try? Model(data: Data(bytes), name: "fuzz.onnx", options: options) else { return 0 }
    guard let feeds = makeFeeds(model.inputs, seed: bytes.reduce(0) { ($0 &* 31) &+ Int($1) }) else { return 0 }

    guard let result = try? model.run(feeds) else { return 0 }
    let floatInput = model.inputs.first { $0.dtype == .float32 }
    let floatOutput = result.outputs.sorted { $0.key < $1.key }.first { $0.value.dtype == .float32 }
    if let floatInput, let (name, output) = floatOutput,
       let seed = try? Tensor(shape: output.shape, repeating: 1) {
        _ = try? model.gradients(feeds, target: .seeds([name: seed]), withRespectTo: [floatInput.name])
    }
    return 0
}

/// One tensor per graph input, or nil when an input is too large or of a type not fed.
func makeFeeds(_ inputs: [TensorInfo], seed: Int) -> [String: Tensor]? {
    var feeds: [String: Tensor] = [:]
    for input in inputs {
        var shape: [Int] = []
        for dim in input.shape {
            switch dim {
            case .known(let d):
                guard d >= 0, d <= maxDim else { return nil }
                shape.append(d)
            case .symbol, .unknown:
                shape.append(2)
            }
        }
        var count = 1
        for d in shape {
            count *= d
            guard count <= maxElements else { return nil }
        }
        let offset = seed & 0xFFFF
        let tensor: Tensor?
        switch input.dtype {
        case .float32:
            tensor = try? Tensor(shape: shape, floats: (0..<count).map { Float(($0 + offset) % 7 - 3) })
        case .int64:
            tensor = try? Tensor(shape: shape, int64s: (0..<count).map { Int64(($0 + offset) % 3) })
        case .bool:
            tensor = try? Tensor(shape: shape, bools: (0..<count).map { ($0 + offset) % 2 == 0 })
        default:
            return nil
        }
        guard let tensor else { return nil }
        feeds[input.name] = tensor
    }
    return feeds
}
