import GRDB

/// The versioned schema. `PRAGMA user_version` records how many migrations a database has had;
/// opening applies the missing ones in order inside one transaction, so a fresh home just works, an
/// older database upgrades, and a newer one is refused rather than misread.
///
/// Indexes on columns that a migration adds are created in that same migration, after the column
/// exists (the reference created them first and broke every legacy database).
enum Migrations {
    static let all: [(version: Int, sql: String)] = [(1, v1), (2, v2), (3, v3), (4, v4)]
    static var latest: Int { all.last!.version }

    static let v1 = """
        CREATE TABLE tasks (
            id TEXT PRIMARY KEY,
            title TEXT NOT NULL CHECK (length(title) > 0),
            body TEXT,
            assignee TEXT,
            status TEXT NOT NULL CHECK (status IN ('triage','todo','ready','running','blocked','done','archived')),
            priority INTEGER NOT NULL DEFAULT 0,
            tenant TEXT,
            workspace_kind TEXT NOT NULL DEFAULT 'scratch' CHECK (workspace_kind IN ('scratch','worktree','dir')),
            workspace_path TEXT,
            created_by TEXT,
            created_at INTEGER NOT NULL,
            started_at INTEGER,
            completed_at INTEGER,
            result TEXT,
            block_reason TEXT,
            idempotency_key TEXT,
            current_run INTEGER,
            claim_expires INTEGER
        );
        CREATE INDEX tasks_status_order ON tasks(status, priority DESC, created_at);
        CREATE INDEX tasks_assignee_status ON tasks(assignee, status);
        CREATE INDEX tasks_tenant ON tasks(tenant) WHERE tenant IS NOT NULL;
        CREATE INDEX tasks_claim_expires ON tasks(claim_expires) WHERE claim_expires IS NOT NULL;
        CREATE UNIQUE INDEX tasks_idempotency ON tasks(idempotency_key)
            WHERE idempotency_key IS NOT NULL AND status != 'archived';
        CREATE TABLE links (
            parent_id TEXT NOT NULL REFERENCES tasks(id),
            child_id TEXT NOT NULL REFERENCES tasks(id),
            PRIMARY KEY (parent_id, child_id)
        ) WITHOUT ROWID;
        CREATE INDEX links_child ON links(child_id, parent_id);
        CREATE TABLE comments (
            id INTEGER PRIMARY KEY,
            task_id TEXT NOT NULL REFERENCES tasks(id),
            author TEXT NOT NULL,
            body TEXT NOT NULL,
            created_at INTEGER NOT NULL
        );
        CREATE INDEX comments_task ON comments(task_id, id);
        CREATE TABLE events (
            id INTEGER PRIMARY KEY AUTOINCREMENT,
            task_id TEXT NOT NULL,
            run_id INTEGER,
            kind TEXT NOT NULL,
            payload TEXT,
            actor TEXT,
            created_at INTEGER NOT NULL
        );
        CREATE INDEX events_task ON events(task_id, id);
        """

    /// v2: worker runs, notification subscriptions, failure accounting and the ready-since time.
    static let v2 = """
        ALTER TABLE tasks ADD COLUMN ready_at INTEGER;
        ALTER TABLE tasks ADD COLUMN failures INTEGER NOT NULL DEFAULT 0;
        ALTER TABLE tasks ADD COLUMN last_error TEXT;
        UPDATE tasks SET ready_at = created_at WHERE status = 'ready';
        -- v1 had no runs table: a claim made under v1 has no run to fence or reclaim, so the task
        -- goes back to ready (its worker, if any, gets stale_run from now on).
        UPDATE tasks SET status = 'ready', ready_at = created_at, current_run = NULL, claim_expires = NULL
            WHERE status = 'running';
        CREATE INDEX tasks_failing ON tasks(failures) WHERE failures > 0;
        CREATE INDEX tasks_completed ON tasks(completed_at) WHERE completed_at IS NOT NULL;
        CREATE TABLE runs (
            id INTEGER PRIMARY KEY AUTOINCREMENT,
            task_id TEXT NOT NULL REFERENCES tasks(id),
            assignee TEXT,
            claimer TEXT,
            pid INTEGER,
            pid_start_time INTEGER,
            workspace TEXT,
            started_at INTEGER NOT NULL,
            ended_at INTEGER,
            heartbeat_at INTEGER,
            outcome TEXT NOT NULL DEFAULT 'running',
            exit_code INTEGER,
            signal INTEGER,
            error TEXT
        );
        CREATE INDEX runs_task ON runs(task_id, id);
        CREATE INDEX runs_live ON runs(outcome) WHERE outcome = 'running';
        CREATE TABLE notify_subs (
            task_id TEXT NOT NULL REFERENCES tasks(id),
            platform TEXT NOT NULL,
            chat_id TEXT NOT NULL,
            thread_id TEXT NOT NULL DEFAULT '',
            user_id TEXT,
            created_at INTEGER NOT NULL,
            cursor INTEGER NOT NULL DEFAULT 0,
            PRIMARY KEY (task_id, platform, chat_id, thread_id)
        ) WITHOUT ROWID;
        """

    /// v3: indexes measured at 100k tasks. The dispatcher's candidate query reads only ready,
    /// assigned tasks in dispatch order (it scanned every ready task before); stats groups by
    /// status and assignee from an index alone.
    static let v3 = """
        CREATE INDEX tasks_dispatchable ON tasks(priority DESC, created_at) WHERE status = 'ready' AND assignee IS NOT NULL;
        CREATE INDEX tasks_status_assignee ON tasks(status, assignee);
        """

    /// v4: a smaller history and constant-time stats, measured on a 100k-task, 1M-event board
    /// (docs/PERFORMANCE.md).
    ///
    /// - Every task gets a number, `seq`, that its events reference instead of the text id (see
    ///   `EventStorage`). Existing tasks are numbered in rowid order; a new task gets the next
    ///   number (`max + 1`: tasks are never deleted) from a trigger, whoever inserts it. `seq` is an
    ///   ordinary column, so VACUUM never renumbers it (it may renumber the implicit rowid of a
    ///   table with a text primary key).
    /// - `events` is rebuilt in the compact form: task number, kind code, and an index on the task
    ///   number alone (every index entry ends with the rowid; v1's `(task_id, id)` stored the id
    ///   twice). Payloads are copied as they are (v3's JSON objects stay a valid stored form), ids
    ///   are kept, and the AUTOINCREMENT counter carries over, so an id that gc deleted is never
    ///   handed out again.
    /// - `task_counts` holds the number of tasks per (status, assignee), kept exact by triggers on
    ///   every insert, delete and change of status or assignee; stats read it instead of grouping
    ///   100k rows, so v3's `tasks_status_assignee` index (used by nothing else) goes. `''` stands
    ///   for no assignee (kanband never stores an empty one), since a primary key cannot match NULL.
    /// - `tasks_ready_since` orders ready tasks by the time they became ready, for stats' oldest one.
    static let v4 = """
        ALTER TABLE tasks ADD COLUMN seq INTEGER;
        UPDATE tasks SET seq = rowid;
        CREATE UNIQUE INDEX tasks_seq ON tasks(seq);
        CREATE TRIGGER tasks_number AFTER INSERT ON tasks WHEN NEW.seq IS NULL BEGIN
            UPDATE tasks SET seq = (SELECT coalesce(max(seq), 0) + 1 FROM tasks) WHERE rowid = NEW.rowid;
        END;

        ALTER TABLE events RENAME TO events_v3;
        CREATE TABLE events (
            id INTEGER PRIMARY KEY AUTOINCREMENT,
            task_seq INTEGER,
            task_text TEXT,
            run_id INTEGER,
            kind NOT NULL,
            payload TEXT,
            actor TEXT,
            created_at INTEGER NOT NULL
        );
        INSERT INTO events (id, task_seq, task_text, run_id, kind, payload, actor, created_at)
            SELECT e.id, t.seq, CASE WHEN t.seq IS NULL THEN e.task_id END, e.run_id,
                \(EventStorage.storedKindSQL("e.kind")), e.payload, e.actor, e.created_at
            FROM events_v3 e LEFT JOIN tasks t ON t.id = e.task_id ORDER BY e.id;
        DELETE FROM sqlite_sequence WHERE name = 'events';
        UPDATE sqlite_sequence SET name = 'events' WHERE name = 'events_v3';
        DROP TABLE events_v3;
        CREATE INDEX events_task ON events(task_seq);
        CREATE INDEX events_orphans ON events(task_text) WHERE task_text IS NOT NULL;

        DROP INDEX IF EXISTS tasks_status_assignee;
        CREATE TABLE task_counts (
            status TEXT NOT NULL,
            assignee TEXT NOT NULL,
            n INTEGER NOT NULL,
            PRIMARY KEY (status, assignee)
        ) WITHOUT ROWID;
        INSERT INTO task_counts (status, assignee, n)
            SELECT status, coalesce(assignee, ''), count(*) FROM tasks GROUP BY 1, 2;
        CREATE TRIGGER task_counts_insert AFTER INSERT ON tasks BEGIN
            INSERT INTO task_counts (status, assignee, n) VALUES (NEW.status, coalesce(NEW.assignee, ''), 1)
                ON CONFLICT DO UPDATE SET n = n + 1;
        END;
        CREATE TRIGGER task_counts_delete AFTER DELETE ON tasks BEGIN
            UPDATE task_counts SET n = n - 1 WHERE status = OLD.status AND assignee = coalesce(OLD.assignee, '');
            DELETE FROM task_counts WHERE status = OLD.status AND assignee = coalesce(OLD.assignee, '') AND n = 0;
        END;
        CREATE TRIGGER task_counts_update AFTER UPDATE OF status, assignee ON tasks
            WHEN OLD.status IS NOT NEW.status OR OLD.assignee IS NOT NEW.assignee BEGIN
            UPDATE task_counts SET n = n - 1 WHERE status = OLD.status AND assignee = coalesce(OLD.assignee, '');
            DELETE FROM task_counts WHERE status = OLD.status AND assignee = coalesce(OLD.assignee, '') AND n = 0;
            INSERT INTO task_counts (status, assignee, n) VALUES (NEW.status, coalesce(NEW.assignee, ''), 1)
                ON CONFLICT DO UPDATE SET n = n + 1;
        END;
        CREATE INDEX tasks_ready_since ON tasks(coalesce(ready_at, created_at)) WHERE status = 'ready';
        """

    /// Applies what is missing. Throws `SchemaError.tooNew` for a database from a newer kanband.
    static func migrate(_ db: Database) throws -> Int {
        let current = try Int.fetchOne(db, sql: "PRAGMA user_version") ?? 0
        if current > latest { throw SchemaError.tooNew(found: current, supported: latest) }
        for migration in all where migration.version > current {
            try db.execute(sql: migration.sql)
            try db.execute(sql: "PRAGMA user_version = \(migration.version)")
        }
        // Also a write probe: SQLite silently opens a read-only file read-only, and a daemon that
        // only finds out at the first write would look healthy while refusing every change.
        try db.execute(sql: "PRAGMA user_version = \(latest)")
        return latest
    }
}

/// A database this build cannot open.
public enum SchemaError: Error, CustomStringConvertible {
    case tooNew(found: Int, supported: Int)

    public var description: String {
        switch self {
        case .tooNew(let found, let supported):
            return "database schema version \(found) is newer than this kanband supports (\(supported)); "
                + "upgrade kanband or restore a backup"
        }
    }
}
