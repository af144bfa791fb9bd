import Foundation
import GRDB
import KanbanProtocol

/// The state machine: every transition of the board, as a function run inside a write
/// transaction. Each checks its preconditions against the row it is about to change, appends its
/// event, and throws a typed `KanbanError` when it refuses — it never silently does nothing.
///
/// Promotion is driven by the change that allows it: completing a task walks that task's
/// children only (never the whole board), so its cost does not grow with the board.
struct Kernel: Sendable {
    let clock: any BoardClock
    /// Where new task ids come from (`newTaskID`; a test makes them collide).
    var newID: @Sendable () -> String = Kernel.newTaskID

    // MARK: events

    /// Appends an event of `task`. `owner` is what the caller already holds of the task as it is
    /// now (saves a lookup); without it the task is read.
    @discardableResult
    func appendEvent(
        _ db: Database, _ effects: inout WriteEffects, task: String, owner known: EventOwner? = nil, kind: String,
        payload: JSONValue? = nil, run: Int64? = nil, actor: String?
    ) throws -> EventInfo {
        let now = clock.nowMillis()
        let owner: EventOwner?
        if let known {
            owner = known
        } else {
            let statement = try db.cachedStatement(sql: "SELECT seq, assignee, tenant FROM tasks WHERE id = ?")
            try statement.setArguments([task])
            owner = try RawColumns.first(statement) {
                EventOwner(seq: $0.optionalInt64(0), assignee: $0.optionalString(1), tenant: $0.optionalString(2))
            }
        }
        let seq = owner?.seq
        let insert = try db.cachedStatement(
            sql: """
                INSERT INTO events (task_seq, task_text, run_id, kind, payload, actor, created_at)
                VALUES (?, ?, ?, ?, ?, ?, ?)
                """)
        try insert.setArguments([
            seq, seq == nil ? task : nil, run, EventStorage.storedKind(kind),
            EventStorage.storedPayload(kind: kind, payload), actor, now,
        ])
        try RawColumns.execute(insert)
        let event = EventInfo(
            id: db.lastInsertedRowID, taskID: task, runID: run, kind: kind, payload: payload, actor: actor,
            createdAt: now.seconds)
        effects.events.append(PublishedEvent(event: event, assignee: owner?.assignee, tenant: owner?.tenant))
        return event
    }

    // MARK: create

    /// Longest title accepted, in UTF-8 bytes: titles are one-line labels shown in lists.
    static let maxTitleBytes = 4096

    func create(_ db: Database, _ effects: inout WriteEffects, _ p: CreateParams, actor: String) throws -> CreateResult {
        guard p.title.utf8.count <= Kernel.maxTitleBytes else {
            throw KanbanError.invalidArgument("title is longer than \(Kernel.maxTitleBytes) bytes; put the detail in the body")
        }
        let title = Kernel.trimmed(p.title)
        guard !title.isEmpty else { throw KanbanError.invalidArgument("title is required") }
        let workspace = try WorkspaceSpec.parse(p.workspace ?? "scratch")
        let assignee = Kernel.normalized(p.assignee)
        let tenant = Kernel.normalized(p.tenant)
        let key = Kernel.normalized(p.idempotencyKey)
        var parents: [String] = []
        for parent in p.parents ?? [] {
            let id = parent.trimmingCharacters(in: .whitespaces)
            if !id.isEmpty && !parents.contains(id) { parents.append(id) }
        }
        if let key, let existing = try Rows.fetchTasks(
            db, sql: "SELECT \(Rows.taskColumns) FROM tasks WHERE idempotency_key = ? AND status != 'archived'",
            arguments: [key]
        ).first {
            return CreateResult(task: existing, created: false)
        }
        var allParentsDone = true
        var missing: [String] = []
        for parent in parents {
            guard let status = try String.fetchOne(
                db.cachedStatement(sql: "SELECT status FROM tasks WHERE id = ?"), arguments: [parent])
            else {
                missing.append(parent)
                continue
            }
            if status != TaskStatus.done.rawValue { allParentsDone = false }
        }
        guard missing.isEmpty else {
            throw KanbanError(
                .notFound, "unknown parent task(s): \(missing.joined(separator: ", "))",
                details: ["ids": .array(missing.map { .string($0) })])
        }
        let status: TaskStatus = p.triage == true ? .triage : (allParentsDone ? .ready : .todo)
        let now = clock.nowMillis()
        // The task's number is given here rather than by the `tasks_number` trigger, whose UPDATE
        // rewrites the row just inserted (a few percent of a create → claim → complete cycle
        // straight on SQLite). Writes are serial, so `max + 1` cannot race. Ids are 64 random
        // bits: a collision is retried rather than looked for before every insert.
        var stored: StoredTask?
        for attempt in 1... {
            do {
                stored = try Rows.storedTask(
                    db,
                    returning: """
                        INSERT INTO tasks (id, title, body, assignee, status, priority, tenant, workspace_kind,
                            workspace_path, created_by, created_at, ready_at, idempotency_key, seq)
                        VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, (SELECT coalesce(max(seq), 0) + 1 FROM tasks))
                        """,
                    arguments: [
                        newID(), title, p.body, assignee, status.rawValue, p.priority ?? 0, tenant,
                        workspace.kind, workspace.path, Kernel.normalized(p.createdBy) ?? actor, now,
                        status == .ready ? now : nil, key,
                    ])
                break
            } catch let error as DatabaseError where error.extendedResultCode == .SQLITE_CONSTRAINT_PRIMARYKEY && attempt < 8 {
                continue
            }
        }
        guard let stored else { throw KanbanError(.internal, "the new task's row was not returned") }
        let id = stored.info.id
        for parent in parents {
            try db.cachedStatement(sql: "INSERT INTO links (parent_id, child_id) VALUES (?, ?)")
                .execute(arguments: [parent, id])
        }
        try appendEvent(
            db, &effects, task: id, owner: stored.owner, kind: EventKind.created,
            payload: [
                "assignee": JSONValue(assignee), "status": .string(status.rawValue),
                "parents": .array(parents.map { .string($0) }), "tenant": JSONValue(tenant),
                "priority": .int(Int64(p.priority ?? 0)),
            ], actor: actor)
        if status == .ready && assignee != nil { effects.wakeDispatcher = true }
        return CreateResult(task: stored.info, created: true)
    }

    static func newTaskID() -> String {
        var generator = SystemRandomNumberGenerator()
        let value = generator.next() as UInt64
        let hex = String(value, radix: 16)
        return "t_" + String(repeating: "0", count: 16 - hex.count) + hex
    }

    static func normalized(_ text: String?) -> String? {
        guard let text else { return nil }
        let trimmed = trimmed(text)
        return trimmed.isEmpty ? nil : trimmed
    }

    /// `text` without leading and trailing white space and newlines (Foundation's
    /// `whitespacesAndNewlines`). Text that starts and ends with a visible ASCII character — almost
    /// every title, name and body — is returned as it is without building a `CharacterSet` scan.
    static func trimmed(_ text: String) -> String {
        let utf8 = text.utf8
        if let first = utf8.first, let last = utf8.last, (0x21...0x7E).contains(first), (0x21...0x7E).contains(last) {
            return text
        }
        return text.trimmingCharacters(in: .whitespacesAndNewlines)
    }

    // MARK: assign

    func assign(_ db: Database, _ effects: inout WriteEffects, _ p: AssignParams, actor: String) throws -> TaskInfo {
        let task = try Rows.requireTask(db, p.id)
        let assignee = Kernel.normalized(p.assignee)
        if task.status == .running {
            throw KanbanError(
                .conflict,
                "cannot reassign \(task.id): currently running (claimed). Wait for it to finish, or block it first.")
        }
        if task.status == .archived {
            throw KanbanError(.invalidTransition, "cannot reassign \(task.id): it is archived")
        }
        try db.run(sql: "UPDATE tasks SET assignee = ? WHERE id = ?", arguments: [assignee, task.id])
        try appendEvent(
            db, &effects, task: task.id, kind: EventKind.assigned,
            payload: ["assignee": JSONValue(assignee), "previous": JSONValue(task.assignee)], actor: actor)
        if task.status == .ready && assignee != nil { effects.wakeDispatcher = true }
        return try Rows.requireTask(db, task.id)
    }

    // MARK: links

    func link(_ db: Database, _ effects: inout WriteEffects, _ p: LinkParams, actor: String) throws -> LinkResult {
        guard p.parent != p.child else { throw KanbanError.invalidArgument("a task cannot depend on itself") }
        let parent = try Rows.requireTask(db, p.parent)
        let child = try Rows.requireTask(db, p.child)
        if try Bool.fetchOne(
            cached: db, sql: "SELECT 1 FROM links WHERE parent_id = ? AND child_id = ?", arguments: [parent.id, child.id])
            == true
        {
            return LinkResult(parent: parent.id, child: child.id, childStatus: child.status)
        }
        if try reaches(db, from: child.id, to: parent.id) {
            throw KanbanError.invalidArgument("linking \(parent.id) -> \(child.id) would create a cycle")
        }
        try db.run(sql: "INSERT INTO links (parent_id, child_id) VALUES (?, ?)", arguments: [parent.id, child.id])
        var childStatus = child.status
        let demote = parent.status != .done && child.status == .ready
        if demote {
            try db.run(
                sql: "UPDATE tasks SET status = 'todo', ready_at = NULL WHERE id = ?", arguments: [child.id])
            childStatus = .todo
        }
        try appendEvent(
            db, &effects, task: child.id, kind: EventKind.linked,
            payload: ["parent": .string(parent.id), "child": .string(child.id), "demoted": .bool(demote)],
            actor: actor)
        return LinkResult(parent: parent.id, child: child.id, childStatus: childStatus)
    }

    /// True when `to` is reachable from `from` following parent → child links.
    private func reaches(_ db: Database, from: String, to: String) throws -> Bool {
        let sql = """
            WITH RECURSIVE down(id) AS (
                SELECT ? UNION SELECT links.child_id FROM links JOIN down ON links.parent_id = down.id
            ) SELECT 1 FROM down WHERE id = ? LIMIT 1
            """
        return try Bool.fetchOne(cached: db, sql: sql, arguments: [from, to]) == true
    }

    func unlink(_ db: Database, _ effects: inout WriteEffects, _ p: LinkParams, actor: String) throws -> LinkResult {
        try db.run(
            sql: "DELETE FROM links WHERE parent_id = ? AND child_id = ?", arguments: [p.parent, p.child])
        guard db.changesCount > 0 else {
            throw KanbanError(.notFound, "no such link: \(p.parent) -> \(p.child)")
        }
        try appendEvent(
            db, &effects, task: p.child, kind: EventKind.unlinked,
            payload: ["parent": .string(p.parent), "child": .string(p.child)], actor: actor)
        try promoteIfReady(db, &effects, p.child, actor: actor)
        let child = try Rows.requireTask(db, p.child)
        return LinkResult(parent: p.parent, child: p.child, childStatus: child.status)
    }

    // MARK: promotion

    /// Moves a `todo` task to `ready` when every parent is done. `announce: false` is for
    /// transitions whose own event already says the task is back (unblock).
    func promoteIfReady(
        _ db: Database, _ effects: inout WriteEffects, _ id: String, actor: String?, announce: Bool = true
    ) throws {
        guard try unfinishedParents(db, id) == 0 else { return }
        try db.cachedStatement(
            sql: "UPDATE tasks SET status = 'ready', ready_at = ? WHERE id = ? AND status = 'todo'"
        ).execute(arguments: [clock.nowMillis(), id])
        guard db.changesCount > 0 else { return }
        if announce { try appendEvent(db, &effects, task: id, kind: EventKind.promoted, actor: actor) }
        try wakeIfDispatchable(db, &effects, id)
    }

    func unfinishedParents(_ db: Database, _ id: String) throws -> Int {
        try Int.fetchOne(
            db.cachedStatement(
                sql: """
                    SELECT count(*) FROM links JOIN tasks p ON p.id = links.parent_id
                    WHERE links.child_id = ? AND p.status != 'done'
                    """), arguments: [id]) ?? 0
    }

    /// Promotes the children of a task that just finished.
    func promoteChildren(_ db: Database, _ effects: inout WriteEffects, of id: String, actor: String?) throws {
        let children = try String.fetchAll(
            db.cachedStatement(
                sql: """
                    SELECT links.child_id FROM links JOIN tasks c ON c.id = links.child_id
                    WHERE links.parent_id = ? AND c.status = 'todo'
                    """), arguments: [id])
        for child in children { try promoteIfReady(db, &effects, child, actor: actor) }
    }

    func promote(_ db: Database, _ effects: inout WriteEffects, _ p: PromoteParams, actor: String) throws -> TaskInfo {
        let task = try Rows.requireTask(db, p.id)
        guard task.status == .triage else {
            throw KanbanError(
                .invalidTransition, "cannot promote \(task.id): status is \(task.status.rawValue), not triage")
        }
        let target = try p.to.map { try TaskStatus.parse($0) } ?? .ready
        guard target == .ready || target == .todo else {
            throw KanbanError.invalidArgument("promote target must be ready or todo")
        }
        let unfinished = try unfinishedParents(db, task.id)
        let status: TaskStatus = target == .ready && unfinished == 0 ? .ready : .todo
        try db.run(
            sql: "UPDATE tasks SET status = ?, ready_at = ? WHERE id = ?",
            arguments: [status.rawValue, status == .ready ? clock.nowMillis() : nil, task.id])
        try appendEvent(
            db, &effects, task: task.id, kind: EventKind.promoted,
            payload: ["from": "triage", "to": .string(status.rawValue)], actor: actor)
        if status == .ready { try wakeIfDispatchable(db, &effects, task.id) }
        return try Rows.requireTask(db, task.id)
    }

    // MARK: comments

    func comment(_ db: Database, _ effects: inout WriteEffects, _ p: CommentParams, actor: String) throws
        -> CommentInfo
    {
        let body = Kernel.trimmed(p.body)
        guard !body.isEmpty else { throw KanbanError.invalidArgument("comment body is required") }
        let stored = try Rows.requireStoredTask(db, p.id)
        let task = stored.info
        if let run = p.runID { try checkFence(task, run: run) }
        let author = Kernel.normalized(p.author) ?? actor
        let now = clock.nowMillis()
        try db.run(
            sql: "INSERT INTO comments (task_id, author, body, created_at) VALUES (?, ?, ?, ?)",
            arguments: [task.id, author, body, now])
        let id = db.lastInsertedRowID
        try appendEvent(
            db, &effects, task: task.id, owner: stored.owner, kind: EventKind.commented,
            payload: ["author": .string(author), "len": .int(Int64(body.utf8.count))], run: p.runID, actor: actor)
        return CommentInfo(id: id, taskID: task.id, author: author, body: body, createdAt: now.seconds)
    }

    // MARK: run fencing

    /// Refuses a worker call whose run is not the task's live run.
    func checkFence(_ task: TaskInfo, run: Int64) throws {
        guard task.status == .running, task.currentRunID == run else {
            throw KanbanError(
                .staleRun,
                "run \(run) is not the live run of \(task.id) (status \(task.status.rawValue)"
                    + (task.currentRunID.map { ", live run \($0)" } ?? "") + ")",
                details: ["id": .string(task.id), "run_id": .int(run)])
        }
    }

    /// Ends the task's live run with `outcome`. When the caller is not that run's own worker, the
    /// worker process is asked to stop after the commit.
    func endCurrentRun(
        _ db: Database, _ effects: inout WriteEffects, _ task: TaskInfo, outcome: String, callerRun: Int64?,
        exitCode: Int32? = nil, signal: Int32? = nil, error: String? = nil
    ) throws {
        guard let run = task.currentRunID else { return }
        let end = try db.cachedStatement(
            sql: """
                UPDATE runs SET outcome = ?, ended_at = ?, exit_code = coalesce(?, exit_code),
                    signal = coalesce(?, signal), error = coalesce(?, error)
                WHERE id = ? AND outcome = 'running'
                RETURNING claimer
                """)
        try end.setArguments([outcome, clock.nowMillis(), exitCode, signal, error, run])
        var ended = false
        var claimer = try RawColumns.first(end) { row -> String? in
            ended = true
            return row.optionalString(0)
        } ?? nil
        if !ended {
            claimer = try String.fetchOne(db.cachedStatement(sql: "SELECT claimer FROM runs WHERE id = ?"), arguments: [run])
        }
        // Only a dispatcher run has a worker to stop and a slot to free; an external claim has neither.
        guard claimer == Kernel.dispatcherClaimer else { return }
        if callerRun != run { effects.terminateRuns.append(run) }
        effects.wakeDispatcher = true
    }

    /// Wakes the dispatcher when `id` is ready and assigned: only then can a pass start something.
    func wakeIfDispatchable(_ db: Database, _ effects: inout WriteEffects, _ id: String) throws {
        let assigned = try Bool.fetchOne(
            db.cachedStatement(sql: "SELECT assignee IS NOT NULL FROM tasks WHERE id = ? AND status = 'ready'"),
            arguments: [id]) ?? false
        if assigned { effects.wakeDispatcher = true }
    }

    // MARK: complete, block, unblock, archive

    func complete(_ db: Database, _ effects: inout WriteEffects, _ p: CompleteParams, actor: String) throws
        -> TaskInfo
    {
        let task = try Rows.requireStoredTask(db, p.id).info
        if let run = p.runID { try checkFence(task, run: run) }
        guard [.running, .ready, .blocked].contains(task.status) else {
            throw KanbanError(
                .invalidTransition, "cannot complete \(task.id): status is \(task.status.rawValue)",
                details: ["id": .string(task.id), "status": .string(task.status.rawValue)])
        }
        try endCurrentRun(db, &effects, task, outcome: "completed", callerRun: p.runID)
        let now = clock.nowMillis()
        let done = try Rows.storedTask(
            db,
            returning: """
                UPDATE tasks SET status = 'done', result = ?, completed_at = ?, current_run = NULL,
                    claim_expires = NULL, failures = 0, last_error = NULL, block_reason = NULL, ready_at = NULL
                WHERE id = ?
                """, arguments: [p.result, now, task.id])
        try appendEvent(
            db, &effects, task: task.id, owner: done?.owner, kind: EventKind.completed,
            payload: [
                "result_len": .int(Int64(p.result?.utf8.count ?? 0)),
                "summary": JSONValue(p.result.map { Kernel.firstLine($0, limit: 200) }),
            ], run: task.currentRunID, actor: actor)
        try promoteChildren(db, &effects, of: task.id, actor: actor)
        // Promoting children never changes this task: the row the UPDATE returned is current.
        guard let done else { throw KanbanError.notFound(task.id) }
        return done.info
    }

    static func firstLine(_ text: String, limit: Int) -> String {
        let line = text.split(separator: "\n", maxSplits: 1, omittingEmptySubsequences: true).first.map(String.init) ?? ""
        return line.count > limit ? String(line.prefix(limit)) + "…" : line
    }

    func block(_ db: Database, _ effects: inout WriteEffects, _ p: BlockParams, actor: String) throws -> TaskInfo {
        let task = try Rows.requireTask(db, p.id)
        if let run = p.runID { try checkFence(task, run: run) }
        guard [.running, .ready, .todo].contains(task.status) else {
            throw KanbanError(
                .invalidTransition, "cannot block \(task.id): status is \(task.status.rawValue)",
                details: ["id": .string(task.id), "status": .string(task.status.rawValue)])
        }
        let reason = Kernel.normalized(p.reason)
        try endCurrentRun(db, &effects, task, outcome: "blocked", callerRun: p.runID)
        try db.cachedStatement(
            sql: """
                UPDATE tasks SET status = 'blocked', block_reason = ?, current_run = NULL, claim_expires = NULL,
                    ready_at = NULL
                WHERE id = ?
                """
        ).execute(arguments: [reason, task.id])
        try appendEvent(
            db, &effects, task: task.id, kind: EventKind.blocked, payload: ["reason": JSONValue(reason)],
            run: task.currentRunID, actor: actor)
        return try Rows.requireTask(db, task.id)
    }

    func unblock(_ db: Database, _ effects: inout WriteEffects, _ p: IDParams, actor: String) throws -> TaskInfo {
        let task = try Rows.requireTask(db, p.id)
        guard task.status == .blocked else {
            throw KanbanError(
                .invalidTransition, "cannot unblock \(task.id): status is \(task.status.rawValue), not blocked",
                details: ["id": .string(task.id), "status": .string(task.status.rawValue)])
        }
        // A manual unblock resets the circuit breaker: the human has looked at the failure.
        try db.run(
            sql: "UPDATE tasks SET status = 'todo', block_reason = NULL, failures = 0, last_error = NULL WHERE id = ?",
            arguments: [task.id])
        try appendEvent(
            db, &effects, task: task.id, kind: EventKind.unblocked,
            payload: ["failures_reset": .int(Int64(task.consecutiveFailures))], actor: actor)
        try promoteIfReady(db, &effects, task.id, actor: actor, announce: false)
        return try Rows.requireTask(db, task.id)
    }

    func archive(_ db: Database, _ effects: inout WriteEffects, _ p: IDParams, actor: String) throws -> TaskInfo {
        let task = try Rows.requireTask(db, p.id)
        guard task.status != .archived else {
            throw KanbanError(.invalidTransition, "cannot archive \(task.id): already archived")
        }
        try endCurrentRun(db, &effects, task, outcome: "archived", callerRun: nil)
        try db.run(
            sql: """
                UPDATE tasks SET status = 'archived', current_run = NULL, claim_expires = NULL, ready_at = NULL
                WHERE id = ?
                """, arguments: [task.id])
        try appendEvent(
            db, &effects, task: task.id, kind: EventKind.archived,
            payload: ["from": .string(task.status.rawValue)], actor: actor)
        return try Rows.requireTask(db, task.id)
    }

    // MARK: claims

    /// Claims a ready task: opens a run and moves the task to running. Used by `kanbanctl claim`
    /// (an external worker) and by the dispatcher.
    /// `assignee`, when given, must still be the task's: the dispatcher chose the worker to run
    /// for the assignee it read before claiming.
    func claim(
        _ db: Database, _ effects: inout WriteEffects, id: String, ttlSeconds: Double, claimer: String,
        actor: String, assignee: String? = nil
    ) throws -> ClaimResult {
        let task = try Rows.requireTask(db, id)
        guard task.status == .ready else {
            throw KanbanError(
                .conflict, "cannot claim \(task.id): status=\(task.status.rawValue)",
                details: ["id": .string(task.id), "status": .string(task.status.rawValue)])
        }
        if let assignee, task.assignee != assignee {
            throw KanbanError(
                .conflict, "cannot claim \(task.id) for \(assignee): it was reassigned",
                details: ["id": .string(task.id), "status": .string(task.status.rawValue)])
        }
        guard ttlSeconds > 0 else { throw KanbanError.invalidArgument("claim ttl must be positive") }
        let now = clock.nowMillis()
        let expires = now + Int64(ttlSeconds * 1000)
        try db.cachedStatement(
            sql: "INSERT INTO runs (task_id, assignee, claimer, started_at, outcome) VALUES (?, ?, ?, ?, 'running')"
        ).execute(arguments: [task.id, task.assignee, claimer, now])
        let run = db.lastInsertedRowID
        guard let claimed = try Rows.storedTask(
            db,
            returning: """
                UPDATE tasks SET status = 'running', current_run = ?, claim_expires = ?,
                    started_at = coalesce(started_at, ?), ready_at = NULL
                WHERE id = ?
                """, arguments: [run, expires, now, task.id])
        else { throw KanbanError.notFound(task.id) }
        try appendEvent(
            db, &effects, task: task.id, owner: claimed.owner, kind: EventKind.claimed,
            payload: ["claimer": .string(claimer), "expires": .double(expires.seconds)], run: run, actor: actor)
        return ClaimResult(
            task: claimed.info, runID: run, claimExpires: expires.seconds, workspace: claimed.info.workspacePath)
    }

    func heartbeat(
        _ db: Database, _ effects: inout WriteEffects, _ p: HeartbeatParams, ttlSeconds: Double, actor: String
    ) throws -> ClaimResult {
        let task = try Rows.requireTask(db, p.id)
        guard task.status == .running, let current = task.currentRunID else {
            if let run = p.runID { try checkFence(task, run: run) }
            throw KanbanError(
                .invalidTransition, "cannot heartbeat \(task.id): status is \(task.status.rawValue), not running")
        }
        if let run = p.runID { try checkFence(task, run: run) }
        let now = clock.nowMillis()
        let expires = now + Int64(ttlSeconds * 1000)
        guard let beaten = try Rows.storedTask(
            db, returning: "UPDATE tasks SET claim_expires = ? WHERE id = ?", arguments: [expires, task.id])
        else { throw KanbanError.notFound(task.id) }
        try db.cachedStatement(sql: "UPDATE runs SET heartbeat_at = ? WHERE id = ?").execute(arguments: [now, current])
        if let note = Kernel.normalized(p.note) {
            try appendEvent(
                db, &effects, task: task.id, owner: beaten.owner, kind: EventKind.heartbeat,
                payload: ["note": .string(note)], run: current, actor: actor)
        }
        return ClaimResult(
            task: beaten.info, runID: current, claimExpires: expires.seconds, workspace: task.workspacePath)
    }
}
