import Foundation
import GRDB
import KanbanProtocol

/// How a run ended, as the dispatcher observed it.
struct RunEnding: Sendable {
    /// `crashed`, `exited_without_result`, `timed_out`, `reclaimed`, `spawn_failed`.
    var outcome: String
    var exitCode: Int32? = nil
    var signal: Int32? = nil
    var error: String? = nil
    var logTail: String? = nil
    /// Crashes, timeouts and spawn failures count toward the circuit breaker; reclaims do not.
    var countsAsFailure: Bool
    var extra: [String: JSONValue] = [:]
}

/// A live run as stored, for re-adoption after a restart.
struct StoredRun: Sendable {
    var id: Int64
    var taskID: String
    var pid: Int32?
    var pidStartTime: Int64?
    var claimer: String?
    var startedAt: Int64
}

extension Kernel {
    static let dispatcherClaimer = "kanband"

    /// Records the worker process of a run the dispatcher just started.
    /// Records a started worker's pid. Returns false when its run has already ended (archived,
    /// blocked or completed between the claim and the spawn): the worker must then be stopped.
    @discardableResult
    func recordSpawn(
        _ db: Database, _ effects: inout WriteEffects, run: Int64, taskID: String, pid: Int32, startTime: Int64?,
        workspace: String
    ) throws -> Bool {
        try db.run(
            sql: "UPDATE runs SET pid = ?, pid_start_time = ?, workspace = ? WHERE id = ?",
            arguments: [pid, startTime, workspace, run])
        let live = try String.fetchOne(db.cachedStatement(sql: "SELECT outcome FROM runs WHERE id = ?"), arguments: [run])
            == "running"
        try db.run(sql: "UPDATE tasks SET workspace_path = ? WHERE id = ?", arguments: [workspace, taskID])
        try appendEvent(
            db, &effects, task: taskID, kind: EventKind.spawned,
            payload: ["pid": .int(Int64(pid)), "workspace": .string(workspace)], run: run, actor: Kernel.dispatcherClaimer)
        return live
    }

    /// Ends a run the way the dispatcher saw it end. If the run was still the task's live run the
    /// task goes back to ready — or to blocked when the failure count reaches `failureLimit`.
    /// If the run had already ended (the worker completed or blocked first), only the exit status
    /// is recorded. Returns true when the task changed.
    @discardableResult
    func finishRun(
        _ db: Database, _ effects: inout WriteEffects, run: Int64, ending: RunEnding, failureLimit: Int
    ) throws -> Bool {
        guard let row = try Row.fetchOne(cached: db, sql: "SELECT task_id, outcome FROM runs WHERE id = ?", arguments: [run])
        else { return false }
        let taskID: String = row[0]
        let outcome: String = row[1]
        let now = clock.nowMillis()
        guard outcome == "running", let task = try Rows.fetchTask(db, taskID), task.status == .running,
            task.currentRunID == run
        else {
            try db.run(
                sql: """
                    UPDATE runs SET exit_code = coalesce(exit_code, ?), signal = coalesce(signal, ?),
                        outcome = CASE WHEN outcome = 'running' THEN ? ELSE outcome END,
                        ended_at = coalesce(ended_at, ?)
                    WHERE id = ?
                    """, arguments: [ending.exitCode, ending.signal, ending.outcome, now, run])
            return false
        }
        try db.run(
            sql: "UPDATE runs SET outcome = ?, ended_at = ?, exit_code = ?, signal = ?, error = ? WHERE id = ?",
            arguments: [ending.outcome, now, ending.exitCode, ending.signal, ending.error, run])
        var payload: [String: JSONValue] = ending.extra
        payload["exit_code"] = ending.exitCode.map { .int(Int64($0)) } ?? .null
        payload["signal"] = ending.signal.map { .int(Int64($0)) } ?? .null
        if let error = ending.error { payload["error"] = .string(error) }
        if let tail = ending.logTail { payload["log_tail"] = .string(tail) }
        effects.wakeDispatcher = true
        // Back to ready — or to todo when a parent linked while it ran is not done yet.
        let waiting = try unfinishedParents(db, taskID) > 0
        let back = waiting ? "todo" : "ready"
        let readyAt: Int64? = waiting ? nil : now
        guard ending.countsAsFailure else {
            try db.run(
                sql: """
                    UPDATE tasks SET status = ?, current_run = NULL, claim_expires = NULL, ready_at = ?
                    WHERE id = ?
                    """, arguments: [back, readyAt, taskID])
            try appendEvent(
                db, &effects, task: taskID, kind: ending.outcome, payload: .object(payload), run: run,
                actor: Kernel.dispatcherClaimer)
            return true
        }
        let failures = task.consecutiveFailures + 1
        let error = String((ending.error ?? Kernel.describe(ending)).prefix(500))
        payload["failures"] = .int(Int64(failures))
        let gaveUp = failures >= failureLimit
        try db.run(
            sql: """
                UPDATE tasks SET status = ?, current_run = NULL, claim_expires = NULL, failures = ?, last_error = ?,
                    ready_at = ?, block_reason = ?
                WHERE id = ?
                """,
            arguments: [
                gaveUp ? "blocked" : back, failures, error, gaveUp ? nil : readyAt,
                gaveUp ? "gave up after \(failures) consecutive failures: \(error)" : nil, taskID,
            ])
        try appendEvent(
            db, &effects, task: taskID, kind: ending.outcome, payload: .object(payload), run: run,
            actor: Kernel.dispatcherClaimer)
        if gaveUp {
            try appendEvent(
                db, &effects, task: taskID, kind: EventKind.gaveUp,
                payload: ["failures": .int(Int64(failures)), "limit": .int(Int64(failureLimit)), "error": .string(error)],
                run: run, actor: Kernel.dispatcherClaimer)
        }
        return true
    }

    static func describe(_ ending: RunEnding) -> String {
        if let signal = ending.signal { return "worker killed by signal \(signal)" }
        if let code = ending.exitCode {
            return code == 0 ? "worker exited 0 without completing its task" : "worker exited with status \(code)"
        }
        return ending.outcome
    }

    /// Puts a running task that has no run row back to ready (a claim from before runs existed).
    func releaseRunlessClaim(_ db: Database, _ effects: inout WriteEffects, taskID: String) throws {
        try db.run(
            sql: """
                UPDATE tasks SET status = 'ready', current_run = NULL, claim_expires = NULL, ready_at = ?
                WHERE id = ? AND status = 'running' AND current_run IS NULL
                """, arguments: [clock.nowMillis(), taskID])
        guard db.changesCount > 0 else { return }
        try appendEvent(
            db, &effects, task: taskID, kind: EventKind.reclaimed, payload: ["error": "claim expired"],
            actor: Kernel.dispatcherClaimer)
        effects.wakeDispatcher = true
    }

    /// Runs the daemon still considers live.
    func liveRuns(_ db: Database) throws -> [StoredRun] {
        try Row.fetchAll(
            cached: db,
            sql: """
                SELECT r.id, r.task_id, r.pid, r.pid_start_time, r.claimer, r.started_at FROM runs r
                JOIN tasks t ON t.id = r.task_id AND t.current_run = r.id AND t.status = 'running'
                WHERE r.outcome = 'running'
                """
        ).map { StoredRun(id: $0[0], taskID: $0[1], pid: $0[2], pidStartTime: $0[3], claimer: $0[4], startedAt: $0[5]) }
    }

    /// Running tasks whose claim has expired.
    func expiredClaims(_ db: Database, now: Int64) throws -> [(taskID: String, run: Int64?)] {
        try Row.fetchAll(
            cached: db, sql: "SELECT id, current_run FROM tasks WHERE status = 'running' AND claim_expires < ?", arguments: [now]
        ).map { ($0[0], $0[1]) }
    }

    /// Ends runs left `running` on tasks that are no longer running on them (bookkeeping repair).
    func closeOrphanRuns(_ db: Database) throws {
        try db.run(
            sql: """
                UPDATE runs SET outcome = 'released', ended_at = ?
                WHERE outcome = 'running' AND id NOT IN (SELECT current_run FROM tasks WHERE current_run IS NOT NULL)
                """, arguments: [clock.nowMillis()])
    }

    /// Promotes every todo task whose parents are all done. Promotion is event-driven, so this
    /// only runs once at start, to repair a board written by something else.
    func promoteAllReady(_ db: Database, _ effects: inout WriteEffects) throws -> [String] {
        let ids = try String.fetchAll(
            cached: db,
            sql: """
                SELECT t.id FROM tasks t WHERE t.status = 'todo' AND NOT EXISTS (
                    SELECT 1 FROM links l JOIN tasks p ON p.id = l.parent_id
                    WHERE l.child_id = t.id AND p.status != 'done')
                """)
        for id in ids { try promoteIfReady(db, &effects, id, actor: Kernel.dispatcherClaimer) }
        return ids
    }
}
