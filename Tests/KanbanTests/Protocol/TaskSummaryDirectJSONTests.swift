import FoundationEssentials
import Testing

@testable import KanbanProtocol

/// `TaskSummaryListResult` is written and read member by member on the streaming coders
/// (TaskSummaryList+DirectJSON.swift); Foundation's coders, which take the Codable containers,
/// are the independent reference for what that JSON must be.
@Suite struct TaskSummaryDirectJSONTests {
    static let list = TaskSummaryListResult(tasks: [
        TaskSummary(id: "t_0123456789abcdef", title: "quote \" backslash \\ slash / é 🚀 \u{1}\n", status: .ready),
        TaskSummary(id: "t_1", title: "x", status: .blocked, assignee: "agent", tenant: "acme", priority: -3),
        TaskSummary(id: "t_2", title: "", status: .done, assignee: nil, tenant: "t", priority: Int.max),
    ])

    @Test func writesWhatFoundationReads() throws {
        let bytes = WireJSON.encode(Self.list)
        let decoded = try JSONDecoder().decode(TaskSummaryListResult.self, from: Data(bytes))
        #expect(decoded.tasks == Self.list.tasks)
        // Nil optionals are omitted, keys come in declaration order, as the synthesized conformance writes.
        let text = String(decoding: bytes, as: UTF8.self)
        #expect(text.hasPrefix(#"{"tasks":[{"id":"t_0123456789abcdef","title":"quote \" backslash \\ slash / é 🚀 \u0001\n","status":"ready","priority":0}"#))
        #expect(!text.contains("null"))
        #expect(WireJSON.encode(TaskSummaryListResult(tasks: [])) == Array(#"{"tasks":[]}"#.utf8))
    }

    @Test func readsWhatFoundationWrites() throws {
        let bytes = Array(try JSONEncoder().encode(Self.list))
        #expect(try StreamingJSONDecoder.decode(TaskSummaryListResult.self, from: bytes).tasks == Self.list.tasks)
    }

    @Test func nestedInAReplyTheDirectPathStillWritesInPlace() throws {
        struct Envelope: Codable { var id: Int; var result: TaskSummaryListResult; var after: String }
        let envelope = Envelope(id: 7, result: Self.list, after: "end")
        let bytes = WireJSON.encode(envelope)
        let viaFoundation = try JSONDecoder().decode(Envelope.self, from: Data(bytes))
        #expect(viaFoundation.result.tasks == Self.list.tasks && viaFoundation.after == "end")
        let viaStream = try StreamingJSONDecoder.decode(Envelope.self, from: bytes)
        #expect(viaStream.result.tasks == Self.list.tasks && viaStream.id == 7)
    }

    @Test func readsLikeTheSynthesizedConformance() throws {
        func decode(_ text: String) throws -> [TaskSummary] {
            try StreamingJSONDecoder.decode(TaskSummaryListResult.self, from: Array(text.utf8)).tasks
        }
        // Optional members absent or null, unknown members skipped, members in any order.
        let tasks = try decode(
            #"{"extra":1,"tasks":[{"priority":2,"status":"todo","title":"a","id":"t_a","assignee":null,"x":{"y":[1]}}]}"#)
        #expect(tasks == [TaskSummary(id: "t_a", title: "a", status: .todo, priority: 2)])
        #expect(try decode(#"{"tasks":[{"id":"t","title":"a","status":"ready","priority":5.0}]}"#)[0].priority == 5)
        // Duplicate members are not valid input; the direct path takes the first.
        #expect(try decode(#"{"tasks":[{"id":"t","id":"u","title":"a","status":"ready","priority":0}]}"#)[0].id == "t")

        let refused = [
            #"{"tasks":[{"title":"a","status":"ready","priority":0}]}"#,  // no id
            #"{"tasks":[{"id":"t","title":"a","status":"ready"}]}"#,  // no priority
            #"{"tasks":[{"id":"t","title":"a","status":"sleeping","priority":0}]}"#,  // unknown status
            #"{"tasks":[{"id":1,"title":"a","status":"ready","priority":0}]}"#,  // id not a string
            #"{"tasks":[{"id":"t","title":"a","status":"ready","priority":0.5}]}"#,  // priority not an integer
            #"{"tasks":[{"id":"t","title":"a","status":"ready","priority":0,"assignee":3}]}"#,  // assignee not a string
            #"{"tasks":[{"id":"t","title":null,"status":"ready","priority":0}]}"#,  // required member null
            #"{"tasks":[1]}"#, #"{"tasks":{}}"#, #"{"tasks":null}"#, #"{}"#, #"[]"#,
        ]
        for text in refused {
            #expect(throws: DecodingError.self, "\(text)") { try decode(text) }
            #expect(throws: DecodingError.self, "Foundation agrees: \(text)") {
                try JSONDecoder().decode(TaskSummaryListResult.self, from: Data(text.utf8))
            }
        }
    }

    @Test func errorsNameTheBadMember() throws {
        do {
            _ = try StreamingJSONDecoder.decode(
                TaskSummaryListResult.self,
                from: Array(#"{"tasks":[{"id":"t","title":"a","status":"ready","priority":0},{"id":"u","title":2}]}"#.utf8))
            Issue.record("decoded a title that is a number")
        } catch let DecodingError.typeMismatch(_, context) {
            #expect(context.codingPath.map(\.stringValue) == ["tasks", "1", "title"])
        }
    }
}
