import Foundation
import GRDB
import KanbanProtocol

/// Read-only questions about the board. They run on reader connections, concurrently with writes.
struct Queries: Sendable {
    let clock: any BoardClock

    func list(_ db: Database, _ p: ListParams) throws -> [TaskInfo] {
        let filter = try listFilter(p)
        return try Rows.fetchTasks(db, sql: "SELECT \(Rows.taskColumns) FROM tasks" + filter.sql, arguments: filter.arguments)
    }

    /// The same tasks as `list`, as summaries.
    func listSummaries(_ db: Database, _ p: ListParams) throws -> [TaskSummary] {
        let filter = try listFilter(p)
        let statement = try db.cachedStatement(sql: "SELECT \(Rows.summaryColumns) FROM tasks" + filter.sql)
        try statement.setArguments(filter.arguments)
        return try RawColumns.map(statement, Rows.summary)
    }

    /// A list's WHERE, ORDER BY and LIMIT. The SQL text depends only on which filters are present
    /// (values are arguments), so the statement cache holds a handful of list statements.
    private func listFilter(_ p: ListParams) throws -> (sql: String, arguments: StatementArguments) {
        var clauses: [String] = []
        var arguments: [any DatabaseValueConvertible] = []
        if let status = p.status {
            let parsed = try TaskStatus.parse(status)
            clauses.append("status = ?")
            arguments.append(parsed.rawValue)
        } else if p.archived != true {
            clauses.append("status != 'archived'")
        }
        if let assignee = p.assignee {
            clauses.append("assignee = ?")
            arguments.append(assignee)
        }
        if let tenant = p.tenant {
            clauses.append("tenant = ?")
            arguments.append(tenant)
        }
        var sql = clauses.isEmpty ? "" : " WHERE " + clauses.joined(separator: " AND ")
        sql += " ORDER BY priority DESC, created_at ASC, rowid ASC"
        if let limit = p.limit {
            guard limit >= 0 else { throw KanbanError.invalidArgument("limit must not be negative") }
            sql += " LIMIT ?"
            arguments.append(limit)
        }
        return (sql, StatementArguments(arguments))
    }

    func comments(_ db: Database, _ id: String) throws -> [CommentInfo] {
        try RawColumns.fetch(
            db, sql: "SELECT \(Rows.commentColumns) FROM comments WHERE task_id = ? ORDER BY id", arguments: [id],
            Rows.comment)
    }

    /// A task's runs; `notFound` when there is no such task.
    func runs(_ db: Database, _ id: String) throws -> [RunInfo] {
        _ = try Rows.requireTask(db, id)
        return try runRows(db, id)
    }

    /// The runs of a task known to exist.
    private func runRows(_ db: Database, _ id: String) throws -> [RunInfo] {
        try RawColumns.fetch(
            db, sql: "SELECT \(Rows.runColumns) FROM runs WHERE task_id = ? ORDER BY id", arguments: [id], Rows.run)
    }

    func detail(_ db: Database, _ p: GetParams) throws -> TaskDetail {
        // The task and its number in one read: its events are found by the number.
        let stored = try Rows.requireStoredTask(db, p.id)
        let task = stored.info
        let limit = max(0, p.events ?? 20)
        let (condition, reference) = EventStorage.taskCondition(seq: stored.seq, id: task.id)
        let events =
            limit == 0
            ? []
            : try RawColumns.fetch(
                db,
                sql: "SELECT \(EventStorage.columns) FROM \(EventStorage.source) WHERE \(condition) ORDER BY e.id DESC LIMIT ?",
                arguments: [reference, limit], EventStorage.event
            ).reversed()
        let count = try Int.fetchOne(
            db.cachedStatement(sql: "SELECT count(*) FROM events e WHERE \(condition)"), arguments: [reference]) ?? 0
        // Parents and children in one statement: 0 marks a parent, 1 a child.
        var parents: [String] = []
        var children: [String] = []
        for (side, other) in try RawColumns.fetch(
            db,
            sql: """
                SELECT 0, parent_id FROM links WHERE child_id = ?1
                UNION ALL SELECT 1, child_id FROM links WHERE parent_id = ?1 ORDER BY 1, 2
                """, arguments: [task.id], { ($0.int(0), $0.string(1)) })
        {
            if side == 0 { parents.append(other) } else { children.append(other) }
        }
        // The latest comments, oldest first: a thread can grow without bound, a reply must not.
        let commentLimit = max(0, p.comments ?? GetParams.defaultComments)
        let latestComments = try RawColumns.fetch(
            db,
            sql: """
                SELECT * FROM (SELECT \(Rows.commentColumns) FROM comments WHERE task_id = ? ORDER BY id DESC LIMIT ?)
                ORDER BY id
                """, arguments: [task.id, commentLimit], Rows.comment)
        let commentCount =
            latestComments.count < commentLimit
            ? latestComments.count
            : try Int.fetchOne(cached: db, sql: "SELECT count(*) FROM comments WHERE task_id = ?", arguments: [task.id]) ?? 0
        return TaskDetail(
            task: task, parents: parents, children: children, comments: latestComments, commentCount: commentCount,
            events: Array(events), eventCount: count, runs: try runRows(db, task.id), age: age(task))
    }

    func age(_ task: TaskInfo) -> TaskAge {
        let now = clock.nowMillis().seconds
        return TaskAge(
            createdAgeSeconds: now - task.createdAt,
            startedAgeSeconds: task.startedAt.map { now - $0 },
            timeToCompleteSeconds: task.completedAt.map { $0 - (task.startedAt ?? task.createdAt) })
    }

    func events(_ db: Database, _ p: EventsListParams) throws -> EventsListResult {
        let since = p.since ?? 0
        let limit = min(max(p.limit ?? 500, 1), 10_000)
        var sql = "SELECT \(EventStorage.columns) FROM \(EventStorage.source) WHERE e.id > ?"
        var arguments: [any DatabaseValueConvertible] = [since]
        if let task = p.task {
            let (condition, reference) = try EventStorage.taskCondition(db, task: task)
            sql += " AND \(condition)"
            arguments.append(reference)
        }
        sql += " ORDER BY e.id LIMIT ?"
        arguments.append(limit)
        let events = try RawColumns.fetch(db, sql: sql, arguments: StatementArguments(arguments), EventStorage.event)
        return EventsListResult(events: events, cursor: events.last?.id ?? since)
    }

    func latestEventID(_ db: Database) throws -> Int64 {
        try Int64.fetchOne(cached: db, sql: "SELECT max(id) FROM events") ?? 0
    }

    /// The brief a worker reads first: its task, its parents' results and the comment thread.
    func context(_ db: Database, _ id: String) throws -> ContextResult {
        let task = try Rows.requireTask(db, id)
        var lines: [String] = ["# Kanban task \(task.id): \(task.title)", ""]
        lines.append("Assignee:  \(task.assignee ?? "(unassigned)")")
        lines.append("Status:    \(task.status.rawValue)")
        if let tenant = task.tenant { lines.append("Tenant:    \(tenant)") }
        lines.append("Workspace: \(task.workspaceKind) @ \(task.workspacePath ?? "(unresolved)")")
        if let reason = task.blockReason { lines.append("Blocked:   \(reason)") }
        lines.append("")
        lines.append("## Body")
        lines.append(task.body?.isEmpty == false ? task.body! : "(no body)")
        let parentRows = try Row.fetchAll(
            cached: db,
            sql: """
                SELECT p.id, p.title, p.status, p.result FROM links JOIN tasks p ON p.id = links.parent_id
                WHERE links.child_id = ? ORDER BY p.completed_at, p.id
                """, arguments: [task.id])
        if !parentRows.isEmpty {
            lines.append("")
            lines.append("## Parent task results")
            for row in parentRows {
                let pid: String = row[0]
                let title: String = row[1]
                let status: String = row[2]
                let result: String? = row[3]
                lines.append("### \(pid): \(title) (\(status))")
                lines.append(result?.isEmpty == false ? result! : "(no result recorded)")
            }
        }
        let thread = try comments(db, task.id)
        if !thread.isEmpty {
            lines.append("")
            lines.append("## Comment thread")
            for comment in thread {
                lines.append("**\(comment.author)** (\(Queries.timestamp(comment.createdAt))):")
                lines.append(comment.body)
                lines.append("")
            }
        }
        return ContextResult(id: task.id, text: lines.joined(separator: "\n"))
    }

    static func timestamp(_ seconds: Double) -> String {
        var time = time_t(seconds)
        var parts = tm()
        gmtime_r(&time, &parts)
        return String(
            format: "%04d-%02d-%02d %02d:%02d UTC", Int(parts.tm_year) + 1900, Int(parts.tm_mon) + 1,
            Int(parts.tm_mday), Int(parts.tm_hour), Int(parts.tm_min))
    }

    func stats(_ db: Database) throws -> StatsResult {
        let now = clock.nowMillis()
        var byStatus: [String: Int] = [:]
        var byAssignee: [String: [String: Int]] = [:]
        var total = 0
        // Counts kept exact by triggers (schema v4): a few rows, whatever the size of the board.
        for row in try Row.fetchAll(
            db.cachedStatement(sql: "SELECT assignee, status, n FROM task_counts WHERE status != 'archived'"))
        {
            let assignee: String = row[0]
            let status: String = row[1]
            let count: Int = row[2]
            byStatus[status, default: 0] += count
            total += count
            if !assignee.isEmpty { byAssignee[assignee, default: [:]][status] = count }
        }
        let oldestReady = try Int64.fetchOne(
            db.cachedStatement(
                sql: """
                    SELECT coalesce(ready_at, created_at) AS since FROM tasks INDEXED BY tasks_ready_since
                    WHERE status = 'ready' ORDER BY since LIMIT 1
                    """))
        let completed = try Int.fetchOne(
            // completed_at is set only by completion; the status test would make SQLite walk every done task.
            db, sql: "SELECT count(*) FROM tasks INDEXED BY tasks_completed WHERE completed_at >= ?",
            arguments: [now - 3_600_000]) ?? 0
        let failing = try Row.fetchOne(cached: db, sql: "SELECT count(*), coalesce(sum(failures), 0) FROM tasks WHERE failures > 0")
        return StatsResult(
            byStatus: byStatus, byAssignee: byAssignee,
            oldestReadyAgeSeconds: oldestReady.map { (now - $0).seconds },
            running: byStatus[TaskStatus.running.rawValue] ?? 0, completedLastHour: completed,
            failingTasks: failing?[0] ?? 0, totalFailures: failing?[1] ?? 0, total: total, now: now.seconds)
    }
}
