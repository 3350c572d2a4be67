import Foundation

/// The localisation metrics of the LaFAM paper, as Quantus 0.6.0 defines them (defaults
/// included), for one saliency map `a` and one binary object mask `s` of the same size.
/// Quantus first divides `a` by max |a| (its default `normalise_by_max`); metrics whose Quantus
/// default is `abs=True` (AttributionLocalisation, Sparseness) then take |a|. Like Quantus,
/// constant and all-negative maps are refused. An empty mask gives NaN for every mask metric
/// (Quantus returns True for PointingGame there, a bug); a full mask gives NaN for AUC.
public enum LocalisationMetrics {
    /// How equal values are ordered when a metric ranks pixels (TopK, RRA). Nearest-upsampled
    /// maps are full of ties, and Quantus's order (NumPy's unstable quicksort) is not defined.
    public enum TieRule: String, Sendable, CaseIterable {
        /// Among equal values, the pixel with the lower flat index ranks higher (default).
        case firstPixelFirst = "first"
        /// Among equal values, the pixel with the higher flat index ranks higher.
        case lastPixelFirst = "last"
    }

    /// The metrics' names in report order: the keys of `all`'s result and the metric columns of
    /// results files.
    public static let names = ["pointing_game", "topk_intersection", "relevance_rank_accuracy",
                               "relevance_mass_accuracy", "attribution_localisation", "auc", "sparseness"]

    /// Every metric by name (see `names`).
    public static func all(_ a: [Float], mask s: [Bool], k: Int = 1000, ties: TieRule = .firstPixelFirst) throws -> [String: Double] {
        try validate(a, s)
        return [
            "pointing_game": pointingGame(a, mask: s),
            "topk_intersection": try topKIntersection(a, mask: s, k: k, ties: ties),
            "relevance_rank_accuracy": relevanceRankAccuracy(a, mask: s, ties: ties),
            "relevance_mass_accuracy": relevanceMassAccuracy(a, mask: s),
            "attribution_localisation": attributionLocalisation(a, mask: s),
            "auc": auc(a, mask: s),
            "sparseness": sparseness(a),
        ]
    }

    /// Quantus refuses constant attributions (it cannot normalise them); so does lafam.
    public static func validate(_ a: [Float], _ s: [Bool]) throws {
        guard a.count == s.count, !a.isEmpty else {
            throw LafamError.invalidArgument("the map has \(a.count) values and the mask \(s.count)")
        }
        guard let lo = a.min(), let hi = a.max(), lo != hi else {
            throw LafamError.invalidArgument("the saliency map is constant; localisation metrics are undefined for it")
        }
        guard a.allSatisfy(\.isFinite) else { throw LafamError.invalidArgument("the saliency map holds NaN or infinite values") }
        guard hi >= 0 else { throw LafamError.invalidArgument("the saliency map is negative everywhere; localisation metrics need some positive relevance") }
    }

    /// a / max |a| (Quantus's `normalise_by_max`).
    static func normalised(_ a: [Float]) -> [Double] {
        let m = Double(a.map { abs($0) }.max() ?? 0)
        return a.map { m > 0 ? Double($0) / m : Double($0) }
    }

    /// 1 if any pixel holding the map's maximum lies in the mask, else 0.
    public static func pointingGame(_ a: [Float], mask s: [Bool]) -> Double {
        guard s.contains(true) else { return .nan }
        let top = a.max()!
        return a.indices.contains { a[$0] == top && s[$0] } ? 1 : 0
    }

    /// |top-k pixels ∩ mask| / k; k must be smaller than the number of pixels (as Quantus demands).
    public static func topKIntersection(_ a: [Float], mask s: [Bool], k: Int, ties: TieRule) throws -> Double {
        guard k >= 1, k < a.count else {
            throw LafamError.invalidArgument("Top-K Intersection needs 1 ≤ k < \(a.count) (the number of pixels), got k = \(k)")
        }
        guard s.contains(true) else { return .nan }
        let top = ranked(normalised(a), ties: ties).prefix(k)
        return Double(top.filter { s[$0] }.count) / Double(k)
    }

    /// With K = |mask|: |top-K pixels ∩ mask| / K.
    public static func relevanceRankAccuracy(_ a: [Float], mask s: [Bool], ties: TieRule) -> Double {
        let k = s.filter { $0 }.count
        guard k > 0 else { return .nan }
        let top = ranked(normalised(a), ties: ties).prefix(k)
        return Double(top.filter { s[$0] }.count) / Double(k)
    }

    /// Σ a[mask] / Σ a.
    public static func relevanceMassAccuracy(_ a: [Float], mask s: [Bool]) -> Double {
        guard s.contains(true) else { return .nan }
        let v = normalised(a)
        let inside = v.indices.reduce(0.0) { s[$1] ? $0 + v[$1] : $0 }
        return inside / v.reduce(0, +)
    }

    /// Σ |a|[mask] / (Σ |a| + 1e-9) (Quantus's default abs=True, unweighted).
    public static func attributionLocalisation(_ a: [Float], mask s: [Bool]) -> Double {
        guard s.contains(true) else { return .nan }
        let v = normalised(a).map(abs)
        let inside = v.indices.reduce(0.0) { s[$1] ? $0 + v[$1] : $0 }
        return inside / (v.reduce(0, +) + 1e-9)
    }

    /// Area under the ROC curve of the map as a score for the mask: the probability that a
    /// random mask pixel outscores a random background pixel, ties counting ½.
    public static func auc(_ a: [Float], mask s: [Bool]) -> Double {
        let positives = s.filter { $0 }.count, negatives = s.count - positives
        guard positives > 0 else { return .nan }
        guard negatives > 0 else { return .nan }
        // Rank-sum (Mann–Whitney U) with average ranks for ties.
        let order = a.indices.sorted { a[$0] < a[$1] }
        var rankSum = 0.0
        var i = 0
        while i < order.count {
            var j = i
            while j + 1 < order.count && a[order[j + 1]] == a[order[i]] { j += 1 }
            let averageRank = Double(i + j + 2) / 2
            for t in i...j where s[order[t]] { rankSum += averageRank }
            i = j + 1
        }
        return (rankSum - Double(positives) * Double(positives + 1) / 2) / (Double(positives) * Double(negatives))
    }

    /// Gini index of |a| (Quantus's Sparseness, abs=True): with a sorted ascending and shifted
    /// by 1e-7, Σ (2i − n − 1)·a_i / (n·Σ a).
    public static func sparseness(_ a: [Float]) -> Double {
        let v = normalised(a).map { abs($0) + 1e-7 }.sorted()
        let n = Double(v.count)
        let weighted = v.enumerated().reduce(0.0) { $0 + (2 * Double($1.offset + 1) - n - 1) * $1.element }
        return weighted / (n * v.reduce(0, +))
    }

    /// Pixel indices from highest to lowest value, ties ordered by `ties`.
    static func ranked(_ v: [Double], ties: TieRule) -> [Int] {
        v.indices.sorted { i, j in
            if v[i] != v[j] { return v[i] > v[j] }
            return ties == .firstPixelFirst ? i < j : i > j
        }
    }
}
