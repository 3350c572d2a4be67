import Foundation

/// What programs reach for after a run: one image of a batch, the best classes per image and
/// their softmax probabilities.
extension Tensor {
    /// Images `range` of a batch (along axis 0), keeping the axis: shape `[range.count, …]`.
    public func batch(_ range: Range<Int>) throws -> Tensor {
        guard rank >= 1, range.lowerBound >= 0, range.upperBound <= shape[0] else {
            throw TensorError("batch items \(range.lowerBound)..<\(range.upperBound) of a tensor of shape \(shape) do not exist")
        }
        return images(range)
    }

    /// Image `index` of a batch, keeping the axis: shape `[1, …]`.
    public func batchItem(_ index: Int) throws -> Tensor {
        guard rank >= 1, (0..<shape[0]).contains(index) else {
            throw TensorError("batch item \(index) of a tensor of shape \(shape) does not exist")
        }
        return try batch(index..<(index + 1))
    }

    /// Per row of a `[N, C]` float tensor of scores, its softmax (computed in float64).
    public func softmaxRows() throws -> [[Float]] {
        guard rank == 2 else { throw TensorError("a softmax per row needs a [batch, classes] tensor, got shape \(shape)") }
        let values = try floatValues()
        let classes = shape[1]
        return (0..<shape[0]).map { row in
            let scores = values[(row * classes)..<((row + 1) * classes)]
            let peak = scores.max() ?? 0
            let exps = scores.map { Foundation.exp(Double($0 - peak)) }
            let total = exps.reduce(0, +)
            return exps.map { Float($0 / total) }
        }
    }

    /// The L2 norm of each image's values (axis 0 the batch; computed in float64).
    public func rowNorms() throws -> [Double] {
        guard rank >= 1, shape[0] > 0 else { return [] }
        let values = try floatValues(), width = count / shape[0]
        return (0..<shape[0]).map { row in
            values[(row * width)..<((row + 1) * width)].reduce(0.0) { $0 + Double($1) * Double($1) }.squareRoot()
        }
    }

    /// Per row of a `[N, C]` float tensor of scores, the `k` largest (ties: the lower index first),
    /// best first, each with its softmax probability over the row.
    public func topK(_ k: Int) throws -> [[(index: Int, score: Float, probability: Float)]] {
        let values = try floatValues(), probabilities = try softmaxRows()
        let classes = shape[1]
        return probabilities.enumerated().map { row, p in
            let scores = values[(row * classes)..<((row + 1) * classes)]
            let best = scores.indices.sorted { scores[$0] > scores[$1] || (scores[$0] == scores[$1] && $0 < $1) }.prefix(max(0, k))
            return best.map { i in (i - row * classes, scores[i], p[i - row * classes]) }
        }
    }

    /// Per row of a `[N, C]` float tensor, the index of its largest value (the lower on ties).
    public func argmax() throws -> [Int] { try topK(1).map { $0.first?.index ?? 0 } }
}
