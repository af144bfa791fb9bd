import Foundation
import KanbanProtocol
import Testing

extension Processes {
    /// `kanbanctl stats` and the ages in `show --json` on a board whose every number is known.
    @Suite struct BoardStatistics {
        /// alice and bob have workers that may never start (cap 0), so their tasks stay where the test
        /// puts them; ghost has no worker at all, so its task fails to spawn once and is blocked.
        static let config = """
            failure_limit = 1
            interval = 60

            [workers.alice]
            command = ["/bin/true"]
            max_concurrent = 0

            [workers.bob]
            command = ["/bin/true"]
            max_concurrent = 0
            """

        @Test func statsCountAStagedBoard() throws {
            let daemon = try TestDaemon(config: BoardStatistics.config)
            let c = try EventKit.Client(socket: daemon.socket)

            // Created first, ready last: its age must count from when it became ready.
            let gate = try c.create("gate")
            let lateReady = try c.create("late ready", assignee: "alice", parents: [gate.id])
            #expect(lateReady.status == .todo)
            usleep(150_000)
            let a1 = try c.create("alice ready", assignee: "alice")
            let a3 = try c.create("alice done", assignee: "alice")
            try c.complete(a3.id, result: "ok")
            let a4 = try c.create("alice waits", assignee: "alice", parents: [a1.id])
            #expect(a4.status == .todo)
            let b1 = try c.create("bob ready", assignee: "bob")
            let b2 = try c.create("bob blocked", assignee: "bob")
            try c.block(b2.id, "needs a human")
            let b3 = try c.create("bob running", assignee: "bob")
            try c.claim(b3.id)
            let b4 = try c.create("bob finished", assignee: "bob")
            try c.claim(b4.id)
            try c.complete(b4.id, result: "ok")
            let triaged = try c.create("to triage", triage: true)
            let gone = try c.create("archived")
            try c.archive(gone.id)
            let aliceGone = try c.create("alice archived", assignee: "alice")
            try c.complete(aliceGone.id)
            try c.archive(aliceGone.id)
            let ghost = try c.create("nobody can run this", assignee: "ghost")
            #expect(eventually { (try? c.task(ghost.id).task.status) == .blocked }, "ghost's spawn failure blocks it")
            usleep(50_000)
            try c.complete(gate.id)
            #expect(try c.task(lateReady.id).task.status == .ready)
            #expect(try c.task(triaged.id).task.status == .triage)
            #expect(try c.task(b1.id).task.status == .ready)

            let stats = try EventKit.ctlJSON(daemon, StatsResult.self, "stats", "--json")
            #expect(stats.byStatus == ["triage": 1, "todo": 1, "ready": 3, "running": 1, "blocked": 2, "done": 3])
            #expect(stats.total == 11, "archived tasks are not counted")
            #expect(
                stats.byAssignee == [
                    "alice": ["ready": 2, "todo": 1, "done": 1],
                    "bob": ["ready": 1, "blocked": 1, "running": 1, "done": 1],
                    "ghost": ["blocked": 1],
                ])
            #expect(stats.running == 1)
            // a3, b4, gate, and alice's task completed then archived within the hour.
            #expect(stats.completedLastHour == 4)
            #expect(stats.failingTasks == 1)
            #expect(stats.totalFailures == 1)

            // The oldest ready task is a1 by when it became ready (lateReady was created earlier but
            // became ready last).
            let ready = try [a1.id, b1.id, lateReady.id].map { try c.task($0).task }
            let oldestReadyAt = try #require(ready.compactMap(\.readyAt).min())
            #expect(ready.allSatisfy { $0.readyAt != nil })
            #expect(oldestReadyAt == ready[0].readyAt)
            let age = try #require(stats.oldestReadyAgeSeconds)
            #expect(abs((stats.now - age) - oldestReadyAt) < 0.002, "age \(age) at \(stats.now), ready at \(oldestReadyAt)")
            #expect(age < stats.now - lateReady.createdAt - 0.1, "the age is not counted from creation")

            let text = daemon.ctl("stats")
            #expect(text.code == 0)
            for line in [
                "  ready     3", "  running   1", "  blocked   2", "  done      3", "  triage    1", "  todo      1",
                "Running workers:       1", "Completed last hour:   4", "Failing tasks:         1 (1 failures)",
                "Oldest ready task age:",
            ] {
                #expect(text.stdout.contains(line), "missing '\(line)' in:\n\(text.stdout)")
            }
            #expect(text.stdout.contains("alice"))
            #expect(text.stdout.contains("ready=2"))
            #expect(!text.stdout.contains("archived"))
        }

        @Test func showJSONCarriesTaskAges() throws {
            let daemon = try TestDaemon(config: BoardStatistics.config)
            let c = try EventKit.Client(socket: daemon.socket)
            let fresh = try c.create("fresh")
            let unstarted = try c.create("done without a claim")
            try c.complete(unstarted.id)
            let worked = try c.create("claimed then done", assignee: "bob")
            try c.claim(worked.id)
            usleep(100_000)
            try c.complete(worked.id)
            let running = try c.create("running", assignee: "bob")
            try c.claim(running.id)

            func show(_ id: String) throws -> TaskDetail {
                try EventKit.ctlJSON(daemon, TaskDetail.self, "show", id, "--json")
            }
            let now = Date().timeIntervalSince1970

            let a = try show(fresh.id)
            #expect(a.age.createdAgeSeconds >= 0 && a.age.createdAgeSeconds < 30)
            #expect(abs((now - a.task.createdAt) - a.age.createdAgeSeconds) < 5)
            #expect(a.age.startedAgeSeconds == nil)
            #expect(a.age.timeToCompleteSeconds == nil)

            let b = try show(unstarted.id)
            let bCompleted = try #require(b.task.completedAt)
            #expect(b.age.startedAgeSeconds == nil)
            #expect(abs(try #require(b.age.timeToCompleteSeconds) - (bCompleted - b.task.createdAt)) < 0.002)

            let w = try show(worked.id)
            let started = try #require(w.task.startedAt)
            let completed = try #require(w.task.completedAt)
            let took = try #require(w.age.timeToCompleteSeconds)
            #expect(abs(took - (completed - started)) < 0.002, "measured from the first claim")
            #expect(took >= 0.09)
            #expect(try #require(w.age.startedAgeSeconds) >= took)

            let r = try show(running.id)
            #expect(r.task.status == .running)
            #expect(try #require(r.age.startedAgeSeconds) >= 0)
            #expect(r.age.timeToCompleteSeconds == nil)
        }
    }
}
