/// A task's place in its life. The order of cases is the board's column order.
public enum TaskStatus: String, Codable, Sendable, CaseIterable {
    case triage, todo, ready, running, blocked, done, archived

    /// Parses a user-supplied status, or fails with the list of valid ones.
    public static func parse(_ text: String) throws(KanbanError) -> TaskStatus {
        guard let status = TaskStatus(rawValue: text.lowercased()) else {
            throw .invalidArgument(
                "unknown status '\(text)': use one of \(TaskStatus.allCases.map(\.rawValue).joined(separator: ", "))")
        }
        return status
    }
}

/// Where a task's worker runs: `scratch` (a fresh directory under the home), `worktree` (a git
/// worktree) or `dir:<absolute path>`.
public enum WorkspaceSpec: Sendable, Equatable {
    case scratch
    case worktree
    case dir(String)

    public var kind: String {
        switch self {
        case .scratch: return "scratch"
        case .worktree: return "worktree"
        case .dir: return "dir"
        }
    }

    public var path: String? {
        if case .dir(let path) = self { return path }
        return nil
    }

    /// The text form accepted on the command line and the wire.
    public var text: String {
        if case .dir(let path) = self { return "dir:\(path)" }
        return kind
    }

    /// Parses `scratch`, `worktree` or `dir:<abs path>`. A relative path is refused: the daemon's
    /// working directory is not the caller's, so it would silently mean somewhere else.
    public static func parse(_ text: String) throws(KanbanError) -> WorkspaceSpec {
        switch text {
        case "", "scratch": return .scratch
        case "worktree": return .worktree
        default:
            guard text.hasPrefix("dir:") else {
                throw .invalidArgument("unknown workspace value '\(text)': use scratch, worktree, or dir:<absolute path>")
            }
            let path = String(text.dropFirst(4))
            guard !path.isEmpty else { throw .invalidArgument("workspace dir: requires a path after the colon") }
            guard path.hasPrefix("/") else {
                throw .invalidArgument("workspace dir:\(path) must be an absolute path")
            }
            return .dir(path)
        }
    }
}

/// A task as the wire carries it. Times are unix seconds (fractional).
public struct TaskInfo: Codable, Sendable, Equatable {
    public var id: String
    public var title: String
    public var body: String?
    public var assignee: String?
    public var status: TaskStatus
    public var priority: Int
    public var tenant: String?
    public var workspaceKind: String
    public var workspacePath: String?
    public var createdBy: String?
    public var createdAt: Double
    /// When the task last became ready: the age `stats` reports for ready tasks.
    public var readyAt: Double?
    /// The first claim.
    public var startedAt: Double?
    public var completedAt: Double?
    public var result: String?
    public var blockReason: String?
    public var idempotencyKey: String?
    /// The live run, while running.
    public var currentRunID: Int64?
    public var claimExpires: Double?
    /// Failures (spawn errors, crashes, timeouts) since the last success or unblock.
    public var consecutiveFailures: Int
    public var lastFailureError: String?

    enum CodingKeys: String, CodingKey {
        case id, title, body, assignee, status, priority, tenant, result
        case workspaceKind = "workspace_kind"
        case workspacePath = "workspace_path"
        case createdBy = "created_by"
        case createdAt = "created_at"
        case readyAt = "ready_at"
        case startedAt = "started_at"
        case completedAt = "completed_at"
        case blockReason = "block_reason"
        case idempotencyKey = "idempotency_key"
        case currentRunID = "current_run_id"
        case claimExpires = "claim_expires"
        case consecutiveFailures = "consecutive_failures"
        case lastFailureError = "last_failure_error"
    }

    public init(
        id: String, title: String, body: String? = nil, assignee: String? = nil, status: TaskStatus,
        priority: Int = 0, tenant: String? = nil, workspaceKind: String = "scratch", workspacePath: String? = nil,
        createdBy: String? = nil, createdAt: Double, readyAt: Double? = nil, startedAt: Double? = nil,
        completedAt: Double? = nil, result: String? = nil, blockReason: String? = nil,
        idempotencyKey: String? = nil, currentRunID: Int64? = nil, claimExpires: Double? = nil,
        consecutiveFailures: Int = 0, lastFailureError: String? = nil
    ) {
        self.id = id
        self.title = title
        self.body = body
        self.assignee = assignee
        self.status = status
        self.priority = priority
        self.tenant = tenant
        self.workspaceKind = workspaceKind
        self.workspacePath = workspacePath
        self.createdBy = createdBy
        self.createdAt = createdAt
        self.readyAt = readyAt
        self.startedAt = startedAt
        self.completedAt = completedAt
        self.result = result
        self.blockReason = blockReason
        self.idempotencyKey = idempotencyKey
        self.currentRunID = currentRunID
        self.claimExpires = claimExpires
        self.consecutiveFailures = consecutiveFailures
        self.lastFailureError = lastFailureError
    }
}

/// The members of a task a board view shows: what `task.list` returns with `summary: true`.
///
/// A whole task carries its body, result and failure text, which agents fill with kilobytes; a
/// table of thousands of tasks needs none of it, and leaving it out halves the bytes to produce,
/// send and parse.
public struct TaskSummary: Codable, Sendable, Equatable {
    public var id: String
    public var title: String
    public var status: TaskStatus
    public var assignee: String?
    public var tenant: String?
    public var priority: Int

    public init(id: String, title: String, status: TaskStatus, assignee: String? = nil, tenant: String? = nil, priority: Int = 0) {
        self.id = id
        self.title = title
        self.status = status
        self.assignee = assignee
        self.tenant = tenant
        self.priority = priority
    }
}

extension TaskInfo {
    public var summary: TaskSummary {
        TaskSummary(id: id, title: title, status: status, assignee: assignee, tenant: tenant, priority: priority)
    }
}

/// One entry of a task's append-only history. `id` is monotonic across the board: the cursor of
/// every stream.
public struct EventInfo: Codable, Sendable, Equatable {
    public var id: Int64
    public var taskID: String
    public var runID: Int64?
    public var kind: String
    public var payload: JSONValue?
    public var actor: String?
    public var createdAt: Double

    enum CodingKeys: String, CodingKey {
        case id, kind, payload, actor
        case taskID = "task_id"
        case runID = "run_id"
        case createdAt = "created_at"
    }

    public init(
        id: Int64, taskID: String, runID: Int64? = nil, kind: String, payload: JSONValue? = nil,
        actor: String? = nil, createdAt: Double
    ) {
        self.id = id
        self.taskID = taskID
        self.runID = runID
        self.kind = kind
        self.payload = payload
        self.actor = actor
        self.createdAt = createdAt
    }
}

/// A comment on a task's thread.
public struct CommentInfo: Codable, Sendable, Equatable {
    public var id: Int64
    public var taskID: String
    public var author: String
    public var body: String
    public var createdAt: Double

    enum CodingKeys: String, CodingKey {
        case id, author, body
        case taskID = "task_id"
        case createdAt = "created_at"
    }

    public init(id: Int64, taskID: String, author: String, body: String, createdAt: Double) {
        self.id = id
        self.taskID = taskID
        self.author = author
        self.body = body
        self.createdAt = createdAt
    }
}

/// One attempt at a task: a claim, and the worker process if the dispatcher started one.
public struct RunInfo: Codable, Sendable, Equatable {
    public var id: Int64
    public var taskID: String
    public var assignee: String?
    public var claimer: String?
    public var pid: Int32?
    public var startedAt: Double
    public var endedAt: Double?
    /// `running` while live; then `completed`, `blocked`, `crashed`, `exited_without_result`,
    /// `timed_out`, `reclaimed`, `spawn_failed`, `archived` or `released`.
    public var outcome: String
    public var exitCode: Int32?
    public var signal: Int32?
    public var error: String?
    public var workspace: String?
    public var lastHeartbeatAt: Double?

    enum CodingKeys: String, CodingKey {
        case id, assignee, claimer, pid, outcome, signal, error, workspace
        case taskID = "task_id"
        case startedAt = "started_at"
        case endedAt = "ended_at"
        case exitCode = "exit_code"
        case lastHeartbeatAt = "last_heartbeat_at"
    }

    public init(
        id: Int64, taskID: String, assignee: String? = nil, claimer: String? = nil, pid: Int32? = nil,
        startedAt: Double, endedAt: Double? = nil, outcome: String, exitCode: Int32? = nil, signal: Int32? = nil,
        error: String? = nil, workspace: String? = nil, lastHeartbeatAt: Double? = nil
    ) {
        self.id = id
        self.taskID = taskID
        self.assignee = assignee
        self.claimer = claimer
        self.pid = pid
        self.startedAt = startedAt
        self.endedAt = endedAt
        self.outcome = outcome
        self.exitCode = exitCode
        self.signal = signal
        self.error = error
        self.workspace = workspace
        self.lastHeartbeatAt = lastHeartbeatAt
    }
}

/// Ages of a task in seconds, computed by the daemon at read time.
public struct TaskAge: Codable, Sendable, Equatable {
    public var createdAgeSeconds: Double
    public var startedAgeSeconds: Double?
    public var timeToCompleteSeconds: Double?

    enum CodingKeys: String, CodingKey {
        case createdAgeSeconds = "created_age_seconds"
        case startedAgeSeconds = "started_age_seconds"
        case timeToCompleteSeconds = "time_to_complete_seconds"
    }

    public init(createdAgeSeconds: Double, startedAgeSeconds: Double?, timeToCompleteSeconds: Double?) {
        self.createdAgeSeconds = createdAgeSeconds
        self.startedAgeSeconds = startedAgeSeconds
        self.timeToCompleteSeconds = timeToCompleteSeconds
    }
}

/// Stable event kinds (see docs/PROTOCOL.md). Payloads are documented there too.
public enum EventKind {
    public static let created = "created"
    public static let assigned = "assigned"
    public static let linked = "linked"
    public static let unlinked = "unlinked"
    public static let commented = "commented"
    public static let promoted = "promoted"
    public static let claimed = "claimed"
    public static let heartbeat = "heartbeat"
    public static let spawned = "spawned"
    public static let completed = "completed"
    public static let blocked = "blocked"
    public static let unblocked = "unblocked"
    public static let archived = "archived"
    public static let reclaimed = "reclaimed"
    public static let crashed = "crashed"
    public static let exitedWithoutResult = "exited_without_result"
    public static let timedOut = "timed_out"
    public static let spawnFailed = "spawn_failed"
    public static let gaveUp = "gave_up"
    public static let adopted = "adopted"

    /// The kinds a notification subscription delivers.
    public static let terminal: [String] = [completed, blocked, gaveUp, crashed, timedOut, archived]
}
