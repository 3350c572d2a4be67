import LafamTensor
/// What an evaluation run refuses to work with.
public enum EvaluationError: Error, CustomStringConvertible, Equatable, Sendable {
    /// A results file to resume or merge does not start with the results header (it is some
    /// other CSV, or not lafam's).
    case notAResultsFile(path: String)

    /// The message, one printable line (control characters from file-provided names escaped).
    public var description: String { message.escapingControlCharacters }

    private var message: String {
        switch self {
        case let .notAResultsFile(path):
            return "'\(path)' is not a lafam eval results file (its header is not the results header)"
        }
    }
}
