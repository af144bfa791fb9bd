import Foundation
import GRDB

/// Folds the WAL back into the database file on its own thread and connection.
///
/// SQLite's automatic checkpoint runs inside the commit that crosses its threshold, on the writer:
/// every ~1000 pages a write waited for pages to be copied and the database file to be synced.
/// Moving it here raised the lifecycle benchmark's throughput with 8 clients by a sixth to a
/// quarter (docs/PERFORMANCE.md). The writer connection therefore has `wal_autocheckpoint = 0`, and this
/// thread runs a PASSIVE checkpoint every `interval`: it copies what it can without blocking the
/// writer or any reader, syncing the database file as the durability setting asks.
///
/// Under a steady stream of writes a passive checkpoint from another connection never catches up
/// with the last frame, and the WAL only starts over once every frame is copied. So when the WAL
/// holds more than `restartFrames` frames this thread calls `onLargeWAL`, and the writer runs one
/// checkpoint between two batches (`WriteQueue.requestCheckpoint`): with no write in flight it
/// copies the few frames left, and the next commit starts the WAL from its beginning. (A RESTART
/// checkpoint from here would have to win the write lock from a busy writer, and lost.)
final class Checkpointer: @unchecked Sendable {
    private let queue: DatabaseQueue
    private let interval: TimeInterval
    private let restartFrames: Int
    private let onLargeWAL: @Sendable () -> Void
    private let wake = DispatchSemaphore(value: 0)
    private let stopped = DispatchSemaphore(value: 0)
    private let lock = NSLock()
    private var stopping = false

    init(
        path: String, synchronous: String, interval: TimeInterval = 0.1, restartFrames: Int = 4096,
        onLargeWAL: @escaping @Sendable () -> Void
    ) throws {
        var config = Configuration()
        config.label = "kanban.checkpointer"
        config.prepareDatabase { db in try db.execute(sql: "PRAGMA synchronous = \(synchronous)") }
        queue = try DatabaseQueue(path: path, configuration: config)
        self.interval = interval
        self.restartFrames = restartFrames
        self.onLargeWAL = onLargeWAL
        let thread = Thread { [self] in loop() }
        thread.name = "kanban.checkpointer"
        thread.start()
    }

    /// The last round failed (reported once per streak).
    private var failing = false

    private func loop() {
        while true {
            _ = wake.wait(timeout: .now() + interval)
            if lock.withLock({ stopping }) { break }
            // A failure (a full disk, say) leaves the frames in the WAL, where they are just as
            // durable; the next round tries again. Meanwhile the writer is asked to checkpoint
            // between its batches, as for a large WAL: the writer's connection never checkpoints
            // on its own (`wal_autocheckpoint = 0`), so nothing else would bound the WAL.
            do {
                let frames = try queue.writeWithoutTransaction { db in try db.checkpoint(.passive).walFrameCount }
                if failing {
                    failing = false
                    FileHandle.standardError.write(Data("kanband: checkpoints work again\n".utf8))
                }
                if frames > restartFrames { onLargeWAL() }
            } catch {
                if !failing {
                    failing = true
                    FileHandle.standardError.write(Data("kanband: checkpoint failed (retrying): \(error)\n".utf8))
                }
                onLargeWAL()
            }
        }
        try? queue.close()
        stopped.signal()
    }

    /// Stops the thread after the round in progress and closes its connection.
    func stop() {
        let first = lock.withLock {
            defer { stopping = true }
            return !stopping
        }
        guard first else { return }
        wake.signal()
        stopped.wait()
    }
}
