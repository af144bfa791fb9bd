import Foundation
import GRDB
import KanbanProtocol

/// Receives what commits did, after they are durable: the dispatcher uses it to start workers at
/// once when a task becomes ready, and to stop workers whose run a human ended.
protocol CommitObserver: AnyObject, Sendable {
    func didCommit(wake: Bool, terminateRuns: [Int64])
}

/// The board: the kernel's transitions and the queries, over the store, with post-commit effects
/// (event fan-out, dispatcher wake-ups) applied in commit order.
public final class Board: Sendable {
    let store: Store
    let kernel: Kernel
    let queries: Queries
    let bus: EventBus
    let clock: any BoardClock
    private let observerBox = ObserverBox()
    private let settings = SettingsBox()

    /// Opens the board's database at `path` (creating and migrating it).
    public init(path: String, durability: Durability = .full, clock: any BoardClock = SystemBoardClock()) throws {
        let bus = EventBus(lastEventID: 0)
        let box = observerBox
        let store = try Store(path: path, durability: durability) { batches in
            var wake = false
            var terminate: [Int64] = []
            var events: [PublishedEvent] = []
            for effects in batches {
                events.append(contentsOf: effects.events)
                wake = wake || effects.wakeDispatcher
                terminate.append(contentsOf: effects.terminateRuns)
            }
            bus.publish(events)
            if wake || !terminate.isEmpty { box.observer?.didCommit(wake: wake, terminateRuns: terminate) }
        }
        self.store = store
        self.bus = bus
        self.clock = clock
        self.kernel = Kernel(clock: clock)
        self.queries = Queries(clock: clock)
        let latest = try store.readSync { db in try Int64.fetchOne(db, sql: "SELECT max(id) FROM events") ?? 0 }
        bus.reset(lastEventID: latest)
    }

    func setObserver(_ observer: (any CommitObserver)?) { observerBox.observer = observer }

    /// The default claim TTL for claims and heartbeats that do not give one.
    var claimTTLSeconds: Double {
        get { settings.claimTTL }
        set { settings.claimTTL = newValue }
    }

    public func close() {
        bus.finishAll()
        store.close()
    }

    // MARK: plumbing

    @discardableResult
    func write<T: Sendable>(_ body: @escaping @Sendable (Database, inout WriteEffects) throws -> T) async throws -> T {
        try await store.write(body).0
    }

    func read<T: Sendable>(_ body: @escaping @Sendable (Database) throws -> T) async throws -> T {
        try await store.read(body)
    }

    /// A read whose size the caller does not bound (a whole list, stats over the board, a replay
    /// page): it runs on the global concurrent executor, off the connection's event loop (which a
    /// connection's task otherwise prefers, see `EventLoopTaskExecutor`), so it never holds up the
    /// other connections served by that loop.
    func bulkRead<T: Sendable>(_ body: @escaping @Sendable (Database) throws -> T) async throws -> T {
        let store = store
        return try await withTaskExecutorPreference(globalConcurrentExecutor) { try store.readSync(body) }
    }

    // MARK: operations

    @discardableResult
    func create(_ p: CreateParams, actor: String) async throws -> CreateResult {
        let kernel = kernel
        return try await write { db, fx in try kernel.create(db, &fx, p, actor: actor) }
    }

    func list(_ p: ListParams) async throws -> [TaskInfo] {
        let queries = queries
        return try await bulkRead { db in try queries.list(db, p) }
    }

    func listSummaries(_ p: ListParams) async throws -> [TaskSummary] {
        let queries = queries
        return try await bulkRead { db in try queries.listSummaries(db, p) }
    }

    /// `task.get` of any size, off the event loop (`bulkRead`): for asks too big to answer on it.
    func detail(_ p: GetParams) async throws -> TaskDetail {
        let queries = queries
        return try await bulkRead { db in try queries.detail(db, p) }
    }

    /// `detail` on the caller's thread: a point read, for answering on a connection's event loop.
    func detailNow(_ p: GetParams) throws -> TaskDetail {
        try store.readSync { db in try queries.detail(db, p) }
    }

    @discardableResult
    func assign(_ p: AssignParams, actor: String) async throws -> TaskInfo {
        let kernel = kernel
        return try await write { db, fx in try kernel.assign(db, &fx, p, actor: actor) }
    }

    @discardableResult
    func link(_ p: LinkParams, actor: String) async throws -> LinkResult {
        let kernel = kernel
        return try await write { db, fx in try kernel.link(db, &fx, p, actor: actor) }
    }

    @discardableResult
    func unlink(_ p: LinkParams, actor: String) async throws -> LinkResult {
        let kernel = kernel
        return try await write { db, fx in try kernel.unlink(db, &fx, p, actor: actor) }
    }

    @discardableResult
    func comment(_ p: CommentParams, actor: String) async throws -> CommentInfo {
        let kernel = kernel
        return try await write { db, fx in try kernel.comment(db, &fx, p, actor: actor) }
    }

    @discardableResult
    func complete(_ p: CompleteParams, actor: String) async throws -> TaskInfo {
        let kernel = kernel
        return try await write { db, fx in try kernel.complete(db, &fx, p, actor: actor) }
    }

    @discardableResult
    func block(_ p: BlockParams, actor: String) async throws -> TaskInfo {
        let kernel = kernel
        return try await write { db, fx in try kernel.block(db, &fx, p, actor: actor) }
    }

    @discardableResult
    func unblock(_ p: IDParams, actor: String) async throws -> TaskInfo {
        let kernel = kernel
        return try await write { db, fx in try kernel.unblock(db, &fx, p, actor: actor) }
    }

    @discardableResult
    func archive(_ p: IDParams, actor: String) async throws -> TaskInfo {
        let kernel = kernel
        return try await write { db, fx in try kernel.archive(db, &fx, p, actor: actor) }
    }

    @discardableResult
    func promote(_ p: PromoteParams, actor: String) async throws -> TaskInfo {
        let kernel = kernel
        return try await write { db, fx in try kernel.promote(db, &fx, p, actor: actor) }
    }

    /// A claim's time to live in seconds: positive and at most a year (it becomes integer
    /// milliseconds added to now; a huge value would overflow rather than mean "forever").
    static func checkedTTL(_ ttl: Double, _ what: String) throws -> Double {
        guard ttl > 0, ttl <= DispatcherConfig.maxSeconds else {
            throw KanbanError.invalidArgument(
                "\(what) ttl must be positive and at most \(Int(DispatcherConfig.maxSeconds)) seconds (a year)")
        }
        return ttl
    }

    @discardableResult
    func claim(_ p: ClaimParams, actor: String) async throws -> ClaimResult {
        let kernel = kernel
        let ttl = try Board.checkedTTL(p.ttl ?? claimTTLSeconds, "claim")
        let claimer = Kernel.normalized(p.claimer) ?? actor
        return try await write { db, fx in
            try kernel.claim(db, &fx, id: p.id, ttlSeconds: ttl, claimer: claimer, actor: actor)
        }
    }

    @discardableResult
    func heartbeat(_ p: HeartbeatParams, actor: String) async throws -> ClaimResult {
        let kernel = kernel
        let ttl = try Board.checkedTTL(p.ttl ?? claimTTLSeconds, "heartbeat")
        return try await write { db, fx in try kernel.heartbeat(db, &fx, p, ttlSeconds: ttl, actor: actor) }
    }

    /// The worker's brief with its whole comment thread: unbounded, so off the event loop.
    func context(_ id: String) async throws -> ContextResult {
        let queries = queries
        return try await bulkRead { db in try queries.context(db, id) }
    }

    func runs(_ id: String) async throws -> [RunInfo] {
        try runsNow(id)
    }

    func runsNow(_ id: String) throws -> [RunInfo] {
        try store.readSync { db in try queries.runs(db, id) }
    }

    func events(_ p: EventsListParams) async throws -> EventsListResult {
        let queries = queries
        return try await bulkRead { db in try queries.events(db, p) }
    }

    func stats() async throws -> StatsResult {
        let queries = queries
        return try await bulkRead { db in try queries.stats(db) }
    }

    func task(_ id: String) async throws -> TaskInfo {
        try await read { db in try Rows.requireTask(db, id) }
    }
}

private final class ObserverBox: @unchecked Sendable {
    private let lock = NSLock()
    private weak var _observer: (any CommitObserver)?
    var observer: (any CommitObserver)? {
        get { lock.withLock { _observer } }
        set { lock.withLock { _observer = newValue } }
    }
}

private final class SettingsBox: @unchecked Sendable {
    private let lock = NSLock()
    private var _claimTTL: Double = 900
    var claimTTL: Double {
        get { lock.withLock { _claimTTL } }
        set { lock.withLock { _claimTTL = newValue } }
    }
}
