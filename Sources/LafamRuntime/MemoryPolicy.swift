#if canImport(Glibc)
import CMalloc
#endif

/// An allocator setting for programs whose work is mostly lafam's: glibc hands allocations over
/// 128 KiB to mmap and returns them on free, so every forward pass would fault in its
/// activations' pages anew (about 3 ms of MobileNetV2's 22 ms, most of it in elementwise ops).
/// Raising the mmap and trim thresholds keeps freed buffers in the heap for the next pass to
/// reuse. It changes the allocator for the whole process, so lafam never applies it by itself:
/// the `lafam` command opts in; a program embedding the library may.
public enum MemoryPolicy {
    /// Keeps freed large buffers in the process heap from now on (no effect where glibc is absent).
    public static func keepFreedBuffers() {
        #if canImport(Glibc)
        _ = mallopt(M_MMAP_THRESHOLD, 512 << 20)
        _ = mallopt(M_TRIM_THRESHOLD, Int32.max)
        #endif
    }
}
