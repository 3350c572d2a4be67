/// One dimension of a statically inferred shape: a number, a named symbol (a dynamic batch axis
/// such as `batch` or `N`), or unknown.
public enum Dim: Hashable, Sendable, CustomStringConvertible {
    /// A dimension of this fixed size.
    case known(Int)
    /// A dynamic dimension the model names (such as `batch`); its size is set by the input.
    case symbol(String)
    /// A dimension whose size cannot be inferred before running.
    case unknown

    /// The size of a known dimension; nil for a symbol or an unknown dimension.
    public var value: Int? {
        if case .known(let v) = self { return v }
        return nil
    }

    /// The size, the symbol's name, or `?` for an unknown dimension.
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
