import Foundation
import GRDB
import KanbanProtocol

/// The single writer with group commit. Callers enqueue closures; a dedicated thread takes every
/// pending closure, runs them in one IMMEDIATE transaction (each in a savepoint), commits once and
/// then resumes all callers. Under load many writes share one commit (and one fsync with
/// `synchronous=FULL`); alone, a write pays exactly one commit.
final class WriteQueue: @unchecked Sendable {
    private struct Job {
        /// Runs the write; returns the completion to call after a successful commit.
        let run: (Database, inout WriteEffects) throws -> (@Sendable (WriteEffects) -> Void)
        let fail: @Sendable (any Error) -> Void
    }

    /// Upper bound of writes in one transaction, so one commit's latency stays bounded.
    static let maxBatch = 512

    private let pool: DatabasePool
    /// Called on the writer thread after each commit with the effects of the writes that
    /// succeeded, in commit order, before any caller is resumed.
    private let onCommit: @Sendable ([WriteEffects]) -> Void
    private let condition = NSCondition()
    private var pending: [Job] = []
    private var stopped = false
    private var checkpointWanted = false
    private var thread: Thread?
    /// Signalled when the writer thread has finished its last batch.
    private let finished = DispatchSemaphore(value: 0)

    init(pool: DatabasePool, onCommit: @escaping @Sendable ([WriteEffects]) -> Void) {
        self.pool = pool
        self.onCommit = onCommit
        // The thread holds the queue strongly until `stop()` lets it finish.
        let thread = Thread { [self] in
            self.loop()
            self.finished.signal()
        }
        thread.name = "kanban-writer"
        thread.qualityOfService = .userInitiated
        self.thread = thread
        thread.start()
    }

    var pendingCount: Int {
        condition.lock()
        defer { condition.unlock() }
        return pending.count
    }

    /// Transactions committed and the writes in them (successful or refused), since start.
    private var commits: Int64 = 0
    private var writes: Int64 = 0

    var health: WriterHealth {
        condition.lock()
        defer { condition.unlock() }
        return WriterHealth(commits: commits, writes: writes, pending: pending.count)
    }

    func submit<T: Sendable>(
        _ body: @escaping @Sendable (Database, inout WriteEffects) throws -> T
    ) async throws -> (T, WriteEffects) {
        try await withCheckedThrowingContinuation { continuation in
            let job = Job(
                run: { db, effects in
                    let value = try body(db, &effects)
                    return { effects in continuation.resume(returning: (value, effects)) }
                },
                fail: { error in continuation.resume(throwing: error) }
            )
            condition.lock()
            if stopped {
                condition.unlock()
                job.fail(StoreClosed())
                return
            }
            pending.append(job)
            condition.signal()
            condition.unlock()
        }
    }

    /// Asks for one WAL checkpoint on the writer connection after the current batch (see
    /// `Checkpointer`): the only moment no frame is being appended, so the WAL can start over.
    func requestCheckpoint() {
        condition.lock()
        checkpointWanted = true
        condition.unlock()
    }

    /// Refuses new writes, lets the pending ones commit, and returns once the thread is done.
    func stop() {
        condition.lock()
        let wasStopped = stopped
        stopped = true
        condition.broadcast()
        condition.unlock()
        if !wasStopped { finished.wait() }
    }

    private func loop() {
        while true {
            condition.lock()
            while pending.isEmpty && !stopped { condition.wait() }
            if pending.isEmpty && stopped {
                condition.unlock()
                return
            }
            let take = min(pending.count, WriteQueue.maxBatch)
            let batch = Array(pending.prefix(take))
            pending.removeFirst(take)
            condition.unlock()
            execute(batch)
            condition.lock()
            let checkpoint = checkpointWanted
            checkpointWanted = false
            condition.unlock()
            // Mostly copied already by the background checkpointer; a failure leaves the WAL as it was.
            if checkpoint { _ = try? pool.writeWithoutTransaction { db in try db.checkpoint(.passive) } }
        }
    }

    private func execute(_ batch: [Job]) {
        var outcomes: [(Result<@Sendable (WriteEffects) -> Void, any Error>, WriteEffects)] = []
        outcomes.reserveCapacity(batch.count)
        do {
            try pool.writeWithoutTransaction { db in
                try db.run(sql: "BEGIN IMMEDIATE")
                do {
                    for job in batch {
                        var effects = WriteEffects()
                        if batch.count == 1 {
                            do {
                                outcomes.append((.success(try job.run(db, &effects)), effects))
                            } catch {
                                outcomes.append((.failure(error), WriteEffects()))
                            }
                            continue
                        }
                        try db.run(sql: "SAVEPOINT job")
                        do {
                            let done = try job.run(db, &effects)
                            try db.run(sql: "RELEASE job")
                            outcomes.append((.success(done), effects))
                        } catch {
                            // A full disk, an I/O error or out-of-memory makes SQLite roll back the
                            // whole transaction itself: there is no savepoint left to return to,
                            // and the batch fails with this error, not with "no such savepoint".
                            guard db.isInsideTransaction else { throw error }
                            try db.run(sql: "ROLLBACK TO job")
                            try db.run(sql: "RELEASE job")
                            outcomes.append((.failure(error), WriteEffects()))
                        }
                    }
                    if batch.count == 1, case .failure = outcomes[0].0 {
                        // (Already rolled back when SQLite itself ended the transaction.)
                        if db.isInsideTransaction { try db.run(sql: "ROLLBACK") }
                    } else {
                        try db.run(sql: "COMMIT")
                    }
                } catch {
                    if db.isInsideTransaction { try? db.run(sql: "ROLLBACK") }
                    throw error
                }
            }
        } catch {
            // The transaction itself failed (disk full, read-only file…): nothing in it happened.
            for job in batch { job.fail(error) }
            return
        }
        // Counted before anyone is told: a caller that then asks for `health` sees its own write.
        // A lone refused write was rolled back, not committed.
        if batch.count > 1 || outcomes[0].0.isSuccess {
            condition.lock()
            commits += 1
            writes += Int64(batch.count)
            condition.unlock()
        }
        onCommit(outcomes.compactMap { outcome in
            if case .success = outcome.0 { return outcome.1 }
            return nil
        })
        for (index, job) in batch.enumerated() {
            switch outcomes[index].0 {
            case .success(let done): done(outcomes[index].1)
            case .failure(let error): job.fail(error)
            }
        }
    }
}

/// A write submitted after the store closed.
struct StoreClosed: Error, CustomStringConvertible {
    var description: String { "the store is closed" }
}

extension Result {
    fileprivate var isSuccess: Bool {
        if case .success = self { return true }
        return false
    }
}
