import Foundation
import KanbanProtocol
import Testing

@testable import KanbanDaemon

/// Runs: run-id fencing of worker calls, and how the dispatcher's view of a run's end
/// (`Kernel.finishRun`) feeds the circuit breaker.
@Suite struct BoardRunTests {
    /// A task whose first run was reclaimed and which is now running a second run.
    private func reclaimedOnce(_ f: BoardFixture) async throws -> (task: String, stale: Int64, live: Int64) {
        let task = try await f.create("work", assignee: "bot")
        let first = try await f.claim(task.id, ttl: 60)
        try await f.finish(run: first.runID, RunEnding(outcome: "reclaimed", countsAsFailure: false))
        let second = try await f.claim(task.id, ttl: 60)
        #expect(second.runID != first.runID)
        return (task.id, first.runID, second.runID)
    }

    /// A parent linked while the child ran: when the run ends without a result (crash or
    /// reclaim) the child waits in todo for that parent, not in ready, and is promoted when the
    /// parent completes.
    @Test func aRunEndingWithAnUnfinishedParentReturnsTheTaskToTodo() async throws {
        let f = try BoardFixture()
        defer { f.close() }
        for (outcome, counts) in [("crashed", true), ("reclaimed", false)] {
            let child = try await f.create("child \(outcome)", assignee: "bot")
            let run = try await f.claim(child.id, ttl: 60)
            let parent = try await f.create("parent \(outcome)")
            let linked = try await f.link(parent.id, child.id)
            #expect(linked.childStatus == .running)
            try await f.finish(run: run.runID, RunEnding(outcome: outcome, countsAsFailure: counts))
            #expect(try await f.board.task(child.id).status == .todo, "\(outcome)")
            try await f.complete(parent.id)
            #expect(try await f.board.task(child.id).status == .ready, "\(outcome)")
        }
    }

    /// The dispatcher claims for the assignee it read: a task reassigned in between is a lost
    /// race (`conflict`), not a claim that would run the old assignee's worker.
    @Test func aClaimForAnAssigneeFailsOnceTheTaskWasReassigned() async throws {
        let f = try BoardFixture()
        defer { f.close() }
        let task = try await f.create("reassigned", assignee: "a")
        let kernel = f.board.kernel
        let id = task.id
        await #expect(throws: KanbanError.self) {
            try await f.board.write { db, fx in
                try kernel.claim(db, &fx, id: id, ttlSeconds: 60, claimer: "d", actor: "d", assignee: "b")
            }
        }
        #expect(try await f.board.task(id).status == .ready)
        let claimed = try await f.board.write { db, fx in
            try kernel.claim(db, &fx, id: id, ttlSeconds: 60, claimer: "d", actor: "d", assignee: "a")
        }
        #expect(claimed.task.status == .running)
    }

    // MARK: fencing

    @Test func staleRunCannotComplete() async throws {
        let f = try BoardFixture()
        defer { f.close() }
        let (task, stale, live) = try await reclaimedOnce(f)
        let before = try await f.snapshot(task)
        let error = await expectBoardRefusal(.staleRun) { try await f.complete(task, result: "old news", run: stale) }
        #expect(error?.details?["run_id"] == .int(stale))
        #expect(error?.message.contains("live run \(live)") == true)
        #expect(try await f.snapshot(task) == before)
        #expect(try await f.complete(task, result: "fresh", run: live).status == .done)
    }

    @Test func staleRunCannotBlock() async throws {
        let f = try BoardFixture()
        defer { f.close() }
        let (task, stale, _) = try await reclaimedOnce(f)
        let before = try await f.snapshot(task)
        await expectBoardRefusal(.staleRun) { try await f.block(task, reason: "old", run: stale) }
        #expect(try await f.snapshot(task) == before)
    }

    @Test func staleRunCannotComment() async throws {
        let f = try BoardFixture()
        defer { f.close() }
        let (task, stale, live) = try await reclaimedOnce(f)
        let before = try await f.snapshot(task)
        await expectBoardRefusal(.staleRun) {
            try await f.board.comment(CommentParams(id: task, body: "from the past", runID: stale), actor: "w")
        }
        #expect(try await f.snapshot(task) == before)
        let comment = try await f.board.comment(CommentParams(id: task, body: "from now", runID: live), actor: "w")
        #expect(comment.body == "from now")
        #expect(try await f.events(task).last?.runID == live)
    }

    @Test func staleRunCannotHeartbeat() async throws {
        let f = try BoardFixture()
        defer { f.close() }
        let (task, stale, _) = try await reclaimedOnce(f)
        let before = try await f.snapshot(task)
        f.clock.advance(seconds: 30)
        await expectBoardRefusal(.staleRun) {
            try await f.board.heartbeat(HeartbeatParams(id: task, runID: stale, ttl: 600, note: "x"), actor: "w")
        }
        #expect(try await f.snapshot(task) == before)
    }

    @Test func runIDOfAFinishedTaskIsStale() async throws {
        let f = try BoardFixture()
        defer { f.close() }
        let task = try await f.create("work")
        let claim = try await f.claim(task.id)
        try await f.complete(task.id, run: claim.runID)
        let before = try await f.snapshot(task.id)
        // A worker that lingers after its task finished gets stale_run, not a generic refusal.
        await expectBoardRefusal(.staleRun) { try await f.complete(task.id, run: claim.runID) }
        await expectBoardRefusal(.staleRun) {
            try await f.board.heartbeat(HeartbeatParams(id: task.id, runID: claim.runID), actor: "w")
        }
        await expectBoardRefusal(.staleRun) {
            try await f.board.comment(CommentParams(id: task.id, body: "late", runID: claim.runID), actor: "w")
        }
        #expect(try await f.snapshot(task.id) == before)
    }

    @Test func humanCompleteOfARunningTaskAsksToStopItsWorker() async throws {
        let f = try BoardFixture()
        defer { f.close() }
        let task = try await f.create("work")
        // A dispatcher run: only those have a worker process to stop.
        let claim = try await f.claim(task.id, claimer: Kernel.dispatcherClaimer)
        let kernel = f.board.kernel
        let (done, effects) = try await f.board.store.write { db, fx in
            try kernel.complete(db, &fx, CompleteParams(id: task.id, result: "by hand"), actor: "human")
        }
        #expect(done.status == .done)
        #expect(effects.terminateRuns == [claim.runID])
        // The worker completing its own run is not asked to stop.
        let other = try await f.create("other")
        let otherClaim = try await f.claim(other.id, claimer: Kernel.dispatcherClaimer)
        let (_, own) = try await f.board.store.write { db, fx in
            try kernel.complete(db, &fx, CompleteParams(id: other.id, runID: otherClaim.runID), actor: "worker")
        }
        #expect(own.terminateRuns.isEmpty)
        // An external claim has no worker of ours: completing it by hand stops nothing.
        let external = try await f.create("external")
        _ = try await f.claim(external.id)
        let (_, manual) = try await f.board.store.write { db, fx in
            try kernel.complete(db, &fx, CompleteParams(id: external.id), actor: "human")
        }
        #expect(manual.terminateRuns.isEmpty)
        #expect(!manual.wakeDispatcher)
    }

    // MARK: finishRun and the circuit breaker

    @Test func failuresBelowTheLimitPutTheTaskBackToReady() async throws {
        let f = try BoardFixture()
        defer { f.close() }
        let task = try await f.create("flaky", assignee: "bot")
        for attempt in 1...2 {
            let claim = try await f.claim(task.id)
            f.clock.advance(seconds: 1)
            let changed = try await f.finish(
                run: claim.runID, RunEnding(outcome: "crashed", exitCode: 3, countsAsFailure: true), failureLimit: 3)
            #expect(changed)
            let now = try await f.task(task.id)
            #expect(now.status == .ready)
            #expect(now.consecutiveFailures == attempt)
            #expect(now.lastFailureError == "worker exited with status 3")
            #expect(now.currentRunID == nil)
            #expect(now.claimExpires == nil)
            #expect(now.readyAt == Double(f.clock.nowMillis()) / 1000)
            let event = try await f.events(task.id).last!
            #expect(event.kind == "crashed")
            #expect(event.runID == claim.runID)
            #expect(event.payload?["failures"] == .int(Int64(attempt)))
            #expect(event.payload?["exit_code"] == 3)
            #expect(event.actor == Kernel.dispatcherClaimer)
        }
        let runs = try await f.board.runs(task.id)
        #expect(runs.map(\.outcome) == ["crashed", "crashed"])
        #expect(runs.allSatisfy { $0.exitCode == 3 && $0.endedAt != nil })
    }

    @Test func theFailureThatReachesTheLimitBlocksTheTask() async throws {
        let f = try BoardFixture()
        defer { f.close() }
        let task = try await f.create("flaky", assignee: "bot")
        for _ in 1...2 {
            let claim = try await f.claim(task.id)
            try await f.finish(run: claim.runID, RunEnding(outcome: "crashed", signal: 9, countsAsFailure: true))
        }
        let claim = try await f.claim(task.id)
        try await f.finish(
            run: claim.runID,
            RunEnding(outcome: "spawn_failed", error: "no such file: my-agent", countsAsFailure: true), failureLimit: 3)
        let blocked = try await f.task(task.id)
        #expect(blocked.status == .blocked)
        #expect(blocked.consecutiveFailures == 3)
        #expect(blocked.lastFailureError == "no such file: my-agent")
        let reason = try #require(blocked.blockReason)
        #expect(reason.contains("no such file: my-agent"))
        #expect(reason.contains("3 consecutive failures"))
        #expect(blocked.readyAt == nil)
        #expect(blocked.currentRunID == nil)
        let kinds = try await f.kinds(task.id)
        #expect(kinds.suffix(3) == ["claimed", "spawn_failed", "gave_up"])
        let gaveUp = try await f.events(task.id).last!
        #expect(gaveUp.payload?["failures"] == 3)
        #expect(gaveUp.payload?["limit"] == 3)
        #expect(gaveUp.payload?["error"] == "no such file: my-agent")
        // Earlier failures described the signal.
        #expect(try await f.events(task.id).contains { $0.payload?["signal"] == 9 })
    }

    @Test func aCompletionResetsTheFailureCount() async throws {
        let f = try BoardFixture()
        defer { f.close() }
        let task = try await f.create("flaky", assignee: "bot")
        for _ in 1...2 {
            let claim = try await f.claim(task.id)
            try await f.finish(run: claim.runID, RunEnding(outcome: "timed_out", countsAsFailure: true))
        }
        #expect(try await f.task(task.id).consecutiveFailures == 2)
        let claim = try await f.claim(task.id)
        let done = try await f.complete(task.id, run: claim.runID)
        #expect(done.consecutiveFailures == 0)
        #expect(done.lastFailureError == nil)
        // The worker process exiting after its completion changes nothing but the exit status.
        let changed = try await f.finish(
            run: claim.runID, RunEnding(outcome: "exited_without_result", exitCode: 0, countsAsFailure: true))
        #expect(!changed)
        #expect(try await f.task(task.id) == done)
        let run = try await f.board.runs(task.id).last!
        #expect(run.outcome == "completed")
        #expect(run.exitCode == 0)
    }

    @Test func reclaimedEndingsDoNotCount() async throws {
        let f = try BoardFixture()
        defer { f.close() }
        let task = try await f.create("slow", assignee: "bot")
        let crash = try await f.claim(task.id)
        try await f.finish(run: crash.runID, RunEnding(outcome: "crashed", exitCode: 1, countsAsFailure: true))
        for _ in 0..<5 {
            let claim = try await f.claim(task.id)
            let changed = try await f.finish(
                run: claim.runID, RunEnding(outcome: "reclaimed", countsAsFailure: false), failureLimit: 3)
            #expect(changed)
        }
        let now = try await f.task(task.id)
        #expect(now.status == .ready)
        #expect(now.consecutiveFailures == 1)
        let kinds = try await f.kinds(task.id)
        #expect(kinds.filter { $0 == "reclaimed" }.count == 5)
        #expect(!kinds.contains("gave_up"))
    }

    @Test func finishOfAnUnknownOrEndedRunChangesNothing() async throws {
        let f = try BoardFixture()
        defer { f.close() }
        #expect(try await !f.finish(run: 9999, RunEnding(outcome: "crashed", countsAsFailure: true)))
        let task = try await f.create("work")
        let claim = try await f.claim(task.id)
        try await f.block(task.id, reason: "human stopped it")
        let before = try await f.snapshot(task.id)
        let changed = try await f.finish(
            run: claim.runID, RunEnding(outcome: "crashed", signal: 15, countsAsFailure: true))
        #expect(!changed)
        let after = try await f.snapshot(task.id)
        #expect(after.task == before.task)
        #expect(after.events == before.events)
        #expect(after.runs.first?.outcome == "blocked")
        #expect(after.runs.first?.signal == 15)
    }

    @Test func aLateEndingOfAnOldRunLeavesTheNewRunAlone() async throws {
        let f = try BoardFixture()
        defer { f.close() }
        let task = try await f.create("work", assignee: "bot")
        let first = try await f.claim(task.id)
        try await f.board.heartbeat(HeartbeatParams(id: task.id, runID: first.runID), actor: "w")
        try await f.finish(run: first.runID, RunEnding(outcome: "reclaimed", countsAsFailure: false))
        let second = try await f.claim(task.id)
        let before = try await f.snapshot(task.id)
        // The reclaimed worker's exit is only seen now.
        let changed = try await f.finish(
            run: first.runID, RunEnding(outcome: "crashed", signal: 9, countsAsFailure: true))
        #expect(!changed)
        let after = try await f.snapshot(task.id)
        #expect(after.task == before.task)
        #expect(after.task.currentRunID == second.runID)
        #expect(after.events == before.events)
        #expect(after.runs.map(\.outcome) == ["reclaimed", "running"])
        #expect(after.runs[0].signal == 9)
        // A fresh run does not inherit the old run's heartbeat (reference §10.2, #119155).
        #expect(after.runs[0].lastHeartbeatAt != nil)
        #expect(after.runs[1].lastHeartbeatAt == nil)
    }

    @Test func longErrorsAreCutTo500Characters() async throws {
        let f = try BoardFixture()
        defer { f.close() }
        let task = try await f.create("noisy")
        let claim = try await f.claim(task.id)
        let error = String(repeating: "e", count: 2000)
        try await f.finish(
            run: claim.runID, RunEnding(outcome: "spawn_failed", error: error, countsAsFailure: true), failureLimit: 1)
        let blocked = try await f.task(task.id)
        #expect(blocked.status == .blocked)
        #expect(blocked.lastFailureError?.count == 500)
    }
}
