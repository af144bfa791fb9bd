import GRDB
import KanbanProtocol

/// Notification subscriptions for delivery agents (the chat gateway). The cursor moves only when
/// the agent acknowledges a delivery, so a failed send is retried and a restart repeats nothing.
extension Board {
    @discardableResult
    func notifySubscribe(_ p: NotifySubscribeParams) async throws -> NotifySubscription {
        let target = try Board.validated(p.target)
        let now = clock.nowMillis()
        return try await write { db, _ in
            _ = try Rows.requireTask(db, target.taskID)
            try db.run(
                sql: """
                    INSERT OR IGNORE INTO notify_subs (task_id, platform, chat_id, thread_id, user_id, created_at, cursor)
                    VALUES (?, ?, ?, ?, ?, ?, 0)
                    """,
                arguments: [target.taskID, target.platform, target.chatID, target.threadID ?? "", p.userID, now])
            return try Board.fetchSubscription(db, target)!
        }
    }

    func notifyUnsubscribe(_ target: NotifyTarget) async throws -> Bool {
        let target = try Board.validated(target)
        return try await write { db, _ in
            try db.run(
                sql: "DELETE FROM notify_subs WHERE task_id = ? AND platform = ? AND chat_id = ? AND thread_id = ?",
                arguments: [target.taskID, target.platform, target.chatID, target.threadID ?? ""])
            return db.changesCount > 0
        }
    }

    func notifyList(_ p: NotifyListParams) async throws -> [NotifySubscription] {
        try await read { db in
            let rows: [Row]
            if let task = p.taskID {
                rows = try Row.fetchAll(
                    cached: db, sql: "SELECT \(Board.subColumns) FROM notify_subs WHERE task_id = ? ORDER BY created_at",
                    arguments: [task])
            } else {
                rows = try Row.fetchAll(cached: db, sql: "SELECT \(Board.subColumns) FROM notify_subs ORDER BY created_at")
            }
            return rows.map(Board.subscription)
        }
    }

    /// Every subscription with terminal events past its cursor, with those events.
    func notifyPending(_ p: NotifyPendingParams) async throws -> [NotifyDelivery] {
        let limit = min(max(p.limit ?? 100, 1), 1000)
        return try await bulkRead { db in
            var sql = "SELECT \(Board.subColumns) FROM notify_subs"
            var arguments: [any DatabaseValueConvertible] = []
            if let platform = p.platform {
                sql += " WHERE platform = ?"
                arguments.append(platform)
            }
            sql += " ORDER BY created_at"
            var deliveries: [NotifyDelivery] = []
            for row in try Row.fetchAll(cached: db, sql: sql, arguments: StatementArguments(arguments)) {
                let sub = Board.subscription(row)
                let (condition, reference) = try EventStorage.taskCondition(db, task: sub.target.taskID)
                let events = try RawColumns.fetch(
                    db,
                    sql: """
                        SELECT \(EventStorage.columns) FROM \(EventStorage.source)
                        WHERE \(condition) AND e.id > ? AND e.kind IN \(Board.terminalKinds) ORDER BY e.id LIMIT ?
                        """, arguments: [reference, sub.cursor, limit], EventStorage.event)
                guard !events.isEmpty else { continue }
                deliveries.append(
                    NotifyDelivery(subscription: sub, task: try Rows.fetchTask(db, sub.target.taskID), events: events))
                if deliveries.count >= limit { break }
            }
            return deliveries
        }
    }

    /// Records delivery up to `cursor`; ends the subscription when its task is finished and nothing
    /// terminal is left to deliver.
    func notifyAck(_ p: NotifyAckParams) async throws -> NotifyAckResult {
        let target = try Board.validated(p.target)
        return try await write { db, _ in
            guard let sub = try Board.fetchSubscription(db, target) else {
                throw KanbanError(.notFound, "no such subscription for \(target.taskID) on \(target.platform):\(target.chatID)")
            }
            let cursor = max(sub.cursor, p.cursor)
            try db.run(
                sql: """
                    UPDATE notify_subs SET cursor = ?
                    WHERE task_id = ? AND platform = ? AND chat_id = ? AND thread_id = ?
                    """, arguments: [cursor, target.taskID, target.platform, target.chatID, target.threadID ?? ""])
            let status = try String.fetchOne(cached: db, sql: "SELECT status FROM tasks WHERE id = ?", arguments: [target.taskID])
            let (condition, reference) = try EventStorage.taskCondition(db, task: target.taskID)
            let left = try Int.fetchOne(
                cached: db, sql: "SELECT count(*) FROM events e WHERE \(condition) AND e.id > ? AND e.kind IN \(Board.terminalKinds)",
                arguments: [reference, cursor]) ?? 0
            let finished = status == TaskStatus.done.rawValue || status == TaskStatus.archived.rawValue
            if finished && left == 0 {
                try db.run(
                    sql: "DELETE FROM notify_subs WHERE task_id = ? AND platform = ? AND chat_id = ? AND thread_id = ?",
                    arguments: [target.taskID, target.platform, target.chatID, target.threadID ?? ""])
                return NotifyAckResult(cursor: cursor, ended: true)
            }
            return NotifyAckResult(cursor: cursor, ended: false)
        }
    }

    /// The stored kinds a subscription delivers, as an SQL list.
    static let terminalKinds = EventStorage.storedKindList(EventKind.terminal)

    static let subColumns = "task_id, platform, chat_id, thread_id, user_id, created_at, cursor"

    static func subscription(_ row: Row) -> NotifySubscription {
        let thread: String = row[3]
        return NotifySubscription(
            target: NotifyTarget(taskID: row[0], platform: row[1], chatID: row[2], threadID: thread.isEmpty ? nil : thread),
            userID: row[4], createdAt: (row[5] as Int64).seconds, cursor: row[6])
    }

    static func fetchSubscription(_ db: Database, _ target: NotifyTarget) throws -> NotifySubscription? {
        try Row.fetchOne(
            cached: db,
            sql: """
                SELECT \(subColumns) FROM notify_subs
                WHERE task_id = ? AND platform = ? AND chat_id = ? AND thread_id = ?
                """, arguments: [target.taskID, target.platform, target.chatID, target.threadID ?? ""]
        ).map(subscription)
    }

    static func validated(_ target: NotifyTarget) throws -> NotifyTarget {
        var target = target
        guard let platform = Kernel.normalized(target.platform) else {
            throw KanbanError.invalidArgument("platform is required")
        }
        guard let chat = Kernel.normalized(target.chatID) else { throw KanbanError.invalidArgument("chat id is required") }
        target.platform = platform.lowercased()
        target.chatID = chat
        target.threadID = Kernel.normalized(target.threadID)
        return target
    }
}
