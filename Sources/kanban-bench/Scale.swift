import Foundation
import GRDB
import KanbanClient
import KanbanProtocol

/// A board at scale: 100k tasks (10k ready, 5k todo behind unfinished parents, the rest done) and
/// 1M events, seeded straight into the database kanband created, then served by kanband.
///
/// The events are copies of rows kanband itself wrote: a few tasks first go through a real
/// create → claim → spawn → comment → complete cycle with a worker process, and their stored rows
/// are replicated onto the seeded tasks. So bytes per event measures kanband's own storage format.
enum Scale {
    /// The worker profile of the template cycles, and what its worker says.
    static let worker = "bench-agent"
    static let workerComment = "Picked this up: reading the brief and the parent results before changing anything."
    static let workerResult = "Done: the change is in place, the tests pass and the notes are in the task thread."

    static func run(quick: Bool) throws -> [Row] {
        let taskCount = quick ? 20_000 : 100_000
        let eventCount = quick ? 200_000 : 1_000_000
        let readyCount = quick ? 2_000 : 10_000
        let todoCount = quick ? 1_000 : 5_000
        let daemon = try BenchDaemon(config: """
            interval = 3600

            [workers.\(worker)]
            command = ["/bin/sh", "-c", \(tomlString(workerScript))]
            """)
        defer { daemon.cleanup() }
        try daemon.start()
        let templateTasks = try runTemplateCycles(daemon, count: 4)
        daemon.stop()
        let path = daemon.home + "/kanban.db"
        let queue = try DatabaseQueue(path: path)
        let base = Int64(Date().timeIntervalSince1970 * 1000) - 86_400_000
        let blockers = 50
        try queue.write { db in
            let insert = try db.makeStatement(sql: """
                INSERT INTO tasks (id, title, body, assignee, status, priority, created_at, ready_at, completed_at, result, created_by)
                VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, 'bench')
                """)
            for index in 0..<taskCount {
                let status: String
                if index < blockers {
                    status = "blocked"
                } else if index < blockers + todoCount {
                    status = "todo"
                } else if index < blockers + todoCount + readyCount {
                    status = "ready"
                } else {
                    status = "done"
                }
                let created = base + Int64(index)
                try insert.execute(arguments: [
                    taskID(index), "Task number \(index) with a realistic title", "A body describing the work to do.",
                    status == "ready" ? nil : "agent-\(index % 8)", status, index % 3, created,
                    status == "ready" ? created : nil, status == "done" ? created + 1000 : nil,
                    status == "done" ? "finished" : nil,
                ])
            }
            let link = try db.makeStatement(sql: "INSERT INTO links (parent_id, child_id) VALUES (?, ?)")
            for index in blockers..<(blockers + todoCount) {
                try link.execute(arguments: [taskID(index % blockers), taskID(index)])
            }
        }
        try queue.writeWithoutTransaction { db in try db.execute(sql: "PRAGMA wal_checkpoint(TRUNCATE)") }
        let sizeBefore = fileSize(path)
        try queue.write { db in
            let templates = try templateEvents(db, tasks: templateTasks)
            let numbers = try Dictionary(
                uniqueKeysWithValues: GRDB.Row.fetchAll(db, sql: "SELECT id, seq FROM tasks").map { ($0[0] as String, $0[1] as Int64) })
            let insert = try db.makeStatement(sql: """
                INSERT INTO events (task_seq, run_id, kind, payload, actor, created_at) VALUES (?, ?, ?, ?, ?, ?)
                """)
            var runID = try Int64.fetchOne(db, sql: "SELECT max(id) FROM runs") ?? 0
            var written = 0
            var cycle = 0
            while written < eventCount {
                // Cycle after cycle, each on the next task (round robin) from the next template.
                let task = taskID(cycle % taskCount)
                let template = templates[cycle % templates.count]
                var runs: [Int64: Int64] = [:]
                for event in template.events where written < eventCount {
                    // Each template run becomes a new run of the copy.
                    var run: Int64?
                    if let old = event.runID {
                        if runs[old] == nil {
                            runID += 1
                            runs[old] = runID
                        }
                        run = runs[old]
                    }
                    try insert.execute(arguments: [
                        numbers[task], run, event.kind,
                        event.payload?.replacingOccurrences(of: template.taskID, with: task), event.actor,
                        base + Int64(written),
                    ])
                    written += 1
                }
                cycle += 1
            }
        }
        try queue.writeWithoutTransaction { db in try db.execute(sql: "PRAGMA wal_checkpoint(TRUNCATE)") }
        let sizeAfter = fileSize(path)
        try queue.close()
        let bytesPerEvent = Double(sizeAfter - sizeBefore) / Double(eventCount)

        // Open: kanband start until the socket answers (migration check, recovery, first tick).
        let open = try daemon.start()
        let client = try daemon.client()
        let rounds = quick ? 50 : 200
        var complete = Samples()
        for _ in 0..<rounds {
            let created: CreateResult = try client.call(.taskCreate, CreateParams(title: "scale complete"))
            let start = nowNanos()
            let _: TaskResult = try client.call(.taskComplete, CompleteParams(id: created.task.id, result: "ok"))
            complete.add(nowNanos() - start)
        }
        // Completing a parent with 100 waiting children (walks its children, not the board).
        var stats = Samples()
        for _ in 0..<(quick ? 10 : 30) {
            let start = nowNanos()
            let _: StatsResult = try client.call(.boardStats, Empty())
            stats.add(nowNanos() - start)
        }
        var ticks = Samples()
        for _ in 0..<(quick ? 10 : 30) {
            let _: DispatchReport = try client.call(.dispatchRun, DispatchParams())
            let status: StatusResult = try client.call(.systemStatus, Empty())
            if let seconds = status.dispatcher.lastTickSeconds { ticks.add(UInt64(seconds * 1e9)) }
        }
        var list = Samples()
        let env = ["KANBAN_HOME=\(daemon.home)", "PATH=/usr/bin:/bin"]
        for _ in 0..<(quick ? 5 : 10) {
            let start = nowNanos()
            _ = spawnAndWait([Binaries.kanbanctl, "list", "--status", "ready"], env: env)
            list.add(nowNanos() - start)
        }
        let rss = Double(daemon.rssBytes) / 1_048_576
        let label = "\(taskCount / 1000)k tasks/\(eventCount / 1000)k events"
        return [
            Row(name: "scale \(label): complete p50", value: complete.p50 / 1000, unit: "ms", target: "≤ 1 ms",
                pass: complete.p50 / 1000 <= 1),
            Row(name: "scale: kanbanctl list --status ready (\(readyCount) rows)", value: list.p50 / 1000, unit: "ms",
                target: "≤ 40 ms", pass: list.p50 / 1000 <= 40),
            Row(name: "scale: stats p50", value: stats.p50 / 1000, unit: "ms", target: "≤ 10 ms", pass: stats.p50 / 1000 <= 10),
            Row(name: "scale: idle dispatcher tick p50", value: ticks.p50 / 1000, unit: "ms", target: "≤ 2 ms",
                pass: ticks.p50 / 1000 <= 2),
            Row(name: "scale: open (start → socket answers)", value: Double(open) / 1e6, unit: "ms", target: "≤ 200 ms",
                pass: Double(open) / 1e6 <= 200),
            Row(name: "scale: database bytes per event", value: bytesPerEvent, unit: "B", target: "≤ 100 B",
                pass: bytesPerEvent <= 100),
            Row(name: "scale: daemon RSS", value: rss, unit: "MiB", target: "≤ 64 MiB", pass: rss <= 64),
        ]
    }

    /// Task ids spread over all 64 bits, as kanband's random ones are (a bijective mix of `index`).
    static func taskID(_ index: Int) -> String {
        var z = UInt64(index) &+ 0x9E37_79B9_7F4A_7C15
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        z ^= z >> 31
        let hex = String(z, radix: 16)
        return "t_" + String(repeating: "0", count: 16 - hex.count) + hex
    }

    /// What the template worker runs: it comments, then completes its task, through kanbanctl
    /// (KANBAN_TASK_ID and KANBAN_RUN_ID come from the dispatcher).
    static var workerScript: String {
        let ctl = Binaries.kanbanctl
        return "'\(ctl)' comment '\(workerComment)' >/dev/null && '\(ctl)' complete --result '\(workerResult)' >/dev/null"
    }

    static func tomlString(_ text: String) -> String {
        "\"" + text.replacingOccurrences(of: "\\", with: "\\\\").replacingOccurrences(of: "\"", with: "\\\"") + "\""
    }

    /// Creates `count` tasks for the bench worker and waits until the dispatcher has run each to
    /// completion. Returns their ids.
    static func runTemplateCycles(_ daemon: BenchDaemon, count: Int) throws -> [String] {
        let client = try daemon.client()
        var ids: [String] = []
        for index in 0..<count {
            let created: CreateResult = try client.call(
                .taskCreate,
                CreateParams(
                    title: "Template task \(index): update the release notes for the next version",
                    body: "Collect the merged changes since the last tag and write them up.", assignee: worker))
            ids.append(created.task.id)
        }
        let deadline = nowNanos() + 30_000_000_000
        for id in ids {
            while true {
                let detail: TaskDetail = try client.call(.taskGet, GetParams(id: id, events: 0))
                if detail.task.status == .done { break }
                guard nowNanos() < deadline, detail.task.status != .blocked else {
                    throw BenchError("template task \(id) did not complete (status \(detail.task.status.rawValue))")
                }
                usleep(2_000)
            }
        }
        return ids
    }

    /// One template task's events as kanband stored them, oldest first.
    struct Template {
        var taskID: String
        var events: [(runID: Int64?, kind: DatabaseValue, payload: String?, actor: String?)]
    }

    static func templateEvents(_ db: Database, tasks: [String]) throws -> [Template] {
        try tasks.map { id in
            let rows = try GRDB.Row.fetchAll(
                db,
                sql: """
                    SELECT e.run_id, e.kind, e.payload, e.actor FROM events e JOIN tasks t ON t.seq = e.task_seq
                    WHERE t.id = ? ORDER BY e.id
                    """, arguments: [id])
            guard rows.count >= 5 else { throw BenchError("template task \(id) has only \(rows.count) events") }
            return Template(taskID: id, events: rows.map { ($0[0], $0[1], $0[2], $0[3]) })
        }
    }

    static func fileSize(_ path: String) -> Int64 {
        var info = stat()
        return stat(path, &info) == 0 ? Int64(info.st_size) : 0
    }
}

extension Row {
    init(name: String, value: Double, unit: String, target: String, pass: Bool?) {
        self.init(name: name, value: value, unit: unit, baselineName: nil, baseline: nil, ratio: nil, target: target, pass: pass)
    }
}
