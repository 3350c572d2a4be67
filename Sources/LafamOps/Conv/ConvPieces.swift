import LafamGraph
import LafamTensor

/// One image's convolution cut into pieces that write disjoint parts of the output, so that the
/// pieces can run on several threads: a range of output channels × a range of output positions
/// (whole output rows for im2col convs, any columns for pointwise ones, the whole plane for
/// depthwise ones). With one worker the pieces are the tiles that a single thread walks in order.
struct ConvPiece {
    let channels: Range<Int>
    let columns: Range<Int>
}

extension ConvGeometry {
    /// Multiply-adds per image below which one thread does the whole convolution: a parallel
    /// dispatch costs some microseconds, a conv this small (a 7×7 depthwise layer) tens of them.
    static let parallelWorkThreshold = 1 << 18

    /// Saturates rather than overflows: only compared with a threshold.
    var multiplyAdds: Int {
        [m, v.outputCount, cg, v.kernelCount].reduce(1) { total, f in
            let (p, overflow) = total.multipliedReportingOverflow(by: f)
            return overflow ? .max : p
        }
    }

    /// The pieces for `workers` threads that take pieces round-robin: a multiple of `workers` of
    /// near-equal size. Position tiles stay within the per-tile budgets; when a plane has fewer
    /// tiles than workers, a plain or depthwise conv splits its output channels instead.
    func pieces(workers: Int) -> [ConvPiece] {
        let plane = v.outputCount, ow = v.out[2], outputRows = v.out[0] * v.out[1]
        if isDepthwise {
            // Input channels are split so that each keeps all of its outputs (channel multiplier).
            let multiplier = m / c
            return split(0..<c, into: min(workers, c)).map {
                ConvPiece(channels: ($0.lowerBound * multiplier)..<($0.upperBound * multiplier), columns: 0..<plane)
            }
        }
        // Position unit (one column, or one output row of `ow` columns) and units per tile: pointwise
        // tiles of up to 1M outputs (each tile's GEMM packs the weights again, which cost more than
        // the output pass's cache misses: ResNet-50's 1×1 convs 10% faster than 64K-output tiles),
        // im2col tiles within their budget (see `im2colMinimumColumns`).
        let (unit, units, perTile) = isPointwise
            ? (1, plane, max(64, (1 << 20) / m / 64 * 64))
            : (ow, outputRows, max(im2colTileBudget / max(1, cg * v.kernelCount * ow), (im2colMinimumColumns + ow - 1) / ow))
        var tiles = (units + perTile - 1) / perTile
        var channelParts = 1
        if workers > 1 {
            if tiles < workers && group == 1 && m >= 2 * workers {
                channelParts = workers
            } else {
                tiles = min(units, (tiles + workers - 1) / workers * workers)
            }
        }
        let positions = split(0..<units, into: tiles).map { ($0.lowerBound * unit)..<($0.upperBound * unit) }
        return split(0..<m, into: channelParts).flatMap { channels in
            positions.map { ConvPiece(channels: channels, columns: $0) }
        }
    }

    /// `range` in `parts` consecutive near-equal ranges (the first ones one longer).
    private func split(_ range: Range<Int>, into parts: Int) -> [Range<Int>] {
        let parts = max(1, min(parts, range.count))
        return (0..<parts).map { range.lowerBound + $0 * range.count / parts ..< range.lowerBound + ($0 + 1) * range.count / parts }
    }

    /// The geometry of output `channels` alone (a plain conv, or a depthwise conv's input
    /// channels that feed them), with the element offsets of their weights, inputs and outputs.
    func restricted(to channels: Range<Int>) -> (geometry: ConvGeometry, weights: Int, input: Int, output: Int) {
        let weightsPerOutput = cg * v.kernelCount
        if channels == 0..<m { return (self, 0, 0, 0) }
        if isDepthwise {
            let multiplier = m / c, inputs = channels.count / multiplier
            return (ConvGeometry(c: inputs, m: channels.count, cg: 1, group: inputs, v: v), channels.lowerBound * weightsPerOutput,
                    channels.lowerBound / multiplier * v.inputCount, channels.lowerBound * v.outputCount)
        }
        precondition(group == 1, "only ungrouped convs split their output channels")
        return (ConvGeometry(c: c, m: channels.count, cg: cg, group: 1, v: v), channels.lowerBound * weightsPerOutput,
                0, channels.lowerBound * v.outputCount)
    }
}
