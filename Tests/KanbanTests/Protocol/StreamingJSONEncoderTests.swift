import FoundationEssentials
import Testing

@testable import KanbanProtocol

/// `StreamingJSONEncoder`: its output must mean exactly what Foundation's `JSONEncoder` produces
/// for the same value (checked by decoding both), be valid JSON for every container pattern
/// Codable allows, and stay compact and deterministic.
@Suite struct StreamingJSONEncoderTests {
    private func text<T: Encodable>(_ value: T) throws -> String {
        String(decoding: try StreamingJSONEncoder.encode(value), as: UTF8.self)
    }

    /// Both encodings, decoded back into `JSONValue`, are equal.
    private func expectSameMeaning<T: Encodable>(_ value: T, sourceLocation: SourceLocation = #_sourceLocation) throws {
        let foundation = try JSONDecoder().decode(JSONValue.self, from: JSONEncoder().encode(value))
        let streaming = try JSONDecoder().decode(JSONValue.self, from: Data(StreamingJSONEncoder.encode(value)))
        #expect(streaming == foundation, sourceLocation: sourceLocation)
    }

    /// kanband encodes a committed event once and splices it into each subscriber's push.
    @Test func splicedEventPushIsTheEncodedNotification() {
        let events = [
            EventInfo(id: 1, taskID: "t_1", kind: "created", createdAt: 0),
            EventInfo(
                id: Int64.max, taskID: "t_0123456789abcdef", runID: 42, kind: "completed",
                payload: ["result": "done \"quoted\" / é", "n": 3, "none": nil], actor: "uid=0 pid=1",
                createdAt: 1_795_572_203.721),
        ]
        for event in events {
            for subscription in [0, 7, Int.max] {
                let whole = WireJSON.encode(
                    RPCNotification(method: PushMethod.event, params: EventPush(subscription: subscription, event: event)))
                #expect(EventPush.notification(subscription: subscription, encodedEvent: WireJSON.encode(event)) == whole)
            }
        }
    }

    @Test func wireTypesMeanWhatFoundationsEncodingMeans() throws {
        let task = TaskInfo(
            id: "t_0123456789abcdef", title: "quote \" backslash \\ slash / tab \t newline \n bell \u{07} é 🚀",
            body: nil, assignee: "agent", status: .running, priority: -3, createdAt: 1_795_572_203.721,
            readyAt: 5, currentRunID: Int64.max, claimExpires: 0.000_1, consecutiveFailures: 2)
        try expectSameMeaning(task)
        try expectSameMeaning(TaskListResult(tasks: [task, task]))
        try expectSameMeaning(RPCResult(id: .string("x"), result: TaskListResult(tasks: [])))
        try expectSameMeaning(RPCFailure(id: .int(-7), error: RPCErrorObject(KanbanError(.notFound, "no such task"))))
        let payload: JSONValue = [
            "b": [1, .double(2.5), "x", nil, true, ["nested": []]], "a": .object([:]), "c": .array([]), "d": .double(-0.0),
        ]
        try expectSameMeaning(payload)
        try expectSameMeaning([1e300, -1e-300, 123_456_789_012_345.5, 1e15, 1e16])
    }

    @Test func outputIsCompactWithNilsOmittedAndObjectKeysSorted() throws {
        #expect(try text(TaskListResult(tasks: [])) == #"{"tasks":[]}"#)
        let payload: JSONValue = ["z": 1, "a": ["y": true, "b": nil], "m": "/"]
        #expect(try text(payload) == #"{"a":{"b":null,"y":true},"m":"/","z":1}"#)
        #expect(try text(5.0) == "5")
        #expect(try text(-2.5) == "-2.5")
        #expect(try text(Int64.min) == "-9223372036854775808")
        #expect(try text(UInt64.max) == "18446744073709551615")
        #expect(try text("\u{0}\u{1f}\r") == #""\u0000\u001f\r""#)
    }

    @Test func nonFiniteNumbersAreRefused() {
        #expect(throws: EncodingError.self) { try StreamingJSONEncoder.encode([Double.nan]) }
        #expect(throws: EncodingError.self) { try StreamingJSONEncoder.encode(["x": Double.infinity]) }
    }

    /// A hand-written conformance that nests containers, asks for its container twice, writes to a
    /// parent after a nested container, and encodes a value that writes nothing.
    struct Awkward: Encodable {
        struct Nothing: Encodable { func encode(to encoder: any Encoder) throws {} }
        enum Key: String, CodingKey { case first, inner, list, after, nothing, again }
        enum InnerKey: String, CodingKey { case deep }
        var writeToClosedSibling = false

        func encode(to encoder: any Encoder) throws {
            var outer = encoder.container(keyedBy: Key.self)
            try outer.encode(1, forKey: .first)
            var inner = outer.nestedContainer(keyedBy: InnerKey.self, forKey: .inner)
            try inner.encode([1, 2], forKey: .deep)
            var list = outer.nestedUnkeyedContainer(forKey: .list)
            try list.encode("x")
            var sub = list.nestedUnkeyedContainer()
            try sub.encode(true)
            try list.encode("y")
            if writeToClosedSibling { try inner.encode([3], forKey: .deep) }
            try outer.encode(Nothing(), forKey: .nothing)
            var same = encoder.container(keyedBy: Key.self)
            try same.encode("z", forKey: .again)
        }
    }

    @Test func everyContainerPatternGivesValidJSON() throws {
        let bytes = try StreamingJSONEncoder.encode(Awkward())
        let decoded = try JSONDecoder().decode(JSONValue.self, from: Data(bytes))
        #expect(decoded == ["first": 1, "inner": ["deep": [1, 2]], "list": ["x", [true], "y"], "nothing": .object([:]), "again": "z"])
    }

    @Test func writingToAClosedSiblingIsRefusedNotMisplaced() {
        #expect(throws: EncodingError.self) { try StreamingJSONEncoder.encode(Awkward(writeToClosedSibling: true)) }
    }

    struct Misuse: Encodable {
        enum Way { case containerThenValue, twoKinds, twoValues, keyedSuper, unkeyedSuper }
        enum Key: String, CodingKey { case a }
        let way: Way

        func encode(to encoder: any Encoder) throws {
            switch way {
            case .containerThenValue:
                var keyed = encoder.container(keyedBy: Key.self)
                try keyed.encode(1, forKey: .a)
                var single = encoder.singleValueContainer()
                try single.encode(5)
            case .twoKinds:
                var keyed = encoder.container(keyedBy: Key.self)
                try keyed.encode(1, forKey: .a)
                var unkeyed = encoder.unkeyedContainer()
                try unkeyed.encode(2)
            case .twoValues:
                var single = encoder.singleValueContainer()
                try single.encode(1)
                try single.encode(2)
            case .keyedSuper:
                var keyed = encoder.container(keyedBy: Key.self)
                try keyed.encode(1, forKey: .a)
                _ = keyed.superEncoder()
            case .unkeyedSuper:
                var unkeyed = encoder.unkeyedContainer()
                _ = unkeyed.superEncoder()
            }
        }
    }

    @Test(arguments: [
        Misuse.Way.containerThenValue, .twoKinds, .twoValues, .keyedSuper, .unkeyedSuper,
    ])
    func misuseIsRefusedNotWrittenAsBrokenJSON(way: Misuse.Way) {
        #expect(throws: EncodingError.self) { try StreamingJSONEncoder.encode(["x": Misuse(way: way)]) }
    }

    @Test func everyControlCharacterIsEscaped() throws {
        let text = String(decoding: (0..<32).map { UInt8($0) }, as: UTF8.self)
        let encoded = try StreamingJSONEncoder.encode(text)
        #expect(!encoded.contains { $0 < 0x20 })
        #expect(try JSONDecoder().decode(String.self, from: Data(encoded)) == text)
        #expect(String(decoding: try StreamingJSONEncoder.encode("\u{8}\u{c}"), as: UTF8.self) == #""\b\f""#)
        #expect(String(decoding: try StreamingJSONEncoder.encode([9_007_199_254_740_992.0]), as: UTF8.self) == "[9007199254740992]")
    }
}
