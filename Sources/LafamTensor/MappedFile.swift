#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// A regular file mapped read-only: how lafam reads models, their external data, images and
/// arrays. Anything else at the path — a folder, a FIFO, a device such as /dev/zero, a socket —
/// is refused before a byte is read (the file is opened non-blocking, so a FIFO cannot stall
/// the open), so a read can neither block nor go on without end; the file's size is checked
/// against the memory budget in force.
public final class MappedFile: @unchecked Sendable {
    /// The path the file was opened from.
    public let path: String
    /// The file's bytes (empty for an empty file). Valid while this object lives.
    public let bytes: UnsafeRawBufferPointer
    private let mapping: UnsafeMutableRawPointer?

    /// - Parameter what: the file's role in messages ("model", "image file").
    public init(path: String, what: String, budget: MemoryBudget = .current) throws {
        self.path = path
        let fd = open(path, O_RDONLY | O_NONBLOCK | O_CLOEXEC)
        guard fd >= 0 else { throw FileReadError(path: path, what: what, reason: .cannotOpen(errno)) }
        defer { close(fd) }
        var info = stat()
        guard fstat(fd, &info) == 0 else { throw FileReadError(path: path, what: what, reason: .cannotOpen(errno)) }
        switch info.st_mode & S_IFMT {
        case S_IFREG: break
        case S_IFDIR: throw FileReadError(path: path, what: what, reason: .notRegular("a folder"))
        case S_IFIFO: throw FileReadError(path: path, what: what, reason: .notRegular("a FIFO (named pipe)"))
        case S_IFCHR: throw FileReadError(path: path, what: what, reason: .notRegular("a character device"))
        case S_IFBLK: throw FileReadError(path: path, what: what, reason: .notRegular("a block device"))
        case S_IFSOCK: throw FileReadError(path: path, what: what, reason: .notRegular("a socket"))
        default: throw FileReadError(path: path, what: what, reason: .notRegular("not a regular file"))
        }
        let size = Int(info.st_size)
        try budget.check(size, for: "reading \(what) '\(path)'")
        guard size > 0 else {
            mapping = nil
            bytes = UnsafeRawBufferPointer(start: nil, count: 0)
            return
        }
        guard let p = mmap(nil, size, PROT_READ, MAP_PRIVATE, fd, 0), p != MAP_FAILED else {
            throw FileReadError(path: path, what: what, reason: .cannotRead(errno))
        }
        mapping = p
        bytes = UnsafeRawBufferPointer(start: p, count: size)
    }

    deinit {
        if let mapping { munmap(mapping, bytes.count) }
    }

    /// The file's bytes as an array (a copy).
    public var array: [UInt8] { Array(bytes) }
}

/// A file lafam cannot read, and why.
public struct FileReadError: Error, CustomStringConvertible, Sendable {
    /// Why a file could not be read.
    public enum Reason: Sendable, Equatable {
        /// Opening or inspecting the file failed with this `errno`.
        case cannotOpen(Int32)
        /// Mapping the file into memory failed with this `errno`.
        case cannotRead(Int32)
        /// Something other than a regular file: what it is ("a folder", "a FIFO (named pipe)", …).
        case notRegular(String)
    }

    /// The path of the file that could not be read.
    public let path: String
    /// The file's role in messages ("model", "image file").
    public let what: String
    /// Why the file could not be read.
    public let reason: Reason

    /// The reason in words, without the path: "no such file", "it is a FIFO (named pipe), not a regular file".
    public var explanation: String {
        switch reason {
        case .cannotOpen(let code), .cannotRead(let code):
            switch code {
            case ENOENT: return "no such file (check the path)"
            case EACCES: return "permission denied (check the file's permissions)"
            default: return String(cString: strerror(code))
            }
        case .notRegular(let kind):
            return "it is \(kind), not a regular file"
        }
    }

    /// A one-line message naming the file's role, its path and the reason, with control characters escaped.
    public var description: String { ("cannot read \(what) '\(path)': \(explanation)").escapingControlCharacters }
}
