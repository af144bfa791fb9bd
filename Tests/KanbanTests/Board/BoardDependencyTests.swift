import Foundation
import KanbanProtocol
import Testing

@testable import KanbanDaemon

/// Links, promotion and cycles (reference §2.3 rows 4–5, §9.C items 46, 48–50).
@Suite struct BoardDependencyTests {
    @Test func promotionCascadesThroughAChain() async throws {
        let f = try BoardFixture()
        defer { f.close() }
        let a = try await f.create("a")
        let b = try await f.create("b", parents: [a.id])
        let c = try await f.create("c", parents: [b.id])
        #expect(try await f.status(a.id) == .ready)
        #expect(try await f.status(b.id) == .todo)
        #expect(try await f.status(c.id) == .todo)

        f.clock.advance(seconds: 5)
        try await f.complete(a.id, result: "a done")
        #expect(try await f.status(b.id) == .ready)
        #expect(try await f.task(b.id).readyAt == Double(f.clock.nowMillis()) / 1000)
        #expect(try await f.status(c.id) == .todo)
        #expect(try await f.kinds(b.id) == ["created", "promoted"])

        try await f.complete(b.id)
        #expect(try await f.status(c.id) == .ready)
        try await f.complete(c.id)
        #expect(try await f.status(c.id) == .done)
    }

    @Test func fanInWaitsForEveryParent() async throws {
        let f = try BoardFixture()
        defer { f.close() }
        let p1 = try await f.create("p1")
        let p2 = try await f.create("p2")
        let p3 = try await f.create("p3")
        let child = try await f.create("child", parents: [p1.id, p2.id, p3.id])
        try await f.complete(p1.id)
        #expect(try await f.status(child.id) == .todo)
        // A blocked or archived parent is not done.
        try await f.block(p2.id)
        try await f.board.archive(IDParams(id: p3.id), actor: BoardFixture.actor)
        #expect(try await f.status(child.id) == .todo)
        try await f.complete(p2.id)
        #expect(try await f.status(child.id) == .todo)
        #expect(try await f.kinds(child.id) == ["created"])
    }

    @Test func fanOutPromotesEveryChild() async throws {
        let f = try BoardFixture()
        defer { f.close() }
        let parent = try await f.create("parent")
        var children: [String] = []
        for index in 0..<5 { children.append(try await f.create("child \(index)", parents: [parent.id]).id) }
        let triage = try await f.create("triaged child", parents: [parent.id], triage: true)
        try await f.complete(parent.id)
        for id in children { #expect(try await f.status(id) == .ready) }
        // Promotion moves todo tasks only; triage stays for a human.
        #expect(try await f.status(triage.id) == .triage)
    }

    @Test func linkDemotesAReadyChildOnlyWhenTheParentIsNotDone() async throws {
        let f = try BoardFixture()
        defer { f.close() }
        let open = try await f.create("open parent")
        let child = try await f.create("child")
        let result = try await f.link(open.id, child.id)
        #expect(result.childStatus == .todo)
        #expect(try await f.status(child.id) == .todo)
        #expect(try await f.task(child.id).readyAt == nil)
        let linked = try await f.events(child.id).last!
        #expect(linked.kind == "linked")
        #expect(linked.payload?["demoted"] == true)
        #expect(linked.payload?["parent"] == .string(open.id))

        let finished = try await f.create("finished parent")
        try await f.complete(finished.id)
        let other = try await f.create("other child")
        let kept = try await f.link(finished.id, other.id)
        #expect(kept.childStatus == .ready)
        #expect(try await f.status(other.id) == .ready)
        #expect(try await f.events(other.id).last?.payload?["demoted"] == false)
    }

    @Test func linkLeavesRunningBlockedAndTriageChildrenAlone() async throws {
        let f = try BoardFixture()
        defer { f.close() }
        let parent = try await f.create("parent")
        let running = try await f.create("running")
        try await f.claim(running.id)
        let blocked = try await f.create("blocked")
        try await f.block(blocked.id)
        let triage = try await f.create("triage", triage: true)
        #expect(try await f.link(parent.id, running.id).childStatus == .running)
        #expect(try await f.link(parent.id, blocked.id).childStatus == .blocked)
        #expect(try await f.link(parent.id, triage.id).childStatus == .triage)
    }

    @Test func linkTwiceIsANoOp() async throws {
        let f = try BoardFixture()
        defer { f.close() }
        let parent = try await f.create("parent")
        let child = try await f.create("child")
        try await f.link(parent.id, child.id)
        let before = try await f.snapshot(child.id)
        let again = try await f.link(parent.id, child.id)
        #expect(again.childStatus == .todo)
        #expect(try await f.snapshot(child.id) == before)
    }

    @Test func selfLinkIsRefusedAndChangesNothing() async throws {
        let f = try BoardFixture()
        defer { f.close() }
        let task = try await f.create("alone")
        let before = try await f.snapshot(task.id)
        let error = await expectBoardRefusal(.invalidArgument) { try await f.link(task.id, task.id) }
        #expect(error?.message.contains("itself") == true)
        #expect(try await f.snapshot(task.id) == before)
    }

    @Test func cyclesAreRefusedAndChangeNothing() async throws {
        let f = try BoardFixture()
        defer { f.close() }
        let a = try await f.create("a")
        let b = try await f.create("b", parents: [a.id])
        let c = try await f.create("c", parents: [b.id])
        let before = [try await f.snapshot(a.id), try await f.snapshot(b.id), try await f.snapshot(c.id)]
        for (parent, child) in [(c.id, a.id), (b.id, a.id)] {
            let error = await expectBoardRefusal(.invalidArgument) { try await f.link(parent, child) }
            #expect(error?.message.contains("cycle") == true)
        }
        let after = [try await f.snapshot(a.id), try await f.snapshot(b.id), try await f.snapshot(c.id)]
        #expect(after == before)
        #expect(try await f.status(a.id) == .ready)
    }

    @Test func linkToUnknownTaskIsNotFound() async throws {
        let f = try BoardFixture()
        defer { f.close() }
        let task = try await f.create("real")
        await expectBoardRefusal(.notFound) { try await f.link("t_nope", task.id) }
        await expectBoardRefusal(.notFound) { try await f.link(task.id, "t_nope") }
        #expect(try await f.kinds(task.id) == ["created"])
    }

    @Test func unlinkPromotesAChildWhoseRemainingParentsAreDone() async throws {
        let f = try BoardFixture()
        defer { f.close() }
        let done = try await f.create("done parent")
        try await f.complete(done.id)
        let open = try await f.create("open parent")
        let child = try await f.create("child", parents: [done.id, open.id])
        #expect(child.status == .todo)
        let result = try await f.unlink(open.id, child.id)
        #expect(result.childStatus == .ready)
        #expect(try await f.status(child.id) == .ready)
        #expect(try await f.kinds(child.id) == ["created", "unlinked", "promoted"])
        #expect(try await f.board.detail(GetParams(id: child.id)).parents == [done.id])
    }

    @Test func unlinkKeepsAChildWithAnotherOpenParentWaiting() async throws {
        let f = try BoardFixture()
        defer { f.close() }
        let p1 = try await f.create("p1")
        let p2 = try await f.create("p2")
        let child = try await f.create("child", parents: [p1.id, p2.id])
        #expect(try await f.unlink(p1.id, child.id).childStatus == .todo)
        #expect(try await f.kinds(child.id) == ["created", "unlinked"])
    }

    @Test func unlinkOfAMissingLinkIsNotFound() async throws {
        let f = try BoardFixture()
        defer { f.close() }
        let a = try await f.create("a")
        let b = try await f.create("b")
        let before = try await f.snapshot(b.id)
        await expectBoardRefusal(.notFound) { try await f.unlink(a.id, b.id) }
        #expect(try await f.snapshot(b.id) == before)
    }

    @Test func completingAParentDoesNotTouchUnrelatedTodoTasks() async throws {
        let f = try BoardFixture()
        defer { f.close() }
        let blocker = try await f.create("blocker")
        let unrelated = try await f.create("unrelated", parents: [blocker.id])
        let parent = try await f.create("parent")
        let child = try await f.create("child", parents: [parent.id])
        try await f.complete(parent.id)
        #expect(try await f.status(child.id) == .ready)
        #expect(try await f.status(unrelated.id) == .todo)
        #expect(try await f.kinds(unrelated.id) == ["created"])
    }
}
