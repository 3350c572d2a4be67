import LafamTensor

extension Graph {
    /// Resolves what a user calls a tensor: a node name (meaning the node's first output), a
    /// tensor name, or a path-like abbreviation whose `/`-separated segments appear, in order and
    /// whole, among the segments of exactly one node name (`/layer4/conv3` matches
    /// `/layer4/layer4.2/conv3/Conv`). When an abbreviation matches several nodes that differ
    /// only in skipped block indices named after the preceding segment (`layer4.0`, `layer4.1`,
    /// `layer4.2` under `layer4`), the last block — the one nearest the output — is meant.
    /// Anything else that matches several nodes is an error listing them.
    public func resolveTensor(_ query: String) throws -> Int {
        if let n = nodeIndex[query], let out = nodes[n].outputs.first { return out }
        if let v = valueIndex[query], !values[v].name.contains(":unused") { return v }
        let wanted = query.split(separator: "/").map(String.init)
        guard !wanted.isEmpty else { throw LafamError.unknownName(query, suggestions: []) }
        var matches: [(node: Int, key: [String])] = []
        for (i, node) in nodes.enumerated() {
            if let key = Graph.abbreviationKey(wanted, node.name.split(separator: "/").map(String.init)) {
                matches.append((i, key))
            }
        }
        if matches.count == 1 { return nodes[matches[0].node].outputs[0] }
        if matches.count > 1 {
            if Set(matches.map { $0.key.joined(separator: "/") }).count == 1 {
                return nodes[matches.map(\.node).max()!].outputs[0]
            }
            throw LafamError.ambiguousName(query, matches: matches.map { nodes[$0.node].name })
        }
        throw LafamError.unknownName(query, suggestions: suggestions(for: query))
    }

    /// The node's segments with the skipped block-index segments replaced by `*`, when `wanted`
    /// embeds in `segments` (greedy, leftmost); nil when it does not.
    static func abbreviationKey(_ wanted: [String], _ segments: [String]) -> [String]? {
        var key: [String] = []
        var w = 0
        var previous: String? = nil
        for s in segments {
            if w < wanted.count && s == wanted[w] {
                key.append(s)
                previous = s
                w += 1
            } else if let p = previous, s.hasPrefix(p + "."), Int(s.dropFirst(p.count + 1)) != nil {
                key.append("*")
            } else {
                key.append(s)
            }
        }
        return w == wanted.count ? key : nil
    }

    /// Up to five node names close to `query`: each query segment is scored by its edit
    /// distance to the nearest segment of the node name, so a typo in one segment still finds
    /// the intended node.
    func suggestions(for query: String) -> [String] {
        let wanted = query.lowercased().split(separator: "/").map(String.init)
        guard !wanted.isEmpty else { return [] }
        let scored = nodes.map { node -> (String, Int) in
            let segments = node.name.lowercased().split(separator: "/").map(String.init)
            let score = wanted.reduce(0) { total, w in total + (segments.map { editDistance($0, w) }.min() ?? w.count) }
            return (node.name, score)
        }
        let limit = max(2, wanted.joined().count / 4)
        return Array(scored.filter { $0.1 <= limit }.sorted { ($0.1, $0.0.count) < ($1.1, $1.0.count) }.prefix(5).map(\.0))
    }
}

package func editDistance(_ a: String, _ b: String) -> Int {
    let x = Array(a.utf8), y = Array(b.utf8)
    if x.isEmpty { return y.count }
    var previous = Array(0...y.count)
    for i in 1...x.count {
        var current = [i] + [Int](repeating: 0, count: y.count)
        for j in 1...max(y.count, 1) where j <= y.count {
            current[j] = min(previous[j] + 1, current[j - 1] + 1, previous[j - 1] + (x[i - 1] == y[j - 1] ? 0 : 1))
        }
        previous = current
    }
    return previous[y.count]
}
