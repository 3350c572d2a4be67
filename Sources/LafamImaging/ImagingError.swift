import LafamTensor
/// Errors thrown by LafamImaging. Every case carries a complete, human-readable
/// message saying what failed, where, and (when there is something to do) what
/// to do about it; `description` returns that message.
public enum ImagingError: Error, Equatable, Sendable, CustomStringConvertible {
    /// A file could not be opened, read, written or renamed (`path` is the file concerned).
    case io(path: String, message: String)
    /// A file was read but its bytes are not a supported or valid image.
    case decode(path: String?, message: String)
    /// An image could not be encoded (bad size, unsupported extension, codec failure).
    case encode(path: String?, message: String)
    /// A `.npy` file is malformed or uses something this reader does not support.
    case npy(path: String?, message: String)
    /// A function was called with arguments it cannot work with.
    case invalidArgument(String)

    /// The message, one printable line (control characters from file-provided names escaped).
    public var description: String { message.escapingControlCharacters }

    private var message: String {
        switch self {
        case let .io(_, message), let .decode(_, message), let .encode(_, message),
             let .npy(_, message), let .invalidArgument(message):
            return message
        }
    }
}

extension ImagingError: CustomDebugStringConvertible {
    /// The message with the type name, for debugging output.
    public var debugDescription: String { "ImagingError: \(description)" }
}

#if canImport(Foundation)
import Foundation

extension ImagingError: LocalizedError {
    /// The message, for `LocalizedError` users.
    public var errorDescription: String? { description }
}
#endif
