import FoundationEssentials
import Testing

@testable import KanbanProtocol

/// `TaskInfo` is written and read member by member on the streaming coders
/// (TaskInfo+DirectJSON.swift); Foundation's coders, which take the Codable containers, are the
/// independent reference for what that JSON must be.
@Suite struct TaskInfoDirectJSONTests {
    static let full = TaskInfo(
        id: "t_0123456789abcdef", title: "quote \" backslash \\ slash / é 🚀 \u{1}\n", body: "line\nline",
        assignee: "agent-7", status: .running, priority: -3, tenant: "acme", workspaceKind: "dir",
        workspacePath: "/tmp/w", createdBy: "uid=0 pid=1", createdAt: 1_795_660_430.125, readyAt: 1_795_660_431,
        startedAt: 1_795_660_432.5, completedAt: 1_795_660_433.25, result: "ok", blockReason: "waiting",
        idempotencyKey: "k", currentRunID: Int64.max, claimExpires: 1_795_661_330.5, consecutiveFailures: 2,
        lastFailureError: "boom")
    static let bare = TaskInfo(id: "t_1", title: "", status: .ready, createdAt: 0)

    /// Every optional member set or not, by the bits of `mask`.
    static func variant(_ mask: Int) -> TaskInfo {
        var task = full
        let clears: [(inout TaskInfo) -> Void] = [
            { $0.body = nil }, { $0.assignee = nil }, { $0.tenant = nil }, { $0.workspacePath = nil },
            { $0.createdBy = nil }, { $0.readyAt = nil }, { $0.startedAt = nil }, { $0.completedAt = nil },
            { $0.result = nil }, { $0.blockReason = nil }, { $0.idempotencyKey = nil }, { $0.currentRunID = nil },
            { $0.claimExpires = nil }, { $0.lastFailureError = nil },
        ]
        for (bit, clear) in clears.enumerated() where mask & (1 << bit) != 0 { clear(&task) }
        return task
    }

    @Test func writesWhatFoundationWritesForEveryShape() throws {
        for mask in stride(from: 0, to: 1 << 14, by: 97) + [0, (1 << 14) - 1] {
            let task = Self.variant(mask)
            let direct = WireJSON.encode(task)
            #expect(try JSONDecoder().decode(TaskInfo.self, from: Data(direct)) == task, "mask \(mask)")
            // The same members with the same values as the containers write (nil ones left out).
            let reference = try StreamingJSONDecoder.decode(JSONValue.self, from: Array(JSONEncoder().encode(task)))
            #expect(try StreamingJSONDecoder.decode(JSONValue.self, from: direct) == reference, "mask \(mask)")
        }
        let text = String(decoding: WireJSON.encode(Self.bare), as: UTF8.self)
        #expect(
            text == #"{"id":"t_1","title":"","status":"ready","priority":0,"workspace_kind":"scratch","created_at":0,"consecutive_failures":0}"#)
    }

    @Test func readsWhatFoundationWritesForEveryShape() throws {
        for mask in stride(from: 0, to: 1 << 14, by: 89) + [0, (1 << 14) - 1] {
            let task = Self.variant(mask)
            let bytes = Array(try JSONEncoder().encode(task))
            #expect(try StreamingJSONDecoder.decode(TaskInfo.self, from: bytes) == task, "mask \(mask)")
        }
    }

    @Test func nestedInRepliesBothWays() throws {
        let detail = TaskDetail(
            task: Self.full, parents: ["t_p"], children: [], comments: [], events: [], eventCount: 3, runs: [],
            age: TaskAge(createdAgeSeconds: 1, startedAgeSeconds: nil, timeToCompleteSeconds: nil))
        let claim = ClaimResult(task: Self.bare, runID: 9, claimExpires: 5, workspace: nil)
        let list = TaskListResult(tasks: [Self.full, Self.bare, Self.variant(12345)])
        #expect(try JSONDecoder().decode(TaskDetail.self, from: Data(WireJSON.encode(detail))).task == Self.full)
        #expect(try StreamingJSONDecoder.decode(TaskDetail.self, from: Array(JSONEncoder().encode(detail))).eventCount == 3)
        #expect(try StreamingJSONDecoder.decode(ClaimResult.self, from: WireJSON.encode(claim)).task == Self.bare)
        #expect(try StreamingJSONDecoder.decode(TaskListResult.self, from: WireJSON.encode(list)).tasks == list.tasks)
        #expect(try JSONDecoder().decode(TaskListResult.self, from: Data(WireJSON.encode(list))).tasks == list.tasks)
    }

    @Test func aTaskDetailWritesWhatFoundationWrites() throws {
        let comments = [
            CommentInfo(id: 1, taskID: "t_1", author: "a \"b\"", body: "line\nline é", createdAt: 1.5),
            CommentInfo(id: Int64.max, taskID: "t_1", author: "", body: "", createdAt: 2),
        ]
        let events = [
            EventInfo(id: 7, taskID: "t_1", runID: 3, kind: "claimed", payload: ["expires": .double(12.5), "claimer": "x"], actor: "me", createdAt: 3),
            EventInfo(id: 8, taskID: "t_1", runID: nil, kind: "created", payload: nil, actor: nil, createdAt: 4),
        ]
        let runs = [
            RunInfo(id: 3, taskID: "t_1", assignee: "a", claimer: "kanband", pid: 42, startedAt: 5, endedAt: nil, outcome: "running",
                exitCode: nil, signal: nil, error: nil, workspace: "/w", lastHeartbeatAt: 6),
        ]
        let ages = [
            TaskAge(createdAgeSeconds: 10, startedAgeSeconds: nil, timeToCompleteSeconds: nil),
            TaskAge(createdAgeSeconds: 10.25, startedAgeSeconds: 3, timeToCompleteSeconds: 2.5),
        ]
        for (index, age) in ages.enumerated() {
            let full = index > 0
            let parents: [String] = full ? ["t_p", "t_q"] : []
            let detail = TaskDetail(
                task: Self.variant(index * 777), parents: parents, children: ["t_c"],
                comments: full ? comments : [], events: full ? events : [], eventCount: 9 + index,
                runs: full ? runs : [], age: age)
            let direct = WireJSON.encode(detail)
            let reference = try StreamingJSONDecoder.decode(JSONValue.self, from: Array(JSONEncoder().encode(detail)))
            #expect(try StreamingJSONDecoder.decode(JSONValue.self, from: direct) == reference)
            let back = try JSONDecoder().decode(TaskDetail.self, from: Data(direct))
            #expect(back.task == detail.task && back.comments == detail.comments && back.age == detail.age)
        }
    }

    @Test func readsLikeTheSynthesizedConformance() throws {
        func decode(_ text: String) throws -> TaskInfo {
            try StreamingJSONDecoder.decode(TaskInfo.self, from: Array(text.utf8))
        }
        let minimal = #""id":"t","title":"a","status":"ready","priority":0,"workspace_kind":"scratch","created_at":1,"consecutive_failures":0"#
        // Members in any order, optional ones null, unknown ones skipped, integral numbers as integers.
        let shuffled = try decode(
            #"{"consecutive_failures":1.0,"x":{"y":[1,{"id":"no"}]},"created_at":2,"status":"todo","body":null,"priority":5,"title":"b","workspace_kind":"dir","id":"t_b","current_run_id":7}"#)
        #expect(shuffled == TaskInfo(id: "t_b", title: "b", status: .todo, priority: 5, workspaceKind: "dir", createdAt: 2, currentRunID: 7, consecutiveFailures: 1))
        // Duplicate members are not valid input; the direct path takes the first.
        #expect(try decode(#"{"id":"first","id":"second",\#(minimal.dropFirst(9))}"#).id == "first")
        let refused = [
            #"{"title":"a","status":"ready","priority":0,"workspace_kind":"scratch","created_at":1,"consecutive_failures":0}"#,
            "{" + minimal.replacingOccurrences(of: #""status":"ready""#, with: #""status":"sleeping""#) + "}",
            "{" + minimal.replacingOccurrences(of: #""priority":0"#, with: #""priority":0.5"#) + "}",
            "{" + minimal.replacingOccurrences(of: #""created_at":1"#, with: #""created_at":"1""#) + "}",
            "{" + minimal.replacingOccurrences(of: #""title":"a""#, with: #""title":null"#) + "}",
            "{" + minimal + #","current_run_id":1.5}"#,
            "{" + minimal + #","assignee":3}"#,
            "{" + minimal + #","ready_at":true}"#,
            "[]", "null", "1",
        ]
        for text in refused {
            #expect(throws: DecodingError.self, "\(text)") { try decode(text) }
            #expect(throws: DecodingError.self, "Foundation agrees: \(text)") {
                try JSONDecoder().decode(TaskInfo.self, from: Data(text.utf8))
            }
        }
    }

    @Test func errorsNameTheBadMember() throws {
        let text = #"{"task":{"id":"t","title":"a","status":"ready","priority":"high","workspace_kind":"s","created_at":1,"consecutive_failures":0}}"#
        do {
            _ = try StreamingJSONDecoder.decode(TaskResult.self, from: Array(text.utf8))
            Issue.record("decoded a priority that is a string")
        } catch let DecodingError.typeMismatch(_, context) {
            #expect(context.codingPath.map(\.stringValue) == ["task", "priority"])
        }
        do {
            _ = try StreamingJSONDecoder.decode(TaskResult.self, from: Array(#"{"task":{"id":"t"}}"#.utf8))
            Issue.record("decoded a task without a title")
        } catch let DecodingError.keyNotFound(key, context) {
            #expect(key.stringValue == "title")
            #expect(context.codingPath.map(\.stringValue) == ["task"])
        }
    }
}
