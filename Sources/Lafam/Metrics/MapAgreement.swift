/// How much two saliency maps of one image agree (two models' maps, such as a float model's and
/// its quantized deployment's): rank correlation over all pixels and overlap of their most
/// salient pixels.
public struct MapAgreement: Sendable, Equatable {
    /// Spearman's rank correlation of the two maps' pixels (ties take their average rank, as
    /// scipy.stats.spearmanr): 1 for the same order, 0 for unrelated, −1 for reversed. NaN when
    /// either map is constant.
    public let spearman: Double
    /// The share of the `fraction` most salient pixels of one map that are among those of the
    /// other (k = ⌈fraction · pixels⌉, ties broken by the lower flat index).
    public let topOverlap: Double
    /// The fraction `topOverlap` was measured at.
    public let fraction: Double

    /// The agreement of maps `a` and `b` (the same pixels, in the same order) at the top
    /// `fraction` of pixels (default 10%). Throws when their sizes differ or are 0, or when the
    /// fraction is not in (0, 1].
    public init(_ a: [Float], _ b: [Float], fraction: Double = 0.1) throws {
        guard a.count == b.count, !a.isEmpty else {
            throw LafamError.invalidArgument("maps of \(a.count) and \(b.count) pixels cannot be compared")
        }
        guard fraction > 0, fraction <= 1 else { throw LafamError.invalidArgument("the top fraction must be in (0, 1], got \(fraction)") }
        spearman = Self.pearson(Self.ranks(a), Self.ranks(b))
        let k = max(1, Int((fraction * Double(a.count)).rounded(.up)))
        let top = Set(Self.topIndices(a, k)), other = Self.topIndices(b, k)
        topOverlap = Double(other.filter(top.contains).count) / Double(k)
        self.fraction = fraction
    }

    /// 1-based ranks of `v`, ties given the average of the ranks they span.
    static func ranks(_ v: [Float]) -> [Double] {
        let order = v.indices.sorted { v[$0] < v[$1] || (v[$0] == v[$1] && $0 < $1) }
        var ranks = [Double](repeating: 0, count: v.count)
        var start = 0
        while start < order.count {
            var end = start
            while end + 1 < order.count && v[order[end + 1]] == v[order[start]] { end += 1 }
            let average = Double(start + end) / 2 + 1
            for i in start...end { ranks[order[i]] = average }
            start = end + 1
        }
        return ranks
    }

    private static func pearson(_ x: [Double], _ y: [Double]) -> Double {
        let n = Double(x.count)
        let mx = x.reduce(0, +) / n, my = y.reduce(0, +) / n
        var sxy = 0.0, sxx = 0.0, syy = 0.0
        for i in x.indices {
            let dx = x[i] - mx, dy = y[i] - my
            sxy += dx * dy; sxx += dx * dx; syy += dy * dy
        }
        return sxx > 0 && syy > 0 ? sxy / (sxx * syy).squareRoot() : .nan
    }

    private static func topIndices(_ v: [Float], _ k: Int) -> [Int] {
        Array(v.indices.sorted { v[$0] > v[$1] || (v[$0] == v[$1] && $0 < $1) }.prefix(k))
    }
}
