import Foundation
import GRDB
import KanbanProtocol

/// A task as the kernel holds it while changing it: the wire view and the number its events use.
struct StoredTask {
    var info: TaskInfo
    /// Nil only on a board written by something else that bypassed the numbering trigger.
    var seq: Int64?

    /// What an event appended for this task publishes about it.
    var owner: EventOwner { EventOwner(seq: seq, assignee: info.assignee, tenant: info.tenant) }
}

/// The task an event belongs to, as the event bus filters on it.
struct EventOwner {
    var seq: Int64?
    var assignee: String?
    var tenant: String?
}

/// Row mapping between the `tasks`, `comments` and `runs` tables and the wire types (events: `EventStorage`).
enum Rows {
    static let taskColumns = """
        id, title, body, assignee, status, priority, tenant, workspace_kind, workspace_path, created_by, \
        created_at, ready_at, started_at, completed_at, result, block_reason, idempotency_key, current_run, \
        claim_expires, failures, last_error
        """

    /// The task in the current row of a statement that selects `taskColumns`.
    static func task(_ row: RawColumns) -> TaskInfo {
        TaskInfo(
            id: row.string(0), title: row.string(1), body: row.optionalString(2), assignee: row.optionalString(3),
            status: TaskStatus(rawValue: row.string(4)) ?? .todo, priority: row.int(5), tenant: row.optionalString(6),
            workspaceKind: row.string(7), workspacePath: row.optionalString(8), createdBy: row.optionalString(9),
            createdAt: row.int64(10).seconds, readyAt: row.optionalInt64(11)?.seconds,
            startedAt: row.optionalInt64(12)?.seconds, completedAt: row.optionalInt64(13)?.seconds,
            result: row.optionalString(14), blockReason: row.optionalString(15), idempotencyKey: row.optionalString(16),
            currentRunID: row.optionalInt64(17), claimExpires: row.optionalInt64(18)?.seconds,
            consecutiveFailures: row.int(19), lastFailureError: row.optionalString(20)
        )
    }

    static let summaryColumns = "id, title, status, assignee, tenant, priority"

    /// The summary in the current row of a statement that selects `summaryColumns`.
    static func summary(_ row: RawColumns) -> TaskSummary {
        TaskSummary(
            id: row.string(0), title: row.string(1), status: TaskStatus(rawValue: row.string(2)) ?? .todo,
            assignee: row.optionalString(3), tenant: row.optionalString(4), priority: row.int(5))
    }

    /// Every task `sql` (which selects `taskColumns`) returns.
    static func fetchTasks(_ db: Database, sql: String, arguments: StatementArguments = []) throws -> [TaskInfo] {
        let statement = try db.cachedStatement(sql: sql)
        try statement.setArguments(arguments)
        return try RawColumns.map(statement, task)
    }

    static func fetchTask(_ db: Database, _ id: String) throws -> TaskInfo? {
        try fetchTasks(db, sql: "SELECT \(taskColumns) FROM tasks WHERE id = ?", arguments: [id]).first
    }

    static func requireTask(_ db: Database, _ id: String) throws -> TaskInfo {
        guard let task = try fetchTask(db, id) else { throw KanbanError.notFound(id) }
        return task
    }

    /// `taskColumns` and the task's number, for the kernel (its events reference the number).
    static let storedTaskColumns = taskColumns + ", seq"

    static func storedTask(_ row: RawColumns) -> StoredTask {
        StoredTask(info: task(row), seq: row.optionalInt64(21))
    }

    static func requireStoredTask(_ db: Database, _ id: String) throws -> StoredTask {
        let statement = try db.cachedStatement(sql: "SELECT \(storedTaskColumns) FROM tasks WHERE id = ?")
        try statement.setArguments([id])
        guard let task = try RawColumns.first(statement, storedTask) else { throw KanbanError.notFound(id) }
        return task
    }

    /// The row an `INSERT`/`UPDATE … RETURNING storedTaskColumns` wrote: the change and the read
    /// of its result in one statement.
    static func storedTask(_ db: Database, returning sql: String, arguments: StatementArguments) throws -> StoredTask? {
        let statement = try db.cachedStatement(sql: sql + " RETURNING \(storedTaskColumns)")
        try statement.setArguments(arguments)
        return try RawColumns.first(statement, storedTask)
    }

    static let commentColumns = "id, task_id, author, body, created_at"

    static func comment(_ row: RawColumns) -> CommentInfo {
        CommentInfo(
            id: row.int64(0), taskID: row.string(1), author: row.string(2), body: row.string(3),
            createdAt: row.int64(4).seconds)
    }

    static let runColumns = """
        id, task_id, assignee, claimer, pid, started_at, ended_at, outcome, exit_code, signal, error, workspace, \
        heartbeat_at
        """

    static func run(_ row: RawColumns) -> RunInfo {
        RunInfo(
            id: row.int64(0), taskID: row.string(1), assignee: row.optionalString(2), claimer: row.optionalString(3),
            pid: row.optionalInt64(4).map { Int32(truncatingIfNeeded: $0) }, startedAt: row.int64(5).seconds,
            endedAt: row.optionalInt64(6)?.seconds, outcome: row.string(7),
            exitCode: row.optionalInt64(8).map { Int32(truncatingIfNeeded: $0) },
            signal: row.optionalInt64(9).map { Int32(truncatingIfNeeded: $0) }, error: row.optionalString(10),
            workspace: row.optionalString(11), lastHeartbeatAt: row.optionalInt64(12)?.seconds)
    }
}
