@testable import LafamOps
import LafamRuntime
import LafamTestSupport
import XCTest

/// The AVX2 stem kernel (3×3 convs with ≤ 4 input channels) must compute the convolution of its
/// definition for every stride it takes, padding, odd sizes and channel counts that are not a
/// multiple of its 4-channel blocks, finish the output like the output pass, and give the same
/// result on one thread and two.
final class SmallInputConvTests: XCTestCase {
    /// The convolution by its definition, in double precision: out[oc][oy][ox] = Σ w·x.
    private func reference(_ x: [Float], _ w: [Float], c: Int, m: Int, h: Int, wd: Int, stride: (Int, Int), pads: [Int]) -> ([Float], Int, Int) {
        let oh = (h + pads[0] + pads[2] - 3) / stride.0 + 1, ow = (wd + pads[1] + pads[3] - 3) / stride.1 + 1
        var out = [Float](repeating: 0, count: m * oh * ow)
        for oc in 0..<m { for oy in 0..<oh { for ox in 0..<ow {
            var sum = 0.0
            for ic in 0..<c { for ky in 0..<3 { for kx in 0..<3 {
                let iy = oy * stride.0 + ky - pads[0], ix = ox * stride.1 + kx - pads[1]
                if iy >= 0 && iy < h && ix >= 0 && ix < wd { sum += Double(w[((oc * c + ic) * 3 + ky) * 3 + kx]) * Double(x[(ic * h + iy) * wd + ix]) }
            } } }
            out[(oc * oh + oy) * ow + ox] = Float(sum)
        } } }
        return (out, oh, ow)
    }

    func testMatchesTheDefinitionOnEveryStrideAndPadding() throws {
        try XCTSkipUnless(cpuHasAVX2FMA, "this CPU has no AVX2/FMA; stems run by im2col here")
        var rng = SplitMix64(seed: 21)
        // (input channels, output channels, height, width, strides, pads top, left, bottom, right)
        let cases: [(Int, Int, Int, Int, (Int, Int), [Int])] = [
            (3, 32, 31, 29, (2, 2), [1, 1, 1, 1]),
            (3, 6, 17, 23, (1, 1), [1, 1, 1, 1]),
            (1, 5, 12, 9, (1, 2), [0, 1, 2, 0]),
            (4, 7, 10, 19, (2, 1), [0, 0, 1, 1]),
            (2, 3, 3, 3, (1, 1), [0, 0, 0, 0]),
        ]
        for (c, m, h, wd, stride, pads) in cases {
            let op = try Conv(NodeContext(name: "stem", opType: "Conv", opset: 17, inputCount: 3, outputCount: 1,
                                          attributes: ["kernel_shape": .ints([3, 3]), "pads": .ints(pads), "strides": .ints([stride.0, stride.1])]))
            let x = (0..<(c * h * wd)).map { _ in rng.normal() }, w = (0..<(m * c * 9)).map { _ in rng.normal() }
            let bias = (0..<m).map { _ in rng.normal() }
            let (expected, oh, ow) = reference(x, w, c: c, m: m, h: h, wd: wd, stride: stride, pads: pads)
            let inputs = [Tensor(uncheckedShape: [1, c, h, wd], floats: x), Tensor(uncheckedShape: [m, c, 3, 3], floats: w), Tensor(uncheckedShape: [m], floats: bias)]
            XCTAssertTrue(try op.geometry(input: inputs[0].shape, weight: inputs[1].shape).suitsSmallInputKernel)
            let plain = try op.run(Array(inputs.prefix(2)))[0]
            XCTAssertEqual(plain.shape, [1, m, oh, ow])
            let scale = expected.map(abs).max()!
            XCTAssertLessThan(maxAbsDifference(plain.floats, expected), 1e-5 * scale, "\(c)→\(m) \(h)×\(wd) stride \(stride) pads \(pads)")
            let residual = Tensor(uncheckedShape: plain.shape, floats: (0..<plain.count).map { _ in rng.normal() })
            for epilogue in [ConvEpilogue(activation: Clamp(low: 0, high: 6)), ConvEpilogue(hasResidual: true, activation: Relu())] {
                var separate = try op.run(inputs)[0].floats
                let bounds = epilogue.activation!.clampBounds!
                separate.withUnsafeMutableBufferPointer { p in
                    // The unfused graph: bias (already in op.run), then Add and the activation.
                    for i in p.indices {
                        if epilogue.hasResidual { p[i] = p[i] + residual.floats[i] }
                        p[i] = Swift.min(Swift.max(p[i], bounds.low), bounds.high)
                    }
                }
                let fusedInputs = epilogue.hasResidual ? inputs + [residual] : inputs
                let fused = try op.run(fusedInputs, epilogue: epilogue)
                XCTAssertEqual(try op.specialized(for: inputs.map { ValueFacts($0) }).conv.plan?.algorithm.name, "smallInput")
                XCTAssertEqual(fused.floats, separate, "the kernel's own output pass, residual \(epilogue.hasResidual)")
                let two = try KernelThreads.pass(on: KernelPool(threads: 2)) { try op.run(fusedInputs, epilogue: epilogue) }
                XCTAssertEqual(two.floats, fused.floats, "two threads give the one-thread result")
            }
        }
    }
}
