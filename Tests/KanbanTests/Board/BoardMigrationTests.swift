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
        #expect(Migrations.all.map(\.version) == [1, 2, 3])
        #expect(Migrations.latest == 3)
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
