import Foundation
import KanbanProtocol
import Testing

@testable import KanbanDaemon

/// `board.stats` on a board whose history is known to the millisecond (reference §7.3, §9.A item 11).
@Suite struct BoardStatsTests {
    @Test func statsOfAKnownBoard() async throws {
        let f = try BoardFixture()
        defer { f.close() }
        let start = Double(f.clock.nowMillis()) / 1000

        // Two hours ago: an old task finished (outside the last hour), and x's oldest ready task.
        let old = try await f.create("old", assignee: "x")
        try await f.complete(old.id)
        let oldestReady = try await f.create("oldest ready", assignee: "y")
        f.clock.advance(seconds: 3600 + 600)

        // Within the last hour.
        let a = try await f.create("a", assignee: "x")
        try await f.complete(a.id)
        let b = try await f.create("b", assignee: "x")
        let archivedDone = try await f.create("archived after done", assignee: "x")
        try await f.complete(archivedDone.id)
        try await f.board.archive(IDParams(id: archivedDone.id), actor: "t")
        let running = try await f.create("running", assignee: "y")
        try await f.claim(running.id)
        try await f.create("todo", parents: [b.id])
        try await f.create("idea", triage: true)
        let flaky = try await f.create("flaky", assignee: "z")
        for _ in 0..<2 {
            let claim = try await f.claim(flaky.id)
            try await f.finish(run: claim.runID, RunEnding(outcome: "crashed", countsAsFailure: true), failureLimit: 5)
        }
        try await f.block(flaky.id, reason: "look")
        f.clock.advance(seconds: 600)

        let stats = try await f.board.stats()
        #expect(stats.now == start + 3600 + 1200)
        #expect(stats.byStatus == ["done": 2, "ready": 2, "running": 1, "todo": 1, "triage": 1, "blocked": 1])
        #expect(stats.total == 8)
        #expect(stats.running == 1)
        #expect(stats.byAssignee["x"] == ["done": 2, "ready": 1])
        #expect(stats.byAssignee["y"] == ["ready": 1, "running": 1])
        #expect(stats.byAssignee["z"] == ["blocked": 1])
        #expect(stats.byAssignee.count == 3)
        // The oldest ready task became ready at `start`.
        #expect(stats.oldestReadyAgeSeconds == 4800.0)
        #expect(try await f.task(oldestReady.id).readyAt == start)
        // a and the archived one; `old` finished more than an hour ago.
        #expect(stats.completedLastHour == 2)
        #expect(stats.failingTasks == 1)
        #expect(stats.totalFailures == 2)
    }

    @Test func oldestReadyAgeCountsFromWhenTheTaskBecameReady() async throws {
        let f = try BoardFixture()
        defer { f.close() }
        let parent = try await f.create("parent")
        let child = try await f.create("child", parents: [parent.id])
        f.clock.advance(seconds: 1000)
        let claim = try await f.claim(parent.id)
        #expect(try await f.board.stats().oldestReadyAgeSeconds == nil)
        try await f.complete(parent.id, run: claim.runID)
        f.clock.advance(seconds: 30)
        // Ready for 30 s, although created 1030 s ago.
        #expect(try await f.board.stats().oldestReadyAgeSeconds == 30)
        #expect(try await f.task(child.id).readyAt != nil)
    }

    /// The trigger-kept counts (schema v4) against a GROUP BY over every task, and stats against
    /// that GROUP BY (archived tasks left out), after `step`.
    static func expectExactCounts(_ f: BoardFixture, after step: String) async throws {
        let counts = try BoardMigrationTests.sqlite(f.path, sql: "SELECT status, assignee, n FROM task_counts ORDER BY 1, 2;")
        let grouped = try BoardMigrationTests.sqlite(
            f.path, sql: "SELECT status, coalesce(assignee, ''), count(*) FROM tasks GROUP BY 1, 2 ORDER BY 1, 2;")
        #expect(counts == grouped, "task_counts after \(step)")
        var byStatus: [String: Int] = [:]
        var byAssignee: [String: [String: Int]] = [:]
        for line in grouped.split(separator: "\n") {
            let fields = line.split(separator: "|", omittingEmptySubsequences: false).map(String.init)
            guard fields[0] != "archived", let n = Int(fields[2]) else { continue }
            byStatus[fields[0], default: 0] += n
            if !fields[1].isEmpty { byAssignee[fields[1], default: [:]][fields[0]] = n }
        }
        let stats = try await f.board.stats()
        #expect(stats.byStatus == byStatus, "by status after \(step)")
        #expect(stats.byAssignee == byAssignee, "by assignee after \(step)")
        #expect(stats.total == byStatus.values.reduce(0, +), "total after \(step)")
        #expect(stats.running == (byStatus["running"] ?? 0))
        let oldest = try BoardMigrationTests.sqlite(
            f.path, sql: "SELECT min(coalesce(ready_at, created_at)) FROM tasks WHERE status = 'ready';")
        let expected = Int64(oldest).map { (f.clock.nowMillis() - $0).seconds }
        #expect(stats.oldestReadyAgeSeconds == expected, "oldest ready after \(step)")
    }

    /// Every transition that changes a status or an assignee keeps the counts exact — and a
    /// refused one changes nothing.
    @Test func countsStayExactThroughEveryTransition() async throws {
        let f = try BoardFixture()
        defer { f.close() }
        try await Self.expectExactCounts(f, after: "nothing")
        let a = try await f.create("a", assignee: "x")
        let b = try await f.create("b", assignee: "y", parents: [a.id])
        let c = try await f.create("c", triage: true)
        let d = try await f.create("d")
        try await Self.expectExactCounts(f, after: "create")
        f.clock.advance(seconds: 5)
        let claim = try await f.claim(a.id)
        try await Self.expectExactCounts(f, after: "claim")
        try await f.complete(a.id, run: claim.runID)
        try await Self.expectExactCounts(f, after: "complete (and promotion of its child)")
        try await f.block(b.id, reason: "wait")
        try await Self.expectExactCounts(f, after: "block")
        try await f.unblock(b.id)
        try await Self.expectExactCounts(f, after: "unblock")
        _ = try await f.board.assign(AssignParams(id: d.id, assignee: "x"), actor: "t")
        try await Self.expectExactCounts(f, after: "assign")
        _ = try await f.board.assign(AssignParams(id: d.id, assignee: nil), actor: "t")
        try await Self.expectExactCounts(f, after: "unassign")
        _ = try await f.board.assign(AssignParams(id: b.id, assignee: "z"), actor: "t")
        try await Self.expectExactCounts(f, after: "reassign")
        _ = try await f.board.promote(PromoteParams(id: c.id), actor: "t")
        try await Self.expectExactCounts(f, after: "promote to ready")
        let e = try await f.create("e", assignee: "x", triage: true)
        _ = try await f.board.promote(PromoteParams(id: e.id, to: "todo"), actor: "t")
        try await Self.expectExactCounts(f, after: "promote to todo")
        let gate = try await f.create("gate", assignee: "y")
        try await f.link(gate.id, d.id)
        try await Self.expectExactCounts(f, after: "link (demotes a ready child)")
        try await f.unlink(gate.id, d.id)
        try await Self.expectExactCounts(f, after: "unlink (promotes it again)")
        let run = try await f.claim(d.id)
        try await f.finish(run: run.runID, RunEnding(outcome: EventKind.crashed, exitCode: 1, countsAsFailure: true), failureLimit: 2)
        try await Self.expectExactCounts(f, after: "crash (back to ready)")
        let again = try await f.claim(d.id)
        try await f.finish(run: again.runID, RunEnding(outcome: EventKind.crashed, exitCode: 1, countsAsFailure: true), failureLimit: 2)
        try await Self.expectExactCounts(f, after: "gave up (blocked)")
        _ = try await f.board.archive(IDParams(id: d.id), actor: "t")
        _ = try await f.board.archive(IDParams(id: a.id), actor: "t")
        try await Self.expectExactCounts(f, after: "archive")
        await expectBoardRefusal(.invalidTransition) { try await f.complete(a.id) }
        await expectBoardRefusal(.conflict) { try await f.claim(a.id) }
        try await Self.expectExactCounts(f, after: "refusals")
    }

    @Test func emptyBoard() async throws {
        let f = try BoardFixture()
        defer { f.close() }
        let stats = try await f.board.stats()
        #expect(stats.byStatus.isEmpty)
        #expect(stats.byAssignee.isEmpty)
        #expect(stats.oldestReadyAgeSeconds == nil)
        #expect(stats.total == 0)
        #expect(stats.completedLastHour == 0)
        #expect(stats.failingTasks == 0)
        #expect(stats.now == Double(f.clock.nowMillis()) / 1000)
    }

    @Test func statsEncodeWithTheDocumentedKeys() throws {
        let stats = StatsResult(
            byStatus: ["ready": 1], byAssignee: ["x": ["ready": 1]], oldestReadyAgeSeconds: 2, running: 0,
            completedLastHour: 0, failingTasks: 0, totalFailures: 0, total: 1, now: 3)
        let object = try JSONDecoder().decode(JSONValue.self, from: Data(WireJSON.encode(stats)))
        for key in ["by_status", "by_assignee", "oldest_ready_age_seconds", "completed_last_hour", "running", "total"] {
            #expect(object[key] != nil, "missing \(key)")
        }
    }
}
