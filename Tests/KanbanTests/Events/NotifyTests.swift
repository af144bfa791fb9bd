import Foundation
import KanbanProtocol
import Testing

extension Processes {
    /// Notification subscriptions over the socket (`notify.pending` / `notify.ack`) and through kanbanctl.
    @Suite struct Notifications {
        static func target(_ task: String, chat: String = "42") -> NotifyTarget {
            NotifyTarget(taskID: task, platform: "telegram", chatID: chat)
        }

        static func subscribe(_ c: EventKit.Client, _ target: NotifyTarget) throws -> NotifySubscription {
            try c.call(.notifySubscribe, NotifySubscribeParams(target: target, userID: "u1"))
        }

        static func pending(_ c: EventKit.Client) throws -> [NotifyDelivery] {
            try c.call(.notifyPending, NotifyPendingParams(), as: NotifyPendingResult.self).deliveries
        }

        static func ack(_ c: EventKit.Client, _ target: NotifyTarget, _ cursor: Int64) throws -> NotifyAckResult {
            try c.call(.notifyAck, NotifyAckParams(target: target, cursor: cursor))
        }

        /// An ack's answer is this cursor and end flag.
        static func same(_ result: NotifyAckResult, _ cursor: Int64, ended: Bool) -> Bool {
            result.cursor == cursor && result.ended == ended
        }

        static func list(_ c: EventKit.Client, task: String? = nil) throws -> [NotifySubscription] {
            try c.call(.notifyList, NotifyListParams(taskID: task), as: NotifyListResult.self).subscriptions
        }

        @Test func cursorSurvivesARestartAndOnlyUnackedEventsComeBack() throws {
            let daemon = try TestDaemon()
            var c = try EventKit.Client(socket: daemon.socket)
            let task = try c.create("watched")
            let target = Notifications.target(task.id)
            let sub = try Notifications.subscribe(c, target)
            #expect(sub.cursor == 0)
            try c.block(task.id, "first")
            try c.unblock(task.id)
            try c.comment(task.id, "not a terminal event")
            try c.block(task.id, "second")
            try c.unblock(task.id)
            try c.block(task.id, "third")

            let first = try Notifications.pending(c)
            #expect(first.count == 1)
            let delivery = try #require(first.first)
            #expect(delivery.subscription.target == target)
            #expect(delivery.task?.id == task.id)
            let events = delivery.events
            #expect(events.map(\.kind) == ["blocked", "blocked", "blocked"], "only terminal events are delivered")
            #expect(events.map(\.id) == (try c.allEvents(task: task.id)).filter { $0.kind == "blocked" }.map(\.id))

            // The first one was delivered; the daemon dies before the rest are.
            let acked = try Notifications.ack(c, target, events[0].id)
            #expect(Notifications.same(acked, events[0].id, ended: false))
            daemon.crash()
            try daemon.start()
            c = try EventKit.Client(socket: daemon.socket)

            let after = try Notifications.pending(c)
            #expect(after.count == 1)
            #expect(after.first?.events.map(\.id) == events.dropFirst().map(\.id), "nothing lost, nothing repeated")
            #expect(after.first?.subscription.cursor == events[0].id)
            #expect(try Notifications.list(c, task: task.id).map(\.cursor) == [events[0].id])

            // The rest delivered: nothing pending, still subscribed (the task is not finished).
            let rest = try Notifications.ack(c, target, events[2].id)
            #expect(Notifications.same(rest, events[2].id, ended: false))
            #expect(try Notifications.pending(c).isEmpty)
            daemon.stop()
            try daemon.start()
            c = try EventKit.Client(socket: daemon.socket)
            #expect(try Notifications.pending(c).isEmpty)
            #expect(try Notifications.list(c).count == 1)
        }

        @Test func anUnacknowledgedDeliveryIsDeliveredAgain() throws {
            let daemon = try TestDaemon()
            let c = try EventKit.Client(socket: daemon.socket)
            let task = try c.create("flaky chat")
            let telegram = Notifications.target(task.id, chat: "1")
            let slack = NotifyTarget(taskID: task.id, platform: "slack", chatID: "C9", threadID: "t1")
            _ = try Notifications.subscribe(c, telegram)
            _ = try Notifications.subscribe(c, slack)
            try c.block(task.id, "stuck")

            // The agent fetched but its send failed: no ack, so the same delivery comes again.
            let attempt1 = try Notifications.pending(c)
            let attempt2 = try Notifications.pending(c)
            #expect(attempt1.count == 2)
            #expect(attempt1 == attempt2)
            let blocked = try #require(attempt1.first?.events.first)
            #expect(blocked.kind == "blocked")

            // One chat acknowledges; the other keeps its delivery.
            #expect(try Notifications.ack(c, telegram, blocked.id).cursor == blocked.id)
            let remaining = try Notifications.pending(c)
            #expect(remaining.map(\.subscription.target) == [slack])
            #expect(remaining.first?.events.map(\.id) == [blocked.id])
            let slackOnly: NotifyPendingResult = try c.call(.notifyPending, NotifyPendingParams(platform: "slack"))
            #expect(slackOnly.deliveries.count == 1)

            // A late or repeated ack never moves a cursor back.
            #expect(try Notifications.ack(c, telegram, 0).cursor == blocked.id)
            #expect(try Notifications.pending(c).map(\.subscription.target) == [slack])

            // New terminal events after the cursor are the only ones delivered next.
            try c.unblock(task.id)
            try c.block(task.id, "again")
            let next = try Notifications.pending(c)
            let forTelegram = try #require(next.first { $0.subscription.target == telegram })
            #expect(forTelegram.events.count == 1)
            #expect(forTelegram.events.first?.payload == .object(["reason": .string("again")]))
            let forSlack = try #require(next.first { $0.subscription.target == slack })
            #expect(forSlack.events.count == 2)
        }

        @Test func subscriptionEndsOnceItsTaskIsFinishedAndTheLastEventAcked() throws {
            let daemon = try TestDaemon()
            let c = try EventKit.Client(socket: daemon.socket)
            let task = try c.create("to finish")
            let target = Notifications.target(task.id)
            _ = try Notifications.subscribe(c, target)
            try c.block(task.id, "question")
            try c.unblock(task.id)

            // Acking everything while the task is still live keeps the subscription.
            let blocked = try #require(try Notifications.pending(c).first?.events.last)
            #expect(Notifications.same(try Notifications.ack(c, target, blocked.id), blocked.id, ended: false))
            #expect(try Notifications.list(c).count == 1)

            try c.complete(task.id, result: "shipped")
            let pending = try Notifications.pending(c)
            let completed = try #require(pending.first?.events.last)
            #expect(pending.first?.events.map(\.kind) == ["completed"])
            // Done, but its last event is not acknowledged yet: an ack of an older id does not end it.
            #expect(Notifications.same(try Notifications.ack(c, target, blocked.id), blocked.id, ended: false))
            #expect(try Notifications.list(c).count == 1)
            let last = try Notifications.ack(c, target, completed.id)
            #expect(Notifications.same(last, completed.id, ended: true))
            #expect(try Notifications.list(c).isEmpty)
            #expect(try Notifications.pending(c).isEmpty)
            let listed = try EventKit.ctlJSON(daemon, [NotifySubscription].self, "notify-list", "--json")
            #expect(listed.isEmpty)
            #expect(throws: (any Error).self) { _ = try Notifications.ack(c, target, completed.id) }

            // Archiving finishes a task too.
            let other = try c.create("to archive")
            let otherTarget = Notifications.target(other.id, chat: "7")
            _ = try Notifications.subscribe(c, otherTarget)
            try c.archive(other.id)
            let archived = try #require(try Notifications.pending(c).first?.events.last)
            #expect(archived.kind == "archived")
            #expect(try Notifications.ack(c, otherTarget, archived.id).ended)
            #expect(daemon.ctl("notify-list").stdout.contains("(no subscriptions)"))
        }

        @Test func notifyCLI() throws {
            let daemon = try TestDaemon()
            let task = try daemon.create("chatty")
            let other = try daemon.create("quiet")

            let subscribed = daemon.ctl(
                "notify-subscribe", task, "--platform", "Telegram", "--chat-id", "42", "--thread-id", "7", "--user-id", "u1")
            #expect(subscribed.code == 0, "\(subscribed.stderr)")
            #expect(subscribed.stdout.contains("Subscribed telegram:42:7 to \(task)"))
            // Subscribing again changes nothing.
            #expect(daemon.ctl("notify-subscribe", task, "--platform", "telegram", "--chat-id", "42", "--thread-id", "7").code == 0)
            let plain = daemon.ctl("notify-subscribe", task, "--platform", "slack", "--chat-id", "C1")
            #expect(plain.stdout.contains("Subscribed slack:C1 to \(task)"))

            let all = try EventKit.ctlJSON(daemon, [NotifySubscription].self, "notify-list", "--json")
            #expect(all.count == 2)
            let telegram = try #require(all.first { $0.target.platform == "telegram" })
            #expect(telegram.target == NotifyTarget(taskID: task, platform: "telegram", chatID: "42", threadID: "7"))
            #expect(telegram.userID == "u1")
            #expect(telegram.cursor == 0)
            #expect(telegram.createdAt > 0)
            let slack = try #require(all.first { $0.target.platform == "slack" })
            #expect(slack.target.threadID == nil)
            #expect(slack.userID == nil)

            let text = daemon.ctl("notify-list", task)
            #expect(text.code == 0)
            #expect(text.stdout.contains("telegram:42:7"))
            #expect(text.stdout.contains("slack:C1"))
            #expect(text.stdout.contains("(since event 0)"))
            #expect(daemon.ctl("notify-list", other).stdout.contains("(no subscriptions)"))
            #expect(try EventKit.ctlJSON(daemon, [NotifySubscription].self, "notify-list", other, "--json").isEmpty)

            let gone = daemon.ctl("notify-unsubscribe", task, "--platform", "telegram", "--chat-id", "42", "--thread-id", "7")
            #expect(gone.code == 0)
            #expect(gone.stdout.contains("Unsubscribed from \(task)"))
            let again = daemon.ctl("notify-unsubscribe", task, "--platform", "telegram", "--chat-id", "42", "--thread-id", "7")
            #expect(again.code == 1)
            #expect(again.stderr.contains("no such subscription"))
            // The thread is part of the target: without it, it is another subscription.
            #expect(daemon.ctl("notify-unsubscribe", task, "--platform", "slack", "--chat-id", "C1", "--thread-id", "x").code == 1)
            let remaining = try EventKit.ctlJSON(daemon, [NotifySubscription].self, "notify-list", "--json")
            #expect(remaining.map(\.target.platform) == ["slack"])

            let unknown = daemon.ctl("notify-subscribe", "t_doesnotexist", "--platform", "telegram", "--chat-id", "1")
            #expect(unknown.code == 1)
            #expect(unknown.stderr.contains("no such task"))
            #expect(daemon.ctl("notify-subscribe", task, "--chat-id", "1").code == 2)
            #expect(daemon.ctl("notify-subscribe", task, "--platform", "telegram").code == 2)
            let blank = daemon.ctl("notify-subscribe", task, "--platform", " ", "--chat-id", "1")
            #expect(blank.code != 0 && blank.stderr.contains("platform"))
            #expect(try EventKit.ctlJSON(daemon, [NotifySubscription].self, "notify-list", "--json").count == 1)
        }
    }
}
