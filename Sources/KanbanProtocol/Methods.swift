/// Method names, `noun.verb`. Every method is listed with its params and result in docs/PROTOCOL.md.
public enum Method: String, Sendable, CaseIterable {
    case systemHello = "system.hello"
    case systemStatus = "system.status"
    case configReload = "config.reload"
    case taskCreate = "task.create"
    case taskList = "task.list"
    case taskGet = "task.get"
    case taskAssign = "task.assign"
    case taskLink = "task.link"
    case taskUnlink = "task.unlink"
    case taskComment = "task.comment"
    case taskComplete = "task.complete"
    case taskBlock = "task.block"
    case taskUnblock = "task.unblock"
    case taskArchive = "task.archive"
    case taskPromote = "task.promote"
    case taskClaim = "task.claim"
    case taskHeartbeat = "task.heartbeat"
    case taskContext = "task.context"
    case taskRuns = "task.runs"
    case taskLog = "task.log"
    case dispatchRun = "dispatch.run"
    case eventsList = "events.list"
    case eventsWatch = "events.watch"
    case eventsUnwatch = "events.unwatch"
    case notifySubscribe = "notify.subscribe"
    case notifyUnsubscribe = "notify.unsubscribe"
    case notifyList = "notify.list"
    case notifyPending = "notify.pending"
    case notifyAck = "notify.ack"
    case boardStats = "board.stats"
    case boardGC = "board.gc"
}

/// Protocol version. The major changes only on a breaking change; fields are only ever added.
public enum ProtocolVersion {
    public static let major = 1
    public static let minor = 0
    public static var string: String { "\(major).\(minor)" }
}

/// Empty params or result.
public struct Empty: Codable, Sendable, Equatable {
    public init() {}
}

// MARK: system

public struct HelloParams: Codable, Sendable {
    public var client: String?
    public var protocolMajor: Int?
    enum CodingKeys: String, CodingKey {
        case client
        case protocolMajor = "protocol_major"
    }
    public init(client: String? = nil, protocolMajor: Int? = ProtocolVersion.major) {
        self.client = client
        self.protocolMajor = protocolMajor
    }
}

public struct HelloResult: Codable, Sendable {
    public var protocolVersion: String
    public var protocolMajor: Int
    public var protocolMinor: Int
    public var serverVersion: String
    public var pid: Int32
    public var capabilities: [String]
    enum CodingKeys: String, CodingKey {
        case pid, capabilities
        case protocolVersion = "protocol_version"
        case protocolMajor = "protocol_major"
        case protocolMinor = "protocol_minor"
        case serverVersion = "server_version"
    }
    public init(serverVersion: String, pid: Int32, capabilities: [String]) {
        self.protocolVersion = ProtocolVersion.string
        self.protocolMajor = ProtocolVersion.major
        self.protocolMinor = ProtocolVersion.minor
        self.serverVersion = serverVersion
        self.pid = pid
        self.capabilities = capabilities
    }
}

public struct DispatcherHealth: Codable, Sendable, Equatable {
    public var enabled: Bool
    public var lastTickAt: Double?
    public var lastTickSeconds: Double?
    public var ticks: Int
    public var running: Int
    public var maxConcurrent: Int
    public var perAssignee: [String: Int]
    public var failureLimit: Int
    public var intervalSeconds: Double
    public var claimTTLSeconds: Double
    public var failingTasks: Int
    public var configPath: String?
    public var configError: String?
    enum CodingKeys: String, CodingKey {
        case enabled, ticks, running
        case lastTickAt = "last_tick_at"
        case lastTickSeconds = "last_tick_seconds"
        case maxConcurrent = "max_concurrent"
        case perAssignee = "per_assignee_max"
        case failureLimit = "failure_limit"
        case intervalSeconds = "interval_seconds"
        case claimTTLSeconds = "claim_ttl_seconds"
        case failingTasks = "failing_tasks"
        case configPath = "config_path"
        case configError = "config_error"
    }
    public init(
        enabled: Bool, lastTickAt: Double?, lastTickSeconds: Double?, ticks: Int, running: Int, maxConcurrent: Int,
        perAssignee: [String: Int], failureLimit: Int, intervalSeconds: Double, claimTTLSeconds: Double,
        failingTasks: Int, configPath: String?, configError: String?
    ) {
        self.enabled = enabled
        self.lastTickAt = lastTickAt
        self.lastTickSeconds = lastTickSeconds
        self.ticks = ticks
        self.running = running
        self.maxConcurrent = maxConcurrent
        self.perAssignee = perAssignee
        self.failureLimit = failureLimit
        self.intervalSeconds = intervalSeconds
        self.claimTTLSeconds = claimTTLSeconds
        self.failingTasks = failingTasks
        self.configPath = configPath
        self.configError = configError
    }
}

public struct StatusResult: Codable, Sendable {
    public var pid: Int32
    public var serverVersion: String
    public var protocolVersion: String
    public var startedAt: Double
    public var uptimeSeconds: Double
    public var home: String
    public var database: String
    public var socket: String
    public var schemaVersion: Int
    public var durability: String
    public var connections: Int
    public var subscribers: Int
    public var dispatcher: DispatcherHealth
    /// The writer's group commit so far (absent from a kanband older than this field).
    public var writes: WriterHealth?
    enum CodingKeys: String, CodingKey {
        case pid, home, database, socket, durability, connections, subscribers, dispatcher, writes
        case serverVersion = "server_version"
        case protocolVersion = "protocol_version"
        case startedAt = "started_at"
        case uptimeSeconds = "uptime_seconds"
        case schemaVersion = "schema_version"
    }
    public init(
        pid: Int32, serverVersion: String, startedAt: Double, uptimeSeconds: Double, home: String, database: String,
        socket: String, schemaVersion: Int, durability: String, connections: Int, subscribers: Int,
        dispatcher: DispatcherHealth, writes: WriterHealth? = nil
    ) {
        self.writes = writes
        self.pid = pid
        self.serverVersion = serverVersion
        self.protocolVersion = ProtocolVersion.string
        self.startedAt = startedAt
        self.uptimeSeconds = uptimeSeconds
        self.home = home
        self.database = database
        self.socket = socket
        self.schemaVersion = schemaVersion
        self.durability = durability
        self.connections = connections
        self.subscribers = subscribers
        self.dispatcher = dispatcher
    }
}

/// What the single writer has done since kanband started: how many writes it committed in how
/// many transactions (`writes / commits` is the group-commit batch size), and how many wait now.
public struct WriterHealth: Codable, Sendable, Equatable {
    public var commits: Int64
    public var writes: Int64
    public var pending: Int
    public init(commits: Int64, writes: Int64, pending: Int) {
        self.commits = commits
        self.writes = writes
        self.pending = pending
    }
}

public struct ReloadResult: Codable, Sendable {
    public var ok: Bool
    public var path: String?
    public var workers: [String]
    public init(ok: Bool, path: String?, workers: [String]) {
        self.ok = ok
        self.path = path
        self.workers = workers
    }
}

// MARK: tasks

/// Identifies the caller for the event history; the daemon adds the peer's uid and pid.
public protocol Authored {
    var author: String? { get }
}

public struct CreateParams: Codable, Sendable, Authored {
    public var title: String
    public var body: String?
    public var assignee: String?
    public var parents: [String]?
    public var tenant: String?
    public var priority: Int?
    public var workspace: String?
    public var triage: Bool?
    public var idempotencyKey: String?
    public var createdBy: String?
    public var author: String?
    enum CodingKeys: String, CodingKey {
        case title, body, assignee, parents, tenant, priority, workspace, triage, author
        case idempotencyKey = "idempotency_key"
        case createdBy = "created_by"
    }
    public init(
        title: String, body: String? = nil, assignee: String? = nil, parents: [String]? = nil, tenant: String? = nil,
        priority: Int? = nil, workspace: String? = nil, triage: Bool? = nil, idempotencyKey: String? = nil,
        createdBy: String? = nil, author: String? = nil
    ) {
        self.title = title
        self.body = body
        self.assignee = assignee
        self.parents = parents
        self.tenant = tenant
        self.priority = priority
        self.workspace = workspace
        self.triage = triage
        self.idempotencyKey = idempotencyKey
        self.createdBy = createdBy
        self.author = author
    }
}

public struct CreateResult: Codable, Sendable {
    public var task: TaskInfo
    /// False when an idempotency key matched an existing task, which is returned unchanged.
    public var created: Bool
    public init(task: TaskInfo, created: Bool) {
        self.task = task
        self.created = created
    }
}

public struct ListParams: Codable, Sendable {
    public var assignee: String?
    public var status: String?
    public var tenant: String?
    public var archived: Bool?
    public var limit: Int?
    /// True: answer with `TaskSummary` rows (a `TaskSummaryListResult`), not whole tasks.
    public var summary: Bool?
    public init(
        assignee: String? = nil, status: String? = nil, tenant: String? = nil, archived: Bool? = nil, limit: Int? = nil,
        summary: Bool? = nil
    ) {
        self.assignee = assignee
        self.status = status
        self.tenant = tenant
        self.archived = archived
        self.limit = limit
        self.summary = summary
    }
}

public struct TaskListResult: Codable, Sendable {
    public var tasks: [TaskInfo]
    public init(tasks: [TaskInfo]) { self.tasks = tasks }
}

/// `task.list` with `summary: true`.
public struct TaskSummaryListResult: Codable, Sendable {
    public var tasks: [TaskSummary]
    public init(tasks: [TaskSummary]) { self.tasks = tasks }
}

public struct IDParams: Codable, Sendable, Authored {
    public var id: String
    public var author: String?
    public init(id: String, author: String? = nil) {
        self.id = id
        self.author = author
    }
}

public struct GetParams: Codable, Sendable {
    public var id: String
    /// How many of the latest events to include (default 20; 0 for none).
    public var events: Int?
    /// How many of the latest comments to include (default `GetParams.defaultComments`; 0 for none).
    public var comments: Int?
    public init(id: String, events: Int? = nil, comments: Int? = nil) {
        self.id = id
        self.events = events
        self.comments = comments
    }

    /// Comments in a `task.get` reply unless asked otherwise: a thread can grow without bound, and
    /// a reply must not.
    public static let defaultComments = 100
}

public struct TaskDetail: Codable, Sendable {
    public var task: TaskInfo
    public var parents: [String]
    public var children: [String]
    /// The latest comments, oldest first (`GetParams.comments` of them at most).
    public var comments: [CommentInfo]
    /// All of the task's comments.
    public var commentCount: Int
    public var events: [EventInfo]
    public var eventCount: Int
    public var runs: [RunInfo]
    public var age: TaskAge
    enum CodingKeys: String, CodingKey {
        case task, parents, children, comments, events, runs, age
        case commentCount = "comment_count"
        case eventCount = "event_count"
    }
    public init(
        task: TaskInfo, parents: [String], children: [String], comments: [CommentInfo], commentCount: Int? = nil,
        events: [EventInfo], eventCount: Int, runs: [RunInfo], age: TaskAge
    ) {
        self.task = task
        self.parents = parents
        self.children = children
        self.comments = comments
        self.commentCount = commentCount ?? comments.count
        self.events = events
        self.eventCount = eventCount
        self.runs = runs
        self.age = age
    }

    /// A reply from a kanband that predates `comment_count` sent every comment.
    public init(from decoder: any Decoder) throws {
        let container = try decoder.container(keyedBy: CodingKeys.self)
        task = try container.decode(TaskInfo.self, forKey: .task)
        parents = try container.decode([String].self, forKey: .parents)
        children = try container.decode([String].self, forKey: .children)
        comments = try container.decode([CommentInfo].self, forKey: .comments)
        commentCount = try container.decodeIfPresent(Int.self, forKey: .commentCount) ?? comments.count
        events = try container.decode([EventInfo].self, forKey: .events)
        eventCount = try container.decode(Int.self, forKey: .eventCount)
        runs = try container.decode([RunInfo].self, forKey: .runs)
        age = try container.decode(TaskAge.self, forKey: .age)
    }
}

public struct TaskResult: Codable, Sendable {
    public var task: TaskInfo
    public init(task: TaskInfo) { self.task = task }
}

public struct AssignParams: Codable, Sendable, Authored {
    public var id: String
    /// Nil unassigns.
    public var assignee: String?
    public var author: String?
    public init(id: String, assignee: String?, author: String? = nil) {
        self.id = id
        self.assignee = assignee
        self.author = author
    }
}

public struct LinkParams: Codable, Sendable, Authored {
    public var parent: String
    public var child: String
    public var author: String?
    public init(parent: String, child: String, author: String? = nil) {
        self.parent = parent
        self.child = child
        self.author = author
    }
}

public struct LinkResult: Codable, Sendable {
    public var parent: String
    public var child: String
    /// The child's status after the change (a ready child is demoted when linked to an unfinished parent).
    public var childStatus: TaskStatus
    enum CodingKeys: String, CodingKey {
        case parent, child
        case childStatus = "child_status"
    }
    public init(parent: String, child: String, childStatus: TaskStatus) {
        self.parent = parent
        self.child = child
        self.childStatus = childStatus
    }
}

/// Worker-facing calls carry the run id the daemon gave the worker (`KANBAN_RUN_ID`), so a worker
/// whose run was reclaimed cannot change the task's new run.
public struct CommentParams: Codable, Sendable, Authored {
    public var id: String
    public var body: String
    public var author: String?
    public var runID: Int64?
    enum CodingKeys: String, CodingKey {
        case id, body, author
        case runID = "run_id"
    }
    public init(id: String, body: String, author: String? = nil, runID: Int64? = nil) {
        self.id = id
        self.body = body
        self.author = author
        self.runID = runID
    }
}

public struct CommentResult: Codable, Sendable {
    public var comment: CommentInfo
    public init(comment: CommentInfo) { self.comment = comment }
}

public struct CompleteParams: Codable, Sendable, Authored {
    public var id: String
    public var result: String?
    public var author: String?
    public var runID: Int64?
    enum CodingKeys: String, CodingKey {
        case id, result, author
        case runID = "run_id"
    }
    public init(id: String, result: String? = nil, author: String? = nil, runID: Int64? = nil) {
        self.id = id
        self.result = result
        self.author = author
        self.runID = runID
    }
}

public struct BlockParams: Codable, Sendable, Authored {
    public var id: String
    public var reason: String?
    public var author: String?
    public var runID: Int64?
    enum CodingKeys: String, CodingKey {
        case id, reason, author
        case runID = "run_id"
    }
    public init(id: String, reason: String? = nil, author: String? = nil, runID: Int64? = nil) {
        self.id = id
        self.reason = reason
        self.author = author
        self.runID = runID
    }
}

public struct PromoteParams: Codable, Sendable, Authored {
    public var id: String
    /// `ready` (default: ready when every parent is done, else todo) or `todo`.
    public var to: String?
    public var author: String?
    public init(id: String, to: String? = nil, author: String? = nil) {
        self.id = id
        self.to = to
        self.author = author
    }
}

public struct ClaimParams: Codable, Sendable, Authored {
    public var id: String
    public var ttl: Double?
    public var claimer: String?
    public var author: String?
    public init(id: String, ttl: Double? = nil, claimer: String? = nil, author: String? = nil) {
        self.id = id
        self.ttl = ttl
        self.claimer = claimer
        self.author = author
    }
}

public struct ClaimResult: Codable, Sendable {
    public var task: TaskInfo
    public var runID: Int64
    public var claimExpires: Double
    public var workspace: String?
    enum CodingKeys: String, CodingKey {
        case task, workspace
        case runID = "run_id"
        case claimExpires = "claim_expires"
    }
    public init(task: TaskInfo, runID: Int64, claimExpires: Double, workspace: String?) {
        self.task = task
        self.runID = runID
        self.claimExpires = claimExpires
        self.workspace = workspace
    }
}

public struct HeartbeatParams: Codable, Sendable, Authored {
    public var id: String
    public var runID: Int64?
    public var ttl: Double?
    public var note: String?
    public var author: String?
    enum CodingKeys: String, CodingKey {
        case id, ttl, note, author
        case runID = "run_id"
    }
    public init(id: String, runID: Int64? = nil, ttl: Double? = nil, note: String? = nil, author: String? = nil) {
        self.id = id
        self.runID = runID
        self.ttl = ttl
        self.note = note
        self.author = author
    }
}

public struct ContextResult: Codable, Sendable {
    public var id: String
    public var text: String
    public init(id: String, text: String) {
        self.id = id
        self.text = text
    }
}

public struct RunsResult: Codable, Sendable {
    public var runs: [RunInfo]
    public init(runs: [RunInfo]) { self.runs = runs }
}

public struct LogParams: Codable, Sendable {
    public var id: String
    /// Only the last this-many bytes (a partial first line is dropped).
    public var tail: Int?
    /// Read from this byte offset of the live log (for following); wins over `tail`.
    public var offset: Int?
    public init(id: String, tail: Int? = nil, offset: Int? = nil) {
        self.id = id
        self.tail = tail
        self.offset = offset
    }
}

public struct LogResult: Codable, Sendable {
    public var id: String
    public var path: String
    public var exists: Bool
    public var size: Int
    public var content: String
    public var truncated: Bool
    /// Where the next follow read should start; smaller than a previous offset after a rotation.
    public var nextOffset: Int
    enum CodingKeys: String, CodingKey {
        case id, path, exists, size, content, truncated
        case nextOffset = "next_offset"
    }
    public init(id: String, path: String, exists: Bool, size: Int, content: String, truncated: Bool, nextOffset: Int) {
        self.id = id
        self.path = path
        self.exists = exists
        self.size = size
        self.content = content
        self.truncated = truncated
        self.nextOffset = nextOffset
    }
}

// MARK: dispatch

public struct DispatchParams: Codable, Sendable {
    public var dryRun: Bool?
    public var max: Int?
    enum CodingKeys: String, CodingKey {
        case max
        case dryRun = "dry_run"
    }
    public init(dryRun: Bool? = nil, max: Int? = nil) {
        self.dryRun = dryRun
        self.max = max
    }
}

public struct DispatchReport: Codable, Sendable, Equatable {
    public struct Spawn: Codable, Sendable, Equatable {
        public var taskID: String
        public var assignee: String
        public var workspace: String?
        public var runID: Int64?
        public var pid: Int32?
        enum CodingKeys: String, CodingKey {
            case assignee, workspace, pid
            case taskID = "task_id"
            case runID = "run_id"
        }
        public init(taskID: String, assignee: String, workspace: String?, runID: Int64?, pid: Int32?) {
            self.taskID = taskID
            self.assignee = assignee
            self.workspace = workspace
            self.runID = runID
            self.pid = pid
        }
    }
    public var dryRun: Bool
    public var reclaimed: [String]
    public var crashed: [String]
    public var timedOut: [String]
    public var gaveUp: [String]
    public var promoted: [String]
    public var spawned: [Spawn]
    public var spawnFailed: [String]
    public var skippedUnassigned: [String]
    public var skippedCapacity: [String]
    enum CodingKeys: String, CodingKey {
        case reclaimed, crashed, promoted, spawned
        case dryRun = "dry_run"
        case timedOut = "timed_out"
        case gaveUp = "gave_up"
        case spawnFailed = "spawn_failed"
        case skippedUnassigned = "skipped_unassigned"
        case skippedCapacity = "skipped_capacity"
    }
    public init(dryRun: Bool) {
        self.dryRun = dryRun
        reclaimed = []
        crashed = []
        timedOut = []
        gaveUp = []
        promoted = []
        spawned = []
        spawnFailed = []
        skippedUnassigned = []
        skippedCapacity = []
    }
}

// MARK: events

public struct EventsListParams: Codable, Sendable {
    public var since: Int64?
    public var task: String?
    public var limit: Int?
    public init(since: Int64? = nil, task: String? = nil, limit: Int? = nil) {
        self.since = since
        self.task = task
        self.limit = limit
    }
}

public struct EventsListResult: Codable, Sendable {
    public var events: [EventInfo]
    /// The id of the last event returned, or `since` when none.
    public var cursor: Int64
    public init(events: [EventInfo], cursor: Int64) {
        self.events = events
        self.cursor = cursor
    }
}

public struct WatchParams: Codable, Sendable {
    /// Replay events with id greater than this first; nil starts from now (no replay).
    public var since: Int64?
    public var task: String?
    public var assignee: String?
    public var tenant: String?
    public var kinds: [String]?
    public init(
        since: Int64? = nil, task: String? = nil, assignee: String? = nil, tenant: String? = nil,
        kinds: [String]? = nil
    ) {
        self.since = since
        self.task = task
        self.assignee = assignee
        self.tenant = tenant
        self.kinds = kinds
    }
}

public struct WatchResult: Codable, Sendable {
    public var subscription: Int
    /// The newest committed event id when the subscription started.
    public var cursor: Int64
    public init(subscription: Int, cursor: Int64) {
        self.subscription = subscription
        self.cursor = cursor
    }
}

public struct UnwatchParams: Codable, Sendable {
    public var subscription: Int
    public init(subscription: Int) { self.subscription = subscription }
}

/// Pushed as the params of an `events.event` notification.
public struct EventPush: Codable, Sendable {
    public var subscription: Int
    public var event: EventInfo
    public init(subscription: Int, event: EventInfo) {
        self.subscription = subscription
        self.event = event
    }
}

extension EventPush {
    /// The `events.event` notification for `subscription` around an event already encoded with
    /// `WireJSON`: kanband encodes a committed event once for all its subscribers instead of once
    /// per subscriber. The bytes are exactly those of
    /// `WireJSON.encode(RPCNotification(method: PushMethod.event, params: EventPush(…)))`.
    public static func notification(subscription: Int, encodedEvent: [UInt8]) -> [UInt8] {
        var frame: [UInt8] = []
        frame.reserveCapacity(encodedEvent.count + 80)
        frame.append(contentsOf: #"{"jsonrpc":"2.0","method":"events.event","params":{"subscription":"#.utf8)
        frame.append(contentsOf: String(subscription).utf8)
        frame.append(contentsOf: #","event":"#.utf8)
        frame.append(contentsOf: encodedEvent)
        frame.append(contentsOf: "}}".utf8)
        return frame
    }
}

/// Pushed as the params of `events.overflow` when a subscriber fell too far behind: the
/// subscription is closed and the client resumes with `events.watch since=resume_from`.
public struct OverflowPush: Codable, Sendable {
    public var subscription: Int
    public var resumeFrom: Int64
    enum CodingKeys: String, CodingKey {
        case subscription
        case resumeFrom = "resume_from"
    }
    public init(subscription: Int, resumeFrom: Int64) {
        self.subscription = subscription
        self.resumeFrom = resumeFrom
    }
}

public enum PushMethod {
    public static let event = "events.event"
    public static let overflow = "events.overflow"
}

// MARK: notify

public struct NotifyTarget: Codable, Sendable, Equatable {
    public var taskID: String
    public var platform: String
    public var chatID: String
    public var threadID: String?
    enum CodingKeys: String, CodingKey {
        case platform
        case taskID = "task_id"
        case chatID = "chat_id"
        case threadID = "thread_id"
    }
    public init(taskID: String, platform: String, chatID: String, threadID: String? = nil) {
        self.taskID = taskID
        self.platform = platform
        self.chatID = chatID
        self.threadID = threadID
    }
}

public struct NotifySubscribeParams: Codable, Sendable {
    public var target: NotifyTarget
    public var userID: String?
    enum CodingKeys: String, CodingKey {
        case target
        case userID = "user_id"
    }
    public init(target: NotifyTarget, userID: String? = nil) {
        self.target = target
        self.userID = userID
    }
}

public struct NotifySubscription: Codable, Sendable, Equatable {
    public var target: NotifyTarget
    public var userID: String?
    public var createdAt: Double
    /// Events up to this id have been acknowledged as delivered.
    public var cursor: Int64
    enum CodingKeys: String, CodingKey {
        case target, cursor
        case userID = "user_id"
        case createdAt = "created_at"
    }
    public init(target: NotifyTarget, userID: String?, createdAt: Double, cursor: Int64) {
        self.target = target
        self.userID = userID
        self.createdAt = createdAt
        self.cursor = cursor
    }
}

public struct NotifyListParams: Codable, Sendable {
    public var taskID: String?
    enum CodingKeys: String, CodingKey { case taskID = "task_id" }
    public init(taskID: String? = nil) { self.taskID = taskID }
}

public struct NotifyListResult: Codable, Sendable {
    public var subscriptions: [NotifySubscription]
    public init(subscriptions: [NotifySubscription]) { self.subscriptions = subscriptions }
}

public struct NotifyPendingParams: Codable, Sendable {
    public var platform: String?
    public var limit: Int?
    public init(platform: String? = nil, limit: Int? = nil) {
        self.platform = platform
        self.limit = limit
    }
}

public struct NotifyDelivery: Codable, Sendable, Equatable {
    public var subscription: NotifySubscription
    public var task: TaskInfo?
    public var events: [EventInfo]
    public init(subscription: NotifySubscription, task: TaskInfo?, events: [EventInfo]) {
        self.subscription = subscription
        self.task = task
        self.events = events
    }
}

public struct NotifyPendingResult: Codable, Sendable {
    public var deliveries: [NotifyDelivery]
    public init(deliveries: [NotifyDelivery]) { self.deliveries = deliveries }
}

public struct NotifyAckParams: Codable, Sendable {
    public var target: NotifyTarget
    /// The id of the last event delivered; the cursor never moves backwards.
    public var cursor: Int64
    public init(target: NotifyTarget, cursor: Int64) {
        self.target = target
        self.cursor = cursor
    }
}

public struct NotifyAckResult: Codable, Sendable {
    public var cursor: Int64
    /// True when the subscription ended with this ack (its task is done or archived and nothing is pending).
    public var ended: Bool
    public init(cursor: Int64, ended: Bool) {
        self.cursor = cursor
        self.ended = ended
    }
}

public struct ChangedResult: Codable, Sendable {
    public var changed: Bool
    public init(changed: Bool) { self.changed = changed }
}

// MARK: stats and gc

public struct StatsResult: Codable, Sendable, Equatable {
    public var byStatus: [String: Int]
    public var byAssignee: [String: [String: Int]]
    public var oldestReadyAgeSeconds: Double?
    public var running: Int
    public var completedLastHour: Int
    public var failingTasks: Int
    public var totalFailures: Int
    public var total: Int
    public var now: Double
    enum CodingKeys: String, CodingKey {
        case running, total, now
        case byStatus = "by_status"
        case byAssignee = "by_assignee"
        case oldestReadyAgeSeconds = "oldest_ready_age_seconds"
        case completedLastHour = "completed_last_hour"
        case failingTasks = "failing_tasks"
        case totalFailures = "total_failures"
    }
    public init(
        byStatus: [String: Int], byAssignee: [String: [String: Int]], oldestReadyAgeSeconds: Double?, running: Int,
        completedLastHour: Int, failingTasks: Int, totalFailures: Int, total: Int, now: Double
    ) {
        self.byStatus = byStatus
        self.byAssignee = byAssignee
        self.oldestReadyAgeSeconds = oldestReadyAgeSeconds
        self.running = running
        self.completedLastHour = completedLastHour
        self.failingTasks = failingTasks
        self.totalFailures = totalFailures
        self.total = total
        self.now = now
    }
}

public struct GCParams: Codable, Sendable {
    public var eventRetentionDays: Double?
    public var logRetentionDays: Double?
    public var dryRun: Bool?
    enum CodingKeys: String, CodingKey {
        case eventRetentionDays = "event_retention_days"
        case logRetentionDays = "log_retention_days"
        case dryRun = "dry_run"
    }
    public init(eventRetentionDays: Double? = nil, logRetentionDays: Double? = nil, dryRun: Bool? = nil) {
        self.eventRetentionDays = eventRetentionDays
        self.logRetentionDays = logRetentionDays
        self.dryRun = dryRun
    }
}

public struct GCResult: Codable, Sendable, Equatable {
    public var dryRun: Bool
    public var events: Int
    public var logs: [String]
    public var workspaces: [String]
    enum CodingKeys: String, CodingKey {
        case events, logs, workspaces
        case dryRun = "dry_run"
    }
    public init(dryRun: Bool, events: Int, logs: [String], workspaces: [String]) {
        self.dryRun = dryRun
        self.events = events
        self.logs = logs
        self.workspaces = workspaces
    }
}
