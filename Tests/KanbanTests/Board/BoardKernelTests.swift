import Foundation
import KanbanProtocol
import Testing

@testable import KanbanDaemon

/// Hands out the ids it was given, then one fixed id.
private final class IDQueue: @unchecked Sendable {
    private let lock = NSLock()
    private var ids: [String]

    init(_ ids: [String]) { self.ids = ids }

    func next() -> String { lock.withLock { ids.isEmpty ? "t_00000000000000cd" : ids.removeFirst() } }
}

/// The kernel's transitions and refusals, in process (reference §2.3, §9.C items 43–62).
@Suite struct BoardKernelTests {
    // MARK: create

    @Test func createWithoutParentsIsReady() async throws {
        let f = try BoardFixture()
        defer { f.close() }
        let task = try await f.create("  Write the parser  ", body: "parse it", assignee: "alice", priority: 3)
        #expect(task.id.hasPrefix("t_"))
        #expect(task.id.count == 18)
        #expect(task.id.dropFirst(2).allSatisfy { "0123456789abcdef".contains($0) })
        #expect(task.title == "Write the parser")
        #expect(task.body == "parse it")
        #expect(task.assignee == "alice")
        #expect(task.status == .ready)
        #expect(task.priority == 3)
        #expect(task.workspaceKind == "scratch")
        #expect(task.createdBy == BoardFixture.actor)
        #expect(task.createdAt == Double(f.clock.nowMillis()) / 1000)
        #expect(task.readyAt == task.createdAt)
        #expect(task.consecutiveFailures == 0)
        let events = try await f.events(task.id)
        #expect(events.map(\.kind) == ["created"])
        #expect(events[0].payload?["status"] == "ready")
        #expect(events[0].payload?["assignee"] == "alice")
        #expect(events[0].actor == BoardFixture.actor)
    }

    @Test func createWithUnfinishedParentIsTodo() async throws {
        let f = try BoardFixture()
        defer { f.close() }
        let parent = try await f.create("parent")
        let child = try await f.create("child", parents: [parent.id, " \(parent.id) ", ""])
        #expect(child.status == .todo)
        #expect(child.readyAt == nil)
        let detail = try await f.board.detail(GetParams(id: child.id))
        #expect(detail.parents == [parent.id])
        let created = try await f.events(child.id)[0]
        #expect(created.payload?["parents"] == .array([.string(parent.id)]))
    }

    @Test func createWithDoneParentIsReady() async throws {
        let f = try BoardFixture()
        defer { f.close() }
        let parent = try await f.create("parent")
        try await f.complete(parent.id)
        let child = try await f.create("child", parents: [parent.id])
        #expect(child.status == .ready)
    }

    @Test func createInTriageIgnoresParents() async throws {
        let f = try BoardFixture()
        defer { f.close() }
        let parent = try await f.create("parent")
        try await f.complete(parent.id)
        let idea = try await f.create("rough idea", parents: [parent.id], triage: true)
        #expect(idea.status == .triage)
        #expect(try await f.board.detail(GetParams(id: idea.id)).parents == [parent.id])
    }

    @Test(arguments: ["", "   ", "\n\t "])
    func createRefusesEmptyTitle(title: String) async throws {
        let f = try BoardFixture()
        defer { f.close() }
        let error = await expectBoardRefusal(.invalidArgument) { try await f.create(title) }
        #expect(error?.message.contains("title") == true)
        #expect(try await f.board.list(ListParams(archived: true)).isEmpty)
        #expect(try await f.allEvents().isEmpty)
    }

    @Test func createRefusesUnknownParentAndWritesNothing() async throws {
        let f = try BoardFixture()
        defer { f.close() }
        let real = try await f.create("real")
        let error = await expectBoardRefusal(.notFound) {
            try await f.create("child", parents: [real.id, "t_missing1", "t_missing2"])
        }
        #expect(error?.message.contains("unknown parent") == true)
        #expect(error?.message.contains("t_missing1") == true)
        #expect(error?.details?["ids"] == ["t_missing1", "t_missing2"])
        #expect(try await f.board.list(ListParams()).map(\.id) == [real.id])
        #expect(try await f.allEvents().count == 1)
    }

    @Test(arguments: ["cloud", "dir:", "dir:relative/path", "worktree:/x"])
    func createRefusesBadWorkspace(workspace: String) async throws {
        let f = try BoardFixture()
        defer { f.close() }
        await expectBoardRefusal(.invalidArgument) { try await f.create("x", workspace: workspace) }
        #expect(try await f.board.list(ListParams()).isEmpty)
    }

    @Test func createAcceptsWorkspaceKinds() async throws {
        let f = try BoardFixture()
        defer { f.close() }
        let dir = try await f.create("in a dir", workspace: "dir:/tmp/work")
        #expect(dir.workspaceKind == "dir")
        #expect(dir.workspacePath == "/tmp/work")
        let tree = try await f.create("in a worktree", workspace: "worktree")
        #expect(tree.workspaceKind == "worktree")
        #expect(tree.workspacePath == nil)
    }

    @Test func createWithSameKeyReturnsTheFirstTaskUntilArchived() async throws {
        let f = try BoardFixture()
        defer { f.close() }
        let first = try await f.board.create(
            CreateParams(title: "first", idempotencyKey: "k1"), actor: BoardFixture.actor)
        let second = try await f.board.create(
            CreateParams(title: "second", idempotencyKey: "k1"), actor: BoardFixture.actor)
        #expect(first.created)
        #expect(!second.created)
        #expect(second.task.id == first.task.id)
        #expect(second.task.title == "first")
        let other = try await f.create("no key")
        let another = try await f.create("no key")
        #expect(other.id != another.id)
        try await f.board.archive(IDParams(id: first.task.id), actor: BoardFixture.actor)
        let third = try await f.board.create(
            CreateParams(title: "third", idempotencyKey: "k1"), actor: BoardFixture.actor)
        #expect(third.created)
        #expect(third.task.id != first.task.id)
    }

    @Test func createRetriesAnIdThatIsTakenAndGivesUpAfterEight() async throws {
        let f = try BoardFixture()
        defer { f.close() }
        let existing = try await f.create("first")
        // Ids collide with the existing task's twice, then a fresh one comes.
        let ids = IDQueue([existing.id, existing.id, "t_00000000000000ab"])
        let kernel = Kernel(clock: f.clock, newID: { ids.next() })
        let created = try await f.board.write { db, fx in
            try kernel.create(db, &fx, CreateParams(title: "second"), actor: BoardFixture.actor)
        }
        #expect(created.created)
        #expect(created.task.id == "t_00000000000000ab")
        #expect(created.task.title == "second")
        #expect(try await f.events(created.task.id).map(\.kind) == ["created"])
        // A generator that only ever collides is refused, and nothing is written.
        let taken = existing.id
        let stuck = Kernel(clock: f.clock, newID: { taken })
        await #expect(throws: (any Error).self) {
            try await f.board.write { db, fx in
                try stuck.create(db, &fx, CreateParams(title: "never"), actor: BoardFixture.actor)
            }
        }
        let titles = try await f.board.list(ListParams()).map(\.title).sorted()
        #expect(titles == ["first", "second"])
    }

    @Test func transitionsReturnTheRowTheyWrote() async throws {
        let f = try BoardFixture()
        defer { f.close() }
        let (subscription, _) = f.board.bus.subscribe(filter: EventFilter(assignee: "alice", tenant: "acme"), limit: 100)
        let task = try await f.board.create(
            CreateParams(title: "returned", assignee: "alice", tenant: "acme"), actor: BoardFixture.actor).task
        let claim = try await f.board.claim(ClaimParams(id: task.id, ttl: 30), actor: BoardFixture.actor)
        #expect(claim.task == (try await f.board.task(task.id)))
        #expect(claim.task.status == .running && claim.task.currentRunID == claim.runID)
        let beat = try await f.board.heartbeat(HeartbeatParams(id: task.id, ttl: 60), actor: BoardFixture.actor)
        #expect(beat.task == (try await f.board.task(task.id)))
        let done = try await f.board.complete(CompleteParams(id: task.id, result: "ok"), actor: BoardFixture.actor)
        #expect(done == (try await f.board.task(task.id)))
        #expect(done.status == .done && done.result == "ok" && done.currentRunID == nil)
        // Every event is published with its task's assignee and tenant (the bus filters on them),
        // taken from the row in hand rather than read again.
        var published: [String] = []
        for await item in f.board.bus.stream(subscription) {
            guard case .event(let shared) = item else { break }
            published.append(shared.event.kind)
            if published.count == 3 { break }
        }
        #expect(published == ["created", "claimed", "completed"])
    }

    // MARK: claim and heartbeat

    @Test func claimFirstWinsSecondConflicts() async throws {
        let f = try BoardFixture()
        defer { f.close() }
        let task = try await f.create("work", assignee: "alice")
        let claim = try await f.claim(task.id, ttl: 60, claimer: "w1")
        #expect(claim.task.status == .running)
        #expect(claim.task.currentRunID == claim.runID)
        #expect(claim.claimExpires == Double(f.clock.nowMillis()) / 1000 + 60)
        #expect(claim.task.startedAt == Double(f.clock.nowMillis()) / 1000)
        #expect(claim.task.readyAt == nil)
        let before = try await f.snapshot(task.id)
        let error = await expectBoardRefusal(.conflict) { try await f.claim(task.id, claimer: "w2") }
        #expect(error?.details?["status"] == "running")
        #expect(try await f.snapshot(task.id) == before)
        let runs = try await f.board.runs(task.id)
        #expect(runs.count == 1)
        #expect(runs[0].claimer == "w1")
        #expect(runs[0].assignee == "alice")
        #expect(runs[0].outcome == "running")
    }

    @Test func claimOfTodoTaskIsRefused() async throws {
        let f = try BoardFixture()
        defer { f.close() }
        let parent = try await f.create("parent")
        let child = try await f.create("child", parents: [parent.id])
        let before = try await f.snapshot(child.id)
        await expectBoardRefusal(.conflict) { try await f.claim(child.id) }
        #expect(try await f.snapshot(child.id) == before)
        await expectBoardRefusal(.notFound) { try await f.claim("t_nope") }
    }

    @Test func claimRefusesNonPositiveTTL() async throws {
        let f = try BoardFixture()
        defer { f.close() }
        let task = try await f.create("work")
        await expectBoardRefusal(.invalidArgument) { try await f.claim(task.id, ttl: 0) }
        #expect(try await f.status(task.id) == .ready)
    }

    @Test func heartbeatExtendsTheClaim() async throws {
        let f = try BoardFixture()
        defer { f.close() }
        let task = try await f.create("work")
        let claim = try await f.claim(task.id, ttl: 60)
        let start = Double(f.clock.nowMillis()) / 1000
        f.clock.advance(seconds: 45)
        let beat = try await f.board.heartbeat(
            HeartbeatParams(id: task.id, runID: claim.runID, ttl: 60), actor: BoardFixture.actor)
        #expect(beat.runID == claim.runID)
        #expect(beat.claimExpires == start + 105)
        #expect(try await f.task(task.id).claimExpires == start + 105)
        #expect(try await f.board.runs(task.id)[0].lastHeartbeatAt == start + 45)
        // A heartbeat without a note writes no event; one with a note does.
        #expect(try await f.kinds(task.id) == ["created", "claimed"])
        f.clock.advance(seconds: 10)
        try await f.board.heartbeat(
            HeartbeatParams(id: task.id, runID: claim.runID, ttl: 60, note: "halfway"), actor: BoardFixture.actor)
        let events = try await f.events(task.id)
        #expect(events.map(\.kind) == ["created", "claimed", "heartbeat"])
        #expect(events[2].payload?["note"] == "halfway")
        #expect(events[2].runID == claim.runID)
        #expect(try await f.task(task.id).claimExpires == start + 115)
    }

    @Test func heartbeatUsesTheBoardDefaultTTL() async throws {
        let f = try BoardFixture()
        defer { f.close() }
        f.board.claimTTLSeconds = 120
        let task = try await f.create("work")
        let claim = try await f.claim(task.id)
        #expect(claim.claimExpires == Double(f.clock.nowMillis()) / 1000 + 120)
        f.clock.advance(seconds: 100)
        let beat = try await f.board.heartbeat(HeartbeatParams(id: task.id), actor: BoardFixture.actor)
        #expect(beat.claimExpires == Double(f.clock.nowMillis()) / 1000 + 120)
    }

    @Test func heartbeatOfATaskNotRunningIsRefused() async throws {
        let f = try BoardFixture()
        defer { f.close() }
        let task = try await f.create("work")
        await expectBoardRefusal(.invalidTransition) {
            try await f.board.heartbeat(HeartbeatParams(id: task.id), actor: BoardFixture.actor)
        }
        await expectBoardRefusal(.invalidArgument) {
            try await f.board.heartbeat(HeartbeatParams(id: task.id, ttl: -1), actor: BoardFixture.actor)
        }
    }

    // MARK: complete

    @Test func completeStoresResultAndEndsTheRun() async throws {
        let f = try BoardFixture()
        defer { f.close() }
        let task = try await f.create("work")
        let claim = try await f.claim(task.id)
        f.clock.advance(seconds: 30)
        let done = try await f.complete(task.id, result: "all done\nsecond line", run: claim.runID)
        #expect(done.status == .done)
        #expect(done.result == "all done\nsecond line")
        #expect(done.completedAt == Double(f.clock.nowMillis()) / 1000)
        #expect(done.currentRunID == nil)
        #expect(done.claimExpires == nil)
        let runs = try await f.board.runs(task.id)
        #expect(runs.map(\.outcome) == ["completed"])
        #expect(runs[0].endedAt == done.completedAt)
        let events = try await f.events(task.id)
        #expect(events.map(\.kind) == ["created", "claimed", "completed"])
        #expect(events[2].payload?["summary"] == "all done")
        #expect(events[2].payload?["result_len"] == .int(Int64("all done\nsecond line".utf8.count)))
        #expect(events[2].runID == claim.runID)
        let detail = try await f.board.detail(GetParams(id: task.id))
        #expect(detail.age.timeToCompleteSeconds == 30)
    }

    @Test func completeFromReadyAndBlockedIsAllowed() async throws {
        let f = try BoardFixture()
        defer { f.close() }
        let ready = try await f.create("ready")
        #expect(try await f.complete(ready.id).status == .done)
        let blocked = try await f.create("blocked")
        try await f.block(blocked.id, reason: "waiting")
        let done = try await f.complete(blocked.id)
        #expect(done.status == .done)
        #expect(done.blockReason == nil)
    }

    @Test func completeFromTodoTriageDoneArchivedIsRefused() async throws {
        let f = try BoardFixture()
        defer { f.close() }
        let parent = try await f.create("parent")
        let todo = try await f.create("todo", parents: [parent.id])
        let triage = try await f.create("triage", triage: true)
        let done = try await f.create("done")
        try await f.complete(done.id, result: "first result")
        let archived = try await f.create("archived")
        try await f.board.archive(IDParams(id: archived.id), actor: BoardFixture.actor)
        for id in [todo.id, triage.id, done.id, archived.id] {
            let before = try await f.snapshot(id)
            let error = await expectBoardRefusal(.invalidTransition) { try await f.complete(id, result: "again") }
            #expect(error?.details?["id"] == .string(id))
            #expect(try await f.snapshot(id) == before)
        }
        #expect(try await f.task(done.id).result == "first result")
        await expectBoardRefusal(.notFound) { try await f.complete("t_nope") }
    }

    // MARK: block, unblock

    @Test func blockAndUnblockARunningTask() async throws {
        let f = try BoardFixture()
        defer { f.close() }
        let task = try await f.create("work")
        let claim = try await f.claim(task.id)
        let blocked = try await f.block(task.id, reason: "  need a decision  ", run: claim.runID)
        #expect(blocked.status == .blocked)
        #expect(blocked.blockReason == "need a decision")
        #expect(blocked.currentRunID == nil)
        #expect(blocked.claimExpires == nil)
        #expect(try await f.board.runs(task.id).map(\.outcome) == ["blocked"])
        let unblocked = try await f.unblock(task.id)
        #expect(unblocked.status == .ready)
        #expect(unblocked.blockReason == nil)
        #expect(unblocked.readyAt == Double(f.clock.nowMillis()) / 1000)
        let events = try await f.events(task.id)
        #expect(events.map(\.kind) == ["created", "claimed", "blocked", "unblocked"])
        #expect(events[2].payload?["reason"] == "need a decision")
    }

    @Test func blockRefusedFromBlockedDoneTriageArchived() async throws {
        let f = try BoardFixture()
        defer { f.close() }
        let blocked = try await f.create("blocked")
        try await f.block(blocked.id)
        let done = try await f.create("done")
        try await f.complete(done.id)
        let triage = try await f.create("triage", triage: true)
        let archived = try await f.create("archived")
        try await f.board.archive(IDParams(id: archived.id), actor: BoardFixture.actor)
        for id in [blocked.id, done.id, triage.id, archived.id] {
            let before = try await f.snapshot(id)
            await expectBoardRefusal(.invalidTransition) { try await f.block(id, reason: "x") }
            #expect(try await f.snapshot(id) == before)
        }
    }

    @Test func unblockOfATaskThatIsNotBlockedIsRefused() async throws {
        let f = try BoardFixture()
        defer { f.close() }
        let task = try await f.create("work")
        let before = try await f.snapshot(task.id)
        await expectBoardRefusal(.invalidTransition) { try await f.unblock(task.id) }
        #expect(try await f.snapshot(task.id) == before)
    }

    @Test func unblockWithUnfinishedParentsGoesToTodo() async throws {
        let f = try BoardFixture()
        defer { f.close() }
        let parent = try await f.create("parent")
        let child = try await f.create("child", parents: [parent.id])
        try await f.block(child.id, reason: "parked")
        #expect(try await f.unblock(child.id).status == .todo)
        try await f.complete(parent.id)
        #expect(try await f.status(child.id) == .ready)
    }

    @Test func unblockResetsConsecutiveFailures() async throws {
        let f = try BoardFixture()
        defer { f.close() }
        let task = try await f.create("flaky", assignee: "bot")
        for _ in 0..<2 {
            let claim = try await f.claim(task.id)
            try await f.finish(
                run: claim.runID, RunEnding(outcome: "crashed", exitCode: 1, countsAsFailure: true), failureLimit: 5)
        }
        #expect(try await f.task(task.id).consecutiveFailures == 2)
        try await f.block(task.id, reason: "look at it")
        let unblocked = try await f.unblock(task.id)
        #expect(unblocked.consecutiveFailures == 0)
        #expect(unblocked.lastFailureError == nil)
        let event = try await f.events(task.id).last!
        #expect(event.kind == "unblocked")
        #expect(event.payload?["failures_reset"] == 2)
    }

    // MARK: archive, list

    @Test func archiveHidesFromListUnlessAsked() async throws {
        let f = try BoardFixture()
        defer { f.close() }
        let keep = try await f.create("keep")
        let gone = try await f.create("gone")
        try await f.complete(gone.id)
        let archived = try await f.board.archive(IDParams(id: gone.id), actor: BoardFixture.actor)
        #expect(archived.status == .archived)
        #expect(try await f.board.list(ListParams()).map(\.id) == [keep.id])
        #expect(Set(try await f.board.list(ListParams(archived: true)).map(\.id)) == [keep.id, gone.id])
        #expect(try await f.board.list(ListParams(status: "archived")).map(\.id) == [gone.id])
        let event = try await f.events(gone.id).last!
        #expect(event.kind == "archived")
        #expect(event.payload?["from"] == "done")
        await expectBoardRefusal(.invalidTransition) {
            try await f.board.archive(IDParams(id: gone.id), actor: BoardFixture.actor)
        }
    }

    @Test func archiveOfARunningTaskEndsItsRun() async throws {
        let f = try BoardFixture()
        defer { f.close() }
        let task = try await f.create("work")
        try await f.claim(task.id)
        let archived = try await f.board.archive(IDParams(id: task.id), actor: BoardFixture.actor)
        #expect(archived.currentRunID == nil)
        #expect(archived.claimExpires == nil)
        #expect(try await f.board.runs(task.id).map(\.outcome) == ["archived"])
    }

    @Test func listFiltersAndOrders() async throws {
        let f = try BoardFixture()
        defer { f.close() }
        let low = try await f.create("low", assignee: "alice", tenant: "a")
        f.clock.advance(seconds: 1)
        let high = try await f.create("high", assignee: "bob", tenant: "b", priority: 5)
        f.clock.advance(seconds: 1)
        let later = try await f.create("later", assignee: "alice", tenant: "a")
        #expect(try await f.board.list(ListParams()).map(\.id) == [high.id, low.id, later.id])
        #expect(try await f.board.list(ListParams(assignee: "alice")).map(\.id) == [low.id, later.id])
        #expect(try await f.board.list(ListParams(tenant: "b")).map(\.id) == [high.id])
        #expect(try await f.board.list(ListParams(status: "READY", limit: 2)).map(\.id) == [high.id, low.id])
        await expectBoardRefusal(.invalidArgument) { try await f.board.list(ListParams(status: "bogus")) }
        await expectBoardRefusal(.invalidArgument) { try await f.board.list(ListParams(limit: -1)) }
    }

    // MARK: assign, promote

    @Test func assignRefusedWhileRunning() async throws {
        let f = try BoardFixture()
        defer { f.close() }
        let task = try await f.create("work", assignee: "alice")
        try await f.claim(task.id)
        let before = try await f.snapshot(task.id)
        let error = await expectBoardRefusal(.conflict) {
            try await f.board.assign(AssignParams(id: task.id, assignee: "bob"), actor: BoardFixture.actor)
        }
        #expect(error?.message.contains("running") == true)
        #expect(try await f.snapshot(task.id) == before)
    }

    @Test func assignAndUnassign() async throws {
        let f = try BoardFixture()
        defer { f.close() }
        let task = try await f.create("work", assignee: "alice")
        let bob = try await f.board.assign(AssignParams(id: task.id, assignee: " bob "), actor: BoardFixture.actor)
        #expect(bob.assignee == "bob")
        #expect(bob.status == .ready)
        let none = try await f.board.assign(AssignParams(id: task.id, assignee: nil), actor: BoardFixture.actor)
        #expect(none.assignee == nil)
        let events = try await f.events(task.id)
        #expect(events.map(\.kind) == ["created", "assigned", "assigned"])
        #expect(events[1].payload?["assignee"] == "bob")
        #expect(events[1].payload?["previous"] == "alice")
        #expect(events[2].payload?["assignee"] == .null)
        try await f.board.archive(IDParams(id: task.id), actor: BoardFixture.actor)
        await expectBoardRefusal(.invalidTransition) {
            try await f.board.assign(AssignParams(id: task.id, assignee: "carol"), actor: BoardFixture.actor)
        }
        await expectBoardRefusal(.notFound) {
            try await f.board.assign(AssignParams(id: "t_nope", assignee: "carol"), actor: BoardFixture.actor)
        }
    }

    @Test func promoteTriageToReadyOrTodo() async throws {
        let f = try BoardFixture()
        defer { f.close() }
        let a = try await f.create("idea a", triage: true)
        let ready = try await f.board.promote(PromoteParams(id: a.id), actor: BoardFixture.actor)
        #expect(ready.status == .ready)
        #expect(ready.readyAt != nil)
        let b = try await f.create("idea b", triage: true)
        #expect(try await f.board.promote(PromoteParams(id: b.id, to: "todo"), actor: BoardFixture.actor).status == .todo)
        let parent = try await f.create("parent")
        let c = try await f.create("idea c", parents: [parent.id], triage: true)
        // Asked for ready, but a parent is unfinished: todo, promoted when the parent completes.
        #expect(try await f.board.promote(PromoteParams(id: c.id, to: "ready"), actor: BoardFixture.actor).status == .todo)
        try await f.complete(parent.id)
        #expect(try await f.status(c.id) == .ready)
        let events = try await f.events(a.id)
        #expect(events.map(\.kind) == ["created", "promoted"])
        #expect(events[1].payload?["from"] == "triage")
        #expect(events[1].payload?["to"] == "ready")
    }

    @Test func promoteRefusals() async throws {
        let f = try BoardFixture()
        defer { f.close() }
        let ready = try await f.create("ready")
        await expectBoardRefusal(.invalidTransition) {
            try await f.board.promote(PromoteParams(id: ready.id), actor: BoardFixture.actor)
        }
        let idea = try await f.create("idea", triage: true)
        for target in ["running", "done", "bogus"] {
            await expectBoardRefusal(.invalidArgument) {
                try await f.board.promote(PromoteParams(id: idea.id, to: target), actor: BoardFixture.actor)
            }
        }
        #expect(try await f.status(idea.id) == .triage)
    }

    // MARK: comments

    @Test func commentsComeBackInOrderWithAuthors() async throws {
        let f = try BoardFixture()
        defer { f.close() }
        let task = try await f.create("discuss")
        let first = try await f.board.comment(
            CommentParams(id: task.id, body: "  first thought  ", author: "alice"), actor: BoardFixture.actor)
        f.clock.advance(seconds: 1)
        try await f.board.comment(CommentParams(id: task.id, body: "second"), actor: "bob-the-actor")
        try await f.board.comment(CommentParams(id: task.id, body: "third", author: "carol"), actor: BoardFixture.actor)
        #expect(first.body == "first thought")
        #expect(first.author == "alice")
        let detail = try await f.board.detail(GetParams(id: task.id))
        #expect(detail.comments.map(\.body) == ["first thought", "second", "third"])
        #expect(detail.comments.map(\.author) == ["alice", "bob-the-actor", "carol"])
        let events = try await f.events(task.id)
        #expect(events.map(\.kind) == ["created", "commented", "commented", "commented"])
        #expect(events[1].payload?["author"] == "alice")
        #expect(events[1].payload?["len"] == 13)
    }

    @Test func emptyCommentIsRefused() async throws {
        let f = try BoardFixture()
        defer { f.close() }
        let task = try await f.create("discuss")
        let before = try await f.snapshot(task.id)
        let error = await expectBoardRefusal(.invalidArgument) {
            try await f.board.comment(CommentParams(id: task.id, body: "  \n "), actor: BoardFixture.actor)
        }
        #expect(error?.message.contains("body is required") == true)
        #expect(try await f.snapshot(task.id) == before)
        await expectBoardRefusal(.notFound) {
            try await f.board.comment(CommentParams(id: "t_nope", body: "hi"), actor: BoardFixture.actor)
        }
    }

    // MARK: events and context

    @Test func everyChangeAppendsItsEvent() async throws {
        let f = try BoardFixture()
        defer { f.close() }
        let parent = try await f.create("parent", assignee: "alice")
        let child = try await f.create("child")
        try await f.link(parent.id, child.id)
        try await f.unlink(parent.id, child.id)
        try await f.link(parent.id, child.id)
        try await f.board.assign(AssignParams(id: child.id, assignee: "bob"), actor: BoardFixture.actor)
        try await f.board.comment(CommentParams(id: child.id, body: "note"), actor: BoardFixture.actor)
        let claim = try await f.claim(parent.id)
        try await f.board.heartbeat(
            HeartbeatParams(id: parent.id, runID: claim.runID, note: "alive"), actor: BoardFixture.actor)
        try await f.complete(parent.id, run: claim.runID)
        try await f.block(child.id, reason: "wait")
        try await f.unblock(child.id)
        try await f.board.archive(IDParams(id: child.id), actor: BoardFixture.actor)
        #expect(try await f.kinds(parent.id) == ["created", "claimed", "heartbeat", "completed"])
        #expect(
            try await f.kinds(child.id) == [
                "created", "linked", "unlinked", "promoted", "linked", "assigned", "commented", "promoted", "blocked",
                "unblocked", "archived",
            ])
        // Ids are board-wide and strictly increasing; every event names its actor.
        let all = try await f.allEvents()
        #expect(all.map(\.id) == all.map(\.id).sorted())
        #expect(Set(all.map(\.id)).count == all.count)
        #expect(all.allSatisfy { $0.actor != nil })
        let detail = try await f.board.detail(GetParams(id: child.id, events: 3))
        #expect(detail.events.map(\.kind) == ["blocked", "unblocked", "archived"])
        #expect(detail.eventCount == 11)
    }

    @Test func eventsListPagesWithACursor() async throws {
        let f = try BoardFixture()
        defer { f.close() }
        for index in 0..<5 { try await f.create("task \(index)") }
        let page1 = try await f.board.events(EventsListParams(since: 0, limit: 2))
        #expect(page1.events.count == 2)
        let page2 = try await f.board.events(EventsListParams(since: page1.cursor, limit: 2))
        let page3 = try await f.board.events(EventsListParams(since: page2.cursor, limit: 2))
        let page4 = try await f.board.events(EventsListParams(since: page3.cursor, limit: 2))
        #expect(page3.events.count == 1)
        #expect(page4.events.isEmpty)
        #expect(page4.cursor == page3.cursor)
        #expect((page1.events + page2.events + page3.events).map(\.id) == (try await f.allEvents()).map(\.id))
    }

    @Test func contextHasTitleBodyParentResultsAndComments() async throws {
        let f = try BoardFixture()
        defer { f.close() }
        let a = try await f.create("Research the API")
        let b = try await f.create("Survey users")
        let child = try await f.create(
            "Write the report", body: "Summarise both", assignee: "writer", parents: [a.id, b.id], tenant: "acme")
        try await f.complete(b.id, result: "users want speed")
        f.clock.advance(seconds: 1)
        try await f.complete(a.id, result: "the API has 3 endpoints")
        try await f.board.comment(
            CommentParams(id: child.id, body: "keep it short", author: "alice"), actor: BoardFixture.actor)
        let context = try await f.board.context(child.id)
        #expect(context.id == child.id)
        let text = context.text
        #expect(text.hasPrefix("# Kanban task \(child.id): Write the report"))
        #expect(text.contains("Assignee:  writer"))
        #expect(text.contains("Status:    ready"))
        #expect(text.contains("Tenant:    acme"))
        #expect(text.contains("Summarise both"))
        #expect(text.contains("## Parent task results"))
        #expect(text.contains("### \(a.id): Research the API (done)"))
        #expect(text.contains("the API has 3 endpoints"))
        #expect(text.contains("users want speed"))
        // Parents in completion order: b finished first.
        let bIndex = try #require(text.range(of: "users want speed")).lowerBound
        let aIndex = try #require(text.range(of: "the API has 3 endpoints")).lowerBound
        #expect(bIndex < aIndex)
        #expect(text.contains("## Comment thread"))
        #expect(text.contains("**alice** (2023-11-14 22:13 UTC):"))
        #expect(text.contains("keep it short"))
        await expectBoardRefusal(.notFound) { try await f.board.context("t_nope") }
    }

    @Test func contextOfAParentWithoutResult() async throws {
        let f = try BoardFixture()
        defer { f.close() }
        let parent = try await f.create("parent")
        let child = try await f.create("child", parents: [parent.id])
        let text = try await f.board.context(child.id).text
        #expect(text.contains("### \(parent.id): parent (ready)"))
        #expect(text.contains("(no result recorded)"))
        #expect(text.contains("(no body)"))
        #expect(!text.contains("## Comment thread"))
    }

    @Test func detailReportsAges() async throws {
        let f = try BoardFixture()
        defer { f.close() }
        let task = try await f.create("work")
        f.clock.advance(seconds: 10)
        var age = try await f.board.detail(GetParams(id: task.id)).age
        #expect(age.createdAgeSeconds == 10)
        #expect(age.startedAgeSeconds == nil)
        #expect(age.timeToCompleteSeconds == nil)
        try await f.claim(task.id)
        f.clock.advance(seconds: 5)
        age = try await f.board.detail(GetParams(id: task.id)).age
        #expect(age.startedAgeSeconds == 5)
        await expectBoardRefusal(.notFound) { try await f.board.detail(GetParams(id: "t_nope")) }
    }
}
