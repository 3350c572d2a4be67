import CKernels
import LafamGraph
import LafamTensor

/// What a Conv's output pass applies after the bias, when passes fused the nodes after it into
/// the Conv (`fuse-conv-output-pass`): a residual addend of the output's shape (the Conv's
/// fourth input), then an activation.
struct ConvEpilogue: Sendable {
    var hasResidual = false
    var activation: (any Activation)? = nil

    var isEmpty: Bool { !hasResidual && activation == nil }
}

/// An activation as the C kernels' arguments: a clamp flag and the bounds.
struct KernelClamp {
    let flag: Int32
    let low, high: Float

    static let none = KernelClamp(flag: 0, low: 0, high: 0)

    private init(flag: Int32, low: Float, high: Float) {
        (self.flag, self.low, self.high) = (flag, low, high)
    }

    /// nil when the kernels do not compute `activation` (it is not a clamp); `none` for no activation.
    init?(_ activation: (any Activation)?) {
        guard let activation else { self = .none; return }
        guard let (low, high) = activation.clampBounds else { return nil }
        self.init(flag: 1, low: low, high: high)
    }
}

/// Calls `body` with a pointer to `value`, or with nil when there is none (a C kernel's optional
/// per-channel bias).
@inline(__always)
func withOptionalPointer<R>(to value: Float?, _ body: (UnsafePointer<Float>?) -> R) -> R {
    guard let value else { return body(nil) }
    return withUnsafePointer(to: value) { body($0) }
}

/// One image's output pass over `columns` of the planes of `channels`: out = activation(out + bias
/// + residual), each step skipped when absent, with the same float operations in the same order
/// as the unfused Add and activation nodes.
func finishOutput(bias: [Float]?, residual: ([Float], offset: Int)?, activation: (any Activation)?,
                  channels: Range<Int>, plane: Int, columns: Range<Int>, out: UnsafeMutablePointer<Float>) {
    let count = columns.count
    // On AVX2 CPUs, one C loop per row for the activations it computes.
    let clamp = cpuHasAVX2FMA ? KernelClamp(activation) : nil
    func rows(_ residualBase: UnsafePointer<Float>?) {
        for ch in channels {
            let p = out + ch * plane + columns.lowerBound
            if let clamp {
                withOptionalPointer(to: bias?[ch]) { b in
                    lafam_finish_row(p, count, b, residualBase.map { $0 + ch * plane + columns.lowerBound }, clamp.flag, clamp.low, clamp.high)
                }
                continue
            }
            if let bias {
                let value = bias[ch]
                for i in 0..<count { p[i] += value }
            }
            if let residualBase {
                let r = residualBase + ch * plane + columns.lowerBound
                if let activation {
                    activation.applyAdding(r, to: p, count: count)
                } else {
                    for i in 0..<count { p[i] = p[i] + r[i] }
                }
            } else {
                activation?.applyInPlace(p, count: count)
            }
        }
    }
    if let (r, offset) = residual {
        r.withUnsafeBufferPointer { rows($0.baseAddress! + offset) }
    } else {
        rows(nil)
    }
}

/// The output pass (`finishOutput` without a residual) for a kernel to apply as it stores each
/// output: + bias of the output's channel, then the clamp. `firstChannel` is the bias index of
/// the kernel's first output channel.
struct KernelFinish {
    let bias: [Float]?
    let firstChannel: Int
    let clamp: KernelClamp
}
