#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#elseif canImport(Darwin)
import Darwin
#endif
import LafamTensor

/// Whole-file reads and atomic whole-file writes on top of POSIX calls, so
/// error messages can say exactly which call failed and why (errno text).
public enum FileAccess {
    /// The text for the current `errno`.
    static func errnoText(_ code: Int32 = errno) -> String {
        String(cString: strerror(code))
    }

    /// Reads a whole regular file (`MappedFile`: no folders, FIFOs or devices; its size within
    /// the memory budget). `what` names the file's role in messages ("image file").
    static func readAll(path: String, what: String) throws -> [UInt8] {
        do {
            return try MappedFile(path: path, what: what).array
        } catch let e as FileReadError {
            throw ImagingError.io(path: path, message: e.description)
        }
    }

    /// The folder part of `path` ("." when there is none).
    static func folder(of path: String) -> String {
        guard let slash = path.lastIndex(of: "/") else { return "." }
        let dir = String(path[..<slash])
        return dir.isEmpty ? "/" : dir
    }

    /// Removes the temporary files (`.NAME.tmp-PID-RANDOM`) that writers killed mid-write left in
    /// `folder`: those whose process no longer exists. A live writer's are never touched.
    static func removeStaleTemporaries(in folder: String) {
        guard let dir = opendir(folder) else { return }
        defer { closedir(dir) }
        let own = getpid()
        while let entry = readdir(dir) {
            let name = withUnsafeBytes(of: entry.pointee.d_name) { String(decoding: $0.prefix { $0 != 0 }, as: UTF8.self) }
            guard let pid = temporaryOwner(name), pid != own, kill(pid, 0) != 0, errno == ESRCH else { continue }
            unlink(folder + "/" + name)
        }
    }

    /// The writer's process ID when `name` is one of `writeAtomically`'s temporary files.
    static func temporaryOwner(_ name: String) -> pid_t? {
        guard name.hasPrefix("."), let marker = name.ranges(of: ".tmp-").last else { return nil }
        let parts = name[marker.upperBound...].split(separator: "-", omittingEmptySubsequences: false)
        guard parts.count == 2, !parts[1].isEmpty, parts[1].allSatisfy({ $0.isLetter || $0.isNumber }),
              let pid = pid_t(parts[0]), pid > 0 else { return nil }
        return pid
    }

    /// Writes `bytes` to `path` atomically: the data goes to a new temporary
    /// file in the same folder (created with O_EXCL, so nothing is ever
    /// shared), is flushed with fsync, and is then renamed over `path`. A
    /// reader therefore sees either the old file or the complete new one, and
    /// on any failure the temporary file is removed and `path` is untouched.
    public static func writeAtomically(_ bytes: [UInt8], to path: String, what: String) throws {
        guard !path.isEmpty else {
            throw ImagingError.invalidArgument("cannot write \(what): the output path is empty")
        }
        guard !path.hasSuffix("/") else {
            throw ImagingError.invalidArgument("cannot write \(what) '\(path)': the path ends in '/', add a file name")
        }
        let dir = folder(of: path)
        let base = path.lastIndex(of: "/").map { String(path[path.index(after: $0)...]) } ?? path
        let prefix = path.lastIndex(of: "/").map { String(path[...$0]) } ?? ""

        removeStaleTemporaries(in: dir)
        var fd: Int32 = -1
        var tempPath = ""
        for _ in 0..<16 {
            let suffix = String(UInt64.random(in: 0...UInt64.max), radix: 36)
            tempPath = prefix + ".\(base).tmp-\(getpid())-\(suffix)"
            fd = open(tempPath, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0o666)
            if fd >= 0 || errno != EEXIST { break }
        }
        guard fd >= 0 else {
            let code = errno
            let reason: String
            switch code {
            case ENOENT: reason = "folder '\(dir)' does not exist (create it first)"
            case ENOTDIR: reason = "'\(dir)' is not a folder"
            case EACCES, EPERM, EROFS:
                reason = "folder '\(dir)' is not writable (\(errnoText(code))); choose another output path or fix the folder's permissions"
            default: reason = "could not create a temporary file in folder '\(dir)': \(errnoText(code))"
            }
            throw ImagingError.io(path: path, message: "cannot write \(what) '\(path)': \(reason)")
        }

        func fail(_ message: String) -> ImagingError {
            close(fd)
            unlink(tempPath)
            return ImagingError.io(path: path, message: "cannot write \(what) '\(path)': \(message)")
        }

        var offset = 0
        let writeError: Int32? = bytes.withUnsafeBytes { raw -> Int32? in
            while offset < raw.count {
                let n = write(fd, raw.baseAddress! + offset, raw.count - offset)
                if n < 0 {
                    if errno == EINTR { continue }
                    return errno
                }
                offset += n
            }
            return nil
        }
        if let code = writeError { throw fail("writing the temporary file failed: \(errnoText(code))") }
        if fsync(fd) != 0 { throw fail("flushing the temporary file failed: \(errnoText())") }
        if close(fd) != 0 {
            let code = errno
            unlink(tempPath)
            throw ImagingError.io(path: path, message: "cannot write \(what) '\(path)': closing the temporary file failed: \(errnoText(code))")
        }
        if rename(tempPath, path) != 0 {
            let code = errno
            unlink(tempPath)
            var hint = ""
            if code == EISDIR { hint = " (a folder with that name exists; choose another name)" }
            throw ImagingError.io(path: path, message: "cannot write \(what) '\(path)': replacing it failed: \(errnoText(code))\(hint)")
        }
    }
}
