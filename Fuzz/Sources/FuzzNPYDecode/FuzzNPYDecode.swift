import LafamImaging
import LafamTensor

/// libFuzzer entry point: the input is a .npy file. A decoded array is also bridged to a Tensor.
/// Any thrown error is expected; only crashes, hangs and leaks are bugs.
@_cdecl("LLVMFuzzerTestOneInput")
public func fuzz(_ start: UnsafeRawPointer, _ count: Int) -> CInt {
    let bytes = Array(UnsafeRawBufferPointer(start: start, count: count))
    MemoryBudget.$current.withValue(MemoryBudget(bytes: 256 << 20)) {
        if let array = try? NPYArray.decode(bytes) {
            _ = Tensor(array)
        }
    }
    return 0
}
