import Foundation
import KanbanProtocol
import Testing

@testable import KanbanDaemon

/// Opening databases written by older (and newer) kanbands: the schema migrates in place, data
/// survives, and a database from the future is refused rather than misread.
@Suite struct BoardMigrationTests {
    static let fixtureDirectory = URL(fileURLWithPath: #filePath).deletingLastPathComponent()
        .deletingLastPathComponent().appendingPathComponent("Fixtures").path
    static let v1Fixture = fixtureDirectory + "/schema-v1.sql"

    /// Runs SQL against a database file with the sqlite3 shell, or python3's sqlite3 module when the
    /// shell is not installed (the test target does not link GRDB itself).
    static func sqlite(_ database: String, script: String? = nil, sql: String? = nil) throws -> String {
        let env = ProcessInfo.processInfo.environment
        let result: ProcessResult
        if FileManager.default.isExecutableFile(atPath: "/usr/bin/sqlite3") {
            result = runProcess(
                "/usr/bin/sqlite3", [database, script.map { ".read \($0)" } ?? sql ?? ""], environment: env)
        } else {
            let program = """
                import sqlite3, sys
                c = sqlite3.connect(sys.argv[1])
                text = open(sys.argv[2]).read() if sys.argv[2] else sys.argv[3]
                if ";" in text.strip().rstrip(";"):
                    c.executescript(text)
                else:
                    for row in c.execute(text): print("|".join(str(v) for v in row))
                c.commit()
                """
            result = runProcess(
                "/usr/bin/env", ["python3", "-c", program, database, script ?? "", sql ?? ""], environment: env)
        }
        guard result.code == 0 else { throw TestFailure("sqlite failed (\(result.code)): \(result.stderr)") }
        return result.stdout.trimmingCharacters(in: .whitespacesAndNewlines)
    }

    @Test func theFixtureHoldsExactlyTheV1Schema() throws {
        let text = try String(contentsOfFile: Self.v1Fixture, encoding: .utf8)
        #expect(text.contains(Migrations.v1 + "\n\nPRAGMA user_version = 1;"))
        #expect(Migrations.all.map(\.version) == [1, 2, 3, 4])
        #expect(Migrations.latest == 4)
    }

    @Test func aV1DatabaseMigratesAndKeepsItsData() async throws {
        let dir = TempDir("kanban-migrate")
        let path = dir.path + "/kanban.db"
        _ = try Self.sqlite(path, script: Self.v1Fixture)
        #expect(try Self.sqlite(path, sql: "PRAGMA user_version;") == "1")

        let clock = ManualBoardClock()
        let board = try Board(path: path, durability: .normal, clock: clock)
        defer { board.close() }
        #expect(board.store.schemaVersion == Migrations.latest)

        // Tasks, links, comments and events are all there.
        let tasks = try await board.list(ListParams(archived: true))
        #expect(tasks.count == 7)
        let design = try await board.task("t_00000000000000a1")
        #expect(design.status == .done)
        #expect(design.result == "schema agreed: four tables")
        #expect(design.completedAt == 1_699_990_200)
        #expect(design.consecutiveFailures == 0)
        #expect(design.readyAt == nil)
        let store = try await board.detail(GetParams(id: "t_00000000000000b2", events: 100))
        #expect(store.task.status == .ready)
        #expect(store.task.priority == 2)
        #expect(store.task.workspaceKind == "dir")
        #expect(store.task.workspacePath == "/srv/store")
        // v2 back-fills ready_at for ready tasks from their creation time.
        #expect(store.task.readyAt == 1_699_990_300)
        #expect(store.parents == ["t_00000000000000a1"])
        #expect(store.children == ["t_00000000000000c3"])
        #expect(store.comments.map(\.body) == ["use WAL mode"])
        #expect(store.events.map(\.kind) == ["created", "promoted", "commented"])
        #expect(store.runs.isEmpty)
        #expect(try await board.task("t_00000000000000c3").status == .todo)
        #expect(try await board.task("t_00000000000000d4").tenant == "acme")
        let history = try await board.events(EventsListParams(since: 0, limit: 100)).events
        #expect(history.count == 12)
        #expect(history.map(\.id) == Array(1...12))
        #expect(history[3].payload?["result_len"] == 26)

        // The new columns and tables work: a claim opens a run, a completion promotes the v1 child.
        let claim = try await board.claim(ClaimParams(id: "t_00000000000000b2", ttl: 60, claimer: "w"), actor: "t")
        #expect(claim.runID == 1)
        let runs = try await board.runs("t_00000000000000b2")
        #expect(runs.map(\.outcome) == ["running"])
        #expect(runs.first?.assignee == "alice")
        try await board.complete(CompleteParams(id: "t_00000000000000b2", result: "built", runID: claim.runID), actor: "t")
        #expect(try await board.task("t_00000000000000c3").status == .ready)
        // New events continue the old id sequence.
        let newer = try await board.events(EventsListParams(since: 12)).events
        #expect(newer.first?.id == 13)
        #expect(newer.map(\.kind) == ["claimed", "completed", "promoted"])

        // Idempotency keys written by v1 still apply; an archived task's key is free again.
        let live = try await board.create(CreateParams(title: "again", idempotencyKey: "k-live"), actor: "t")
        #expect(!live.created)
        #expect(live.task.id == "t_00000000000000f6")
        let revived = try await board.create(CreateParams(title: "again", idempotencyKey: "k-archived"), actor: "t")
        #expect(revived.created)

        // The circuit-breaker columns are usable.
        let stats = try await board.stats()
        #expect(stats.failingTasks == 0)
        #expect(stats.byStatus["archived"] == nil)
    }

    /// An event row as v3 kanband stored it: text task id and kind, the payload as a JSON object
    /// (explicit nulls, members in any order).
    struct V3Event {
        var task: String
        var run: Int64?
        var kind: String
        var payload: String?
        var actor: String?
        var createdAt: Int64
    }

    static let v3Events: [V3Event] = [
        V3Event(
            task: "t_00000000000000a1", run: nil, kind: "created",
            payload: #"{"parents":[],"tenant":null,"status":"ready","assignee":"alice","priority":0}"#,
            actor: "uid=1000 pid=4242", createdAt: 1_699_990_000_000),
        V3Event(
            task: "t_00000000000000a1", run: 1, kind: "claimed",
            payload: #"{"expires":1699990900.5,"claimer":"kanband"}"#, actor: "kanband", createdAt: 1_699_990_000_100),
        V3Event(
            task: "t_00000000000000a1", run: 1, kind: "spawned",
            payload: #"{"pid":4243,"workspace":"/home/u/.local/state/kanban/workspaces/t_00000000000000a1"}"#,
            actor: "kanband", createdAt: 1_699_990_000_200),
        V3Event(
            task: "t_00000000000000a1", run: 1, kind: "commented", payload: #"{"len":12,"author":"alice"}"#,
            actor: "alice", createdAt: 1_699_990_000_300),
        V3Event(
            task: "t_00000000000000a1", run: 1, kind: "completed", payload: #"{"summary":"all done","result_len":8}"#,
            actor: "alice", createdAt: 1_699_990_000_400),
        V3Event(
            task: "T-legacy-2", run: nil, kind: "created",
            payload: #"{"parents":["t_00000000000000a1"],"tenant":"acme","status":"todo","assignee":null,"priority":2}"#,
            actor: "bob", createdAt: 1_699_990_000_500),
        V3Event(task: "T-legacy-2", run: nil, kind: "promoted", payload: nil, actor: "alice", createdAt: 1_699_990_000_600),
        V3Event(
            task: "T-legacy-2", run: nil, kind: "blocked", payload: #"{"reason":null}"#, actor: "bob",
            createdAt: 1_699_990_000_700),
        V3Event(
            task: "t_00000000000000c3", run: 2, kind: "crashed",
            payload: #"{"signal":null,"exit_code":1,"log_tail":"boom\n","failures":1}"#, actor: "kanband",
            createdAt: 1_699_990_000_800),
        V3Event(
            task: "t_00000000000000c3", run: 2, kind: "gave_up",
            payload: #"{"failures":1,"limit":1,"error":"worker exited with status 1"}"#, actor: "kanband",
            createdAt: 1_699_990_000_900),
        // Only something other than kanband leaves these: a task the board does not hold, a kind it does not know.
        V3Event(
            task: "imported-7", run: nil, kind: "note", payload: #"{"text":"imported"}"#, actor: nil,
            createdAt: 1_699_990_001_000),
        V3Event(
            task: "t_00000000000000d4", run: nil, kind: "archived", payload: #"{"from":"done"}"#, actor: "alice",
            createdAt: 1_699_990_001_100),
    ]

    /// Writes a database as kanband schema v3 left it: the v1–v3 migrations as they shipped, tasks
    /// (one with an id not of kanband's form), links, runs, `v3Events` with ids 1…12, and an
    /// AUTOINCREMENT counter at 20 — gc had deleted the newest events.
    static func writeV3Database(_ path: String) throws {
        func quoted(_ text: String?) -> String {
            text.map { "'" + $0.replacingOccurrences(of: "'", with: "''") + "'" } ?? "NULL"
        }
        let events = v3Events.map { e in
            "(\(quoted(e.task)), \(e.run.map(String.init) ?? "NULL"), \(quoted(e.kind)), \(quoted(e.payload)), "
                + "\(quoted(e.actor)), \(e.createdAt))"
        }
        let script = """
            \(Migrations.v1)
            \(Migrations.v2)
            \(Migrations.v3)
            PRAGMA user_version = 3;
            INSERT INTO tasks (id, title, assignee, status, priority, tenant, created_at, ready_at, completed_at, result,
                block_reason, failures, last_error)
            VALUES
                ('t_00000000000000a1', 'Design', 'alice', 'done', 0, NULL, 1699990000000, NULL, 1699990000400, 'all done',
                    NULL, 0, NULL),
                ('T-legacy-2', 'Build', NULL, 'blocked', 2, 'acme', 1699990000500, NULL, NULL, NULL, 'wait', 0, NULL),
                ('t_00000000000000c3', 'Flaky', 'bob', 'blocked', 0, NULL, 1699990000700, NULL, NULL, NULL,
                    'gave up after 1 consecutive failures', 1, 'worker exited with status 1'),
                ('t_00000000000000d4', 'Old', 'alice', 'archived', 0, NULL, 1699990000800, NULL, NULL, NULL, NULL, 0, NULL),
                ('t_00000000000000e5', 'Next', 'bob', 'ready', 1, NULL, 1699990000900, 1699990000950, NULL, NULL, NULL, 0,
                    NULL),
                ('t_00000000000000f6', 'Later', NULL, 'ready', 0, NULL, 1699990001000, 1699990001000, NULL, NULL, NULL, 0,
                    NULL);
            INSERT INTO links (parent_id, child_id) VALUES ('t_00000000000000a1', 'T-legacy-2');
            INSERT INTO runs (task_id, assignee, claimer, started_at, ended_at, outcome, exit_code) VALUES
                ('t_00000000000000a1', 'alice', 'kanband', 1699990000100, 1699990000400, 'completed', 0),
                ('t_00000000000000c3', 'bob', 'kanband', 1699990000750, 1699990000800, 'crashed', 1);
            INSERT INTO events (task_id, run_id, kind, payload, actor, created_at) VALUES
                \(events.joined(separator: ",\n    "));
            UPDATE sqlite_sequence SET seq = 20 WHERE name = 'events';
            """
        let file = (path as NSString).deletingLastPathComponent + "/v3.sql"
        try script.write(toFile: file, atomically: true, encoding: .utf8)
        _ = try sqlite(path, script: file)
    }

    /// v3 → v4 rebuilds the history in the compact form: every event keeps its id, task, run,
    /// kind, payload, actor and time as clients see them, every read path finds them, new ids
    /// continue after the old counter, and the stats counts start exact.
    @Test func aV3DatabaseUpgradesWithEveryEventIntact() async throws {
        let f = try BoardFixture(seed: Self.writeV3Database)
        defer { f.close() }
        #expect(f.board.store.schemaVersion == 4)

        let history = try await f.allEvents()
        #expect(history.map(\.id) == Array(1...Int64(Self.v3Events.count)))
        for (event, old) in zip(history, Self.v3Events) {
            #expect(event.taskID == old.task)
            #expect(event.runID == old.run)
            #expect(event.kind == old.kind)
            #expect(event.payload == old.payload.map { try! JSONDecoder().decode(JSONValue.self, from: Data($0.utf8)) })
            #expect(event.actor == old.actor)
            #expect(event.createdAt == old.createdAt.seconds)
        }

        // Per task (task show, events.list --task), for a legacy id and for a task the board does not hold.
        let design = try await f.board.detail(GetParams(id: "t_00000000000000a1", events: 3))
        #expect(design.events.map(\.kind) == ["spawned", "commented", "completed"])
        #expect(design.eventCount == 5)
        #expect(try await f.kinds("T-legacy-2") == ["created", "promoted", "blocked"])
        #expect(try await f.events("imported-7").map(\.payload) == [["text": "imported"]])
        #expect(try await f.board.events(EventsListParams(since: 9, limit: 2)).events.map(\.id) == [10, 11])

        // A watcher's replay, filtered by kind and by the task's current assignee.
        let failures = try await f.board.replay(
            after: 0, upTo: 12, filter: EventFilter(kinds: [EventKind.crashed, EventKind.gaveUp, "note"]))
        #expect(failures.events.map(\.id) == [9, 10, 11])
        let alices = try await f.board.replay(after: 0, upTo: 12, filter: EventFilter(assignee: "alice"))
        #expect(alices.events.map(\.id) == [1, 2, 3, 4, 5, 12])
        let one = try await f.board.replay(after: 0, upTo: 12, filter: EventFilter(task: "T-legacy-2"))
        #expect(one.events.map(\.id) == [6, 7, 8])

        // Notification cursors find the terminal events by kind code.
        let sub = NotifyTarget(taskID: "t_00000000000000c3", platform: "telegram", chatID: "1")
        _ = try await f.board.notifySubscribe(NotifySubscribeParams(target: sub))
        let pending = try await f.board.notifyPending(NotifyPendingParams())
        #expect(pending.first?.events.map(\.kind) == ["crashed", "gave_up"])

        // New events and tasks continue after the old ones: no id is handed out twice.
        let comment = try await f.board.comment(CommentParams(id: "t_00000000000000e5", body: "next up"), actor: "t")
        let events = try await f.events("t_00000000000000e5")
        #expect(events.map(\.id) == [21])
        #expect(events.first?.payload == ["author": "t", "len": 7])
        #expect(comment.taskID == "t_00000000000000e5")
        let created = try await f.create("after the upgrade", assignee: "carol")
        #expect(try await f.kinds(created.id) == ["created"])
        #expect(try Self.sqlite(f.path, sql: "SELECT count(DISTINCT seq), count(*), max(seq) FROM tasks;") == "7|7|7")

        // The counts the migration filled in are exact, and triggers keep them so.
        try await BoardStatsTests.expectExactCounts(f, after: "the upgrade")
        try await f.unblock("T-legacy-2")
        try await BoardStatsTests.expectExactCounts(f, after: "an unblock after the upgrade")
    }

    /// A task that was running under v1 has a `current_run` but no `runs` row (v1 had no runs table).
    /// After the upgrade it must still be recoverable: either the migration gives it a live run the
    /// dispatcher can see, or puts it back to ready. The dispatcher's reclaim of an expired claim
    /// (`expiredClaims` then `finishRun(reclaimed)`, Dispatcher.pass step 1) must free it.
    @Test func aTaskRunningUnderV1IsRecoverableAfterTheUpgrade() async throws {
        let dir = TempDir("kanban-migrate")
        let path = dir.path + "/kanban.db"
        _ = try Self.sqlite(path, script: Self.v1Fixture)
        let board = try Board(path: path, durability: .normal, clock: ManualBoardClock())
        defer { board.close() }
        let kernel = board.kernel
        let id = "t_00000000000000a7"
        let before = try await board.task(id)
        if before.status == .running {
            let live = try await board.read { db in try kernel.liveRuns(db) }
            #expect(
                live.contains { $0.taskID == id },
                "running task \(id) has current_run \(before.currentRunID.map(String.init) ?? "nil") but no live run")
        }
        // What a dispatcher pass does with an expired claim whose worker it does not know.
        let now = ManualBoardClock().nowMillis()
        let expired = try await board.read { db in try kernel.expiredClaims(db, now: now) }
        for (_, run) in expired {
            guard let run else { continue }
            try await board.write { db, fx in
                try kernel.finishRun(
                    db, &fx, run: run,
                    ending: RunEnding(outcome: EventKind.reclaimed, error: "claim expired", countsAsFailure: false),
                    failureLimit: 5)
            }
        }
        #expect(try await board.task(id).status == .ready, "a v1 task with an expired claim stays running forever")
    }

    @Test func reopeningAMigratedDatabaseKeepsEverything() async throws {
        let dir = TempDir("kanban-migrate")
        let path = dir.path + "/kanban.db"
        _ = try Self.sqlite(path, script: Self.v1Fixture)
        let first = try Board(path: path, durability: .normal)
        let created = try await first.create(CreateParams(title: "added after migration"), actor: "t").task
        first.close()
        let second = try Board(path: path, durability: .normal)
        defer { second.close() }
        #expect(second.store.schemaVersion == Migrations.latest)
        #expect(try await second.list(ListParams(archived: true)).count == 8)
        #expect(try await second.task(created.id).title == "added after migration")
        #expect(try Self.sqlite(path, sql: "PRAGMA user_version;") == "\(Migrations.latest)")
    }

    @Test func aDatabaseFromANewerKanbandIsRefused() throws {
        let dir = TempDir("kanban-migrate")
        let path = dir.path + "/kanban.db"
        _ = try Self.sqlite(path, sql: "CREATE TABLE future (x); PRAGMA user_version = 99;")
        do {
            let board = try Board(path: path, durability: .normal)
            board.close()
            Issue.record("a schema-99 database was opened")
        } catch let error as SchemaError {
            guard case .tooNew(let found, let supported) = error else {
                Issue.record("unexpected schema error \(error)")
                return
            }
            #expect(found == 99)
            #expect(supported == Migrations.latest)
            #expect(error.description.contains("newer"))
            #expect(error.description.contains("99"))
        }
        // Refusing did not touch it.
        #expect(try Self.sqlite(path, sql: "PRAGMA user_version;") == "99")
        #expect(try Self.sqlite(path, sql: "SELECT count(*) FROM sqlite_master WHERE name = 'tasks';") == "0")
    }

    @Test func aFreshPathJustWorks() async throws {
        let dir = TempDir("kanban-migrate")
        let path = dir.path + "/fresh.db"
        #expect(!FileManager.default.fileExists(atPath: path))
        let board = try Board(path: path, durability: .normal)
        defer { board.close() }
        #expect(board.store.schemaVersion == Migrations.latest)
        #expect(try await board.list(ListParams(archived: true)).isEmpty)
        let task = try await board.create(CreateParams(title: "first"), actor: "t").task
        let claim = try await board.claim(ClaimParams(id: task.id), actor: "t")
        #expect(claim.runID == 1)
        #expect(try Self.sqlite(path, sql: "PRAGMA user_version;") == "\(Migrations.latest)")
        #expect(try Self.sqlite(path, sql: "PRAGMA journal_mode;") == "wal")
    }
}
