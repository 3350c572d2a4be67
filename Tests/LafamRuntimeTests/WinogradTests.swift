@testable import LafamOps
import LafamRuntime
import LafamTestSupport
import XCTest

/// Winograd F(2×2, 3×3) must give the im2col convolution's result up to rounding, for every
/// padding, for planes of odd sizes (partial tiles), with the output pass fused in, and
/// identically on one thread and two.
final class WinogradTests: XCTestCase {
    private func conv(pads: [Int]) throws -> Conv {
        try Conv(NodeContext(name: "conv", opType: "Conv", opset: 17, inputCount: 3, outputCount: 1,
                             attributes: ["kernel_shape": .ints([3, 3]), "pads": .ints(pads)]))
    }

    private func random(_ shape: [Int], _ rng: inout SplitMix64) -> Tensor {
        Tensor(uncheckedShape: shape, floats: (0..<shape.reduce(1, *)).map { _ in rng.normal() })
    }

    /// Largest difference relative to the reference's largest magnitude.
    private func relativeError(_ a: Tensor, _ b: Tensor) -> Float {
        let scale = b.floats.map(abs).max()!
        return zip(a.floats, b.floats).map { abs($0 - $1) }.max()! / scale
    }

    func testMatchesIm2colOnEveryPaddingAndPlaneSize() throws {
        var rng = SplitMix64(seed: 5)
        // (channels in, out, height, width, pads [top, left, bottom, right])
        let cases: [(Int, Int, Int, Int, [Int])] = [
            (16, 16, 16, 16, [1, 1, 1, 1]),   // tiles fit exactly
            (24, 40, 19, 23, [1, 1, 1, 1]),   // partial tiles at the bottom and right
            (17, 33, 30, 18, [0, 0, 0, 0]),   // valid: output smaller than input
            (32, 16, 21, 26, [0, 0, 1, 1]),   // SAME_UPPER-like
            (16, 24, 35, 17, [1, 2, 0, 0]),   // uneven begin padding
            (16, 16, 70, 70, [1, 1, 1, 1]),   // blocks of tile rows that straddle the two images
        ]
        for (c, m, h, w, pads) in cases {
            let op = try conv(pads: pads)
            let x = random([2, c, h, w], &rng), weight = random([m, c, 3, 3], &rng), bias = random([m], &rng)
            let residual = random(try op.run([x, weight, bias])[0].shape, &rng)
            for epilogue in [ConvEpilogue(), ConvEpilogue(hasResidual: true, activation: Relu())] {
                let inputs = epilogue.hasResidual ? [x, weight, bias, residual] : [x, weight, bias]
                let reference = try op.run(inputs, epilogue: epilogue)
                let transformed = weight.floats.withUnsafeBufferPointer { WinogradWeights(weights: $0.baseAddress!, outputs: m, inputs: c) }
                let one = try op.run(inputs, epilogue: epilogue, algorithm: .winograd(transformed))
                XCTAssertEqual(one.shape, reference.shape)
                XCTAssertLessThan(relativeError(one, reference), 2e-6, "\(c)→\(m) at \(h)×\(w), pads \(pads), residual \(epilogue.hasResidual)")
                let two = try KernelThreads.pass(on: KernelPool(threads: 2)) { try op.run(inputs, epilogue: epilogue, algorithm: .winograd(transformed)) }
                XCTAssertEqual(one.floats, two.floats, "two threads give the one-thread result")
            }
        }
    }

    func testOnlyUnitStrideUndilatedUngrouped3x3ConvsOfSomeSize() throws {
        func geometry(c: Int = 64, group: Int = 1, size: Int = 56, kernel: Int = 3, stride: Int = 1, dilation: Int = 1) -> ConvGeometry {
            var v = WindowVolume()
            v.size = [1, size, size]; v.kernel = [1, kernel, kernel]; v.stride = [1, stride, stride]
            v.dilation = [1, dilation, dilation]; v.padBegin = [0, 1, 1]; v.padEnd = [0, 1, 1]
            let out = (size + 2 - dilation * (kernel - 1) - 1) / stride + 1
            v.out = [1, out, out]
            return ConvGeometry(c: c, m: 64, cg: c / group, group: group, v: v)
        }
        XCTAssertTrue(WinogradWeights.suits(geometry(), images: 1))
        XCTAssertTrue(WinogradWeights.suits(geometry(size: 14), images: 1), "49 tiles")
        XCTAssertFalse(WinogradWeights.suits(geometry(size: 7), images: 1), "16 tiles: GEMMs too narrow to pay")
        XCTAssertTrue(WinogradWeights.suits(geometry(size: 7), images: 4), "the tiles of all images make one GEMM")
        XCTAssertFalse(WinogradWeights.suits(geometry(stride: 2), images: 1))
        XCTAssertFalse(WinogradWeights.suits(geometry(dilation: 2), images: 1))
        XCTAssertFalse(WinogradWeights.suits(geometry(group: 2), images: 1))
        XCTAssertFalse(WinogradWeights.suits(geometry(kernel: 5), images: 1))
        XCTAssertFalse(WinogradWeights.suits(geometry(c: 3), images: 1), "a stem with three input channels")
    }

    /// Models with constant weights run their suitable convs by Winograd, and agree with
    /// onnxruntime (whose CPU convs are direct) as closely as im2col does.
    func testFixtureModelsRunByWinogradMatchOnnxruntime() throws {
        for name in ["conv_winograd", "conv_winograd_uneven_pads"] {
            let model = try Model(path: Fixtures.path("ops/\(name)/model.onnx"))
            let x = try Fixtures.tensor("ops/\(name)/input_0.npy")
            let algorithms = try model.executedGraph(x).convs.compactMap { $0.conv.plan?.algorithm.name }
            XCTAssertEqual(algorithms, ["winograd"], name)
            let y = try XCTUnwrap(model.run(x).outputs.values.first)
            let expected = try Fixtures.tensor("ops/\(name)/output_0.npy")
            XCTAssertLessThan(relativeError(y, expected), 1e-6, name)
        }
    }
}
