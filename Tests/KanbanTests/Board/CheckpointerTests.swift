import Foundation
import GRDB
import Synchronization
import Testing

@testable import KanbanDaemon

/// The background checkpointer keeps the WAL bounded under a steady stream of commits, which a
/// passive checkpoint alone never would (it cannot catch up with the last frame).
@Suite struct CheckpointerTests {
    /// Commits `count` small transactions on a writer without automatic checkpoints and returns
    /// the WAL file's size afterwards (its high-water mark: SQLite reuses the file, never shrinks it).
    private func walSize(afterCommits count: Int, checkpointer: Bool) throws -> Int {
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("ckpt-\(UUID().uuidString)").path
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: directory) }
        let path = directory + "/test.db"
        var config = Configuration()
        config.busyMode = .timeout(10)  // as the store: the writer waits out a RESTART checkpoint
        config.prepareDatabase { db in try db.execute(sql: "PRAGMA wal_autocheckpoint = 0") }
        let pool = try DatabasePool(path: path, configuration: config)
        try pool.write { db in try db.execute(sql: "CREATE TABLE t (id INTEGER PRIMARY KEY, body TEXT)") }
        // The writer's side of the protocol, as `WriteQueue` does it: a checkpoint between commits when asked.
        let wanted = Mutex(false)
        let background =
            checkpointer
            ? try Checkpointer(path: path, synchronous: "NORMAL", interval: 0.005, restartFrames: 64) {
                wanted.withLock { $0 = true }
            } : nil
        for index in 0..<count {
            try pool.write { db in
                try db.execute(sql: "INSERT INTO t (body) VALUES (?)", arguments: [String(repeating: "x", count: 3000) + "\(index)"])
            }
            if wanted.withLock({ let was = $0; $0 = false; return was }) {
                // As `WriteQueue` does: a passive checkpoint is refused (SQLITE_BUSY, no busy wait)
                // while the background one runs, and then the next request tries again.
                _ = try? pool.writeWithoutTransaction { db in try db.checkpoint(.passive) }
            }
        }
        background?.stop()
        let size = (try FileManager.default.attributesOfItem(atPath: path + "-wal")[.size] as? Int) ?? 0
        #expect(try pool.read { db in try Int.fetchOne(db, sql: "SELECT count(*) FROM t") } == count)
        try pool.close()
        return size
    }

    @Test func walStaysBoundedUnderContinuousCommits() throws {
        let unbounded = try walSize(afterCommits: 2000, checkpointer: false)
        let bounded = try walSize(afterCommits: 2000, checkpointer: true)
        // 2000 commits of a 3 kB row: ~2000+ frames (8 MB) without checkpoints.
        #expect(unbounded > 4_000_000)
        #expect(bounded < unbounded / 3)
    }

    @Test func stopIsIdempotentAndPrompt() throws {
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("ckpt-\(UUID().uuidString)").path
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: directory) }
        let pool = try DatabasePool(path: directory + "/test.db")
        let checkpointer = try Checkpointer(path: directory + "/test.db", synchronous: "FULL", interval: 60) {}
        let start = Date()
        checkpointer.stop()
        checkpointer.stop()
        #expect(Date().timeIntervalSince(start) < 5)
        try pool.close()
    }
}
