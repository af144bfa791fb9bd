import Foundation
import GRDB
import KanbanProtocol
import Testing

@testable import KanbanDaemon

/// The compact stored form of events (schema v4): what is written reads back as exactly what was
/// appended, and the format itself (kind codes, payload layouts) never drifts.
@Suite struct BoardEventStorageTests {
    /// What a client receives for `value`: its wire encoding, decoded again.
    static func wire<T: Encodable>(_ value: T) throws -> JSONValue {
        try JSONDecoder().decode(JSONValue.self, from: Data(WireJSON.encode(value)))
    }

    static func roundTrip(_ kind: String, _ payload: JSONValue?) -> JSONValue? {
        EventStorage.payload(kind: kind, EventStorage.storedPayload(kind: kind, payload))
    }

    /// Tasks are numbered 1, 2, 3… in creation order, whether the kernel gives the number (its
    /// creates) or the `tasks_number` trigger does (any other insert).
    @Test func tasksAreNumberedInOrderByCreatesAndByTheTrigger() async throws {
        let f = try BoardFixture()
        defer { f.close() }
        let a = try await f.create("a")
        let b = try await f.create("b")
        try await f.board.write { db, _ in
            try db.execute(sql: "INSERT INTO tasks (id, title, status, created_at) VALUES ('t_raw', 'raw', 'todo', 0)")
        }
        let c = try await f.create("c")
        let numbers = try f.board.store.readSync { db in
            try [a.id, b.id, "t_raw", c.id].map { id in
                try Int64.fetchOne(db, sql: "SELECT seq FROM tasks WHERE id = ?", arguments: [id])
            }
        }
        #expect(numbers == [1, 2, 3, 4])
        // Events find their task by that number.
        #expect(try await f.board.detail(GetParams(id: c.id)).events.map(\.kind) == ["created"])
    }

    /// Codes and layouts are the file format: changing one misreads every stored event.
    @Test func theFormatIsPinned() {
        #expect(EventStorage.kindCodes == [
            "created", "completed", "claimed", "spawned", "commented", "heartbeat", "assigned", "linked", "unlinked",
            "promoted", "blocked", "unblocked", "archived", "reclaimed", "crashed", "exited_without_result",
            "timed_out", "spawn_failed", "gave_up", "adopted",
        ])
        #expect(EventStorage.layouts["created"]?.map(\.name) == ["assignee", "status", "priority", "parents", "tenant"])
        #expect(EventStorage.layouts["claimed"]?.map(\.name) == ["expires", "claimer"])
        let created: JSONValue = ["assignee": "agent-3", "status": "ready", "priority": 0, "parents": [], "tenant": nil]
        #expect(EventStorage.storedPayload(kind: "created", created) == #"["agent-3"]"#)
        let claimed: JSONValue = ["claimer": "kanband", "expires": .double(1_795_660_430.53)]
        #expect(EventStorage.storedPayload(kind: "claimed", claimed) == "[1795660430.53]")
        #expect(EventStorage.storedPayload(kind: "blocked", ["reason": nil]) == "[]")
        #expect(EventStorage.storedPayload(kind: "promoted", nil) == nil)
        // Sorted keys when an object is stored: the same payload is always the same bytes.
        #expect(EventStorage.storedPayload(kind: "custom", ["b": 1, "a": 2]) == #"{"a":2,"b":1}"#)
        #expect(EventStorage.storedKindList(["created", "gave_up", "it's_new"]) == "(0,18,'it''s_new')")
        #expect(EventStorage.storedKind("something_new") == "something_new".databaseValue)
        #expect(EventStorage.storedKind("gave_up") == 18.databaseValue)
        #expect(EventStorage.kind(code: 18) == "gave_up")
        #expect(EventStorage.kind(code: 0) == "created")
        // A code from a newer kanband reads as its number rather than as a wrong kind.
        #expect(EventStorage.kind(code: 99) == "99")
    }

    @Test func everyPayloadReadsBackAsAppended() {
        let cases: [(String, JSONValue?)] = [
            ("created", ["assignee": "a", "status": "ready", "priority": 0, "parents": [], "tenant": nil]),
            ("created", ["assignee": nil, "status": "todo", "priority": 2, "parents": ["t_1"], "tenant": "acme"]),
            ("created", ["assignee": nil, "status": "ready", "priority": 0, "parents": [], "tenant": "acme"]),
            ("created", ["assignee": "a", "status": "triage", "priority": -1, "parents": [], "tenant": nil]),
            ("assigned", ["assignee": nil, "previous": nil]),
            ("assigned", ["assignee": "b", "previous": "a"]),
            ("linked", ["parent": "t_1", "child": "t_2", "demoted": false]),
            ("linked", ["parent": "t_1", "child": "t_2", "demoted": true]),
            ("unlinked", ["parent": "t_1", "child": "t_2"]),
            ("commented", ["author": "w", "len": 12]),
            ("promoted", nil),
            ("promoted", ["from": "triage", "to": "todo"]),
            ("claimed", ["claimer": "kanband", "expires": .double(1_700_000_900.25)]),
            ("claimed", ["claimer": "w7", "expires": .double(1_700_000_900.25)]),
            ("spawned", ["pid": 42, "workspace": "/w/t_1"]),
            ("adopted", ["pid": 42]),
            ("heartbeat", ["note": "half way"]),
            ("completed", ["result_len": 0, "summary": nil]),
            ("completed", ["result_len": 2, "summary": "ok"]),
            ("completed", ["result_len": 0, "summary": ""]),
            ("blocked", ["reason": nil]),
            ("blocked", ["reason": "needs a human"]),
            ("unblocked", ["failures_reset": 0]),
            ("unblocked", ["failures_reset": 3]),
            ("archived", ["from": "done"]),
            ("reclaimed", ["exit_code": nil, "signal": nil, "error": "claim expired"]),
            ("reclaimed", ["exit_code": nil, "signal": 15, "error": "claim expired", "log_tail": "…"]),
            ("crashed", ["exit_code": 1, "signal": nil, "failures": 1, "log_tail": "boom\n"]),
            ("crashed", ["exit_code": nil, "signal": 9, "failures": 2, "error": "e", "log_tail": "x"]),
            ("exited_without_result", ["exit_code": 0, "signal": nil, "failures": 1]),
            ("spawn_failed", ["exit_code": nil, "signal": nil, "failures": 1, "error": "no worker"]),
            ("timed_out", [
                "exit_code": nil, "signal": 15, "failures": 1, "error": "e", "log_tail": "t", "limit_seconds": .double(1.5),
                "elapsed_seconds": .double(2.25),
            ]),
            ("gave_up", ["failures": 3, "limit": 3, "error": "boom"]),
            // Shapes a layout cannot say: a member missing before the end, one it does not name,
            // a member left out that has an omitted value, a payload that is not an object (an
            // array would be taken for the positional form; payloads are objects by the protocol).
            ("created", ["status": "ready"]),
            ("commented", ["author": "w", "len": 1, "extra": true]),
            ("completed", ["result_len": 4]),
            ("blocked", [:]),
            ("custom_kind", ["anything": [1, 2]]),
            ("commented", "text"),
        ]
        for (kind, payload) in cases {
            #expect(Self.roundTrip(kind, payload) == payload, "\(kind) \(String(describing: payload))")
        }
    }

    /// v3 stored every payload as a JSON object; the migration copies them as they are.
    @Test func v3ObjectsStillRead() {
        #expect(
            EventStorage.payload(kind: "created", #"{"parents":[],"tenant":null,"status":"ready","assignee":"a","priority":0}"#)
                == ["parents": [], "tenant": nil, "status": "ready", "assignee": "a", "priority": 0])
        #expect(EventStorage.payload(kind: "created", #"{"status":"ready"}"#) == ["status": "ready"])
        #expect(EventStorage.payload(kind: "completed", "not json") == nil)
    }

    /// Every event the kernel appends, live (as pushed to watchers) and read back (as replayed,
    /// listed and shown), is the same on the wire.
    @Test func storedEventsMatchThePublishedOnes() async throws {
        let f = try BoardFixture()
        defer { f.close() }
        let (subscription, _) = f.board.bus.subscribe(filter: EventFilter(), limit: 10_000)
        let kernel = f.board.kernel

        let parent = try await f.create("parent", assignee: "x", tenant: "acme", priority: 2)
        let child = try await f.create("child", parents: [parent.id])
        let idea = try await f.create("idea", triage: true)
        _ = try await f.board.promote(PromoteParams(id: idea.id, to: "todo"), actor: "t")
        _ = try await f.board.assign(AssignParams(id: child.id, assignee: "y"), actor: "t")
        _ = try await f.board.assign(AssignParams(id: child.id, assignee: nil), actor: "t")
        let other = try await f.create("other")
        try await f.link(other.id, idea.id)
        try await f.unlink(other.id, idea.id)
        _ = try await f.board.comment(CommentParams(id: parent.id, body: "hello"), actor: "t")
        let claim = try await f.claim(parent.id)
        _ = try await f.board.heartbeat(HeartbeatParams(id: parent.id, runID: claim.runID, note: "half way"), actor: "t")
        try await f.board.write { db, fx in
            try kernel.recordSpawn(db, &fx, run: claim.runID, taskID: parent.id, pid: 4242, startTime: 7, workspace: "/w")
            try kernel.appendEvent(
                db, &fx, task: parent.id, kind: EventKind.adopted, payload: ["pid": 4242], run: claim.runID,
                actor: Kernel.dispatcherClaimer)
        }
        try await f.complete(parent.id, result: "done\nmore", run: claim.runID)
        try await f.block(other.id)
        try await f.unblock(other.id)
        try await f.block(other.id, reason: "look")
        try await f.unblock(other.id)
        for ending in [
            RunEnding(outcome: EventKind.reclaimed, error: "claim expired", countsAsFailure: false),
            RunEnding(outcome: EventKind.crashed, exitCode: 1, logTail: "boom\n", countsAsFailure: true),
            RunEnding(outcome: EventKind.exitedWithoutResult, exitCode: 0, countsAsFailure: true),
            RunEnding(
                outcome: EventKind.timedOut, signal: 15, error: "too slow", logTail: "t", countsAsFailure: true,
                extra: ["limit_seconds": .double(1.5), "elapsed_seconds": .double(2.25)]),
            RunEnding(outcome: EventKind.spawnFailed, error: "no worker", countsAsFailure: true),
        ] {
            let run = try await f.claim(other.id, claimer: "kanband")
            try await f.finish(run: run.runID, ending, failureLimit: 5)
        }
        let last = try await f.claim(other.id)
        try await f.finish(run: last.runID, RunEnding(outcome: EventKind.crashed, signal: 9, countsAsFailure: true), failureLimit: 5)
        try await f.complete(child.id)
        _ = try await f.board.archive(IDParams(id: child.id), actor: "t")

        let stored = try await f.allEvents()
        // Ending the subscription lets its stream hand over what was published, then finish.
        f.board.bus.unsubscribe(subscription.id)
        var live: [EventInfo] = []
        for await item in f.board.bus.stream(subscription) {
            if case .event(let shared) = item { live.append(shared.event) }
        }
        #expect(Set(stored.map(\.kind)).isSuperset(of: Set(EventStorage.kindCodes)))
        #expect(live.count == stored.count)
        for (a, b) in zip(live, stored) {
            #expect(try Self.wire(a) == Self.wire(b), "event \(a.id) \(a.kind)")
        }
        // The latest-events view of a task and the task filter read the same rows.
        let detail = try await f.board.detail(GetParams(id: other.id, events: 1000))
        #expect(detail.events == stored.filter { $0.taskID == other.id })
        #expect(detail.eventCount == detail.events.count)
        #expect(try await f.events(other.id) == detail.events)
    }
}
