import Foundation
import GRDB
import KanbanProtocol
import Logging

/// One connection's identity and its way to push frames (event subscriptions).
final class Session: @unchecked Sendable {
    let id: Int
    let peer: PeerCredentials
    /// Writes one already-encoded frame body to the connection; suspends under backpressure.
    let push: @Sendable ([UInt8]) async -> Bool
    private let lock = NSLock()
    private var watchers: [Int: Task<Void, Never>] = [:]
    private var afterReply: [@Sendable () -> Void] = []

    /// Runs `work` once the reply to the current request has been written (a subscription's
    /// pushes start only after the client has its subscription id).
    func runAfterReply(_ work: @escaping @Sendable () -> Void) { lock.withLock { afterReply.append(work) } }

    func takeAfterReply() -> [@Sendable () -> Void] {
        lock.withLock {
            defer { afterReply.removeAll() }
            return afterReply
        }
    }

    /// Where the connection's own work prefers to run (its event loop; the global executor in tests).
    let executor: (any TaskExecutor)?
    /// Ends a subscription's replay: its buffered and later events go straight to the connection
    /// (`EventBus.goLive`), skipping those at or below the floor.
    let startLive: @Sendable (EventBus.Subscription, _ floor: Int64) async -> Void

    init(
        id: Int, peer: PeerCredentials, executor: (any TaskExecutor)? = nil,
        push: @escaping @Sendable ([UInt8]) async -> Bool,
        startLive: @escaping @Sendable (EventBus.Subscription, Int64) async -> Void
    ) {
        self.id = id
        self.peer = peer
        self.executor = executor
        self.push = push
        self.startLive = startLive
    }

    func addWatcher(_ id: Int, _ task: Task<Void, Never>) { lock.withLock { watchers[id] = task } }
    func hasWatcher(_ id: Int) -> Bool { lock.withLock { watchers[id] != nil } }
    func removeWatcher(_ id: Int) -> Task<Void, Never>? { lock.withLock { watchers.removeValue(forKey: id) } }
    func removeAllWatchers() -> [Int: Task<Void, Never>] {
        lock.withLock {
            defer { watchers.removeAll() }
            return watchers
        }
    }
}

/// Decodes a request frame, calls the board, encodes the reply. Protocol errors get the standard
/// JSON-RPC codes; application errors carry their stable kind in `error.data.kind`.
final class Router: Sendable {
    let board: Board
    let info: DaemonInfo
    let dispatcher: Dispatcher
    let logger: Logger
    let watchBufferLimit: Int

    init(board: Board, info: DaemonInfo, dispatcher: Dispatcher, logger: Logger, watchBufferLimit: Int = 4096) {
        self.board = board
        self.info = info
        self.dispatcher = dispatcher
        self.logger = logger
        self.watchBufferLimit = watchBufferLimit
    }

    static let capabilities = [
        "tasks", "links", "comments", "claims", "runs", "dispatch", "events.watch", "notify", "stats", "gc", "logs",
    ]

    /// What became of a frame handed to `handleNow`.
    enum Handling: Sendable {
        /// Answered on the spot: the reply body, or nil for a notification (no id).
        case reply([UInt8]?)
        /// Needs to wait (a write, a read kept off the loop…): run it for the reply.
        case later(@Sendable () async -> [UInt8]?)
    }

    /// Handles one frame; returns the reply body, or nil for a notification (no id).
    func handle(_ frame: [UInt8], session: Session) async -> [UInt8]? {
        switch handleNow(frame, session: session) {
        case .reply(let reply): return reply
        case .later(let work): return await work()
        }
    }

    /// Handles one frame as far as it can without waiting: protocol errors and point reads are
    /// answered here, synchronously on the caller's thread (a connection's event loop) with no
    /// task or executor hop; anything else comes back as work to run.
    func handleNow(_ frame: [UInt8], session: Session) -> Handling {
        // One parse per frame: the envelope and then the method's params are decoded from it.
        let data: ParsedJSON
        do {
            data = try ParsedJSON(frame)
        } catch {
            return .reply(Router.failure(
                id: .null,
                RPCErrorObject(
                    code: RPC.Code.parseError, message: "parse error: the frame is not valid JSON",
                    data: .init(kind: ErrorKind.parseError.rawValue))))
        }
        guard data.isObject, let head = try? data.decode(RPCRequestHead.self) else {
            // Valid JSON, but not an object: not a request.
            return .reply(Router.failure(
                id: .null,
                RPCErrorObject(
                    code: RPC.Code.invalidRequest, message: "invalid request: a request must be a JSON object",
                    data: .init(kind: ErrorKind.invalidRequest.rawValue))))
        }
        let id = head.id ?? .null
        guard head.jsonrpc == RPC.version, let methodName = head.method else {
            return .reply(Router.failure(
                id: id,
                RPCErrorObject(
                    code: RPC.Code.invalidRequest,
                    message: "invalid request: expected jsonrpc \"2.0\" and a method",
                    data: .init(kind: ErrorKind.invalidRequest.rawValue))))
        }
        if case .some(let value) = head.id {
            switch value {
            case .string, .int, .null, .double: break
            default:
                return .reply(Router.failure(
                    id: .null,
                    RPCErrorObject(
                        code: RPC.Code.invalidRequest, message: "invalid request: id must be a string or a number",
                        data: .init(kind: ErrorKind.invalidRequest.rawValue))))
            }
        }
        let hasID = head.hasID
        guard let method = Method(rawValue: methodName) else {
            let reply = Router.failure(
                id: id,
                RPCErrorObject(
                    code: RPC.Code.methodNotFound, message: "unknown method '\(methodName)'",
                    data: .init(kind: ErrorKind.methodNotFound.rawValue)))
            return .reply(hasID ? reply : nil)
        }
        let reply: [UInt8]
        do {
            guard let answered = try routeNow(method, data: data, id: id, session: session) else {
                return .later {
                    let reply: [UInt8]
                    do {
                        reply = try await self.route(method, data: data, id: id, session: session)
                    } catch {
                        reply = Router.failure(id: id, Router.errorObject(for: error, logger: self.logger))
                    }
                    return hasID ? reply : nil
                }
            }
            reply = answered
        } catch {
            reply = Router.failure(id: id, Router.errorObject(for: error, logger: logger))
        }
        return .reply(hasID ? reply : nil)
    }

    static func failure(id: JSONValue, _ error: RPCErrorObject) -> [UInt8] {
        WireJSON.encode(RPCFailure(id: id, error: error))
    }

    static func errorObject(for error: any Error, logger: Logger) -> RPCErrorObject {
        switch error {
        case let error as KanbanError:
            return RPCErrorObject(error)
        case let error as InvalidParams:
            return RPCErrorObject(
                code: RPC.Code.invalidParams, message: "invalid params: \(error.message)",
                data: .init(kind: ErrorKind.invalidParams.rawValue))
        case let error as DatabaseError:
            switch error.resultCode {
            case .SQLITE_FULL, .SQLITE_READONLY, .SQLITE_IOERR, .SQLITE_CANTOPEN, .SQLITE_BUSY, .SQLITE_LOCKED:
                logger.error("store unavailable: \(error)")
                return RPCErrorObject(
                    KanbanError(.unavailable, "the board cannot take writes right now: \(error.message ?? "\(error)")"))
            case .SQLITE_CONSTRAINT:
                return RPCErrorObject(KanbanError(.conflict, "conflicting change: \(error.message ?? "\(error)")"))
            default:
                logger.error("database error: \(error)")
                return RPCErrorObject(KanbanError(.internal, "database error: \(error.message ?? "\(error)")"))
            }
        default:
            logger.error("internal error: \(error)")
            return RPCErrorObject(KanbanError(.internal, "internal error: \(error)"))
        }
    }

    private func params<P: Decodable>(_ type: P.Type, _ data: ParsedJSON) throws -> P {
        guard let params = try decodeParams(P.self, data) else { throw InvalidParams(message: "params are required") }
        return params
    }

    private func optionalParams<P: Decodable>(_ type: P.Type, _ data: ParsedJSON, default value: P) throws -> P {
        try decodeParams(P.self, data) ?? value
    }

    /// The request's `params` as `P`, nil when absent; a decoding failure names the field.
    private func decodeParams<P: Decodable>(_ type: P.Type, _ data: ParsedJSON) throws -> P? {
        do {
            return try data.decode(RPCParamsEnvelope<P>.self).params
        } catch let error as DecodingError {
            throw InvalidParams(message: Router.describe(error))
        }
    }

    static func describe(_ error: DecodingError) -> String {
        func path(_ context: DecodingError.Context) -> String {
            let keys = context.codingPath.map(\.stringValue).filter { $0 != "params" }
            return keys.isEmpty ? "params" : keys.joined(separator: ".")
        }
        switch error {
        case .keyNotFound(let key, let context):
            let parent = path(context)
            return "missing field '\(parent == "params" ? key.stringValue : parent + "." + key.stringValue)'"
        case .typeMismatch(let type, let context):
            return "field '\(path(context))' must be \(typeName(type))"
        case .valueNotFound(let type, let context):
            return "field '\(path(context))' must be \(typeName(type)), not null"
        case .dataCorrupted(let context):
            return "malformed value at '\(path(context))'"
        @unknown default:
            return "malformed params"
        }
    }

    private static func typeName(_ type: Any.Type) -> String {
        switch type {
        case is String.Type: return "a string"
        case is Int.Type, is Int64.Type, is Int32.Type: return "an integer"
        case is Double.Type: return "a number"
        case is Bool.Type: return "a boolean"
        default: return "\(type)".lowercased()
        }
    }

    private func actor(_ params: some Authored, _ session: Session) -> String {
        if let author = Kernel.normalized(params.author) { return author }
        return session.peer.label
    }

    /// `capacity`: the reply's expected size, so a large one is not copied as its buffer grows.
    private func ok<R: Encodable>(_ id: JSONValue, _ result: R, capacity: Int = 256) -> [UInt8] {
        WireJSON.encode(RPCResult(id: id, result: result), capacity: capacity)
    }

    /// Keeps an unbounded request — its read and the encoding of its reply (about 25 ms for 10k
    /// tasks) — off the event loop, so the loop keeps serving its other connections. The body
    /// starts on the caller's executor; its read (`Board.bulkRead`) moves to the global executor,
    /// and under this preference the rest of the body, the encoding, continues there. The body
    /// must read through `bulkRead`: with `NonisolatedNonsendingByDefault` a plain async call
    /// switches no executor, so without it everything would still run on the loop.
    private func offLoop(_ body: () async throws -> [UInt8]) async throws -> [UInt8] {
        try await withTaskExecutorPreference(globalConcurrentExecutor) { try await body() }
    }

    /// The most distinct event kinds an `events.watch` filter may name.
    static let maxWatchKinds = 64

    /// A `task.get` asking for more events or comments than this is read off the event loop (`route`).
    static let itemsAnsweredOnTheLoop = 200

    /// The methods answered without waiting: point reads, bounded by a task (its runs and the
    /// latest comments and events asked for), run on the caller's thread on a reader connection of their
    /// own (`Store.readSync`). Nil for every other method.
    private func routeNow(_ method: Method, data: ParsedJSON, id: JSONValue, session: Session) throws -> [UInt8]? {
        switch method {
        case .systemHello:
            let p = try optionalParams(HelloParams.self, data, default: HelloParams(protocolMajor: nil))
            if let major = p.protocolMajor, major != ProtocolVersion.major {
                throw KanbanError(
                    .unsupportedVersion,
                    "protocol major version \(major) is not supported; this kanband speaks \(ProtocolVersion.string)",
                    details: ["supported_major": .int(Int64(ProtocolVersion.major))])
            }
            return ok(id, HelloResult(serverVersion: DaemonInfo.version, pid: getpid(), capabilities: Router.capabilities))
        case .taskGet:
            let p = try params(GetParams.self, data)
            // Many events or comments make a big read: off the loop, like a list.
            guard (p.events ?? 20) <= Router.itemsAnsweredOnTheLoop,
                (p.comments ?? GetParams.defaultComments) <= Router.itemsAnsweredOnTheLoop
            else { return nil }
            return ok(id, try board.detailNow(p))
        case .taskRuns:
            return ok(id, RunsResult(runs: try board.runsNow(try params(IDParams.self, data).id)))
        case .eventsUnwatch:
            let p = try params(UnwatchParams.self, data)
            guard let task = session.removeWatcher(p.subscription) else {
                throw KanbanError(.notFound, "no such subscription: \(p.subscription)")
            }
            board.bus.unsubscribe(p.subscription)
            task.cancel()
            return ok(id, ChangedResult(changed: true))
        default:
            return nil
        }
    }

    private func route(_ method: Method, data: ParsedJSON, id: JSONValue, session: Session) async throws -> [UInt8] {
        switch method {
        case .systemStatus:
            return ok(id, await info.status(board: board, dispatcher: dispatcher))
        case .configReload:
            return ok(id, try await dispatcher.reload())
        case .taskCreate:
            let p = try params(CreateParams.self, data)
            return ok(id, try await board.create(p, actor: actor(p, session)))
        case .taskList:
            let p = try optionalParams(ListParams.self, data, default: ListParams())
            if p.summary == true {
                return try await offLoop {
                    let tasks = try await board.listSummaries(p)
                    return ok(id, TaskSummaryListResult(tasks: tasks), capacity: 64 + tasks.count * 128)
                }
            }
            return try await offLoop {
                let tasks = try await board.list(p)
                return ok(id, TaskListResult(tasks: tasks), capacity: 64 + tasks.count * 512)
            }
        case .taskAssign:
            let p = try params(AssignParams.self, data)
            return ok(id, TaskResult(task: try await board.assign(p, actor: actor(p, session))))
        case .taskLink:
            let p = try params(LinkParams.self, data)
            return ok(id, try await board.link(p, actor: actor(p, session)))
        case .taskUnlink:
            let p = try params(LinkParams.self, data)
            return ok(id, try await board.unlink(p, actor: actor(p, session)))
        case .taskComment:
            let p = try params(CommentParams.self, data)
            return ok(id, CommentResult(comment: try await board.comment(p, actor: actor(p, session))))
        case .taskComplete:
            let p = try params(CompleteParams.self, data)
            return ok(id, TaskResult(task: try await board.complete(p, actor: actor(p, session))))
        case .taskBlock:
            let p = try params(BlockParams.self, data)
            return ok(id, TaskResult(task: try await board.block(p, actor: actor(p, session))))
        case .taskUnblock:
            let p = try params(IDParams.self, data)
            return ok(id, TaskResult(task: try await board.unblock(p, actor: actor(p, session))))
        case .taskArchive:
            let p = try params(IDParams.self, data)
            return ok(id, TaskResult(task: try await board.archive(p, actor: actor(p, session))))
        case .taskPromote:
            let p = try params(PromoteParams.self, data)
            return ok(id, TaskResult(task: try await board.promote(p, actor: actor(p, session))))
        case .taskClaim:
            let p = try params(ClaimParams.self, data)
            return ok(id, try await board.claim(p, actor: actor(p, session)))
        case .taskHeartbeat:
            let p = try params(HeartbeatParams.self, data)
            return ok(id, try await board.heartbeat(p, actor: actor(p, session)))
        case .taskLog:
            let p = try params(LogParams.self, data)
            _ = try await board.task(p.id)
            return ok(id, try dispatcher.logs.read(p))
        case .dispatchRun:
            let p = try optionalParams(DispatchParams.self, data, default: DispatchParams())
            if let max = p.max, max < 0 { throw KanbanError.invalidArgument("max must not be negative") }
            return ok(id, try await dispatcher.runPass(dryRun: p.dryRun ?? false, max: p.max))
        case .eventsList:
            let p = try optionalParams(EventsListParams.self, data, default: EventsListParams())
            return try await offLoop { ok(id, try await board.events(p)) }
        case .eventsWatch:
            let p = try optionalParams(WatchParams.self, data, default: WatchParams())
            return ok(id, try await watch(p, session: session))
        case .taskGet:
            // Here only when it asked for many events or comments (see `routeNow`).
            let p = try params(GetParams.self, data)
            // Size the reply for what a task can hold, not for what was asked (any integer may be).
            let expected = min(max(0, p.events ?? 20), 10_000) + min(max(0, p.comments ?? 0), 10_000)
            return try await offLoop { ok(id, try await board.detail(p), capacity: 4096 + expected * 256) }
        case .taskContext:
            // The whole comment thread (the worker's brief): off the loop, however long it is.
            let taskID = try params(IDParams.self, data).id
            return try await offLoop { ok(id, try await board.context(taskID)) }
        case .systemHello, .taskRuns, .eventsUnwatch:
            // `handleNow` answers these without coming here.
            guard let reply = try routeNow(method, data: data, id: id, session: session) else {
                throw KanbanError(.internal, "\(method.rawValue) has no route")
            }
            return reply
        case .notifySubscribe:
            let p = try params(NotifySubscribeParams.self, data)
            return ok(id, try await board.notifySubscribe(p))
        case .notifyUnsubscribe:
            let p = try params(NotifyTarget.self, data)
            return ok(id, ChangedResult(changed: try await board.notifyUnsubscribe(p)))
        case .notifyList:
            let p = try optionalParams(NotifyListParams.self, data, default: NotifyListParams())
            return ok(id, NotifyListResult(subscriptions: try await board.notifyList(p)))
        case .notifyPending:
            let p = try optionalParams(NotifyPendingParams.self, data, default: NotifyPendingParams())
            return ok(id, NotifyPendingResult(deliveries: try await board.notifyPending(p)))
        case .notifyAck:
            let p = try params(NotifyAckParams.self, data)
            return ok(id, try await board.notifyAck(p))
        case .boardStats:
            return ok(id, try await board.stats())
        case .boardGC:
            let p = try optionalParams(GCParams.self, data, default: GCParams())
            return ok(id, try await dispatcher.gc(p))
        }
    }

    /// Starts a subscription: replays from the database up to the bus's last published id, then
    /// forwards live events, each as an `events.event` push on this connection.
    private func watch(_ p: WatchParams, session: Session) async throws -> WatchResult {
        if let since = p.since, since < 0 { throw KanbanError.invalidArgument("since must not be negative") }
        // Each kind is a parameter of the replay's query: a bounded list keeps it within SQLite's
        // limits (there are a few dozen kinds; naming a kind twice counts once).
        if let kinds = p.kinds, Set(kinds).count > Router.maxWatchKinds {
            throw KanbanError.invalidArgument("kinds names more than \(Router.maxWatchKinds) distinct kinds")
        }
        let filter = EventFilter(
            task: p.task, assignee: p.assignee, tenant: p.tenant, kinds: p.kinds.map { Set($0) })
        let bus = board.bus
        let (subscription, boundary) = bus.subscribe(filter: filter, limit: watchBufferLimit)
        let board = board
        let subscriptionID = subscription.id
        let work: @Sendable () async -> Void = {
            var cursor = p.since ?? boundary
            // Never deliver at or before what the client asked to start after: `since` may be
            // ahead of the bus (an id read from the database just before its commit is published).
            let floor = max(cursor, boundary)
            // Replay committed history in pages, applying the same filter.
            while cursor < boundary && !Task.isCancelled {
                let page: EventsListResult
                do {
                    page = try await board.replay(after: cursor, upTo: boundary, filter: filter)
                } catch {
                    // Going live from here would skip what the replay could not read: end the
                    // subscription the way an overflow does, with where to resume from.
                    guard !Task.isCancelled, session.removeWatcher(subscriptionID) != nil else { return }
                    bus.unsubscribe(subscriptionID)
                    _ = await session.push(WireJSON.encode(
                        RPCNotification(
                            method: PushMethod.overflow, params: OverflowPush(subscription: subscriptionID, resumeFrom: cursor))))
                    return
                }
                for event in page.events {
                    // An unwatch (on the loop, like this task) cancels it: the reply to the unwatch
                    // is the last frame about this subscription, even in the middle of a page.
                    guard !Task.isCancelled, await session.push(WireJSON.encode(
                        RPCNotification(method: PushMethod.event, params: EventPush(subscription: subscriptionID, event: event))))
                    else { return }
                }
                cursor = page.cursor
            }
            guard !Task.isCancelled else { return }
            // Live from here: the connection writes what was buffered during the replay, then each
            // new event as it is published (with the overflow rule of `watchBufferLimit`).
            await session.startLive(subscription, floor)
        }
        session.runAfterReply {
            // On the connection's event loop: its pushes are written there without a hop.
            session.addWatcher(subscriptionID, Task(executorPreference: session.executor) { await work() })
        }
        return WatchResult(subscription: subscriptionID, cursor: boundary)
    }
}

/// Params that decoded but do not fit the method.
struct InvalidParams: Error {
    var message: String
}
