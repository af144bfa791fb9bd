/// A JSON decoder over a `JSONTape`: the document is parsed (and validated) once into a flat node
/// array, then `init(from:)` reads values straight from it.
///
/// Why not Foundation's `JSONDecoder`: for a 10k-task list it spent most of kanbanctl's time in
/// per-object key dictionaries and generic unwrapping. Here a keyed container looks members up by
/// comparing bytes, starting after the member it found last — synthesized conformances read keys in
/// declaration order, which is the order our encoder writes them, so a lookup is usually one compare.
///
/// Semantics follow Foundation's decoder where the wire relies on them: integers decode from
/// integral numbers such as `5.0`, a missing key is `keyNotFound`, `null` for a non-optional is
/// `valueNotFound`, and errors carry the coding path so the router can name the bad field.
public enum StreamingJSONDecoder {
    public static func decode<T: Decodable>(_ type: T.Type, from bytes: [UInt8]) throws -> T {
        try decode(type, from: JSONTape(bytes))
    }

    /// Decodes from an already parsed document, so one parse can serve several decodes (the
    /// router reads the envelope, then the params).
    static func decode<T: Decodable>(_ type: T.Type, from tape: JSONTape) throws -> T {
        try T(from: TapeDecoder(tape: tape, node: 0, path: nil))
    }
}

/// A parsed request or reply, decoded as several types from one parse.
public struct ParsedJSON: Sendable {
    let tape: JSONTape

    /// Parses `bytes`; throws `DecodingError.dataCorrupted` when they are not one JSON value.
    public init(_ bytes: [UInt8]) throws { tape = try JSONTape(bytes) }

    public func decode<T: Decodable>(_ type: T.Type) throws -> T {
        try StreamingJSONDecoder.decode(type, from: tape)
    }

    /// True when the document is a JSON object.
    public var isObject: Bool { tape.nodes[0].kind == .object }
}

extension JSONTape: @unchecked Sendable {}  // immutable once parsed

/// A coding path as a linked list, built only as deep as decoding goes.
final class CodingPathNode {
    let parent: CodingPathNode?
    let key: any CodingKey

    init(parent: CodingPathNode?, key: any CodingKey) {
        self.parent = parent
        self.key = key
    }

    static func path(_ node: CodingPathNode?, appending key: (any CodingKey)? = nil) -> [any CodingKey] {
        var keys: [any CodingKey] = key.map { [$0] } ?? []
        var current = node
        while let node = current {
            keys.append(node.key)
            current = node.parent
        }
        return keys.reversed()
    }
}

/// An array index as a coding key, for paths and errors.
struct IndexKey: CodingKey {
    let intValue: Int?
    var stringValue: String { "\(intValue ?? 0)" }
    init(_ index: Int) { intValue = index }
    init?(stringValue: String) { nil }
    init?(intValue: Int) { self.intValue = intValue }
}

struct TapeDecoder: Decoder {
    let tape: JSONTape
    let node: Int
    let path: CodingPathNode?

    var codingPath: [any CodingKey] { CodingPathNode.path(path) }
    var userInfo: [CodingUserInfoKey: Any] { [:] }

    func container<Key: CodingKey>(keyedBy type: Key.Type) throws -> KeyedDecodingContainer<Key> {
        guard tape.nodes[node].kind == .object else {
            throw mismatch([String: Any].self, at: node, in: tape, path: path, key: nil)
        }
        return KeyedDecodingContainer(TapeKeyedContainer<Key>(tape: tape, object: node, path: path))
    }

    func unkeyedContainer() throws -> any UnkeyedDecodingContainer {
        guard tape.nodes[node].kind == .array else { throw mismatch([Any].self, at: node, in: tape, path: path, key: nil) }
        return TapeUnkeyedContainer(tape: tape, array: node, path: path)
    }

    func singleValueContainer() throws -> any SingleValueDecodingContainer {
        TapeSingleValueContainer(tape: tape, node: node, path: path)
    }
}

extension JSONTape {
    static func unsupported(_ what: String, path: CodingPathNode?) -> DecodingError {
        .dataCorrupted(.init(codingPath: CodingPathNode.path(path), debugDescription: "\(what) is not supported"))
    }
}

/// A type-mismatch (or, for `null`, value-not-found) error for the value at `node`.
func mismatch(_ type: Any.Type, at node: Int, in tape: JSONTape, path: CodingPathNode?, key: (any CodingKey)?)
    -> DecodingError
{
    let context = DecodingError.Context(
        codingPath: CodingPathNode.path(path, appending: key), debugDescription: "expected \(type)")
    if tape.nodes[node].kind == .null { return .valueNotFound(type, context) }
    return .typeMismatch(type, context)
}

/// Decoding of scalars, shared by the three container kinds.
extension JSONTape {
    private func fail(_ type: Any.Type, _ node: Int, _ path: CodingPathNode?, _ key: (any CodingKey)?) -> DecodingError {
        mismatch(type, at: node, in: self, path: path, key: key)
    }

    func decodeString(at node: Int, path: CodingPathNode?, key: (any CodingKey)?) throws -> String {
        guard nodes[node].kind == .string else { throw fail(String.self, node, path, key) }
        return string(at: node)
    }

    func decodeBool(at node: Int, path: CodingPathNode?, key: (any CodingKey)?) throws -> Bool {
        switch nodes[node].kind {
        case .true: return true
        case .false: return false
        default: throw fail(Bool.self, node, path, key)
        }
    }

    func decodeDouble(at node: Int, path: CodingPathNode?, key: (any CodingKey)?) throws -> Double {
        guard nodes[node].kind == .number, let value = double(at: node) else { throw fail(Double.self, node, path, key) }
        return value
    }

    func decodeFloat(at node: Int, path: CodingPathNode?, key: (any CodingKey)?) throws -> Float {
        let value = Float(try decodeDouble(at: node, path: path, key: key))
        guard value.isFinite else { throw fail(Float.self, node, path, key) }
        return value
    }

    /// An integer of type `I`; a number with a fraction decodes only when it is integral (`5.0`).
    func decodeInteger<I: FixedWidthInteger>(_ type: I.Type, at node: Int, path: CodingPathNode?, key: (any CodingKey)?)
        throws -> I
    {
        guard nodes[node].kind == .number else { throw fail(type, node, path, key) }
        let value: I?
        if I.isSigned {
            value = integer(at: node).flatMap { I(exactly: $0) }
        } else {
            value = unsignedInteger(at: node).flatMap { I(exactly: $0) }
        }
        guard let value else { throw fail(type, node, path, key) }
        return value
    }

    func decodeValue<T: Decodable>(_ type: T.Type, at node: Int, path: CodingPathNode?, key: (any CodingKey)?) throws -> T {
        // Strings, integers and any-JSON are most of what a wire type holds: no generic detour for them.
        if T.self == String.self { return unsafeBitCast(try decodeString(at: node, path: path, key: key), to: T.self) }
        if T.self == Int.self { return unsafeBitCast(try decodeInteger(Int.self, at: node, path: path, key: key), to: T.self) }
        if T.self == Int64.self {
            return unsafeBitCast(try decodeInteger(Int64.self, at: node, path: path, key: key), to: T.self)
        }
        if T.self == JSONValue.self { return try jsonValue(at: node) as! T }
        let childPath = key.map { CodingPathNode(parent: path, key: $0) } ?? path
        return try T(from: TapeDecoder(tape: self, node: node, path: childPath))
    }

    /// Any value as a `JSONValue`, without a round of failed typed attempts. Numbers are `.int`
    /// when integral and within Int64 (`5.0` and `1e2` included, as Foundation's decoder read
    /// them), `.double` otherwise; a number beyond Double's range is refused, not rounded to
    /// infinity (which could not be encoded back).
    func jsonValue(at node: Int) throws -> JSONValue {
        let current = nodes[node]
        switch current.kind {
        case .null: return .null
        case .true: return .bool(true)
        case .false: return .bool(false)
        case .number:
            if let value = integer(at: node) { return .int(value) }
            guard let value = double(at: node) else {
                throw DecodingError.dataCorrupted(.init(codingPath: [], debugDescription: "number out of range"))
            }
            return .double(value)
        case .string: return .string(string(at: node))
        case .array:
            var elements: [JSONValue] = []
            elements.reserveCapacity(Int(current.count))
            var child = node + 1
            while child < Int(current.end) {
                elements.append(try jsonValue(at: child))
                child = next(after: child)
            }
            return .array(elements)
        case .object:
            var members: [String: JSONValue] = [:]
            members.reserveCapacity(Int(current.count))
            var child = node + 1
            while child < Int(current.end) {
                members[string(at: child)] = try jsonValue(at: child + 1)
                child = next(after: child + 1)
            }
            return .object(members)
        }
    }
}

struct TapeKeyedContainer<Key: CodingKey>: KeyedDecodingContainerProtocol {
    let tape: JSONTape
    let object: Int
    let path: CodingPathNode?
    /// Where the last lookup matched: the next key is usually the next member.
    private let hint: Hint

    final class Hint {
        var member: Int
        init(_ member: Int) { self.member = member }
    }

    init(tape: JSONTape, object: Int, path: CodingPathNode?) {
        self.tape = tape
        self.object = object
        self.path = path
        hint = Hint(object + 1)
    }

    var codingPath: [any CodingKey] { CodingPathNode.path(path) }

    var allKeys: [Key] {
        var keys: [Key] = []
        var member = object + 1
        let end = Int(tape.nodes[object].end)
        while member < end {
            if let key = Key(stringValue: tape.string(at: member)) { keys.append(key) }
            member = tape.next(after: member + 1)
        }
        return keys
    }

    /// The value node of `key`, or nil. Searches from the hint to the end, then from the start.
    private func lookup(_ key: Key) -> Int? {
        var name = key.stringValue
        return name.withUTF8 { name in
            let start = object + 1
            let end = Int(tape.nodes[object].end)
            let hinted = hint.member
            var member = hinted
            while member < end {
                if tape.stringEquals(member, name) {
                    hint.member = tape.next(after: member + 1)
                    return member + 1
                }
                member = tape.next(after: member + 1)
            }
            member = start
            while member < hinted && member < end {
                if tape.stringEquals(member, name) {
                    hint.member = tape.next(after: member + 1)
                    return member + 1
                }
                member = tape.next(after: member + 1)
            }
            return nil
        }
    }

    private func require(_ key: Key) throws -> Int {
        guard let node = lookup(key) else {
            throw DecodingError.keyNotFound(
                key, .init(codingPath: codingPath, debugDescription: "no value for key '\(key.stringValue)'"))
        }
        return node
    }

    func contains(_ key: Key) -> Bool { lookup(key) != nil }

    func decodeNil(forKey key: Key) throws -> Bool { tape.nodes[try require(key)].kind == .null }

    func decode(_ type: Bool.Type, forKey key: Key) throws -> Bool {
        try tape.decodeBool(at: require(key), path: path, key: key)
    }
    func decode(_ type: String.Type, forKey key: Key) throws -> String {
        try tape.decodeString(at: require(key), path: path, key: key)
    }
    func decode(_ type: Double.Type, forKey key: Key) throws -> Double {
        try tape.decodeDouble(at: require(key), path: path, key: key)
    }
    func decode(_ type: Float.Type, forKey key: Key) throws -> Float {
        try tape.decodeFloat(at: require(key), path: path, key: key)
    }
    func decode(_ type: Int.Type, forKey key: Key) throws -> Int { try integer(type, key) }
    func decode(_ type: Int8.Type, forKey key: Key) throws -> Int8 { try integer(type, key) }
    func decode(_ type: Int16.Type, forKey key: Key) throws -> Int16 { try integer(type, key) }
    func decode(_ type: Int32.Type, forKey key: Key) throws -> Int32 { try integer(type, key) }
    func decode(_ type: Int64.Type, forKey key: Key) throws -> Int64 { try integer(type, key) }
    func decode(_ type: UInt.Type, forKey key: Key) throws -> UInt { try integer(type, key) }
    func decode(_ type: UInt8.Type, forKey key: Key) throws -> UInt8 { try integer(type, key) }
    func decode(_ type: UInt16.Type, forKey key: Key) throws -> UInt16 { try integer(type, key) }
    func decode(_ type: UInt32.Type, forKey key: Key) throws -> UInt32 { try integer(type, key) }
    func decode(_ type: UInt64.Type, forKey key: Key) throws -> UInt64 { try integer(type, key) }

    private func integer<I: FixedWidthInteger>(_ type: I.Type, _ key: Key) throws -> I {
        try tape.decodeInteger(type, at: require(key), path: path, key: key)
    }

    func decode<T: Decodable>(_ type: T.Type, forKey key: Key) throws -> T {
        try tape.decodeValue(type, at: require(key), path: path, key: key)
    }

    // One lookup instead of the default's three (contains, decodeNil, decode).
    private func present(_ key: Key) -> Int? {
        guard let node = lookup(key), tape.nodes[node].kind != .null else { return nil }
        return node
    }

    func decodeIfPresent(_ type: String.Type, forKey key: Key) throws -> String? {
        try present(key).map { try tape.decodeString(at: $0, path: path, key: key) }
    }
    func decodeIfPresent(_ type: Int.Type, forKey key: Key) throws -> Int? {
        try present(key).map { try tape.decodeInteger(type, at: $0, path: path, key: key) }
    }
    func decodeIfPresent(_ type: Int64.Type, forKey key: Key) throws -> Int64? {
        try present(key).map { try tape.decodeInteger(type, at: $0, path: path, key: key) }
    }
    func decodeIfPresent(_ type: Double.Type, forKey key: Key) throws -> Double? {
        try present(key).map { try tape.decodeDouble(at: $0, path: path, key: key) }
    }
    func decodeIfPresent(_ type: Bool.Type, forKey key: Key) throws -> Bool? {
        try present(key).map { try tape.decodeBool(at: $0, path: path, key: key) }
    }
    func decodeIfPresent<T: Decodable>(_ type: T.Type, forKey key: Key) throws -> T? {
        try present(key).map { try tape.decodeValue(type, at: $0, path: path, key: key) }
    }

    func nestedContainer<NestedKey: CodingKey>(keyedBy type: NestedKey.Type, forKey key: Key) throws
        -> KeyedDecodingContainer<NestedKey>
    {
        let node = try require(key)
        return try TapeDecoder(tape: tape, node: node, path: CodingPathNode(parent: path, key: key)).container(keyedBy: type)
    }

    func nestedUnkeyedContainer(forKey key: Key) throws -> any UnkeyedDecodingContainer {
        let node = try require(key)
        return try TapeDecoder(tape: tape, node: node, path: CodingPathNode(parent: path, key: key)).unkeyedContainer()
    }

    // Class hierarchies (what super coders are for) are not on the wire; the streaming encoder
    // refuses them too, so the two never disagree on where a superclass's values live.
    func superDecoder() throws -> any Decoder { throw JSONTape.unsupported("superDecoder()", path: path) }

    func superDecoder(forKey key: Key) throws -> any Decoder {
        throw JSONTape.unsupported("superDecoder(forKey:)", path: path)
    }
}

struct TapeUnkeyedContainer: UnkeyedDecodingContainer {
    let tape: JSONTape
    let array: Int
    let path: CodingPathNode?
    private var node: Int
    private(set) var currentIndex = 0

    init(tape: JSONTape, array: Int, path: CodingPathNode?) {
        self.tape = tape
        self.array = array
        self.path = path
        node = array + 1
    }

    var codingPath: [any CodingKey] { CodingPathNode.path(path) }
    var count: Int? { Int(tape.nodes[array].count) }
    var isAtEnd: Bool { currentIndex >= Int(tape.nodes[array].count) }

    /// Decodes the current element with `body` and moves past it only if that succeeded, as
    /// Foundation does (a caller may retry the same element as another type).
    private mutating func next<T>(_ body: (JSONTape, Int, CodingPathNode?, IndexKey) throws -> T) throws -> T {
        guard !isAtEnd else {
            throw DecodingError.valueNotFound(
                T.self,
                .init(codingPath: CodingPathNode.path(path, appending: IndexKey(currentIndex)), debugDescription: "array is at its end"))
        }
        let value = try body(tape, node, path, IndexKey(currentIndex))
        node = tape.next(after: node)
        currentIndex += 1
        return value
    }

    mutating func decodeNil() throws -> Bool {
        do {
            return try next { tape, node, _, _ in
                guard tape.nodes[node].kind == .null else { throw NotNull() }
                return true
            }
        } catch is NotNull {
            return false
        }
    }

    mutating func decode(_ type: Bool.Type) throws -> Bool {
        try next { tape, node, path, key in try tape.decodeBool(at: node, path: path, key: key) }
    }
    mutating func decode(_ type: String.Type) throws -> String {
        try next { tape, node, path, key in try tape.decodeString(at: node, path: path, key: key) }
    }
    mutating func decode(_ type: Double.Type) throws -> Double {
        try next { tape, node, path, key in try tape.decodeDouble(at: node, path: path, key: key) }
    }
    mutating func decode(_ type: Float.Type) throws -> Float {
        try next { tape, node, path, key in try tape.decodeFloat(at: node, path: path, key: key) }
    }
    mutating func decode(_ type: Int.Type) throws -> Int { try integer(type) }
    mutating func decode(_ type: Int8.Type) throws -> Int8 { try integer(type) }
    mutating func decode(_ type: Int16.Type) throws -> Int16 { try integer(type) }
    mutating func decode(_ type: Int32.Type) throws -> Int32 { try integer(type) }
    mutating func decode(_ type: Int64.Type) throws -> Int64 { try integer(type) }
    mutating func decode(_ type: UInt.Type) throws -> UInt { try integer(type) }
    mutating func decode(_ type: UInt8.Type) throws -> UInt8 { try integer(type) }
    mutating func decode(_ type: UInt16.Type) throws -> UInt16 { try integer(type) }
    mutating func decode(_ type: UInt32.Type) throws -> UInt32 { try integer(type) }
    mutating func decode(_ type: UInt64.Type) throws -> UInt64 { try integer(type) }

    private mutating func integer<I: FixedWidthInteger>(_ type: I.Type) throws -> I {
        try next { tape, node, path, key in try tape.decodeInteger(type, at: node, path: path, key: key) }
    }

    mutating func decode<T: Decodable>(_ type: T.Type) throws -> T {
        try next { tape, node, path, key in try tape.decodeValue(type, at: node, path: path, key: key) }
    }

    mutating func nestedContainer<NestedKey: CodingKey>(keyedBy type: NestedKey.Type) throws -> KeyedDecodingContainer<NestedKey> {
        try next { tape, node, path, key in
            try TapeDecoder(tape: tape, node: node, path: CodingPathNode(parent: path, key: key)).container(keyedBy: type)
        }
    }

    mutating func nestedUnkeyedContainer() throws -> any UnkeyedDecodingContainer {
        try next { tape, node, path, key in
            try TapeDecoder(tape: tape, node: node, path: CodingPathNode(parent: path, key: key)).unkeyedContainer()
        }
    }

    mutating func superDecoder() throws -> any Decoder { throw JSONTape.unsupported("superDecoder()", path: path) }
}

/// `decodeNil()` found a value: the element stays current.
private struct NotNull: Error {}

struct TapeSingleValueContainer: SingleValueDecodingContainer {
    let tape: JSONTape
    let node: Int
    let path: CodingPathNode?

    var codingPath: [any CodingKey] { CodingPathNode.path(path) }

    func decodeNil() -> Bool { tape.nodes[node].kind == .null }

    func decode(_ type: Bool.Type) throws -> Bool { try tape.decodeBool(at: node, path: path, key: nil) }
    func decode(_ type: String.Type) throws -> String { try tape.decodeString(at: node, path: path, key: nil) }
    func decode(_ type: Double.Type) throws -> Double { try tape.decodeDouble(at: node, path: path, key: nil) }
    func decode(_ type: Float.Type) throws -> Float { try tape.decodeFloat(at: node, path: path, key: nil) }
    func decode(_ type: Int.Type) throws -> Int { try integer(type) }
    func decode(_ type: Int8.Type) throws -> Int8 { try integer(type) }
    func decode(_ type: Int16.Type) throws -> Int16 { try integer(type) }
    func decode(_ type: Int32.Type) throws -> Int32 { try integer(type) }
    func decode(_ type: Int64.Type) throws -> Int64 { try integer(type) }
    func decode(_ type: UInt.Type) throws -> UInt { try integer(type) }
    func decode(_ type: UInt8.Type) throws -> UInt8 { try integer(type) }
    func decode(_ type: UInt16.Type) throws -> UInt16 { try integer(type) }
    func decode(_ type: UInt32.Type) throws -> UInt32 { try integer(type) }
    func decode(_ type: UInt64.Type) throws -> UInt64 { try integer(type) }

    private func integer<I: FixedWidthInteger>(_ type: I.Type) throws -> I {
        try tape.decodeInteger(type, at: node, path: path, key: nil)
    }

    func decode<T: Decodable>(_ type: T.Type) throws -> T {
        try tape.decodeValue(type, at: node, path: path, key: nil)
    }
}
