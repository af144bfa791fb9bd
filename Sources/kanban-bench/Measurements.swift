import Foundation
import GRDB
import KanbanClient
import KanbanProtocol

/// One line of the report: a figure, its same-run baseline, and the target it is held to.
struct Row: Codable {
    var name: String
    var value: Double
    var unit: String
    var baselineName: String?
    var baseline: Double?
    var ratio: Double?
    var target: String
    var pass: Bool?
}

func rpcFrame<P: Encodable>(_ method: Method, _ params: P, id: Int = 1) -> [UInt8] {
    WireJSON.encode(RPCRequest(id: .int(Int64(id)), method: method.rawValue, params: params))
}

func roundTrips(_ connection: SocketConnection, frame: [UInt8], count: Int, warmup: Int = 1000) throws -> Samples {
    var samples = Samples()
    samples.values.reserveCapacity(count)
    for index in 0..<(count + warmup) {
        let start = nowNanos()
        try connection.send(frame)
        guard try connection.receive() != nil else { throw BenchError("connection closed") }
        if index >= warmup { samples.add(nowNanos() - start) }
    }
    return samples
}

enum Measurements {
    // MARK: RPC round trip

    static func rpc(quick: Bool) throws -> [Row] {
        let daemon = try BenchDaemon()
        defer { daemon.cleanup() }
        try daemon.start()
        let client = try daemon.client()
        let created: CreateResult = try client.call(.taskCreate, CreateParams(title: "bench read target", body: "body"))
        let echoPath = daemon.home + "/echo.sock"
        let echo = Process()
        echo.executableURL = URL(fileURLWithPath: Binaries.bench)
        echo.arguments = ["echo-server", echoPath]
        try echo.run()
        defer {
            echo.terminate()
            echo.waitUntilExit()
        }
        var echoConnection: SocketConnection?
        for _ in 0..<200 {
            if let connection = try? SocketConnection(path: echoPath) {
                echoConnection = connection
                break
            }
            usleep(5000)
        }
        guard let echoConnection else { throw BenchError("echo server did not start") }
        let count = quick ? 5000 : 20000
        let readFrame = rpcFrame(.taskGet, GetParams(id: created.task.id, events: 0))
        let writeFrame = rpcFrame(.taskComment, CommentParams(id: created.task.id, body: "a comment of moderate length"))
        let connection = try SocketConnection(path: daemon.socket)
        let echoRead = try roundTrips(echoConnection, frame: readFrame, count: count)
        let read = try roundTrips(connection, frame: readFrame, count: count)
        let echoWrite = try roundTrips(echoConnection, frame: writeFrame, count: count / 4)
        let write = try roundTrips(connection, frame: writeFrame, count: count / 4, warmup: 200)
        return [
            Row(name: "rpc read task.get p50", value: read.p50, unit: "µs", baselineName: "echo p50", baseline: echoRead.p50,
                ratio: read.p50 / echoRead.p50, target: "≤ 3× echo", pass: read.p50 / echoRead.p50 <= 3),
            Row(name: "rpc read task.get p99", value: read.p99, unit: "µs", baselineName: "echo p99", baseline: echoRead.p99,
                ratio: read.p99 / echoRead.p99, target: "-", pass: nil),
            Row(name: "rpc read task.get p99.9", value: read.p999, unit: "µs", baselineName: "echo p99.9",
                baseline: echoRead.p999, ratio: read.p999 / echoRead.p999, target: "≤ 1000 µs", pass: read.p999 <= 1000),
            Row(name: "rpc write task.comment p50 (durability full)", value: write.p50, unit: "µs", baselineName: "echo p50",
                baseline: echoWrite.p50, ratio: write.p50 / echoWrite.p50, target: "-", pass: nil),
            Row(name: "rpc write task.comment p99", value: write.p99, unit: "µs", baselineName: "echo p99",
                baseline: echoWrite.p99, ratio: write.p99 / echoWrite.p99, target: "-", pass: nil),
        ]
    }

    // MARK: lifecycle throughput

    static func lifecycle(quick: Bool) throws -> [Row] {
        var rows: [Row] = []
        let seconds = quick ? 1.0 : 2.0
        for durability in ["normal", "full"] {
            let daemon = try BenchDaemon(config: "durability = \"\(durability)\"\n")
            try daemon.start()
            let direct = daemon.home + "/direct.db"
            for clients in [1, 8, 32] {
                let before = writerHealth(socket: daemon.socket)
                let viaSocket = try daemonCycles(socket: daemon.socket, clients: clients, seconds: seconds)
                let batch = writesPerCommit(before, writerHealth(socket: daemon.socket))
                let baseline = try directCycles(path: direct, synchronous: durability == "full" ? "FULL" : "NORMAL", clients: clients, seconds: seconds)
                let ratio = viaSocket / baseline
                let target: String
                let pass: Bool?
                if durability == "normal" {
                    target = "≥ 0.5× direct, > 4.5k/s"
                    pass = ratio >= 0.5 && viaSocket > 4500
                } else if clients >= 8 {
                    target = "≥ 3× direct (group commit)"
                    pass = ratio >= 3
                } else {
                    target = "-"
                    pass = nil
                }
                rows.append(Row(
                    name: "create→claim→complete, \(clients) client(s), \(durability)\(batch)", value: viaSocket,
                    unit: "cycles/s",
                    baselineName: "direct SQLite", baseline: baseline, ratio: ratio, target: target, pass: pass))
            }
            daemon.cleanup()
        }
        return rows
    }

    /// The daemon's writer counters (`system.status`), nil from a daemon without them.
    static func writerHealth(socket: String) -> WriterHealth? {
        guard let client = try? KanbanClient(socket: socket) else { return nil }
        let status: StatusResult? = try? client.call(.systemStatus, Empty())
        return status?.writes
    }

    /// ", N writes/commit" between two readings of the writer's counters, or "".
    static func writesPerCommit(_ before: WriterHealth?, _ after: WriterHealth?) -> String {
        guard let before, let after, after.commits > before.commits else { return "" }
        let ratio = Double(after.writes - before.writes) / Double(after.commits - before.commits)
        return String(format: ", %.1f writes/commit", ratio)
    }

    /// create → claim → complete on `clients` connections for `seconds`; cycles per second. Also
    /// `kanban-bench load SOCKET CLIENTS SECONDS`, a steady load to profile a daemon under.
    static func daemonCycles(socket: String, clients: Int, seconds: Double) throws -> Double {
        let counter = Counter()
        let deadline = nowNanos() + UInt64(seconds * 1e9)
        onThreads(clients) { _ in
            guard let client = try? KanbanClient(socket: socket) else { return }
            while nowNanos() < deadline {
                do {
                    let created: CreateResult = try client.call(.taskCreate, CreateParams(title: "cycle"))
                    let _: ClaimResult = try client.call(.taskClaim, ClaimParams(id: created.task.id, ttl: 60))
                    let _: TaskResult = try client.call(.taskComplete, CompleteParams(id: created.task.id, result: "ok"))
                    counter.add()
                } catch {
                    return
                }
            }
        }
        return Double(counter.value) / seconds
    }

    /// The same three transactions straight on SQLite: same schema shape (schema v4: tasks numbered
    /// and counted by triggers, events referencing the task number with a kind code and a compact
    /// payload), same pragmas, one connection per thread, each transaction committed on its own.
    static func directCycles(path: String, synchronous: String, clients: Int, seconds: Double) throws -> Double {
        try? FileManager.default.removeItem(atPath: path)
        var config = Configuration()
        config.busyMode = .timeout(30)
        let pool = try DatabasePool(path: path, configuration: config)
        // After opening: a pool sets NORMAL on its writer once WAL is on, after `prepareDatabase`.
        try pool.writeWithoutTransaction { db in try db.execute(sql: "PRAGMA synchronous = \(synchronous)") }
        try pool.write { db in
            try db.execute(sql: """
                CREATE TABLE tasks (id TEXT PRIMARY KEY, title TEXT NOT NULL, assignee TEXT, status TEXT NOT NULL,
                    priority INTEGER NOT NULL DEFAULT 0, created_at INTEGER NOT NULL, started_at INTEGER, completed_at INTEGER,
                    result TEXT, current_run INTEGER, claim_expires INTEGER, ready_at INTEGER, seq INTEGER);
                CREATE INDEX tasks_status_order ON tasks(status, priority DESC, created_at);
                CREATE UNIQUE INDEX tasks_seq ON tasks(seq);
                CREATE TRIGGER tasks_number AFTER INSERT ON tasks WHEN NEW.seq IS NULL BEGIN
                    UPDATE tasks SET seq = (SELECT coalesce(max(seq), 0) + 1 FROM tasks) WHERE rowid = NEW.rowid;
                END;
                CREATE TABLE task_counts (status TEXT NOT NULL, assignee TEXT NOT NULL, n INTEGER NOT NULL,
                    PRIMARY KEY (status, assignee)) WITHOUT ROWID;
                CREATE TRIGGER task_counts_insert AFTER INSERT ON tasks BEGIN
                    INSERT INTO task_counts (status, assignee, n) VALUES (NEW.status, coalesce(NEW.assignee, ''), 1)
                        ON CONFLICT DO UPDATE SET n = n + 1;
                END;
                CREATE TRIGGER task_counts_update AFTER UPDATE OF status, assignee ON tasks
                    WHEN OLD.status IS NOT NEW.status OR OLD.assignee IS NOT NEW.assignee BEGIN
                    UPDATE task_counts SET n = n - 1 WHERE status = OLD.status AND assignee = coalesce(OLD.assignee, '');
                    DELETE FROM task_counts WHERE status = OLD.status AND assignee = coalesce(OLD.assignee, '') AND n = 0;
                    INSERT INTO task_counts (status, assignee, n) VALUES (NEW.status, coalesce(NEW.assignee, ''), 1)
                        ON CONFLICT DO UPDATE SET n = n + 1;
                END;
                CREATE TABLE runs (id INTEGER PRIMARY KEY AUTOINCREMENT, task_id TEXT NOT NULL, started_at INTEGER NOT NULL,
                    ended_at INTEGER, outcome TEXT NOT NULL);
                CREATE TABLE events (id INTEGER PRIMARY KEY AUTOINCREMENT, task_seq INTEGER, task_text TEXT, run_id INTEGER,
                    kind NOT NULL, payload TEXT, actor TEXT, created_at INTEGER NOT NULL);
                CREATE INDEX events_task ON events(task_seq);
                """)
        }
        let counter = Counter()
        let deadline = nowNanos() + UInt64(seconds * 1e9)
        onThreads(clients) { index in
            var sequence = 0
            while nowNanos() < deadline {
                sequence += 1
                let id = "t_\(index)_\(sequence)_\(UInt64.random(in: 0...UInt64.max))"
                let now = Int64(Date().timeIntervalSince1970 * 1000)
                do {
                    // Cached statements, as kanband's writer uses (and as Python's sqlite3 does).
                    try pool.write { db in
                        try db.cachedStatement(
                            sql: "INSERT INTO tasks (id, title, status, created_at, ready_at) VALUES (?, 'cycle', 'ready', ?, ?)"
                        ).execute(arguments: [id, now, now])
                        try db.cachedStatement(
                            sql: """
                                INSERT INTO events (task_seq, kind, payload, actor, created_at)
                                VALUES ((SELECT seq FROM tasks WHERE id = ?), 0, '[]', 'uid=0 pid=1', ?)
                                """
                        ).execute(arguments: [id, now])
                    }
                    let run = try pool.write { db in
                        try db.cachedStatement(sql: "INSERT INTO runs (task_id, started_at, outcome) VALUES (?, ?, 'running')")
                            .execute(arguments: [id, now])
                        let run = db.lastInsertedRowID
                        try db.cachedStatement(
                            sql: "UPDATE tasks SET status = 'running', current_run = ?, claim_expires = ?, started_at = ? WHERE id = ? AND status = 'ready'"
                        ).execute(arguments: [run, now + 60_000, now, id])
                        try db.cachedStatement(
                            sql: """
                                INSERT INTO events (task_seq, run_id, kind, payload, actor, created_at)
                                VALUES ((SELECT seq FROM tasks WHERE id = ?), ?, 2, '[1700000060.5,"uid=0 pid=1"]', 'uid=0 pid=1', ?)
                                """
                        ).execute(arguments: [id, run, now])
                        return run
                    }
                    try pool.write { db in
                        // The run by its id, as kanband finds it (the task's current_run).
                        try db.cachedStatement(sql: "UPDATE runs SET outcome = 'completed', ended_at = ? WHERE id = ?")
                            .execute(arguments: [now, run])
                        try db.cachedStatement(
                            sql: "UPDATE tasks SET status = 'done', result = 'ok', completed_at = ?, current_run = NULL WHERE id = ?"
                        ).execute(arguments: [now, id])
                        try db.cachedStatement(
                            sql: """
                                INSERT INTO events (task_seq, kind, payload, actor, created_at)
                                VALUES ((SELECT seq FROM tasks WHERE id = ?), 1, '[2,"ok"]', 'uid=0 pid=1', ?)
                                """
                        ).execute(arguments: [id, now])
                    }
                    counter.add()
                } catch {
                    return
                }
            }
        }
        try pool.close()
        return Double(counter.value) / seconds
    }

    // MARK: whole-process CLI

    static func cli(quick: Bool) throws -> [Row] {
        let daemon = try BenchDaemon()
        defer { daemon.cleanup() }
        try daemon.start()
        let env = ["KANBAN_HOME=\(daemon.home)", "PATH=/usr/bin:/bin", "HOME=\(NSHomeDirectory())"]
        let count = quick ? 20 : 60
        func time(_ argv: [String]) -> Samples {
            var samples = Samples()
            for index in 0..<(count + 3) {
                let start = nowNanos()
                _ = spawnAndWait(argv, env: env)
                if index >= 3 { samples.add(nowNanos() - start) }
            }
            return samples
        }
        let truth = time(["/bin/true"])
        let create = time([Binaries.kanbanctl, "create", "bench task"])
        let list = time([Binaries.kanbanctl, "list"])
        return [
            Row(name: "kanbanctl create (whole process) p50", value: create.p50 / 1000, unit: "ms", baselineName: "/bin/true",
                baseline: truth.p50 / 1000, ratio: create.p50 / truth.p50, target: "≤ 6× /bin/true", pass: create.p50 / truth.p50 <= 6),
            Row(name: "kanbanctl list (\(count) tasks) p50", value: list.p50 / 1000, unit: "ms", baselineName: "/bin/true",
                baseline: truth.p50 / 1000, ratio: list.p50 / truth.p50, target: "-", pass: nil),
        ]
    }

    // MARK: dispatch and crash detection

    static func dispatch(quick: Bool) throws -> [Row] {
        let config = """
            interval = 60
            failure_limit = 1000
            [workers.bench]
            command = ["/bin/bash", "-c", "echo $EPOCHREALTIME > \\"$KANBAN_HOME/$KANBAN_TASK_ID.start\\"; exec sleep 30"]
            """
        let daemon = try BenchDaemon(config: config)
        defer { daemon.cleanup() }
        try daemon.start()
        let client = try daemon.client()
        var spawnLatency = Samples()
        var crashLatency = Samples()
        let rounds = quick ? 8 : 20
        for _ in 0..<rounds {
            let before = realtimeNanos()
            let created: CreateResult = try client.call(.taskCreate, CreateParams(title: "dispatch bench", assignee: "bench"))
            let id = created.task.id
            let marker = daemon.home + "/\(id).start"
            var text = ""
            for _ in 0..<2000 {
                if let content = try? String(contentsOfFile: marker, encoding: .utf8), content.hasSuffix("\n") {
                    text = content
                    break
                }
                usleep(500)
            }
            guard let started = Double(text.trimmingCharacters(in: .whitespacesAndNewlines)) else {
                throw BenchError("worker did not start for \(id)")
            }
            spawnLatency.add(UInt64(max(0, started * 1e9 - Double(before))))
            // Crash detection: SIGKILL the worker, wait for its `crashed` event to be pushed.
            let watcher = try daemon.client()
            let _: WatchResult = try watcher.call(.eventsWatch, WatchParams(task: id, kinds: [EventKind.crashed]))
            var pid: Int32?
            for _ in 0..<2000 {
                let runs: RunsResult = try client.call(.taskRuns, IDParams(id: id))
                if let found = runs.runs.last?.pid {
                    pid = found
                    break
                }
                usleep(500)
            }
            guard let pid else { throw BenchError("no pid recorded for \(id)") }
            let killed = realtimeNanos()
            kill(pid, SIGKILL)
            guard try watcher.nextPush() != nil else { throw BenchError("no crashed event") }
            crashLatency.add(realtimeNanos() - killed)
            let _: TaskResult = try client.call(.taskArchive, IDParams(id: id))
        }
        return [
            Row(name: "dispatch: create → worker's first instruction p50", value: spawnLatency.p50 / 1000, unit: "ms",
                baselineName: nil, baseline: nil, ratio: nil, target: "≤ 20 ms", pass: spawnLatency.p50 / 1000 <= 20),
            Row(name: "crash: SIGKILL → task ready (crashed event) p50", value: crashLatency.p50 / 1000, unit: "ms",
                baselineName: nil, baseline: nil, ratio: nil, target: "≤ 100 ms", pass: crashLatency.p50 / 1000 <= 100),
        ]
    }

    // MARK: event fan-out

    /// Commit → delivery to 1 and to 100 subscribers at once. The subscribers' sockets are read by
    /// one thread polling them all, which notes when each push became readable: 100 blocked
    /// reader threads on two cores would mostly measure the waking of this benchmark's threads.
    /// The target runs from the commit to the subscriber, so it is measured with `normal`
    /// durability: under `full` the commit's fsync (the disk's cost, in the lifecycle and
    /// `task.comment` rows) comes first. One `full` row shows the whole path there, without a target.
    static func fanout(quick: Bool) throws -> [Row] {
        var rows: [Row] = []
        for durability in ["normal", "full"] {
            let daemon = try BenchDaemon(config: "durability = \"\(durability)\"\n")
            defer { daemon.cleanup() }
            try daemon.start()
            rows += try fanout(daemon, durability: durability, counts: durability == "normal" ? [1, 100] : [100], quick: quick)
        }
        return rows
    }

    static func fanout(_ daemon: BenchDaemon, durability: String, counts: [Int], quick: Bool) throws -> [Row] {
        var rows: [Row] = []
        let targeted = durability == "normal"
        for subscribers in counts {
            let rounds = quick ? 50 : 200
            let received = ReceiveLog(subscribers: subscribers, rounds: rounds)
            var clients: [KanbanClient] = []
            for _ in 0..<subscribers {
                let client = try KanbanClient(socket: daemon.socket)
                let _: WatchResult = try client.call(.eventsWatch, WatchParams(kinds: [EventKind.created]))
                clients.append(client)
            }
            let box = Unchecked(clients)
            let done = DispatchSemaphore(value: 0)
            Thread {
                receivePushes(box.value, rounds: rounds, into: received)
                done.signal()
            }.start()
            let client = try daemon.client()
            var commits = Samples()
            var sent: [UInt64] = []
            for _ in 0..<rounds {
                let start = nowNanos()
                sent.append(start)
                let _: CreateResult = try client.call(.taskCreate, CreateParams(title: "fanout"))
                commits.add(nowNanos() - start)
                usleep(2000)
            }
            done.wait()
            var delivery = Samples()
            var last = Samples()
            for round in 0..<rounds {
                let times = received.times(round: round)
                for time in times where time > sent[round] { delivery.add(time - sent[round]) }
                if let latest = times.max(), latest > sent[round] { last.add(latest - sent[round]) }
            }
            rows.append(Row(
                name: "fan-out (\(durability)), \(subscribers) subscriber(s): create sent → pushed p50", value: delivery.p50,
                unit: "µs", baselineName: "create reply p50", baseline: commits.p50, ratio: delivery.p50 / commits.p50,
                target: targeted ? "≤ 1000 µs" : "-", pass: targeted ? delivery.p50 <= 1000 : nil))
            if subscribers > 1 {
                rows.append(Row(
                    name: "fan-out (\(durability)), \(subscribers) subscribers: last subscriber p50", value: last.p50, unit: "µs",
                    baselineName: "create reply p50", baseline: commits.p50, ratio: last.p50 / commits.p50, target: "-", pass: nil))
            }
        }
        return rows
    }
}

/// Reads `rounds` pushes from each client on this one thread, noting for each the time the poll
/// that found it readable returned.
func receivePushes(_ clients: [KanbanClient], rounds: Int, into received: ReceiveLog) {
    var polled = clients.map { pollfd(fd: $0.connection.descriptor, events: Int16(POLLIN), revents: 0) }
    var seen = [Int](repeating: 0, count: clients.count)
    var remaining = clients.count * rounds
    while remaining > 0 {
        let buffered = Set(clients.indices.filter { clients[$0].hasBufferedPush })
        if buffered.isEmpty {
            guard poll(&polled, nfds_t(polled.count), 10_000) > 0 else { return }
        }
        let now = nowNanos()
        for index in clients.indices where polled[index].revents & Int16(POLLIN) != 0 || buffered.contains(index) {
            polled[index].revents = 0
            repeat {
                guard seen[index] < rounds, (try? clients[index].nextPush()) != nil else { return }
                received.record(subscriber: index, round: seen[index], at: now)
                seen[index] += 1
                remaining -= 1
            } while clients[index].hasBufferedPush && seen[index] < rounds
        }
    }
}

/// Hands a value to one other thread that alone uses it from then on.
final class Unchecked<Value>: @unchecked Sendable {
    let value: Value
    init(_ value: Value) { self.value = value }
}

final class Counter: @unchecked Sendable {
    private let lock = NSLock()
    private var count = 0
    func add() { lock.withLock { count += 1 } }
    var value: Int { lock.withLock { count } }
}

final class ReceiveLog: @unchecked Sendable {
    private let lock = NSLock()
    private var log: [[UInt64]]
    init(subscribers: Int, rounds: Int) { log = Array(repeating: [], count: rounds) }
    func record(subscriber: Int, round: Int, at time: UInt64) { lock.withLock { log[round].append(time) } }
    func times(round: Int) -> [UInt64] { lock.withLock { log[round] } }
}
