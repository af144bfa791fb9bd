import FoundationEssentials
import Testing

@testable import KanbanProtocol

/// `StreamingJSONDecoder` and `JSONTape`: strict parsing (what Foundation refuses, it refuses),
/// the same values as Foundation's `JSONDecoder`, and errors that name the bad field.
@Suite struct StreamingJSONDecoderTests {
    static let minimalTask =
        #"{"id":"t","title":"x","status":"ready","priority":0,"created_at":1,"workspace_kind":"scratch","consecutive_failures":0}"#

    private func decode<T: Decodable>(_ type: T.Type, _ text: String) throws -> T {
        try StreamingJSONDecoder.decode(type, from: Array(text.utf8))
    }

    @Test func wireTypesRoundTripThroughBothEncoders() throws {
        let task = TaskInfo(
            id: "t_0123456789abcdef", title: "quote \" slash / é 🚀 \u{1}", body: "multi\nline", assignee: "agent",
            status: .blocked, priority: -3, createdAt: 1_795_572_203.721, readyAt: 5, currentRunID: Int64.max,
            claimExpires: 0.000_1, consecutiveFailures: 2, lastFailureError: "exit 3")
        let list = TaskListResult(tasks: [task, TaskInfo(id: "t_1", title: "x", status: .ready, createdAt: 0)])
        #expect(try StreamingJSONDecoder.decode(TaskListResult.self, from: WireJSON.encode(list)).tasks == list.tasks)
        #expect(
            try StreamingJSONDecoder.decode(TaskListResult.self, from: Array(JSONEncoder().encode(list))).tasks == list.tasks)
        let payload: JSONValue = ["a": [1, .double(2.5), "x", nil, true, ["b": []]], "c": .object([:]), "d": -7]
        #expect(try StreamingJSONDecoder.decode(JSONValue.self, from: WireJSON.encode(payload)) == payload)
        #expect(try StreamingJSONDecoder.decode([String: JSONValue].self, from: WireJSON.encode(payload)).count == 3)
    }

    @Test(arguments: [
        #""\u00e9\ud83d\ude80\n\t\"\\\/\b\f\r""#, #""plain""#, #""""#, #""\u0041x""#, #""lone \ud83d surrogate""#,
        #""\udc00 low first""#, #""\ud83d\u0041 broken pair""#,
    ])
    func stringsDecodeAsFoundationDecodesThem(text: String) throws {
        let foundation = try? JSONDecoder().decode(String.self, from: Data(text.utf8))
        let streaming = try? decode(String.self, text)
        #expect(streaming == foundation)
    }

    @Test func numbersFollowFoundationsRules() throws {
        #expect(try decode(Int.self, "5.0") == 5)
        #expect(try decode(Int.self, "-0") == 0)
        #expect(try decode(Int64.self, "-9223372036854775808") == Int64.min)
        #expect(throws: DecodingError.self) { try decode(Int64.self, "9223372036854775808") }
        #expect(throws: DecodingError.self) { try decode(Int.self, "5.5") }
        #expect(throws: DecodingError.self) { try decode(UInt8.self, "256") }
        #expect(throws: DecodingError.self) { try decode(UInt.self, "-1") }
        #expect(try decode(UInt64.self, "18446744073709551615") == UInt64.max)
        #expect(try decode(Double.self, "1e-3") == 0.001)
        #expect(try decode(Double.self, "12") == 12)
        #expect(throws: DecodingError.self) { try decode(Double.self, "1e999") }
        #expect(try decode([Double].self, "[0.1, -2.5E+2]") == [0.1, -250])
    }

    @Test(arguments: [
        "", " ", "{", "}", "[1,]", "[1 2]", "{\"a\" 1}", "{\"a\":1,}", "{a:1}", "01", "1.", ".5", "-", "1e", "+1",
        "tru", "nulll", "\"unterminated", "\"tab\there\"", "\"bad \\x escape\"", "\"\\u12\"", "[1] [2]", "NaN",
        "\u{FEFF}{}",
    ])
    func malformedDocumentsAreRefused(text: String) {
        // RFC 8259 strictly: Foundation also refuses these, except trailing commas and a BOM.
        #expect(throws: DecodingError.self) { try JSONTape(Array(text.utf8)) }
    }

    @Test func invalidUTF8AndDeepNestingAreRefused() {
        #expect(throws: DecodingError.self) { try JSONTape([0x22, 0xC3, 0x28, 0x22]) }
        #expect(throws: DecodingError.self) { try JSONTape([0x22, 0xFF, 0x22]) }
        let deep = String(repeating: "[", count: JSONTape.maxDepth + 1) + String(repeating: "]", count: JSONTape.maxDepth + 1)
        #expect(throws: DecodingError.self) { try JSONTape(Array(deep.utf8)) }
        let fine = String(repeating: "[", count: JSONTape.maxDepth) + String(repeating: "]", count: JSONTape.maxDepth)
        #expect((try? JSONTape(Array(fine.utf8))) != nil)
    }

    /// Strings are scanned eight bytes at a time: whatever ends a string, starts an escape, is a
    /// control character or is not ASCII must be seen at every offset within and across words.
    @Test func stringScanningSeesEveryByteAtEveryOffset() throws {
        for length in 0..<20 {
            for offset in 0...length {
                let before = String(repeating: "a", count: offset)
                let after = String(repeating: "b", count: length - offset)
                #expect(try decode(String.self, "\"\(before)\\n\(after)\"") == before + "\n" + after)
                #expect(try decode(String.self, "\"\(before)\\\"\(after)\"") == before + "\"" + after)
                #expect(try decode(String.self, "\"\(before)é\(after)\"") == before + "é" + after)
                #expect(try decode([String].self, "[\"\(before)\",\"\(after)\"]") == [before, after])
                #expect(throws: DecodingError.self) { try decode(String.self, "\"\(before)\u{1}\(after)\"") }
                #expect(throws: DecodingError.self) { try decode(String.self, "\"\(before)\u{1F}\(after)\"") }
                #expect(throws: DecodingError.self) { try decode(String.self, "\"\(before)\\q\(after)\"") }
                var invalid = Array("\"\(before)\(after)\"".utf8)
                invalid.insert(0xFF, at: offset + 1)
                #expect(throws: DecodingError.self) { try StreamingJSONDecoder.decode(String.self, from: invalid) }
                var truncated = Array("\"\(before)\(after)".utf8)
                #expect(throws: DecodingError.self) { try StreamingJSONDecoder.decode(String.self, from: truncated) }
                truncated.append(0x5C)
                #expect(throws: DecodingError.self) { try StreamingJSONDecoder.decode(String.self, from: truncated) }
            }
        }
    }

    @Test func errorsNameTheField() throws {
        do {
            _ = try decode(TaskListResult.self, #"{"tasks":[\#(Self.minimalTask),{"id":"t","title":5}]}"#)
            Issue.record("decoded a number as a title")
        } catch DecodingError.typeMismatch(_, let context) {
            #expect(context.codingPath.map(\.stringValue) == ["tasks", "1", "title"])
        }
        do {
            _ = try decode(TaskInfo.self, #"{"id":"t","title":"x","priority":0,"created_at":1,"workspace_kind":"scratch","consecutive_failures":0}"#)
            Issue.record("decoded without a status")
        } catch DecodingError.keyNotFound(let key, _) {
            #expect(key.stringValue == "status")
        }
        do {
            _ = try decode(TaskInfo.self, #"{"id":null,"title":"x","status":"ready","priority":0,"created_at":1,"workspace_kind":"scratch","consecutive_failures":0}"#)
            Issue.record("decoded a null id")
        } catch DecodingError.valueNotFound(_, let context) {
            #expect(context.codingPath.map(\.stringValue) == ["id"])
        }
    }

    @Test func keysAreFoundInAnyOrderAndUnknownOnesIgnored() throws {
        let task = try decode(
            TaskInfo.self,
            #"{"zzz":[1,{"x":2}],"created_at":3,"consecutive_failures":0,"status":"done","title":"t\u0069tle","id":"t_9","priority":1,"body":null,"workspace_kind":"scratch"}"#)
        #expect(task == TaskInfo(id: "t_9", title: "title", status: .done, priority: 1, createdAt: 3))
    }

    @Test func anyJSONNumbersReadAsFoundationReadThem() throws {
        #expect(try decode(JSONValue.self, "5.0") == 5)
        #expect(try decode(JSONValue.self, "1e2") == 100)
        #expect(try decode(JSONValue.self, "-0") == 0)
        #expect(try decode(JSONValue.self, "2.5") == .double(2.5))
        #expect(try decode(JSONValue.self, "1e20") == .double(1e20))
        // Beyond Double: refused rather than read as 0 or as infinity (which could not be sent back).
        #expect(throws: DecodingError.self) { try decode(JSONValue.self, "[1.5e400]") }
        #expect(throws: DecodingError.self) { try decode(Float.self, "1e300") }
    }

    @Test func aFailedArrayElementStaysCurrent() throws {
        struct Lenient: Decodable {
            var numbers: [Int] = []
            init(from decoder: any Decoder) throws {
                var array = try decoder.unkeyedContainer()
                while !array.isAtEnd {
                    if let number = try? array.decode(Int.self) {
                        numbers.append(number)
                    } else {
                        _ = try array.decode(String.self)
                    }
                }
            }
        }
        #expect(try decode(Lenient.self, #"[1,"x",2,3]"#).numbers == [1, 2, 3])
        struct NilProbe: Decodable {
            var result: [Int?] = []
            init(from decoder: any Decoder) throws {
                var array = try decoder.unkeyedContainer()
                while !array.isAtEnd { result.append(try array.decodeNil() ? nil : try array.decode(Int.self)) }
                #expect(throws: DecodingError.self) { try array.decodeNil() }
            }
        }
        #expect(try decode(NilProbe.self, "[1,null,3]").result == [1, nil, 3])
    }

    @Test func superDecodersAreRefusedNotMisread() {
        struct Sub: Decodable {
            init(from decoder: any Decoder) throws {
                _ = try decoder.container(keyedBy: IndexKey.self).superDecoder()
            }
        }
        #expect(throws: DecodingError.self) { try decode(Sub.self, #"{"super":{}}"#) }
    }
}
