/// One dimension of a statically inferred shape: a number, a named symbol (a dynamic batch axis
/// such as `batch` or `N`), or unknown.
public enum Dim: Hashable, Sendable, CustomStringConvertible {
    case known(Int)
    case symbol(String)
    case unknown

    public var value: Int? {
        if case .known(let v) = self { return v }
        return nil
    }

    public var description: String {
        switch self {
        case .known(let v): return String(v)
        case .symbol(let s): return s
        case .unknown: return "?"
        }
    }
}

extension Array where Element == Dim {
    /// The concrete shape, when every dimension is known.
    public var concrete: [Int]? {
        var out = [Int]()
        out.reserveCapacity(count)
        for d in self {
            guard let v = d.value else { return nil }
            out.append(v)
        }
        return out
    }

    /// Printable form such as `[batch, 3, 224, 224]`.
    public var shapeString: String { "[" + map(\.description).joined(separator: ", ") + "]" }
}
