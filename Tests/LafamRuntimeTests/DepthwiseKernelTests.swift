@testable import LafamOps
import LafamRuntime
import LafamTestSupport
import XCTest

/// The AVX2 3×3 depthwise kernel (C, FMA) and the portable Swift one must agree up to FMA
/// rounding on every stride, padding and plane size (including planes narrower than one
/// 8-column step), and the AVX2 kernel's own bias and activation must equal the output pass's.
final class DepthwiseKernelTests: XCTestCase {
    func testAVX2KernelMatchesPortableKernel() throws {
        try XCTSkipUnless(cpuHasAVX2FMA, "this CPU has no AVX2/FMA; only the portable kernel runs here")
        var rng = SplitMix64(seed: 3)
        // (channels, multiplier, height, width, stride y, stride x, pads top, left, bottom, right)
        let cases: [(Int, Int, Int, Int, Int, Int, [Int])] = [
            (4, 1, 13, 21, 1, 1, [1, 1, 1, 1]),
            (3, 2, 9, 7, 1, 1, [1, 1, 1, 1]),     // multiplier 2, a plane narrower than 8
            (5, 1, 17, 33, 2, 2, [1, 1, 1, 1]),   // stride 2, odd size
            (2, 1, 16, 16, 2, 2, [0, 0, 1, 1]),   // SAME_UPPER-like
            (2, 1, 6, 40, 1, 2, [2, 0, 0, 2]),    // unequal strides and pads
            (3, 1, 3, 3, 1, 1, [0, 0, 0, 0]),     // one output
        ]
        for (c, multiplier, h, w, sy, sx, pads) in cases {
            var v = WindowVolume()
            v.size = [1, h, w]; v.kernel = [1, 3, 3]; v.stride = [1, sy, sx]
            v.padBegin = [0, pads[0], pads[1]]; v.padEnd = [0, pads[2], pads[3]]
            v.out = [1, (h + pads[0] + pads[2] - 3) / sy + 1, (w + pads[1] + pads[3] - 3) / sx + 1]
            let m = c * multiplier
            let g = ConvGeometry(c: c, m: m, cg: 1, group: c, v: v)
            let x = (0..<(c * h * w)).map { _ in rng.normal() }, weights = (0..<(m * 9)).map { _ in rng.normal() }
            let bias = (0..<m).map { _ in rng.normal() }
            let count = m * v.outputCount
            func run(avx2: Bool, finish: KernelFinish?) -> [Float] {
                [Float](unsafeUninitializedCapacity: count) { out, initialized in
                    let finished = depthwise3x3(g, x: x, w: weights, out: out.baseAddress!, finish: finish, avx2: avx2)
                    XCTAssertEqual(finished, finish != nil, "the AVX2 kernel applies the output pass it is given")
                    initialized = count
                }
            }
            let portable = run(avx2: false, finish: nil), vector = run(avx2: true, finish: nil)
            let scale = portable.map(abs).max()!
            XCTAssertLessThan(maxAbsDifference(vector, portable), 1e-6 * scale, "\(c)×\(multiplier) \(h)×\(w) stride \(sy),\(sx) pads \(pads)")
            for activation in [nil, Relu(), Clamp(low: -0.5, high: 0.75)] as [(any Activation)?] {
                let finish = KernelFinish(bias: bias, firstChannel: 0, clamp: try XCTUnwrap(KernelClamp(activation)))
                let fused = run(avx2: true, finish: finish)
                let separate = [Float](unsafeUninitializedCapacity: count) { out, initialized in
                    out.baseAddress!.update(from: vector, count: count)
                    finishOutput(bias: bias, residual: nil, activation: activation, channels: 0..<m, plane: v.outputCount,
                                 columns: 0..<v.outputCount, out: out.baseAddress!)
                    initialized = count
                }
                XCTAssertEqual(fused, separate, "the kernel's bias and activation are the output pass's, \(activation?.name ?? "none")")
            }
        }
    }
}
