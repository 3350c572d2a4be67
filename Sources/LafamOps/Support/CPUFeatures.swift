import LafamTensor
import CKernels

/// Whether this CPU has AVX2 and FMA, for the kernels of `CKernels`.
let cpuHasAVX2FMA = lafam_cpu_has_avx2_fma() != 0

/// Which instruction set lafam's own vector kernels use on this CPU (for `--version` and benchmarks).
public enum KernelInfo {
    /// "AVX2+FMA" when this CPU has both, otherwise "SSE2".
    public static var instructionSet: String { cpuHasAVX2FMA ? "AVX2+FMA" : "SSE2" }
}
