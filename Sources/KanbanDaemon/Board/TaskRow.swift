import Foundation
import GRDB
import KanbanProtocol

/// Row mapping between the `tasks`, `comments` and `runs` tables and the wire types (events: `EventStorage`).
enum Rows {
    static let taskColumns = """
        id, title, body, assignee, status, priority, tenant, workspace_kind, workspace_path, created_by, \
        created_at, ready_at, started_at, completed_at, result, block_reason, idempotency_key, current_run, \
        claim_expires, failures, last_error
        """

    static func task(_ row: Row) -> TaskInfo {
        TaskInfo(
            id: row[0], title: row[1], body: row[2], assignee: row[3],
            status: TaskStatus(rawValue: row[4]) ?? .todo, priority: row[5], tenant: row[6],
            workspaceKind: row[7], workspacePath: row[8], createdBy: row[9],
            createdAt: (row[10] as Int64).seconds, readyAt: (row[11] as Int64?)?.seconds,
            startedAt: (row[12] as Int64?)?.seconds, completedAt: (row[13] as Int64?)?.seconds,
            result: row[14], blockReason: row[15], idempotencyKey: row[16], currentRunID: row[17],
            claimExpires: (row[18] as Int64?)?.seconds, consecutiveFailures: row[19], lastFailureError: row[20]
        )
    }

    static func fetchTask(_ db: Database, _ id: String) throws -> TaskInfo? {
        try Row.fetchOne(db.cachedStatement(sql: "SELECT \(taskColumns) FROM tasks WHERE id = ?"), arguments: [id])
            .map(task)
    }

    static func requireTask(_ db: Database, _ id: String) throws -> TaskInfo {
        guard let task = try fetchTask(db, id) else { throw KanbanError.notFound(id) }
        return task
    }

    static let commentColumns = "id, task_id, author, body, created_at"

    static func comment(_ row: Row) -> CommentInfo {
        CommentInfo(id: row[0], taskID: row[1], author: row[2], body: row[3], createdAt: (row[4] as Int64).seconds)
    }

    static let runColumns = """
        id, task_id, assignee, claimer, pid, started_at, ended_at, outcome, exit_code, signal, error, workspace, \
        heartbeat_at
        """

    static func run(_ row: Row) -> RunInfo {
        RunInfo(
            id: row[0], taskID: row[1], assignee: row[2], claimer: row[3], pid: row[4],
            startedAt: (row[5] as Int64).seconds, endedAt: (row[6] as Int64?)?.seconds, outcome: row[7],
            exitCode: row[8], signal: row[9], error: row[10], workspace: row[11],
            lastHeartbeatAt: (row[12] as Int64?)?.seconds)
    }
}
