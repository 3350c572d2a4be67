import CKernels
import LafamGraph
import LafamTensor

extension ConvGeometry {
    /// A 2-D 3×3 undilated ungrouped conv with at most 4 input channels (a stem) and a row
    /// stride of 1 or 2, on a CPU with AVX2: `smallInputConv` computes it directly.
    var suitsSmallInputKernel: Bool {
        cpuHasAVX2FMA && group == 1 && c <= 4 && v.kernel == [1, 3, 3] && v.dilation == [1, 1, 1]
            && v.size[0] == 1 && v.out[0] == 1 && v.stride[2] <= 2
    }
}

/// A stem conv (`suitsSmallInputKernel`) of `images` images by the AVX2 kernel of `CKernels`,
/// whose K = 9·C would make im2col's GEMM short and slow (MobileNetV2's stem 0.64 → 0.2 ms):
/// the padded input is laid out once per image, then output channels are split across workers.
/// Without a residual, and for an activation it computes, the kernel adds the bias and applies
/// the activation as it stores.
func smallInputConv(_ g: ConvGeometry, x: UnsafePointer<Float>, w: UnsafePointer<Float>, out: UnsafeMutablePointer<Float>, images: Int,
                    workers: Int, bias: [Float]?, residual: [Float]?, activation: (any Activation)?) {
    let v = g.v
    let (h, wd, oh, ow, sy, sx) = (v.size[1], v.size[2], v.out[1], v.out[2], v.stride[1], v.stride[2])
    let scratch = UnsafeMutablePointer<Float>.allocate(capacity: lafam_conv3x3_small_scratch(g.c, oh, ow, sy, sx))
    defer { scratch.deallocate() }
    let clamp = residual == nil ? KernelClamp(activation) : nil
    for b in 0..<images {
        let xi = x + b * g.c * v.inputCount, oi = out + b * g.m * v.outputCount
        lafam_conv3x3_small_prepare(xi, scratch, g.c, h, wd, oh, ow, sy, sx, v.padBegin[1], v.padBegin[2])
        KernelThreads.run(workers) { worker in
            let channels = KernelThreads.share(g.m, worker: worker, of: workers)
            guard !channels.isEmpty else { return }
            let first = oi + channels.lowerBound * v.outputCount
            let kernelBias = clamp == nil ? nil : bias.map { Array($0[channels]) }
            let kernelClamp = clamp ?? .none
            lafam_conv3x3_small(scratch, w + channels.lowerBound * g.c * 9, first, g.c, channels.count, oh, ow, sy, sx,
                                kernelBias, kernelClamp.flag, kernelClamp.low, kernelClamp.high)
            if clamp == nil {
                finishOutput(bias: bias, residual: residual.map { ($0, b * g.m * v.outputCount) }, activation: activation, channels: channels,
                             plane: v.outputCount, columns: 0..<v.outputCount, out: oi)
            }
        }
    }
}
