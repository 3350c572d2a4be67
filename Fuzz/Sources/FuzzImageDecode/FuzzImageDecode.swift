import LafamImaging
import LafamTensor

/// libFuzzer entry point: the input is a PNG or JPEG file (ImageIO.decode tells them apart by
/// signature). Any thrown error is expected; only crashes, hangs and leaks are bugs.
@_cdecl("LLVMFuzzerTestOneInput")
public func fuzz(_ start: UnsafeRawPointer, _ count: Int) -> CInt {
    let bytes = Array(UnsafeRawBufferPointer(start: start, count: count))
    // 16 MB (2 M pixels): large declared images are refused quickly instead of decoded slowly.
    MemoryBudget.$current.withValue(MemoryBudget(bytes: 16 << 20)) {
        _ = try? ImageIO.decode(bytes)
    }
    return 0
}
