import Dispatch
import Foundation
import GRDB
import KanbanProtocol
import Testing

@testable import KanbanDaemon

/// Opening and closing the store: writes after close fail cleanly, and closing a board while writes
/// are in flight (what kanband does at shutdown) never crashes.
@Suite struct BoardStoreLifecycleTests {
    static let probeVariable = "KANBAN_TEST_STORE_TEARDOWN_PROBE"

    /// The connection that commits has the `synchronous` level the durability setting promises.
    /// (GRDB sets NORMAL on a pool's writer after `prepareDatabase` runs: `full` silently meant
    /// normal until the store set it afterwards.)
    @Test(arguments: [(Durability.full, 2), (Durability.normal, 1)])
    func writesCommitWithTheConfiguredSynchronousLevel(_ durability: Durability, _ level: Int) async throws {
        let f = try BoardFixture(durability: durability)
        defer { f.close() }
        let (effective, _) = try await f.board.store.write { db, _ in try Int.fetchOne(db, sql: "PRAGMA synchronous") }
        #expect(effective == level)
        #expect(f.board.store.durability == durability)
    }

    /// When the database cannot grow, the writes that do not fit fail with that cause ("database
    /// or disk is full", whether SQLite undid one statement or the whole batch's transaction),
    /// and writes work again once there is room. (Here SQLite undoes just the statement; the
    /// whole-transaction case, which an I/O error causes, takes the same `WriteQueue` path with
    /// no savepoint left to return to.)
    @Test func aFullDatabaseFailsWritesWithTheirCause() async throws {
        let f = try BoardFixture()
        defer { f.close() }
        _ = try await f.board.store.write { db, _ in
            let pages = try Int.fetchOne(db, sql: "PRAGMA page_count") ?? 0
            try db.execute(sql: "PRAGMA max_page_count = \(pages + 3)")
        }
        let body = String(repeating: "x", count: 3000)
        let board = f.board
        let failures = await withTaskGroup(of: (any Error)?.self) { group in
            for i in 0..<40 {
                group.addTask {
                    do {
                        _ = try await board.create(CreateParams(title: "t\(i)", body: body), actor: "t")
                        return nil
                    } catch {
                        return error
                    }
                }
            }
            var failures: [any Error] = []
            for await failure in group { if let failure { failures.append(failure) } }
            return failures
        }
        #expect(!failures.isEmpty, "the database never filled up")
        for failure in failures {
            #expect((failure as? DatabaseError)?.resultCode == .SQLITE_FULL, "\(failure)")
        }
        // Room again: writes work.
        _ = try await f.board.store.write { db, _ in try db.execute(sql: "PRAGMA max_page_count = 1000000") }
        _ = try await f.create("after the disk was freed")
    }

    @Test func writesAfterCloseFailWithoutTouchingTheDatabase() async throws {
        let f = try BoardFixture()
        let task = try await f.create("before close")
        f.close()
        await #expect(throws: StoreClosed.self) {
            _ = try await f.board.create(CreateParams(title: "after close"), actor: "t")
        }
        let reopened = try Board(path: f.path, durability: .normal)
        defer { reopened.close() }
        #expect(try await reopened.list(ListParams()).map(\.id) == [task.id])
    }

    /// A read still running when the store closes (a list at shutdown) finishes on its connection;
    /// that connection is closed as it comes back, and later reads fail instead of reading a
    /// closed store.
    @Test func aReadRunningAcrossCloseFinishesAndLaterReadsFail() async throws {
        let f = try BoardFixture()
        let task = try await f.create("read across close")
        let store = f.board.store
        let inside = DispatchSemaphore(value: 0)
        let proceed = DispatchSemaphore(value: 0)
        let result = Locked<Result<String, any Error>?>(nil)
        let thread = Thread {
            result.set(Result {
                try store.readSync { db in
                    inside.signal()
                    proceed.wait()
                    return try String.fetchOne(db, sql: "SELECT title FROM tasks WHERE id = ?", arguments: [task.id]) ?? ""
                }
            })
        }
        thread.start()
        inside.wait()
        let closer = Thread { store.close() }
        closer.start()
        // The read's connection comes back only after close() has let go of the others.
        let deadline = ContinuousClock.now + .seconds(5)
        while store.readers.withLockedValue({ $0?.isEmpty == false }), ContinuousClock.now < deadline {
            try await Task.sleep(for: .milliseconds(2))
        }
        proceed.signal()
        while result.get() == nil { try await Task.sleep(for: .milliseconds(5)) }
        #expect(try result.get()?.get() == "read across close")
        #expect(throws: StoreClosed.self) { try store.readSync { db in try Int.fetchOne(db, sql: "SELECT 1") } }
    }

    @Test func reopeningKeepsEverythingAndContinuesEventIDs() async throws {
        let f = try BoardFixture()
        let a = try await f.create("a")
        try await f.complete(a.id, result: "r")
        let last = try await f.allEvents().last!.id
        f.close()
        let board = try Board(path: f.path, durability: .normal, clock: f.clock)
        defer { board.close() }
        #expect(board.bus.lastPublished == last)
        #expect(try await board.task(a.id).result == "r")
        let b = try await board.create(CreateParams(title: "b"), actor: "t").task
        let events = try await board.events(EventsListParams(since: last)).events
        #expect(events.map(\.taskID) == [b.id])
        #expect(events.first?.id == last + 1)
    }

    /// Run in a child process by `closingWithWritesInFlightDoesNotCrash` (a crash there must not take
    /// this whole test run down); does nothing in a normal run.
    @Test func teardownProbe() async throws {
        guard ProcessInfo.processInfo.environment[Self.probeVariable] == "1" else { return }
        let dir = TempDir("kanban-teardown")
        for round in 0..<60 {
            let board = try Board(path: dir.path + "/kanban\(round % 4).db", durability: .normal)
            await withTaskGroup(of: Void.self) { group in
                for index in 0..<30 {
                    group.addTask { _ = try? await board.create(CreateParams(title: "w\(index)"), actor: "t") }
                    if index == 15 { board.close() }
                }
            }
            // The board (and its store and writer) is released here, as at the end of kanband's run().
        }
    }

    /// `board.close()` with writes queued, then releasing the board. Every write must either commit or
    /// fail; the writer thread must not outlive the queue it reads.
    @Test func closingWithWritesInFlightDoesNotCrash() throws {
        guard ProcessInfo.processInfo.environment[Self.probeVariable] == nil else { return }
        let executable = try FileManager.default.destinationOfSymbolicLink(atPath: "/proc/self/exe")
        let dir = TempDir("kanban-teardown-out")
        let outputPath = dir.path + "/output"
        _ = FileManager.default.createFile(atPath: outputPath, contents: nil)
        let output = try #require(FileHandle(forWritingAtPath: outputPath))
        var environment = ProcessInfo.processInfo.environment
        environment[Self.probeVariable] = "1"
        // A crash report is long and slow; the fatal error line says enough.
        environment["SWIFT_BACKTRACE"] = "enable=no"
        let process = Process()
        process.executableURL = URL(fileURLWithPath: executable)
        process.arguments = ["--testing-library", "swift-testing", "--filter", "BoardStoreLifecycleTests/teardownProbe"]
        process.environment = environment
        process.standardOutput = output
        process.standardError = output
        process.standardInput = FileHandle.nullDevice
        let finished = DispatchSemaphore(value: 0)
        process.terminationHandler = { _ in finished.signal() }
        try process.run()
        try output.close()
        if finished.wait(timeout: .now() + 60) == .timedOut {
            kill(process.processIdentifier, SIGKILL)
            process.waitUntilExit()
            Issue.record("the probe process did not finish within 60 s")
        }
        process.waitUntilExit()
        let text = (try? String(contentsOfFile: outputPath, encoding: .utf8)) ?? ""
        let fatal = text.split(separator: "\n").first { $0.contains("Fatal error") }.map(String.init)
        #expect(
            process.terminationReason == .exit && process.terminationStatus == 0,
            "the probe process died (\(process.terminationReason == .uncaughtSignal ? "signal" : "status") \(process.terminationStatus)): \(fatal ?? String(text.suffix(2000)))")
        #expect(fatal == nil)
        #expect(text.contains("teardownProbe()"), "the probe did not run: \(text.suffix(2000))")
    }
}

/// A value shared with a plain thread.
private final class Locked<Value>: @unchecked Sendable {
    private let lock = NSLock()
    private var value: Value
    init(_ value: Value) { self.value = value }
    func get() -> Value { lock.withLock { value } }
    func set(_ newValue: Value) { lock.withLock { value = newValue } }
}
