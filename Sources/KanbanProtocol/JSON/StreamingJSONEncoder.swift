/// A JSON encoder that writes straight into one byte buffer while `encode(to:)` runs.
///
/// Why not Foundation's `JSONEncoder`: it first builds a tree of boxed values (a dictionary per
/// object) and then serialises the tree, which measured as over half of kanband's CPU for a
/// 10k-task list. This encoder keeps only a stack of open containers; keys come out in the order
/// the type encodes them (declaration order for synthesized conformances), which also makes the
/// output deterministic.
///
/// Output follows the wire conventions: no whitespace, `/` unescaped, nil optionals omitted
/// (`encodeIfPresent`), integral doubles without a fraction (`5`, not `5.0`), non-finite doubles
/// refused with `EncodingError.invalidValue`.
///
/// A container stays open until something is written at a shallower level or the value that
/// opened it returns, so the usual Codable patterns — nested containers, asking for the same
/// container twice, writing to a parent after a nested container — produce well-formed JSON.
/// What a stream cannot express is refused with `EncodingError.invalidValue` rather than written
/// as broken JSON: writing into a container after a sibling container opened after it, encoding
/// one value twice (two containers, or a container and a single value), and super encoders
/// (class hierarchies, which no wire type has).
public enum StreamingJSONEncoder {
    /// Encodes `value` as compact JSON.
    public static func encode<T: Encodable>(_ value: T, capacity: Int = 256) throws -> [UInt8] {
        let sink = JSONSink(capacity: capacity)
        try sink.encodeValue(value)
        sink.close(above: 0)
        if let failure = sink.failure { throw failure }
        return sink.bytes
    }
}

/// The buffer and the stack of open containers shared by every encoder and container of one run.
final class JSONSink {
    struct Frame {
        let isObject: Bool
        /// Tells a container apart from a later one at the same depth.
        let serial: Int
        var count = 0
    }

    var bytes: [UInt8]
    /// Open containers, outermost first. A container's `level` is its index + 1 here.
    var frames: [Frame] = []
    private var nextSerial = 0
    /// The first misuse seen; reported when the whole value has been encoded.
    var failure: EncodingError?

    init(capacity: Int) {
        bytes = []
        bytes.reserveCapacity(capacity)
    }

    /// Closes every container deeper than `level`: a write at `level` means they are finished.
    @inline(__always)
    func close(above level: Int) {
        while frames.count > level {
            bytes.append(frames.removeLast().isObject ? UInt8(ascii: "}") : UInt8(ascii: "]"))
        }
    }

    /// Records the first misuse; the whole encode then fails instead of returning broken JSON.
    /// Fails the encode; the returned encoder writes into a scratch sink that is thrown away.
    func unsupportedSuperEncoder() -> any Encoder {
        fail("superEncoder is not supported")
        return StreamEncoder(sink: JSONSink(capacity: 0), level: 0, start: 0)
    }

    func fail(_ what: String) {
        if failure == nil { failure = .invalidValue(what, .init(codingPath: [], debugDescription: what)) }
    }

    /// Opens a container; returns where it is (its level and serial).
    func open(object: Bool) -> Position {
        bytes.append(object ? UInt8(ascii: "{") : UInt8(ascii: "["))
        nextSerial += 1
        frames.append(Frame(isObject: object, serial: nextSerial))
        return Position(level: frames.count, serial: nextSerial)
    }

    /// Writes the separator before the next member of the container at `position`.
    @inline(__always)
    func beginMember(of position: Position) {
        close(above: position.level)
        guard frames.count == position.level, frames[position.level - 1].serial == position.serial else {
            // The container was closed when a sibling opened after it; whatever it writes now
            // would land in the wrong place, so the whole encode fails.
            fail("a container was written to after a sibling container opened")
            return
        }
        if frames[position.level - 1].count > 0 { bytes.append(UInt8(ascii: ",")) }
        frames[position.level - 1].count += 1
    }

    func key(_ key: some CodingKey, in position: Position) {
        beginMember(of: position)
        string(key.stringValue)
        bytes.append(UInt8(ascii: ":"))
    }

    /// Encodes a nested value at the current position: a value that writes nothing becomes `{}`,
    /// as with Foundation's encoder.
    func encodeValue<T: Encodable>(_ value: T) throws {
        let level = frames.count
        let start = bytes.count
        try value.encode(to: StreamEncoder(sink: self, level: level, start: start))
        if bytes.count == start { bytes.append(contentsOf: [UInt8(ascii: "{"), UInt8(ascii: "}")]) }
        close(above: level)
    }

    // MARK: Scalars

    func null() { bytes.append(contentsOf: [0x6E, 0x75, 0x6C, 0x6C]) }

    func bool(_ value: Bool) {
        if value {
            bytes.append(contentsOf: [0x74, 0x72, 0x75, 0x65])
        } else {
            bytes.append(contentsOf: [0x66, 0x61, 0x6C, 0x73, 0x65])
        }
    }

    func integer<I: BinaryInteger>(_ value: I) {
        if value == 0 {
            bytes.append(UInt8(ascii: "0"))
            return
        }
        // Digits of the magnitude, least significant first, into a small stack buffer.
        var magnitude = value.magnitude
        withUnsafeTemporaryAllocation(of: UInt8.self, capacity: 40) { digits in
            var count = 0
            while magnitude != 0 {
                let (quotient, remainder) = magnitude.quotientAndRemainder(dividingBy: 10)
                digits[count] = UInt8(ascii: "0") &+ UInt8(truncatingIfNeeded: remainder)
                count += 1
                magnitude = quotient
            }
            if value < 0 { bytes.append(UInt8(ascii: "-")) }
            while count > 0 {
                count -= 1
                bytes.append(digits[count])
            }
        }
    }

    func double(_ value: Double) throws {
        guard value.isFinite else {
            throw EncodingError.invalidValue(
                value, .init(codingPath: [], debugDescription: "\(value) is not representable in JSON"))
        }
        // Integral values Double holds exactly print as integers (`5`, not `5.0`).
        if value == value.rounded(.towardZero), abs(value) <= 9_007_199_254_740_992 {
            integer(Int64(value))
        } else {
            bytes.append(contentsOf: value.description.utf8)
        }
    }

    func string(_ value: String) {
        bytes.append(UInt8(ascii: "\""))
        var value = value
        value.withUTF8 { utf8 in
            var runStart = 0
            for index in 0..<utf8.count {
                let byte = utf8[index]
                guard byte < 0x20 || byte == UInt8(ascii: "\"") || byte == UInt8(ascii: "\\") else { continue }
                bytes.append(contentsOf: UnsafeBufferPointer(rebasing: utf8[runStart..<index]))
                runStart = index + 1
                switch byte {
                case UInt8(ascii: "\""): bytes.append(contentsOf: [0x5C, 0x22])
                case UInt8(ascii: "\\"): bytes.append(contentsOf: [0x5C, 0x5C])
                case 0x0A: bytes.append(contentsOf: [0x5C, UInt8(ascii: "n")])
                case 0x0D: bytes.append(contentsOf: [0x5C, UInt8(ascii: "r")])
                case 0x09: bytes.append(contentsOf: [0x5C, UInt8(ascii: "t")])
                case 0x08: bytes.append(contentsOf: [0x5C, UInt8(ascii: "b")])
                case 0x0C: bytes.append(contentsOf: [0x5C, UInt8(ascii: "f")])
                default:
                    let hex: [UInt8] = Array("0123456789abcdef".utf8)
                    bytes.append(contentsOf: [0x5C, UInt8(ascii: "u"), 0x30, 0x30, hex[Int(byte >> 4)], hex[Int(byte & 0xF)]])
                }
            }
            bytes.append(contentsOf: UnsafeBufferPointer(rebasing: utf8[runStart..<utf8.count]))
        }
        bytes.append(UInt8(ascii: "\""))
    }
}

/// Where a container sits: its depth and which container at that depth it is.
struct Position {
    let level: Int
    let serial: Int
}

/// The `Encoder` a value sees: it writes at one position of the sink.
struct StreamEncoder: Encoder {
    let sink: JSONSink
    /// How many containers were open when this value started; its own container is `level + 1`.
    let level: Int
    /// Where the value's bytes begin: anything there already means it was encoded once.
    let start: Int
    /// Not tracked: building a path per nested value costs more than the values; nothing here reads it.
    var codingPath: [any CodingKey] { [] }
    var userInfo: [CodingUserInfoKey: Any] { [:] }

    /// The sink, positioned for the value to write itself whole as raw JSON (a type's direct
    /// path, see `TaskSummaryListResult`); nil when something was written for the value already,
    /// so the caller falls back to containers, which report the double encode.
    func directSink() -> JSONSink? {
        sink.close(above: level)
        return sink.bytes.count == start ? sink : nil
    }

    /// The value's own container if it already asked for one (asking twice yields the same one).
    private func ownContainer(object: Bool) -> Position {
        if sink.frames.count > level, sink.frames[level].isObject == object {
            sink.close(above: level + 1)
            return Position(level: level + 1, serial: sink.frames[level].serial)
        }
        sink.close(above: level)
        if sink.bytes.count != start { sink.fail("a value was encoded twice (two containers, or a container and a single value)") }
        return sink.open(object: object)
    }

    func container<Key: CodingKey>(keyedBy type: Key.Type) -> KeyedEncodingContainer<Key> {
        KeyedEncodingContainer(StreamKeyedContainer<Key>(sink: sink, position: ownContainer(object: true)))
    }

    func unkeyedContainer() -> any UnkeyedEncodingContainer {
        StreamUnkeyedContainer(sink: sink, position: ownContainer(object: false))
    }

    func singleValueContainer() -> any SingleValueEncodingContainer {
        StreamSingleValueContainer(sink: sink, level: level, start: start)
    }
}

struct StreamKeyedContainer<Key: CodingKey>: KeyedEncodingContainerProtocol {
    let sink: JSONSink
    let position: Position
    /// Not tracked: building a path per nested value costs more than the values; nothing here reads it.
    var codingPath: [any CodingKey] { [] }

    mutating func encodeNil(forKey key: Key) throws {
        sink.key(key, in: position)
        sink.null()
    }
    mutating func encode(_ value: Bool, forKey key: Key) throws {
        sink.key(key, in: position)
        sink.bool(value)
    }
    mutating func encode(_ value: String, forKey key: Key) throws {
        sink.key(key, in: position)
        sink.string(value)
    }
    mutating func encode(_ value: Double, forKey key: Key) throws {
        sink.key(key, in: position)
        try sink.double(value)
    }
    mutating func encode(_ value: Float, forKey key: Key) throws {
        sink.key(key, in: position)
        try sink.double(Double(value))
    }
    mutating func encode(_ value: Int, forKey key: Key) throws { integer(value, key) }
    mutating func encode(_ value: Int8, forKey key: Key) throws { integer(value, key) }
    mutating func encode(_ value: Int16, forKey key: Key) throws { integer(value, key) }
    mutating func encode(_ value: Int32, forKey key: Key) throws { integer(value, key) }
    mutating func encode(_ value: Int64, forKey key: Key) throws { integer(value, key) }
    mutating func encode(_ value: UInt, forKey key: Key) throws { integer(value, key) }
    mutating func encode(_ value: UInt8, forKey key: Key) throws { integer(value, key) }
    mutating func encode(_ value: UInt16, forKey key: Key) throws { integer(value, key) }
    mutating func encode(_ value: UInt32, forKey key: Key) throws { integer(value, key) }
    mutating func encode(_ value: UInt64, forKey key: Key) throws { integer(value, key) }

    private func integer<I: BinaryInteger>(_ value: I, _ key: Key) {
        sink.key(key, in: position)
        sink.integer(value)
    }

    mutating func encode<T: Encodable>(_ value: T, forKey key: Key) throws {
        sink.key(key, in: position)
        try sink.encodeValue(value)
    }

    // Nil optionals are omitted, as the synthesized conformances intend with `encodeIfPresent`.
    mutating func encodeIfPresent(_ value: String?, forKey key: Key) throws {
        if let value { try encode(value, forKey: key) }
    }
    mutating func encodeIfPresent(_ value: Int?, forKey key: Key) throws {
        if let value { try encode(value, forKey: key) }
    }
    mutating func encodeIfPresent(_ value: Int64?, forKey key: Key) throws {
        if let value { try encode(value, forKey: key) }
    }
    mutating func encodeIfPresent(_ value: Double?, forKey key: Key) throws {
        if let value { try encode(value, forKey: key) }
    }
    mutating func encodeIfPresent(_ value: Bool?, forKey key: Key) throws {
        if let value { try encode(value, forKey: key) }
    }
    mutating func encodeIfPresent<T: Encodable>(_ value: T?, forKey key: Key) throws {
        if let value { try encode(value, forKey: key) }
    }

    mutating func nestedContainer<NestedKey: CodingKey>(
        keyedBy keyType: NestedKey.Type, forKey key: Key
    ) -> KeyedEncodingContainer<NestedKey> {
        sink.key(key, in: position)
        let nested = sink.open(object: true)
        return KeyedEncodingContainer(StreamKeyedContainer<NestedKey>(sink: sink, position: nested))
    }

    mutating func nestedUnkeyedContainer(forKey key: Key) -> any UnkeyedEncodingContainer {
        sink.key(key, in: position)
        let nested = sink.open(object: false)
        return StreamUnkeyedContainer(sink: sink, position: nested)
    }

    // Class hierarchies (what super coders are for) are not on the wire. A streamed slot cannot be
    // left open for an encoder used later, so these fail the encode instead of writing broken JSON.
    mutating func superEncoder() -> any Encoder { sink.unsupportedSuperEncoder() }

    mutating func superEncoder(forKey key: Key) -> any Encoder { sink.unsupportedSuperEncoder() }
}

struct StreamUnkeyedContainer: UnkeyedEncodingContainer {
    let sink: JSONSink
    let position: Position
    /// Not tracked: building a path per nested value costs more than the values; nothing here reads it.
    var codingPath: [any CodingKey] { [] }
    var count: Int {
        sink.frames.count >= position.level && sink.frames[position.level - 1].serial == position.serial
            ? sink.frames[position.level - 1].count : 0
    }

    mutating func encodeNil() throws {
        sink.beginMember(of: position)
        sink.null()
    }
    mutating func encode(_ value: Bool) throws {
        sink.beginMember(of: position)
        sink.bool(value)
    }
    mutating func encode(_ value: String) throws {
        sink.beginMember(of: position)
        sink.string(value)
    }
    mutating func encode(_ value: Double) throws {
        sink.beginMember(of: position)
        try sink.double(value)
    }
    mutating func encode(_ value: Int) throws {
        sink.beginMember(of: position)
        sink.integer(value)
    }
    mutating func encode(_ value: Int64) throws {
        sink.beginMember(of: position)
        sink.integer(value)
    }
    mutating func encode<T: Encodable>(_ value: T) throws {
        sink.beginMember(of: position)
        try sink.encodeValue(value)
    }

    mutating func nestedContainer<NestedKey: CodingKey>(keyedBy keyType: NestedKey.Type) -> KeyedEncodingContainer<NestedKey> {
        sink.beginMember(of: position)
        let nested = sink.open(object: true)
        return KeyedEncodingContainer(StreamKeyedContainer<NestedKey>(sink: sink, position: nested))
    }

    mutating func nestedUnkeyedContainer() -> any UnkeyedEncodingContainer {
        sink.beginMember(of: position)
        let nested = sink.open(object: false)
        return StreamUnkeyedContainer(sink: sink, position: nested)
    }

    mutating func superEncoder() -> any Encoder { sink.unsupportedSuperEncoder() }
}

/// Writes one value at the position its parent prepared (after a key or a comma).
struct StreamSingleValueContainer: SingleValueEncodingContainer {
    let sink: JSONSink
    let level: Int
    let start: Int
    /// Not tracked: building a path per nested value costs more than the values; nothing here reads it.
    var codingPath: [any CodingKey] { [] }

    /// Closes what the value's encoding left open; a second value in the same slot is a misuse.
    private func begin() {
        sink.close(above: level)
        if sink.bytes.count != start { sink.fail("a single value was encoded twice") }
    }

    mutating func encodeNil() throws {
        begin()
        sink.null()
    }
    mutating func encode(_ value: Bool) throws {
        begin()
        sink.bool(value)
    }
    mutating func encode(_ value: String) throws {
        begin()
        sink.string(value)
    }
    mutating func encode(_ value: Double) throws {
        begin()
        try sink.double(value)
    }
    mutating func encode(_ value: Float) throws {
        begin()
        try sink.double(Double(value))
    }
    mutating func encode(_ value: Int) throws { integer(value) }
    mutating func encode(_ value: Int8) throws { integer(value) }
    mutating func encode(_ value: Int16) throws { integer(value) }
    mutating func encode(_ value: Int32) throws { integer(value) }
    mutating func encode(_ value: Int64) throws { integer(value) }
    mutating func encode(_ value: UInt) throws { integer(value) }
    mutating func encode(_ value: UInt8) throws { integer(value) }
    mutating func encode(_ value: UInt16) throws { integer(value) }
    mutating func encode(_ value: UInt32) throws { integer(value) }
    mutating func encode(_ value: UInt64) throws { integer(value) }

    private func integer<I: BinaryInteger>(_ value: I) {
        begin()
        sink.integer(value)
    }

    mutating func encode<T: Encodable>(_ value: T) throws {
        begin()
        try sink.encodeValue(value)
    }
}
