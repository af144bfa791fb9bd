import Dispatch
import Foundation
import KanbanProtocol
import Testing

@testable import KanbanDaemon

/// Many writers through the group-commit writer at once: races are decided by the single writer,
/// and one refused write in a batch never undoes (or leaks into) its neighbours.
@Suite struct BoardConcurrencyTests {
    /// Holds the writer thread inside a write until `release()`, so that writes submitted meanwhile
    /// queue up and are committed together as one batch.
    private final class WriterGate: @unchecked Sendable {
        let entered = DispatchSemaphore(value: 0)
        let gate = DispatchSemaphore(value: 0)
        private var holder: Task<Void, any Error>?

        func hold(_ board: Board) async {
            let entered = entered
            let gate = gate
            holder = Task { try await board.write { _, _ in entered.signal(); gate.wait() } }
            await Task.detached { entered.wait() }.value
        }

        /// Waits (bounded) until `count` writes are queued behind the held one.
        func waitForQueue(_ board: Board, count: Int) async throws {
            for _ in 0..<5000 where board.store.pendingWrites < count { try await Task.sleep(for: .milliseconds(1)) }
            #expect(board.store.pendingWrites == count)
        }

        func release() async throws {
            gate.signal()
            try await holder?.value
        }
    }

    @Test func sixtyFourConcurrentClaimsHaveOneWinner() async throws {
        let f = try BoardFixture()
        defer { f.close() }
        let task = try await f.create("contended", assignee: "bot")
        let board = f.board
        let outcomes = await withTaskGroup(of: Result<Int64, KanbanError>.self) { group in
            for index in 0..<64 {
                group.addTask {
                    do {
                        let claim = try await board.claim(ClaimParams(id: task.id, claimer: "w\(index)"), actor: "w")
                        return .success(claim.runID)
                    } catch let error as KanbanError {
                        return .failure(error)
                    } catch {
                        return .failure(KanbanError(.internal, "\(error)"))
                    }
                }
            }
            var all: [Result<Int64, KanbanError>] = []
            for await outcome in group { all.append(outcome) }
            return all
        }
        let wins = outcomes.compactMap { try? $0.get() }
        let losses = outcomes.compactMap { outcome -> KanbanError? in
            if case .failure(let error) = outcome { return error }
            return nil
        }
        #expect(wins.count == 1)
        #expect(losses.count == 63)
        #expect(losses.allSatisfy { $0.kind == .conflict })
        let now = try await f.task(task.id)
        #expect(now.status == .running)
        #expect(now.currentRunID == wins.first)
        #expect(try await f.board.runs(task.id).count == 1)
        #expect(try await f.kinds(task.id) == ["created", "claimed"])
    }

    @Test func fiftyConcurrentCreatesWithOneKeyMakeOneTask() async throws {
        let f = try BoardFixture()
        defer { f.close() }
        let board = f.board
        let results = try await withThrowingTaskGroup(of: CreateResult.self) { group in
            for index in 0..<50 {
                group.addTask {
                    try await board.create(
                        CreateParams(title: "attempt \(index)", idempotencyKey: "deploy-42"), actor: "script")
                }
            }
            var all: [CreateResult] = []
            for try await result in group { all.append(result) }
            return all
        }
        #expect(results.count == 50)
        #expect(Set(results.map(\.task.id)).count == 1)
        #expect(results.filter(\.created).count == 1)
        let tasks = try await f.board.list(ListParams(archived: true))
        #expect(tasks.count == 1)
        #expect(tasks.first?.idempotencyKey == "deploy-42")
        #expect(try await f.allEvents().map(\.kind) == ["created"])
    }

    @Test func moreConcurrentWritesThanOneBatchHoldAllCommit() async throws {
        let f = try BoardFixture()
        defer { f.close() }
        let board = f.board
        let count = WriteQueue.maxBatch + 88
        let ids = try await withThrowingTaskGroup(of: String.self) { group in
            for index in 0..<count {
                group.addTask { try await board.create(CreateParams(title: "bulk \(index)"), actor: "bulk").task.id }
            }
            var ids: [String] = []
            for try await id in group { ids.append(id) }
            return ids
        }
        #expect(Set(ids).count == count)
        #expect(try await board.list(ListParams()).count == count)
        #expect(try await f.allEvents().count == count)
    }

    @Test func aBatchCommitsItsSuccessesAndDropsItsFailures() async throws {
        let f = try BoardFixture()
        defer { f.close() }
        let board = f.board
        let target = try await f.create("commented on")
        let gate = WriterGate()
        await gate.hold(board)

        struct Refused: Error {}
        let count = 30
        let outcomes = try await withThrowingTaskGroup(of: (Int, Bool).self) { group in
            for index in 0..<count {
                group.addTask {
                    do {
                        switch index % 3 {
                        case 0:
                            try await board.create(CreateParams(title: "good \(index)"), actor: "batch")
                        case 1:
                            // Refused by the kernel before it writes anything.
                            try await board.create(CreateParams(title: "  "), actor: "batch")
                        default:
                            // Writes a comment row and an event, then fails: its savepoint must roll back.
                            let kernel = board.kernel
                            try await board.write { db, fx in
                                _ = try kernel.comment(
                                    db, &fx, CommentParams(id: target.id, body: "doomed \(index)"), actor: "batch")
                                throw Refused()
                            }
                        }
                        return (index, true)
                    } catch {
                        return (index, false)
                    }
                }
                // Submit in order, so the queue fills deterministically.
                try await gate.waitForQueue(board, count: index + 1)
            }
            try await gate.release()
            var all: [(Int, Bool)] = []
            for try await outcome in group { all.append(outcome) }
            return all.sorted { $0.0 < $1.0 }
        }
        #expect(outcomes.map(\.1) == (0..<count).map { $0 % 3 == 0 })
        let titles = Set(try await f.board.list(ListParams()).map(\.title))
        #expect(titles == Set([target.title] + stride(from: 0, to: count, by: 3).map { "good \($0)" }))
        let detail = try await f.board.detail(GetParams(id: target.id, events: 100))
        #expect(detail.comments.isEmpty)
        #expect(detail.events.map(\.kind) == ["created"])
        #expect(try await f.allEvents().count == 1 + count / 3)
    }

    @Test func aBatchPublishesOnlyTheSuccessfulWritesEvents() async throws {
        let f = try BoardFixture()
        defer { f.close() }
        let board = f.board
        let gate = WriterGate()
        await gate.hold(board)
        let kernel = board.kernel
        struct Refused: Error {}
        async let good = board.store.write { db, fx in
            try kernel.create(db, &fx, CreateParams(title: "kept", assignee: "bot"), actor: "t")
        }
        try await gate.waitForQueue(board, count: 1)
        let bad = Task { () async throws -> (CreateResult, WriteEffects) in
            try await board.store.write { db, fx in
                _ = try kernel.create(db, &fx, CreateParams(title: "dropped"), actor: "t")
                throw Refused()
            }
        }
        try await gate.waitForQueue(board, count: 2)
        try await gate.release()
        let (created, effects) = try await good
        await #expect(throws: Refused.self) { _ = try await bad.value }
        #expect(effects.events.map(\.event.kind) == ["created"])
        #expect(effects.wakeDispatcher)
        #expect(try await f.board.list(ListParams()).map(\.id) == [created.task.id])
        #expect(f.board.bus.lastPublished == (try await f.allEvents()).last?.id)
    }

    @Test func concurrentReadsSeeOnlyCommittedWrites() async throws {
        let f = try BoardFixture()
        defer { f.close() }
        let board = f.board
        let parent = try await f.create("parent")
        let children = try await withThrowingTaskGroup(of: String.self) { group in
            for index in 0..<20 {
                group.addTask { try await board.create(CreateParams(title: "c\(index)", parents: [parent.id]), actor: "t").task.id }
            }
            var ids: [String] = []
            for try await id in group { ids.append(id) }
            return ids
        }
        async let completion = board.complete(CompleteParams(id: parent.id), actor: "t")
        // Each read sees either no child promoted or all of them: promotion commits with the completion.
        for _ in 0..<20 {
            let ready = Set(try await board.list(ListParams(status: "ready")).map(\.id)).intersection(children)
            #expect(ready.isEmpty || ready == Set(children), "saw \(ready.count) of \(children.count)")
        }
        _ = try await completion
        #expect(Set(try await board.list(ListParams(status: "ready")).map(\.id)) == Set(children))
    }
}
