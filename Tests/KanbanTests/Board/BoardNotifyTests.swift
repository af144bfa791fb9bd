import Foundation
import KanbanProtocol
import Testing

@testable import KanbanDaemon

/// Notification subscriptions for delivery agents: CRUD, terminal events past the cursor, and a
/// cursor that moves only on acknowledgement (reference §7.6, §9.A items 13–14).
@Suite struct BoardNotifyTests {
    private func target(_ task: String, chat: String = "123", thread: String? = nil) -> NotifyTarget {
        NotifyTarget(taskID: task, platform: "telegram", chatID: chat, threadID: thread)
    }

    @Test func subscribeIsIdempotentPerTarget() async throws {
        let f = try BoardFixture()
        defer { f.close() }
        let task = try await f.create("watched")
        let sub = try await f.board.notifySubscribe(
            NotifySubscribeParams(
                target: NotifyTarget(taskID: task.id, platform: " Telegram ", chatID: " 123 ", threadID: " "),
                userID: "u1"))
        #expect(sub.target == target(task.id))
        #expect(sub.userID == "u1")
        #expect(sub.cursor == 0)
        try await f.board.notifySubscribe(NotifySubscribeParams(target: target(task.id), userID: "u1"))
        #expect(try await f.board.notifyList(NotifyListParams()).count == 1)
        try await f.board.notifySubscribe(NotifySubscribeParams(target: target(task.id, thread: "5")))
        let subs = try await f.board.notifyList(NotifyListParams(taskID: task.id))
        #expect(subs.count == 2)
        #expect(Set(subs.map(\.target.threadID)) == [nil, "5"])
        #expect(try await f.board.notifyUnsubscribe(target(task.id)))
        #expect(try await !f.board.notifyUnsubscribe(target(task.id)))
        #expect(try await f.board.notifyList(NotifyListParams()).map(\.target.threadID) == ["5"])
    }

    @Test func subscribeRefusals() async throws {
        let f = try BoardFixture()
        defer { f.close() }
        let task = try await f.create("watched")
        await expectBoardRefusal(.notFound) {
            try await f.board.notifySubscribe(NotifySubscribeParams(target: target("t_nope")))
        }
        await expectBoardRefusal(.invalidArgument) {
            try await f.board.notifySubscribe(
                NotifySubscribeParams(target: NotifyTarget(taskID: task.id, platform: " ", chatID: "1")))
        }
        await expectBoardRefusal(.invalidArgument) {
            try await f.board.notifySubscribe(
                NotifySubscribeParams(target: NotifyTarget(taskID: task.id, platform: "slack", chatID: "")))
        }
        #expect(try await f.board.notifyList(NotifyListParams()).isEmpty)
    }

    @Test func pendingDeliversTerminalEventsUntilAcknowledged() async throws {
        let f = try BoardFixture()
        defer { f.close() }
        let task = try await f.create("watched")
        let quiet = try await f.create("quiet")
        try await f.board.notifySubscribe(NotifySubscribeParams(target: target(task.id)))
        try await f.board.notifySubscribe(NotifySubscribeParams(target: target(quiet.id)))
        // created, commented, claimed: nothing terminal yet.
        try await f.board.comment(CommentParams(id: task.id, body: "hi"), actor: "t")
        let claim = try await f.claim(task.id)
        #expect(try await f.board.notifyPending(NotifyPendingParams()).isEmpty)

        try await f.block(task.id, reason: "need input", run: claim.runID)
        var pending = try await f.board.notifyPending(NotifyPendingParams())
        #expect(pending.count == 1)
        #expect(pending[0].subscription.target == target(task.id))
        #expect(pending[0].events.map(\.kind) == ["blocked"])
        #expect(pending[0].task?.status == .blocked)
        // Not acknowledged: delivered again.
        #expect(try await f.board.notifyPending(NotifyPendingParams()).first?.events.map(\.kind) == ["blocked"])

        let blockedID = pending[0].events[0].id
        let ack = try await f.board.notifyAck(NotifyAckParams(target: target(task.id), cursor: blockedID))
        #expect(ack.cursor == blockedID)
        #expect(!ack.ended)  // blocked is not finished
        #expect(try await f.board.notifyPending(NotifyPendingParams()).isEmpty)

        try await f.unblock(task.id)
        try await f.complete(task.id, result: "done")
        pending = try await f.board.notifyPending(NotifyPendingParams(platform: "telegram"))
        #expect(pending.map { $0.events.map(\.kind) } == [["completed"]])
        #expect(try await f.board.notifyPending(NotifyPendingParams(platform: "slack")).isEmpty)
        // The cursor never moves backwards.
        let stale = try await f.board.notifyAck(NotifyAckParams(target: target(task.id), cursor: 1))
        #expect(stale.cursor == blockedID)
        #expect(!stale.ended)
        // Acknowledging the completion of a finished task ends the subscription.
        let final = try await f.board.notifyAck(NotifyAckParams(target: target(task.id), cursor: pending[0].events[0].id))
        #expect(final.ended)
        #expect(try await f.board.notifyList(NotifyListParams(taskID: task.id)).isEmpty)
        #expect(try await f.board.notifyList(NotifyListParams(taskID: quiet.id)).count == 1)
        await expectBoardRefusal(.notFound) {
            try await f.board.notifyAck(NotifyAckParams(target: target(task.id), cursor: 99))
        }
    }

    @Test func crashesAndGivingUpAreDelivered() async throws {
        let f = try BoardFixture()
        defer { f.close() }
        let task = try await f.create("flaky", assignee: "bot")
        try await f.board.notifySubscribe(NotifySubscribeParams(target: target(task.id)))
        let claim = try await f.claim(task.id)
        try await f.finish(
            run: claim.runID, RunEnding(outcome: "crashed", exitCode: 1, countsAsFailure: true), failureLimit: 1)
        let pending = try await f.board.notifyPending(NotifyPendingParams())
        #expect(pending.first?.events.map(\.kind) == ["crashed", "gave_up"])
    }

    @Test func pendingRespectsItsLimit() async throws {
        let f = try BoardFixture()
        defer { f.close() }
        for index in 0..<3 {
            let task = try await f.create("task \(index)")
            try await f.board.notifySubscribe(NotifySubscribeParams(target: target(task.id)))
            try await f.block(task.id)
            try await f.unblock(task.id)
            try await f.block(task.id)
        }
        let limited = try await f.board.notifyPending(NotifyPendingParams(limit: 1))
        #expect(limited.count == 1)
        #expect(limited[0].events.count == 1)
        let all = try await f.board.notifyPending(NotifyPendingParams())
        #expect(all.count == 3)
        #expect(all.allSatisfy { $0.events.map(\.kind) == ["blocked", "blocked"] })
    }
}
