#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// A parsed JSON document as a flat array of nodes in document order: a container's members follow
/// it, and each container records where its members end, so a value can be skipped in O(1).
///
/// Parsing validates the whole document (grammar, UTF-8, control characters, nesting depth) before
/// anything is decoded, so a malformed frame is refused as a parse error however little of it a
/// decoder would have read. Strings and numbers stay as byte ranges until a decoder asks for them.
final class JSONTape {
    enum Kind: UInt8 {
        case null, `true`, `false`, number, string, array, object
    }

    struct Node {
        var kind: Kind
        /// Strings: contains a backslash escape. Numbers: has a fraction or an exponent.
        var flag: Bool
        /// Strings and numbers: the byte range (strings without their quotes).
        var start: UInt32
        /// Strings and numbers: the end of the byte range. Containers: the index of the node after
        /// the container's last member.
        var end: UInt32
        /// Containers: how many members (an object's key and value count as one).
        var count: UInt32
    }

    /// How deep arrays and objects may nest: deeper documents are refused, not recursed into.
    static let maxDepth = 512

    // Plain buffers owned by the tape, not arrays: decoding reads them for every member of every
    // object, and array accesses through a class cost a retain and a release each.
    let bytes: UnsafeMutableBufferPointer<UInt8>
    let nodes: UnsafeMutableBufferPointer<Node>

    /// Parses `bytes`; throws `DecodingError.dataCorrupted` for anything that is not one valid JSON value.
    init(_ input: [UInt8]) throws {
        guard input.count < Int(UInt32.max) else { throw JSONTape.corrupted("document too large", at: 0) }
        var parsed: [Node] = []
        parsed.reserveCapacity(input.count / 8 + 4)
        try input.withUnsafeBufferPointer { buffer in
            var parser = Parser(bytes: buffer, nodes: parsed)
            parsed = []
            try parser.parseDocument()
            parsed = parser.nodes
        }
        bytes = .allocate(capacity: input.count)
        _ = bytes.initialize(from: input)
        nodes = .allocate(capacity: parsed.count)
        _ = nodes.initialize(from: parsed)
    }

    deinit {
        bytes.deallocate()
        nodes.deallocate()
    }

    static func corrupted(_ what: String, at offset: Int) -> DecodingError {
        .dataCorrupted(.init(codingPath: [], debugDescription: "invalid JSON: \(what) at byte \(offset)"))
    }

    /// The index of the node after `index` and everything inside it.
    @inline(__always)
    func next(after index: Int) -> Int {
        let node = nodes[index]
        return node.kind == .array || node.kind == .object ? Int(node.end) : index + 1
    }

    // MARK: Values

    func string(at index: Int) -> String {
        let node = nodes[index]
        let slice = UnsafeBufferPointer(rebasing: bytes[Int(node.start)..<Int(node.end)])
        return node.flag ? JSONTape.unescape(slice) : String(decoding: slice, as: UTF8.self)
    }

    /// True when the string node at `index` is exactly the UTF-8 `text` (keys are compared without
    /// building Strings).
    @inline(__always)
    func stringEquals(_ index: Int, _ text: UnsafeBufferPointer<UInt8>) -> Bool {
        let node = nodes[index]
        if node.flag { return string(at: index).utf8.elementsEqual(text) }
        let length = Int(node.end &- node.start)
        return length == text.count
            && (length == 0 || memcmp(bytes.baseAddress! + Int(node.start), text.baseAddress!, length) == 0)
    }

    /// True when the key (string node) at `index` is `name`.
    @inline(__always)
    func keyEquals(_ index: Int, _ name: StaticString) -> Bool {
        stringEquals(index, UnsafeBufferPointer(start: name.utf8Start, count: name.utf8CodeUnitCount))
    }

    /// The value node of the first member called `name` of the object at `object`.
    func member(of object: Int, named name: StaticString) -> Int? {
        var member = object + 1
        let end = Int(nodes[object].end)
        while member < end {
            if keyEquals(member, name) { return member + 1 }
            member = next(after: member + 1)
        }
        return nil
    }

    /// The number at `index` as an integer, if it is one that fits.
    func integer(at index: Int) -> Int64? {
        let node = nodes[index]
        if node.flag {
            guard let value = double(at: index), let exact = Int64(exactly: value) else { return nil }
            return exact
        }
        var position = Int(node.start)
        let end = Int(node.end)
        let negative = bytes[position] == UInt8(ascii: "-")
        if negative { position += 1 }
        var magnitude: UInt64 = 0
        while position < end {
            let digit = UInt64(bytes[position] &- UInt8(ascii: "0"))
            let (times10, overflow1) = magnitude.multipliedReportingOverflow(by: 10)
            let (sum, overflow2) = times10.addingReportingOverflow(digit)
            if overflow1 || overflow2 { return nil }
            magnitude = sum
            position += 1
        }
        if negative {
            return magnitude <= UInt64(Int64.max) + 1 ? Int64(truncatingIfNeeded: 0 &- magnitude) : nil
        }
        return magnitude <= UInt64(Int64.max) ? Int64(magnitude) : nil
    }

    /// The number at `index` as an unsigned integer, if it is one that fits.
    func unsignedInteger(at index: Int) -> UInt64? {
        let node = nodes[index]
        if node.flag || bytes[Int(node.start)] == UInt8(ascii: "-") {
            if let value = integer(at: index), value >= 0 { return UInt64(value) }
            return nil
        }
        var magnitude: UInt64 = 0
        for position in Int(node.start)..<Int(node.end) {
            let (times10, overflow1) = magnitude.multipliedReportingOverflow(by: 10)
            let (sum, overflow2) = times10.addingReportingOverflow(UInt64(bytes[position] &- UInt8(ascii: "0")))
            if overflow1 || overflow2 { return nil }
            magnitude = sum
        }
        return magnitude
    }

    func double(at index: Int) -> Double? {
        let node = nodes[index]
        let length = Int(node.end - node.start)
        return withUnsafeTemporaryAllocation(of: CChar.self, capacity: length + 1) { text in
            for offset in 0..<length { text[offset] = CChar(bitPattern: bytes[Int(node.start) + offset]) }
            text[length] = 0
            let value = strtod(text.baseAddress!, nil)
            return value.isFinite ? value : nil
        }
    }

    /// The four hex digits at `at` as a number; nil if one is not a hex digit.
    static func hexValue(_ bytes: UnsafeBufferPointer<UInt8>, at start: Int) -> UInt32? {
        var value: UInt32 = 0
        for byte in bytes[start..<start + 4] {
            let digit: UInt8
            if byte &- UInt8(ascii: "0") < 10 {
                digit = byte &- UInt8(ascii: "0")
            } else if (byte | 0x20) &- UInt8(ascii: "a") < 6 {
                digit = (byte | 0x20) &- UInt8(ascii: "a") &+ 10
            } else {
                return nil
            }
            value = value << 4 | UInt32(digit)
        }
        return value
    }

    /// Resolves backslash escapes (already validated by the parser).
    static func unescape(_ raw: UnsafeBufferPointer<UInt8>) -> String {
        var out: [UInt8] = []
        out.reserveCapacity(raw.count)
        var index = 0
        while index < raw.count {
            let byte = raw[index]
            guard byte == UInt8(ascii: "\\") else {
                out.append(byte)
                index += 1
                continue
            }
            let escape = raw[index + 1]
            index += 2
            switch escape {
            case UInt8(ascii: "n"): out.append(0x0A)
            case UInt8(ascii: "t"): out.append(0x09)
            case UInt8(ascii: "r"): out.append(0x0D)
            case UInt8(ascii: "b"): out.append(0x08)
            case UInt8(ascii: "f"): out.append(0x0C)
            case UInt8(ascii: "u"):
                var scalar = JSONTape.hexValue(raw, at: index)!  // validated by the parser
                index += 4
                if (0xD800..<0xDC00).contains(scalar), index + 6 <= raw.count, raw[index] == UInt8(ascii: "\\"),
                    raw[index + 1] == UInt8(ascii: "u")
                {
                    if let low = JSONTape.hexValue(raw, at: index + 2), (0xDC00..<0xE000).contains(low) {
                        scalar = 0x10000 + ((scalar - 0xD800) << 10) + (low - 0xDC00)
                        index += 6
                    }
                }
                // The parser admits only paired surrogates; the fallback is never reached.
                let character = Unicode.Scalar(scalar) ?? "\u{FFFD}"
                out.append(contentsOf: String(Character(character)).utf8)
            default: out.append(escape)  // \" \\ \/
            }
        }
        return String(decoding: out, as: UTF8.self)
    }
}

/// A recursive-descent parser bounded by `JSONTape.maxDepth`.
private struct Parser {
    let bytes: UnsafeBufferPointer<UInt8>
    var nodes: [JSONTape.Node]
    var position = 0

    init(bytes: UnsafeBufferPointer<UInt8>, nodes: [JSONTape.Node]) {
        self.bytes = bytes
        self.nodes = nodes
    }

    mutating func append(_ node: JSONTape.Node) -> Int {
        nodes.append(node)
        return nodes.count - 1
    }

    mutating func finishContainer(_ index: Int, count: UInt32) {
        nodes[index].end = UInt32(nodes.count)
        nodes[index].count = count
    }

    mutating func parseDocument() throws {
        skipWhitespace()
        try parseValue(depth: 0)
        skipWhitespace()
        guard position == bytes.count else { throw JSONTape.corrupted("unexpected data after the value", at: position) }
    }

    @inline(__always)
    mutating func skipWhitespace() {
        while position < bytes.count {
            switch bytes[position] {
            case 0x20, 0x0A, 0x0D, 0x09: position += 1
            default: return
            }
        }
    }

    mutating func parseValue(depth: Int) throws {
        guard position < bytes.count else { throw JSONTape.corrupted("unexpected end", at: position) }
        switch bytes[position] {
        case UInt8(ascii: "{"): try parseContainer(.object, depth: depth + 1)
        case UInt8(ascii: "["): try parseContainer(.array, depth: depth + 1)
        case UInt8(ascii: "\""): try parseString()
        case UInt8(ascii: "t"): try literal("true", .true)
        case UInt8(ascii: "f"): try literal("false", .false)
        case UInt8(ascii: "n"): try literal("null", .null)
        case UInt8(ascii: "-"), UInt8(ascii: "0")...UInt8(ascii: "9"): try parseNumber()
        default: throw JSONTape.corrupted("unexpected character", at: position)
        }
    }

    mutating func literal(_ word: StaticString, _ kind: JSONTape.Kind) throws {
        let length = word.utf8CodeUnitCount
        guard position + length <= bytes.count,
            memcmp(bytes.baseAddress! + position, word.utf8Start, length) == 0
        else { throw JSONTape.corrupted("invalid literal", at: position) }
        _ = append(.init(kind: kind, flag: false, start: UInt32(position), end: UInt32(position + length), count: 0))
        position += length
    }

    mutating func parseNumber() throws {
        let start = position
        var isInteger = true
        if bytes[position] == UInt8(ascii: "-") { position += 1 }
        guard position < bytes.count, isDigit(bytes[position]) else { throw JSONTape.corrupted("invalid number", at: start) }
        if bytes[position] == UInt8(ascii: "0") {
            position += 1
        } else {
            while position < bytes.count, isDigit(bytes[position]) { position += 1 }
        }
        if position < bytes.count, bytes[position] == UInt8(ascii: ".") {
            isInteger = false
            position += 1
            guard position < bytes.count, isDigit(bytes[position]) else { throw JSONTape.corrupted("invalid number", at: start) }
            while position < bytes.count, isDigit(bytes[position]) { position += 1 }
        }
        if position < bytes.count, bytes[position] == UInt8(ascii: "e") || bytes[position] == UInt8(ascii: "E") {
            isInteger = false
            position += 1
            if position < bytes.count, bytes[position] == UInt8(ascii: "+") || bytes[position] == UInt8(ascii: "-") {
                position += 1
            }
            guard position < bytes.count, isDigit(bytes[position]) else { throw JSONTape.corrupted("invalid number", at: start) }
            while position < bytes.count, isDigit(bytes[position]) { position += 1 }
        }
        _ = append(.init(kind: .number, flag: !isInteger, start: UInt32(start), end: UInt32(position), count: 0))
    }

    @inline(__always)
    func isDigit(_ byte: UInt8) -> Bool { byte &- UInt8(ascii: "0") < 10 }

    mutating func parseString() throws {
        let open = position
        position += 1
        let start = position
        var escaped = false
        var ascii = true
        skipPlainBytes(&ascii)
        while true {
            guard position < bytes.count else { throw JSONTape.corrupted("unterminated string", at: open) }
            let byte = bytes[position]
            if byte == UInt8(ascii: "\"") { break }
            if byte < 0x20 { throw JSONTape.corrupted("control character in string", at: position) }
            if byte >= 0x80 { ascii = false }
            if byte == UInt8(ascii: "\\") {
                escaped = true
                guard position + 1 < bytes.count else { throw JSONTape.corrupted("unterminated string", at: open) }
                switch bytes[position + 1] {
                case UInt8(ascii: "\""), UInt8(ascii: "\\"), UInt8(ascii: "/"), UInt8(ascii: "b"), UInt8(ascii: "f"),
                    UInt8(ascii: "n"), UInt8(ascii: "r"), UInt8(ascii: "t"):
                    position += 2
                case UInt8(ascii: "u"):
                    // A surrogate must come as a high-low pair: a lone half is not a character.
                    let unit = try hexEscape(at: position)
                    position += 6
                    if (0xDC00..<0xE000).contains(unit) { throw JSONTape.corrupted("lone low surrogate", at: position - 6) }
                    if (0xD800..<0xDC00).contains(unit) {
                        guard position + 1 < bytes.count, bytes[position] == UInt8(ascii: "\\"),
                            bytes[position + 1] == UInt8(ascii: "u"),
                            (0xDC00..<0xE000).contains(try hexEscape(at: position))
                        else { throw JSONTape.corrupted("lone high surrogate", at: position - 6) }
                        position += 6
                    }
                default:
                    throw JSONTape.corrupted("invalid escape", at: position)
                }
                skipPlainBytes(&ascii)
                continue
            }
            position += 1
        }
        if !ascii, String(validating: UnsafeBufferPointer(rebasing: bytes[start..<position]), as: UTF8.self) == nil {
            throw JSONTape.corrupted("invalid UTF-8 in string", at: start)
        }
        _ = append(.init(kind: .string, flag: escaped, start: UInt32(start), end: UInt32(position), count: 0))
        position += 1
    }

    /// The code unit of the `\\uXXXX` escape starting at `at`.
    /// Skips eight bytes at a time while none of them ends the string, starts an escape or is a
    /// control character: most of a list's bytes are string contents. Clears `ascii` when a
    /// skipped byte is not ASCII. Stops before any word that needs a closer look.
    @inline(__always)
    mutating func skipPlainBytes(_ ascii: inout Bool) {
        let ones: UInt64 = 0x0101_0101_0101_0101
        let highs: UInt64 = 0x8080_8080_8080_8080
        /// High bit set in the bytes of `word` that are zero (exact as to whether there is one).
        func zeroBytes(_ word: UInt64) -> UInt64 { (word &- ones) & ~word & highs }
        var high: UInt64 = 0
        while position + 8 <= bytes.count {
            let word = UInt64(littleEndian: UnsafeRawPointer(bytes.baseAddress! + position).loadUnaligned(as: UInt64.self))
            // A byte below 0x20 (control), a quote or a backslash: let the byte loop handle the word.
            let control = (word &- ones &* 0x20) & ~word & highs
            if control | zeroBytes(word ^ (ones &* 0x22)) | zeroBytes(word ^ (ones &* 0x5C)) != 0 { break }
            high |= word
            position += 8
        }
        if high & highs != 0 { ascii = false }
    }

    func hexEscape(at start: Int) throws -> UInt32 {
        guard start + 6 <= bytes.count, let value = JSONTape.hexValue(bytes, at: start + 2) else {
            throw JSONTape.corrupted("invalid \\u escape", at: start)
        }
        return value
    }

    /// An array or an object: members separated by commas up to the closing bracket. An object's
    /// member is a string name, a colon and a value.
    mutating func parseContainer(_ kind: JSONTape.Kind, depth: Int) throws {
        guard depth <= JSONTape.maxDepth else { throw JSONTape.corrupted("nesting deeper than \(JSONTape.maxDepth)", at: position) }
        let isObject = kind == .object
        let close = isObject ? UInt8(ascii: "}") : UInt8(ascii: "]")
        let index = append(.init(kind: kind, flag: false, start: UInt32(position), end: 0, count: 0))
        position += 1
        skipWhitespace()
        var count: UInt32 = 0
        if position < bytes.count, bytes[position] == close {
            position += 1
            finishContainer(index, count: 0)
            return
        }
        while true {
            skipWhitespace()
            if isObject {
                guard position < bytes.count, bytes[position] == UInt8(ascii: "\"") else {
                    throw JSONTape.corrupted("expected a member name", at: position)
                }
                try parseString()
                skipWhitespace()
                guard position < bytes.count, bytes[position] == UInt8(ascii: ":") else {
                    throw JSONTape.corrupted("expected ':'", at: position)
                }
                position += 1
                skipWhitespace()
            }
            try parseValue(depth: depth)
            count += 1
            skipWhitespace()
            guard position < bytes.count else { throw JSONTape.corrupted("unterminated \(kind)", at: position) }
            if bytes[position] == UInt8(ascii: ",") {
                position += 1
                continue
            }
            guard bytes[position] == close else {
                throw JSONTape.corrupted("expected ',' or '\(Character(Unicode.Scalar(close)))'", at: position)
            }
            position += 1
            finishContainer(index, count: count)
            return
        }
    }
}
