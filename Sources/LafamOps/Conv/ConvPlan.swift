import LafamGraph
import LafamTensor

/// Sizes of one convolution, per image, over three spatial axes (see `WindowVolume`).
struct ConvGeometry: Sendable, Equatable {
    let c, m, cg, group: Int
    let v: WindowVolume

    var outputsPerGroup: Int { m / group }
    var isDepthwise: Bool { cg == 1 && group == c && group > 1 }
    var isPointwise: Bool {
        v.kernelCount == 1 && v.stride == [1, 1, 1] && v.padBegin == [0, 0, 0] && v.out == v.size
    }
}

/// How a Conv computes its output. Chosen once for a specialised graph (`Conv.specialized(for:)`)
/// from the geometry and the CPU, or set by the `winograd` pass.
enum ConvAlgorithm: Sendable {
    /// im2col over tiles of output rows, then SGEMM, per group.
    case im2col
    /// 1×1, stride 1, unpadded: SGEMM on the input directly.
    case pointwise
    /// Depthwise 3×3 undilated, any stride and padding: nine taps summed in registers (the AVX2
    /// kernel for row strides ≤ 2 where the CPU has it).
    case depthwise3x3
    /// Depthwise, stride 1, undilated, 1-D or 2-D, any window (ConvNeXt's 7×7): rows padded once.
    case depthwiseStride1
    /// Any other depthwise conv: tap by tap over output rows.
    case depthwiseDirect
    /// 3×3 stems with ≤ 4 input channels on AVX2 CPUs: a direct C kernel (`smallInputConv`).
    case smallInput
    /// Winograd F(2×2, 3×3) with the weights' transform (`Winograd.swift`).
    case winograd(WinogradWeights)

    /// The direct algorithm for `g` on this CPU (Winograd is a pass's choice, not made here).
    static func choose(for g: ConvGeometry) -> ConvAlgorithm {
        if g.isDepthwise {
            if g.v.kernel == [1, 3, 3] && g.v.dilation == [1, 1, 1] { return .depthwise3x3 }
            if g.v.size[0] == 1 && g.v.out[0] == 1 && g.v.stride == [1, 1, 1] && g.v.dilation == [1, 1, 1] { return .depthwiseStride1 }
            return .depthwiseDirect
        }
        if g.suitsSmallInputKernel { return .smallInput }
        return g.isPointwise ? .pointwise : .im2col
    }
}

/// A Conv's geometry and algorithm for one input and weight shape.
struct ConvPlan: Sendable {
    let input: [Int]
    let weight: [Int]
    let geometry: ConvGeometry
    let algorithm: ConvAlgorithm
}
