import Foundation
import GRDB
import GRDBSQLite
import NIOConcurrencyHelpers
import KanbanProtocol

/// The board's database: one SQLite file in WAL mode, opened only by kanband.
///
/// Writes go through a single writer thread that batches whatever arrived while the previous
/// commit was in flight into one IMMEDIATE transaction (group commit), each write in its own
/// savepoint so one refused operation never undoes its neighbours. Reads run concurrently on
/// the pool's reader connections and never wait for a commit.
public final class Store: Sendable {
    public let path: String
    public let durability: Durability
    public let schemaVersion: Int
    let pool: DatabasePool
    /// Read-only connections for `readSync`, checked out under a lock (see there); nil once closed.
    /// Internal, not private, so a test can see when `close()` has taken them.
    let readers: NIOLockedValueBox<[DatabaseQueue]?>
    private let writer: WriteQueue
    private let checkpointer: Checkpointer

    /// Opens (creating if needed) and migrates the database at `path`.
    init(
        path: String, durability: Durability = .full,
        onCommit: @escaping @Sendable ([WriteEffects]) -> Void = { _ in }
    ) throws {
        self.path = path
        self.durability = durability
        // Transitions use `UPDATE … RETURNING` (SQLite 3.35, 2021): refuse an older library plainly
        // instead of failing every write.
        guard sqlite3_libversion_number() >= Store.minimumSQLite else {
            throw SQLiteTooOld(found: String(cString: sqlite3_libversion()))
        }
        var config = Configuration()
        config.foreignKeysEnabled = true
        config.busyMode = .timeout(10)
        config.maximumReaderCount = 4
        config.label = "kanban"
        let synchronous = durability.synchronousPragma
        config.prepareDatabase { db in
            // Checkpoints run on their own thread (`Checkpointer`), never inside a commit; a WAL
            // file that grew under a burst is cut back to 64 MiB when it starts over.
            try db.execute(sql: "PRAGMA wal_autocheckpoint = 0")
            try db.execute(sql: "PRAGMA journal_size_limit = 67108864")
        }
        // Owner-only from the first byte (SQLite gives the -wal and -shm files the same mode),
        // whatever the umask or the home's mode.
        if !FileManager.default.fileExists(atPath: path) {
            let fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0o600)
            if fd >= 0 { Glibc.close(fd) }
        }
        let pool: DatabasePool
        do {
            pool = try DatabasePool(path: path, configuration: config)
            self.schemaVersion = try pool.writeWithoutTransaction { db in
                // Set here, not in `prepareDatabase`: opening a pool turns WAL on afterwards, and
                // GRDB then sets `synchronous = NORMAL` on the writer, which silently made
                // `durability = "full"` mean normal until this was found. Read back, so that a
                // board never runs with less durability than its configuration says.
                try db.execute(sql: "PRAGMA synchronous = \(synchronous)")
                let effective = try Int.fetchOne(db, sql: "PRAGMA synchronous")
                guard effective == durability.synchronousLevel else {
                    throw DatabaseError(
                        message: "PRAGMA synchronous is \(effective.map(String.init) ?? "unknown"), "
                            + "not \(synchronous) as durability = \"\(durability.rawValue)\" needs")
                }
                try db.inTransaction(.immediate) {
                    _ = try Migrations.migrate(db)
                    return .commit
                }
                return try Int.fetchOne(db, sql: "PRAGMA user_version") ?? 0
            }
        } catch {
            throw Store.unwritable(path) ?? error
        }
        self.pool = pool
        var readerConfig = Configuration()
        readerConfig.readonly = true
        readerConfig.busyMode = .timeout(10)
        readerConfig.label = "kanban-reader"
        self.readers = NIOLockedValueBox(
            try (0..<Store.directReaders).map { _ in try DatabaseQueue(path: path, configuration: readerConfig) } as [DatabaseQueue]?)
        let writer = WriteQueue(pool: pool, onCommit: onCommit)
        self.writer = writer
        do {
            self.checkpointer = try Checkpointer(path: path, synchronous: synchronous) { writer.requestCheckpoint() }
        } catch {
            writer.stop()  // its thread would otherwise keep itself alive
            throw error
        }
    }

    /// Runs `body` inside the next group-commit transaction and returns once it is durable.
    /// An error thrown by `body` rolls back only its own savepoint.
    func write<T: Sendable>(
        _ body: @escaping @Sendable (Database, inout WriteEffects) throws -> T
    ) async throws -> (T, WriteEffects) {
        try await writer.submit(body)
    }

    /// Runs `body` on a reader connection, concurrently with writes.
    ///
    /// The read runs synchronously on the calling task's thread: GRDB's `DispatchQueue.sync` onto an
    /// idle reader executes in place, where its async variant costs two thread hops per call —
    /// most of a point read's latency. Reads are short (indexed, bounded by LIMITs), so holding a
    /// cooperative thread for their duration is cheaper than the hops.
    func read<T: Sendable>(_ body: @escaping @Sendable (Database) throws -> T) async throws -> T {
        try readSync(body)
    }

    /// Why opening failed, when the cause is that the database (or the directory its -wal and
    /// -shm files go in) cannot be written: SQLite's own error then depends on which of those files
    /// happen to exist ("unable to open database file", "attempt to write a readonly database")
    /// and names no cause. Asked only after a failure, with the effective ids (`AT_EACCESS`) and
    /// the resolved path (SQLite puts -wal and -shm beside a symlink's target).
    static func unwritable(_ path: String) -> DatabaseNotWritable? {
        let resolved = realpath(path, nil).map { pointer in
            defer { free(pointer) }
            return String(cString: pointer)
        } ?? path
        let directory = (resolved as NSString).deletingLastPathComponent
        for target in [resolved, directory.isEmpty ? "." : directory] {
            if faccessat(AT_FDCWD, target, W_OK, AT_EACCESS) != 0 {
                let code = errno
                if code == ENOENT { continue }
                return DatabaseNotWritable(path: path, reason: String(cString: strerror(code)))
            }
        }
        return nil
    }

    /// The oldest SQLite library kanband works with (3.35.0: `RETURNING`).
    static let minimumSQLite: Int32 = 3_035_000

    /// How many connections `readSync` keeps: one per event loop (`Daemon` runs two), which is
    /// where point reads run.
    static let directReaders = 2

    /// Runs `body` in one deferred (snapshot) transaction on a read-only connection.
    ///
    /// Why not `DatabasePool.read`: around each read it checks a connection out of its pool
    /// (semaphore, lock, item bookkeeping) and compiles and runs four statements of its own
    /// (`PRAGMA query_only` on and off, `BEGIN`, `COMMIT`); with DWARF stacks that measured as
    /// more time than `task.get`'s seven queries themselves (docs/PERFORMANCE.md). Here a free
    /// connection is taken under a lock and the transaction's two statements come from the
    /// statement cache. When every connection is busy, the pool serves the read as before.
    /// These connections skip GRDB's schema-cache invalidation, which is sound because the schema
    /// changes only in `Migrations`, before they open.
    func readSync<T>(_ body: (Database) throws -> T) throws -> T {
        let (reader, closed) = readers.withLockedValue { readers -> (DatabaseQueue?, Bool) in
            guard readers != nil else { return (nil, true) }
            return (readers!.popLast(), false)
        }
        // After `close()` the pool is closing too: refuse rather than race it.
        if closed { throw StoreClosed() }
        guard let reader else { return try pool.read(body) }
        defer {
            // Returned after `close()` (a read that was still running): closed instead.
            let closed = readers.withLockedValue { readers in
                readers?.append(reader)
                return readers == nil
            }
            if closed { try? reader.close() }
        }
        return try reader.inDatabase { db in
            try db.run(sql: "BEGIN DEFERRED")
            do {
                let value = try body(db)
                try db.run(sql: "COMMIT")
                return value
            } catch {
                if db.isInsideTransaction { try? db.run(sql: "ROLLBACK") }
                throw error
            }
        }
    }

    deinit {
        checkpointer.stop()
        writer.stop()
    }

    /// Stops the writer (after its pending writes) and closes every connection.
    public func close() {
        checkpointer.stop()
        writer.stop()
        for reader in readers.withLockedValue({ readers in defer { readers = nil }; return readers ?? [] }) {
            try? reader.close()
        }
        // Fold the WAL back into the database so a stopped board is one self-contained file.
        _ = try? pool.writeWithoutTransaction { db in try db.checkpoint(.truncate) }
        do {
            try pool.close()
        } catch {
            FileHandle.standardError.write(Data("kanband: closing the database: \(error)\n".utf8))
        }
    }

    /// Current number of writes waiting for the writer (for status and benchmarks).
    var pendingWrites: Int { writer.pendingCount }

    /// Commits, writes and the writes waiting, for `system.status`.
    var writerHealth: WriterHealth { writer.health }
}

/// The SQLite library kanband is linked against is older than `Store.minimumSQLite`.
struct SQLiteTooOld: Error, CustomStringConvertible {
    let found: String
    var description: String {
        "SQLite \(found) is too old: kanband needs 3.35.0 or newer (for UPDATE … RETURNING); install a newer libsqlite3"
    }
}

/// The database (or the directory its -wal and -shm files go in) cannot be written.
struct DatabaseNotWritable: Error, CustomStringConvertible {
    let path: String
    let reason: String
    var description: String {
        "the database \(path) is not writable (\(reason)); kanband writes it and its -wal and -shm files "
            + "beside it: mount the filesystem read-write or fix the permissions"
    }
}
