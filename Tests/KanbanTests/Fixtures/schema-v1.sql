-- A kanban database as kanband schema v1 wrote it, for the migration tests
-- (Tests/KanbanTests/Board/BoardMigrationTests.swift). The schema below is exactly
-- Migrations.v1; a test checks that it stays so. Do not edit it by hand.

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

PRAGMA user_version = 1;

-- created_at 1_699_990_000_000 .. : unix milliseconds, before the tests' manual clock (1_700_000_000_000).
INSERT INTO tasks (id, title, body, assignee, status, priority, tenant, workspace_kind, workspace_path, created_by,
    created_at, started_at, completed_at, result, block_reason, idempotency_key, current_run, claim_expires)
VALUES
    ('t_00000000000000a1', 'Design the schema', 'tables and indexes', 'alice', 'done', 0, NULL, 'scratch', NULL, 'bob',
        1699990000000, 1699990100000, 1699990200000, 'schema agreed: four tables', NULL, NULL, NULL, NULL),
    ('t_00000000000000b2', 'Build the store', NULL, 'alice', 'ready', 2, NULL, 'dir', '/srv/store', 'bob',
        1699990300000, NULL, NULL, NULL, NULL, NULL, NULL, NULL),
    ('t_00000000000000c3', 'Ship it', NULL, NULL, 'todo', 0, NULL, 'scratch', NULL, 'bob',
        1699990400000, NULL, NULL, NULL, NULL, NULL, NULL, NULL),
    ('t_00000000000000d4', 'Old idea', NULL, NULL, 'triage', 0, 'acme', 'scratch', NULL, 'carol',
        1699990500000, NULL, NULL, NULL, NULL, NULL, NULL, NULL),
    ('t_00000000000000e5', 'Archived request', NULL, 'bot', 'archived', 0, NULL, 'scratch', NULL, 'script',
        1699990600000, NULL, NULL, NULL, NULL, 'k-archived', NULL, NULL),
    ('t_00000000000000f6', 'Live request', NULL, 'bot', 'ready', 0, NULL, 'scratch', NULL, 'script',
        1699990700000, NULL, NULL, NULL, NULL, 'k-live', NULL, NULL),
    -- Claimed under v1 (its claim long expired): v1 had current_run but no runs table.
    ('t_00000000000000a7', 'Half-done work', NULL, 'bot', 'running', 0, NULL, 'scratch', NULL, 'script',
        1699990800000, 1699990900000, NULL, NULL, NULL, NULL, 7, 1699991800000);

INSERT INTO links (parent_id, child_id) VALUES
    ('t_00000000000000a1', 't_00000000000000b2'),
    ('t_00000000000000b2', 't_00000000000000c3');

INSERT INTO comments (task_id, author, body, created_at) VALUES
    ('t_00000000000000b2', 'bob', 'use WAL mode', 1699990350000);

INSERT INTO events (task_id, run_id, kind, payload, actor, created_at) VALUES
    ('t_00000000000000a1', NULL, 'created', '{"status":"ready"}', 'bob', 1699990000000),
    ('t_00000000000000b2', NULL, 'created', '{"status":"todo"}', 'bob', 1699990300000),
    ('t_00000000000000c3', NULL, 'created', '{"status":"todo"}', 'bob', 1699990400000),
    ('t_00000000000000a1', NULL, 'completed', '{"result_len":26}', 'alice', 1699990200000),
    ('t_00000000000000b2', NULL, 'promoted', NULL, 'alice', 1699990200000),
    ('t_00000000000000b2', NULL, 'commented', '{"author":"bob","len":12}', 'bob', 1699990350000),
    ('t_00000000000000d4', NULL, 'created', '{"status":"triage"}', 'carol', 1699990500000),
    ('t_00000000000000e5', NULL, 'created', '{"status":"ready"}', 'script', 1699990600000),
    ('t_00000000000000e5', NULL, 'archived', NULL, 'script', 1699990650000),
    ('t_00000000000000f6', NULL, 'created', '{"status":"ready"}', 'script', 1699990700000),
    ('t_00000000000000a7', NULL, 'created', '{"status":"ready"}', 'script', 1699990800000),
    ('t_00000000000000a7', 7, 'claimed', '{"claimer":"w7"}', 'w7', 1699990900000);
