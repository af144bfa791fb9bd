import Foundation
import GRDB
import KanbanClient
import KanbanProtocol

/// A board at scale: 100k tasks (10k ready, 5k todo behind unfinished parents, the rest done) and
/// 1M events, seeded straight into the database kanband created, then served by kanband.
enum Scale {
    static func run(quick: Bool) throws -> [Row] {
        let taskCount = quick ? 20_000 : 100_000
        let eventCount = quick ? 200_000 : 1_000_000
        let readyCount = quick ? 2_000 : 10_000
        let todoCount = quick ? 1_000 : 5_000
        let daemon = try BenchDaemon(config: "interval = 3600\n")
        defer { daemon.cleanup() }
        try daemon.start()
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
            let insert = try db.makeStatement(sql: """
                INSERT INTO events (task_id, run_id, kind, payload, actor, created_at) VALUES (?, ?, ?, ?, ?, ?)
                """)
            let kinds = ["created", "claimed", "spawned", "commented", "completed"]
            let payloads = [
                "{\"assignee\":\"agent-3\",\"status\":\"ready\",\"parents\":[],\"tenant\":null,\"priority\":0}",
                "{\"claimer\":\"kanband\",\"expires\":1795632221.564}",
                "{\"pid\":43121,\"workspace\":\"/home/u/.local/state/kanban/workspaces/t_0000000000012345\"}",
                "{\"author\":\"agent-3\",\"len\":42}",
                "{\"result_len\":8,\"summary\":\"finished\"}",
            ]
            for index in 0..<eventCount {
                let kind = index % kinds.count
                try insert.execute(arguments: [
                    taskID(index % taskCount), kind == 0 ? nil : index / 5, kinds[kind], payloads[kind], "kanband",
                    base + Int64(index),
                ])
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

    static func taskID(_ index: Int) -> String {
        let hex = String(index, radix: 16)
        return "t_" + String(repeating: "0", count: 16 - hex.count) + hex
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
