/// A tensor operation that cannot be carried out on these elements (a string that is not a
/// number, a shape that does not fit). Ops let it through; the executor names the node.
public struct TensorError: Error, CustomStringConvertible, Sendable {
    /// What went wrong, in words.
    public let reason: String
    /// An error saying `reason`.
    public init(_ reason: String) { self.reason = reason }
    /// The reason with control characters escaped, so it prints as one line.
    public var description: String { (reason).escapingControlCharacters }
}
