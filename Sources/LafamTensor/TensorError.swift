/// A tensor operation that cannot be carried out on these elements (a string that is not a
/// number, a shape that does not fit). Ops let it through; the executor names the node.
public struct TensorError: Error, CustomStringConvertible, Sendable {
    public let reason: String
    public init(_ reason: String) { self.reason = reason }
    public var description: String { (reason).escapingControlCharacters }
}
