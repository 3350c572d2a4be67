// The .npy file format (numpy/lib/format.py documents it):
//
//   "\x93NUMPY" | major (1 byte) | minor (1 byte) | header length (uint16 LE
//   for v1, uint32 LE for v2/v3) | header | data
//
// The header is a Python dict literal such as
// "{'descr': '<f4', 'fortran_order': False, 'shape': (2, 3), }" padded with
// spaces and a final '\n' so the data starts at a multiple of 64 (16 in old
// files). v1/v2 headers are latin-1, v3 headers UTF-8.

enum NPYFormat {
    static let magic: [UInt8] = [0x93, 0x4E, 0x55, 0x4D, 0x50, 0x59] // \x93NUMPY

    enum Kind { case float32, float64, int64, int32, uint8, bool }

    struct DType {
        let kind: Kind
        let size: Int
        let bigEndian: Bool
    }

    // MARK: decoding

    static func decode(_ bytes: [UInt8], path: String?) throws -> NPYArray {
        let label = path.map { "'\($0)'" } ?? "data"
        func fail(_ message: String) -> ImagingError {
            ImagingError.npy(path: path, message: "cannot read .npy \(label): \(message)")
        }
        guard bytes.count >= 10, Array(bytes[0..<6]) == magic else {
            throw fail("it does not start with the .npy signature \\x93NUMPY (is it a .npz archive or another format?)")
        }
        let major = bytes[6], minor = bytes[7]
        let headerLength: Int
        let headerStart: Int
        switch major {
        case 1:
            headerLength = Int(bytes[8]) | Int(bytes[9]) << 8
            headerStart = 10
        case 2, 3:
            guard bytes.count >= 12 else { throw fail("the file is truncated inside its preamble") }
            headerLength = Int(bytes[8]) | Int(bytes[9]) << 8 | Int(bytes[10]) << 16 | Int(bytes[11]) << 24
            headerStart = 12
        default:
            throw fail("unsupported format version \(major).\(minor) (supported: 1.0, 2.0, 3.0)")
        }
        guard headerLength <= bytes.count - headerStart else {
            throw fail("the file is truncated: the header is \(headerLength) bytes but only \(bytes.count - headerStart) follow")
        }
        let headerBytes = bytes[headerStart..<(headerStart + headerLength)]
        let headerText: String
        if major == 3 {
            guard let text = String(validating: headerBytes, as: UTF8.self) else {
                throw fail("the version 3 header is not valid UTF-8")
            }
            headerText = text
        } else {
            headerText = String(headerBytes.map { Character(Unicode.Scalar($0)) })
        }

        let header: [String: PyValue]
        do {
            var parser = PyLiteralParser(headerText)
            header = try parser.parseHeaderDict()
        } catch let error as PyLiteralParser.Failure {
            throw fail("malformed header (\(error.message)): \(headerText.trimmingTrailingWhitespace())")
        }

        guard case .string(let descr)? = header["descr"] else {
            if header["descr"] == nil { throw fail("the header has no 'descr' entry") }
            throw fail("structured dtypes are not supported (descr is not a plain type string); save a plain array")
        }
        guard case .bool(let fortran)? = header["fortran_order"] else {
            throw fail("the header's 'fortran_order' entry is missing or not True/False")
        }
        guard case .tuple(let dims)? = header["shape"] else {
            throw fail("the header's 'shape' entry is missing or not a tuple")
        }
        var shape: [Int] = []
        for d in dims {
            guard case .int(let n) = d, n >= 0 else { throw fail("the shape \(dims) holds something other than non-negative integers") }
            shape.append(n)
        }
        let dtype = try parseDescr(descr, fail: fail)

        guard let count = NPYArray.elementCount(shape) else {
            throw fail("the shape \(shape) is too large")
        }
        let dataStart = headerStart + headerLength
        let available = bytes.count - dataStart
        let (needed, overflow) = count.multipliedReportingOverflow(by: dtype.size)
        guard !overflow else { throw fail("the shape \(shape) of \(descr) needs more bytes than can be addressed") }
        guard needed <= available else {
            throw fail("the file is truncated: shape \(shape) of \(descr) needs \(needed) data bytes but only \(available) follow")
        }

        let data = bytes.withUnsafeBytes { raw in
            decodeElements(UnsafeRawBufferPointer(rebasing: raw[dataStart..<(dataStart + needed)]),
                           count: count, dtype: dtype)
        }
        let ordered = fortran && shape.count > 1 ? fortranToC(data, shape: shape) : data
        return try NPYArray(shape: shape, data: ordered)
    }

    static func parseDescr(_ descr: String, fail: (String) -> ImagingError) throws -> DType {
        var s = Substring(descr)
        var bigEndian = false
        if let first = s.first, "<>|=".contains(first) {
            bigEndian = first == ">"
            s = s.dropFirst()
        }
        let kind: Kind
        switch s {
        case "f4": kind = .float32
        case "f8": kind = .float64
        case "i8": kind = .int64
        case "i4": kind = .int32
        case "u1": kind = .uint8
        case "b1", "?": kind = .bool
        default:
            throw fail("unsupported dtype '\(descr)' (supported: float32 '<f4', float64 '<f8', int64 '<i8', int32 '<i4', uint8 '|u1', bool '|b1'); convert it in numpy with arr.astype(np.float32) before saving")
        }
        let size: Int
        switch kind {
        case .float32, .int32: size = 4
        case .float64, .int64: size = 8
        case .uint8, .bool: size = 1
        }
        return DType(kind: kind, size: size, bigEndian: bigEndian && size > 1)
    }

    static func decodeElements(_ raw: UnsafeRawBufferPointer, count: Int, dtype: DType) -> NPYData {
        let swap = dtype.bigEndian != (UInt16(1).bigEndian == 1)
        func load<T: FixedWidthInteger>(_: T.Type, _ i: Int) -> T {
            let v = raw.loadUnaligned(fromByteOffset: i * MemoryLayout<T>.size, as: T.self)
            return swap ? v.byteSwapped : v
        }
        switch dtype.kind {
        case .float32: return .float32((0..<count).map { Float(bitPattern: load(UInt32.self, $0)) })
        case .float64: return .float64((0..<count).map { Double(bitPattern: load(UInt64.self, $0)) })
        case .int64: return .int64((0..<count).map { load(Int64.self, $0) })
        case .int32: return .int32((0..<count).map { load(Int32.self, $0) })
        case .uint8: return .uint8(Array(raw.prefix(count)))
        case .bool: return .bool(raw.prefix(count).map { $0 != 0 })
        }
    }

    /// Reorders elements stored in Fortran order (first index fastest) into C order.
    static func fortranToC(_ data: NPYData, shape: [Int]) -> NPYData {
        func reorder<T>(_ src: [T]) -> [T] {
            guard !src.isEmpty else { return src }
            var cStrides = [Int](repeating: 1, count: shape.count)
            for k in stride(from: shape.count - 2, through: 0, by: -1) { cStrides[k] = cStrides[k + 1] * shape[k + 1] }
            var out = src
            var index = [Int](repeating: 0, count: shape.count)
            var cOffset = 0
            for value in src { // src in Fortran order
                out[cOffset] = value
                // Advance the multi-index with the first dimension fastest.
                var k = 0
                while k < shape.count {
                    index[k] += 1
                    cOffset += cStrides[k]
                    if index[k] < shape[k] { break }
                    cOffset -= cStrides[k] * shape[k]
                    index[k] = 0
                    k += 1
                }
            }
            return out
        }
        switch data {
        case .float32(let v): return .float32(reorder(v))
        case .float64(let v): return .float64(reorder(v))
        case .int64(let v): return .int64(reorder(v))
        case .int32(let v): return .int32(reorder(v))
        case .uint8(let v): return .uint8(reorder(v))
        case .bool(let v): return .bool(reorder(v))
        }
    }

    // MARK: encoding

    static func encode(_ array: NPYArray) -> [UInt8] {
        let descr: String
        switch array.data {
        case .float32: descr = "<f4"
        case .float64: descr = "<f8"
        case .int64: descr = "<i8"
        case .int32: descr = "<i4"
        case .uint8: descr = "|u1"
        case .bool: descr = "|b1"
        }
        let shapeText: String
        switch array.shape.count {
        case 0: shapeText = "()"
        case 1: shapeText = "(\(array.shape[0]),)"
        default: shapeText = "(" + array.shape.map(String.init).joined(separator: ", ") + ")"
        }
        let dict = "{'descr': '\(descr)', 'fortran_order': False, 'shape': \(shapeText), }"
        // Pad with spaces so preamble + header + '\n' is a multiple of 64.
        var version: UInt8 = 1
        var preamble = 10
        if (dict.utf8.count + 1 + preamble + 63) / 64 * 64 - preamble > 65535 {
            version = 2
            preamble = 12
        }
        let total = (preamble + dict.utf8.count + 1 + 63) / 64 * 64
        let headerLength = total - preamble
        var out = magic + [version, 0]
        if version == 1 {
            out += [UInt8(headerLength & 0xFF), UInt8(headerLength >> 8)]
        } else {
            out += (0..<4).map { UInt8((headerLength >> (8 * $0)) & 0xFF) }
        }
        out += Array(dict.utf8)
        out += [UInt8](repeating: 0x20, count: headerLength - dict.utf8.count - 1)
        out.append(0x0A)

        func appendLE<T: FixedWidthInteger>(_ values: [T]) {
            out.reserveCapacity(out.count + values.count * MemoryLayout<T>.size)
            for v in values {
                var le = v.littleEndian
                withUnsafeBytes(of: &le) { out.append(contentsOf: $0) }
            }
        }
        switch array.data {
        case .float32(let v): appendLE(v.map(\.bitPattern))
        case .float64(let v): appendLE(v.map(\.bitPattern))
        case .int64(let v): appendLE(v)
        case .int32(let v): appendLE(v)
        case .uint8(let v): out += v
        case .bool(let v): out += v.map { $0 ? 1 : 0 }
        }
        return out
    }
}

// MARK: - a tiny parser for the header's Python literal

/// The Python literal values that can appear in a .npy header.
indirect enum PyValue: Equatable, CustomStringConvertible {
    case string(String)
    case bool(Bool)
    case int(Int)
    case none
    case tuple([PyValue])
    case list([PyValue])
    case dict([(String, PyValue)])

    static func == (a: PyValue, b: PyValue) -> Bool { a.description == b.description }

    var description: String {
        switch self {
        case .string(let s): return "'\(s)'"
        case .bool(let b): return b ? "True" : "False"
        case .int(let i): return String(i)
        case .none: return "None"
        case .tuple(let v): return "(" + v.map(\.description).joined(separator: ", ") + (v.count == 1 ? ",)" : ")")
        case .list(let v): return "[" + v.map(\.description).joined(separator: ", ") + "]"
        case .dict(let v): return "{" + v.map { "'\($0.0)': \($0.1)" }.joined(separator: ", ") + "}"
        }
    }
}

/// Recursive-descent parser for dicts, tuples, lists, strings, ints,
/// True/False/None, tolerant of any whitespace and trailing commas.
struct PyLiteralParser {
    struct Failure: Error { let message: String }

    private let chars: [Character]
    private var pos = 0

    init(_ text: String) { chars = Array(text) }

    mutating func parseHeaderDict() throws -> [String: PyValue] {
        let value = try parseValue()
        skipSpace()
        guard pos == chars.count else { throw Failure(message: "unexpected text after the dictionary at offset \(pos)") }
        guard case .dict(let pairs) = value else { throw Failure(message: "the header is not a dictionary") }
        var result: [String: PyValue] = [:]
        for (k, v) in pairs { result[k] = v }
        return result
    }

    private mutating func skipSpace() {
        while pos < chars.count, chars[pos].isWhitespace { pos += 1 }
    }

    private mutating func expect(_ c: Character) throws {
        skipSpace()
        guard pos < chars.count, chars[pos] == c else {
            throw Failure(message: "expected '\(c)' at offset \(pos)" + (pos < chars.count ? ", found '\(chars[pos])'" : ", found the end"))
        }
        pos += 1
    }

    private mutating func peek() -> Character? {
        skipSpace()
        return pos < chars.count ? chars[pos] : nil
    }

    /// Containers open around the value being parsed: a real header nests 2 deep (the dictionary
    /// and the shape tuple); a hostile one could nest deep enough to overflow the stack.
    private var depth = 0
    private static let maxDepth = 16

    mutating func parseValue() throws -> PyValue {
        guard let c = peek() else { throw Failure(message: "unexpected end of header") }
        if c == "{" || c == "(" || c == "[" {
            guard depth < Self.maxDepth else {
                throw Failure(message: "containers nested more than \(Self.maxDepth) deep at offset \(pos)")
            }
            depth += 1
        }
        defer { if c == "{" || c == "(" || c == "[" { depth -= 1 } }
        switch c {
        case "{":
            pos += 1
            var pairs: [(String, PyValue)] = []
            while peek() != "}" {
                guard case .string(let key) = try parseValue() else { throw Failure(message: "dictionary keys must be strings (offset \(pos))") }
                try expect(":")
                pairs.append((key, try parseValue()))
                if peek() == "," { pos += 1 } else { break }
            }
            try expect("}")
            return .dict(pairs)
        case "(", "[":
            let close: Character = c == "(" ? ")" : "]"
            pos += 1
            var items: [PyValue] = []
            while let next = peek(), next != close {
                items.append(try parseValue())
                if peek() == "," { pos += 1 } else { break }
            }
            try expect(close)
            return c == "(" ? .tuple(items) : .list(items)
        case "'", "\"":
            pos += 1
            var s = ""
            while pos < chars.count, chars[pos] != c {
                if chars[pos] == "\\", pos + 1 < chars.count { pos += 1 }
                s.append(chars[pos])
                pos += 1
            }
            guard pos < chars.count else { throw Failure(message: "unterminated string") }
            pos += 1
            return .string(s)
        default:
            var word = ""
            while pos < chars.count, chars[pos].isLetter || chars[pos].isNumber || chars[pos] == "-" || chars[pos] == "+" || chars[pos] == "_" {
                word.append(chars[pos])
                pos += 1
            }
            switch word {
            case "True": return .bool(true)
            case "False": return .bool(false)
            case "None": return .none
            case "": throw Failure(message: "unexpected character '\(c)' at offset \(pos)")
            default:
                // Python 2 files may write longs as 3L.
                let digits = word.hasSuffix("L") ? String(word.dropLast()) : word
                guard let n = Int(digits) else { throw Failure(message: "cannot understand '\(word)'") }
                return .int(n)
            }
        }
    }
}

extension String {
    func trimmingTrailingWhitespace() -> String {
        var s = self
        while let last = s.last, last.isWhitespace { s.removeLast() }
        return s
    }
}
