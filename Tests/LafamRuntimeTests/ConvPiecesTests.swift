@testable import LafamOps
import LafamRuntime
import LafamTestSupport
import XCTest

/// With more than one OpenBLAS thread a single image's convolution is cut into pieces that run on
/// lafam's own threads: the pieces must cover every output exactly once, and the result must be
/// the one-thread result, bit for bit.
final class ConvPiecesTests: XCTestCase {
    private func geometry(c: Int, m: Int, group: Int, size: Int, kernel: Int, stride: Int = 1) -> ConvGeometry {
        var v = WindowVolume()
        let pad = kernel / 2
        let out = (size + 2 * pad - kernel) / stride + 1
        v.size = [1, size, size]; v.kernel = [1, kernel, kernel]; v.stride = [1, stride, stride]
        v.padBegin = [0, pad, pad]; v.padEnd = [0, pad, pad]; v.out = [1, out, out]
        return ConvGeometry(c: c, m: m, cg: c / group, group: group, v: v)
    }

    func testPiecesCoverTheOutputOnce() {
        let cases = [
            geometry(c: 64, m: 64, group: 1, size: 56, kernel: 3),      // im2col, row tiles
            geometry(c: 512, m: 512, group: 1, size: 7, kernel: 3),     // one tile: channels split
            geometry(c: 512, m: 2048, group: 1, size: 7, kernel: 1),    // pointwise, small plane
            geometry(c: 64, m: 256, group: 1, size: 56, kernel: 1),     // pointwise, column tiles
            geometry(c: 96, m: 96, group: 96, size: 56, kernel: 3, stride: 2), // depthwise
            geometry(c: 8, m: 16, group: 8, size: 9, kernel: 5),        // depthwise, multiplier 2
            geometry(c: 64, m: 128, group: 32, size: 7, kernel: 3),     // grouped: positions only
            geometry(c: 3, m: 4, group: 1, size: 1, kernel: 1),         // fewer positions than workers
        ]
        for g in cases {
            for workers in [1, 2, 3] {
                let pieces = g.pieces(workers: workers)
                var covered = [Int](repeating: 0, count: g.m * g.v.outputCount)
                for p in pieces {
                    if !g.isPointwise && !g.isDepthwise {
                        XCTAssertEqual(p.columns.lowerBound % g.v.out[2], 0, "whole output rows")
                        XCTAssertEqual(p.columns.upperBound % g.v.out[2], 0, "whole output rows")
                    }
                    if g.group > 1 && !g.isDepthwise { XCTAssertEqual(p.channels, 0..<g.m, "grouped convs keep all channels") }
                    for ch in p.channels { for i in p.columns { covered[ch * g.v.outputCount + i] += 1 } }
                }
                XCTAssertEqual(Set(covered), [1], "\(g.m)×\(g.v.out) with \(workers) workers")
                if workers > 1 && !g.isDepthwise && g.v.outputCount >= workers {
                    XCTAssertEqual(pieces.count % workers, 0, "round-robin gets equal shares")
                }
            }
        }
    }

    func testParallelPiecesEqualOneThread() throws {
        let single = try Model(path: Fixtures.mobilenet, options: ModelOptions(threads: 1))
        let double = try Model(path: Fixtures.mobilenet, options: ModelOptions(threads: 2))
        let taps = single.graph.nodes.filter { $0.opType == "Conv" }.map { single.graph.values[$0.outputs[0]].name }
        var rng = SplitMix64(seed: 11)
        let x = Tensor(uncheckedShape: [1, 3, 224, 224], floats: (0..<(3 * 224 * 224)).map { _ in rng.normal() })
        // Without taps every residual Add and activation is fused into the pieces' output pass.
        let (one, fusedOne) = (try single.run(x, taps: taps), try single.run(x))
        let (two, fusedTwo) = (try double.run(x, taps: taps), try double.run(x))
        XCTAssertEqual(fusedTwo.outputs.values.first?.floats, fusedOne.outputs.values.first?.floats)
        for (name, t) in one.taps.merging(one.outputs, uniquingKeysWith: { a, _ in a }) {
            let other = two.taps[name] ?? two.outputs[name]
            XCTAssertEqual(other?.floats, t.floats, name)
        }
    }
}
