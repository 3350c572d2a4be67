import Foundation
import LafamRuntime

/// libFuzzer entry point: the input is an ONNX file. Parsing and building the graph may throw
/// anything; only crashes, hangs and memory beyond the rss limit are bugs.
@_cdecl("LLVMFuzzerTestOneInput")
public func fuzz(_ start: UnsafeRawPointer, _ count: Int) -> CInt {
    let data = Data(UnsafeRawBufferPointer(start: start, count: count))
    MemoryBudget.$current.withValue(MemoryBudget(bytes: 256 << 20)) {
        do {
            let model = try ONNXReader.parse(data, path: "fuzz.onnx", baseDirectory: nil)
            _ = try GraphBuilder.build(model, registry: .standard)
        } catch {
            // Rejected input: expected.
        }
    }
    return 0
}
