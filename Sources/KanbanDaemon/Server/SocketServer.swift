import Foundation
import KanbanProtocol
import Logging
import NIOCore
import NIOPosix

/// Serves the protocol on the listening socket: one task per connection, requests on a
/// connection answered in order, many connections at once. A connection's reads and writes
/// suspend under backpressure, so a client that stops reading only stalls itself.
final class SocketServer: Sendable {
    let router: Router
    let logger: Logger
    let maxFrameBytes: Int
    let connections: ConnectionCounter
    private let registry = ConnectionRegistry()
    /// At most this many request bytes are being handled at once (frames up to the frame limit).
    private let budget = RequestBudget(bytes: 64 * 1024 * 1024)

    init(router: Router, logger: Logger, maxFrameBytes: Int, connections: ConnectionCounter) {
        self.router = router
        self.logger = logger
        self.maxFrameBytes = maxFrameBytes
        self.connections = connections
    }

    typealias Connection = NIOAsyncChannel<InboundFrame, ByteBuffer>

    /// Accepts on `fd` (and on any listener added later) until `shutdown()` closes them, then lets
    /// in-flight requests finish (busy connections are force-closed after `drainSeconds`).
    func run(fd: Int32, group: MultiThreadedEventLoopGroup, drainSeconds: Int64 = 10) async throws {
        let (listeners, continuation) = AsyncStream.makeStream(of: Int32.self)
        registry.setListenerQueue(continuation)
        continuation.yield(fd)
        let registry = registry
        try await withThrowingDiscardingTaskGroup { tasks in
            for await fd in listeners {
                tasks.addTask { try await self.accept(on: fd, group: group) }
            }
            // Shutdown began: connections still busy after the grace period are closed.
            group.next().scheduleTask(in: .seconds(drainSeconds)) { registry.closeAll() }
        }
    }

    /// Serves another listening socket (the socket file was deleted and has been re-created).
    func addListener(fd: Int32) -> Bool {
        registry.addListener(fd)
    }

    private func accept(on fd: Int32, group: MultiThreadedEventLoopGroup) async throws {
        let maxFrameBytes = maxFrameBytes
        let server = try await ServerBootstrap(group: group)
            .serverChannelOption(.backlog, value: 512)
            .bind(fd) { channel in
                PeerCredentials.of(channel).flatMapThrowing { peer in
                    try channel.pipeline.syncOperations.addHandler(
                        ByteToMessageHandler(FrameDecoder(maxFrameBytes: maxFrameBytes)))
                    let wrapped = try Connection(wrappingChannelSynchronously: channel)
                    return (wrapped, peer)
                }
            }
        guard registry.setListener(server.channel) else {
            try? await server.channel.close()
            return
        }
        try await withThrowingDiscardingTaskGroup { tasks in
            try await server.executeThenClose { inbound in
                for try await (connection, peer) in inbound {
                    tasks.addTask(executorPreference: EventLoopTaskExecutor(connection.channel.eventLoop)) {
                        await self.serve(connection, peer: peer)
                    }
                }
            }
        }
    }

    /// Stops accepting and closes idle connections; busy ones close after their current request.
    func shutdown() {
        registry.beginShutdown()
    }

    private func serve(_ connection: Connection, peer: PeerCredentials) async {
        let id = connections.open()
        defer { connections.close() }
        let channel = connection.channel
        guard registry.add(id, channel) else {
            try? await channel.close()
            return
        }
        defer { registry.remove(id) }
        do {
            try await connection.executeThenClose { inbound, outbound in
                let allocator = channel.allocator
                let session = Session(id: id, peer: peer, executor: EventLoopTaskExecutor(channel.eventLoop)) { body in
                    do {
                        try await outbound.write(SocketServer.frame(body, allocator: allocator))
                        return true
                    } catch {
                        return false
                    }
                }
                defer {
                    for (subscription, task) in session.removeAllWatchers() {
                        router.board.bus.unsubscribe(subscription)
                        task.cancel()
                    }
                }
                guard peer.isAllowed() else {
                    logger.warning("refused connection from uid \(peer.uid) (pid \(peer.pid))")
                    let error = KanbanError(
                        .permissionDenied, "uid \(peer.uid) may not use this board (kanband runs as uid \(getuid()))")
                    try await outbound.write(
                        SocketServer.frame(Router.failure(id: .null, RPCErrorObject(error)), allocator: allocator))
                    return
                }
                for try await item in inbound {
                    switch item {
                    case .oversize(let length):
                        let error = RPCErrorObject(
                            code: RPC.Code.invalidRequest,
                            message: "frame of \(length) bytes exceeds the limit of \(maxFrameBytes) bytes; closing",
                            data: .init(kind: ErrorKind.invalidRequest.rawValue))
                        try await outbound.write(SocketServer.frame(Router.failure(id: .null, error), allocator: allocator))
                        return
                    case .frame(let buffer):
                        registry.setBusy(id, true)
                        // Parsing takes up to 16 bytes of tape per value (a value can be two bytes
                        // of frame), built in a growing array then copied: charge that, not just the frame.
                        let held = await budget.acquire(buffer.readableBytes * 24 + 4096)
                        let reply = await router.handle(Array(buffer.readableBytesView), session: session)
                        budget.release(held)
                        if let reply { try await outbound.write(SocketServer.frame(reply, allocator: allocator)) }
                        for work in session.takeAfterReply() { work() }
                        if !registry.setBusy(id, false) { return }
                    }
                }
            }
        } catch {
            logger.debug("connection \(id) ended: \(error)")
        }
    }

    static func frame(_ body: [UInt8], allocator: ByteBufferAllocator) -> ByteBuffer {
        var buffer = allocator.buffer(capacity: body.count + Framing.headerBytes)
        buffer.writeInteger(UInt32(body.count))
        buffer.writeBytes(body)
        return buffer
    }
}

/// Open connections and whether each is in the middle of a request, for graceful shutdown.
final class ConnectionRegistry: @unchecked Sendable {
    private let lock = NSLock()
    private var channels: [Int: (channel: any Channel, busy: Bool)] = [:]
    private var listeners: [any Channel] = []
    private var listenerQueue: AsyncStream<Int32>.Continuation?
    private var shuttingDown = false

    func setListenerQueue(_ queue: AsyncStream<Int32>.Continuation) {
        lock.withLock { listenerQueue = queue }
    }

    /// Queues a listening descriptor to be served; false once shutdown has begun.
    func addListener(_ fd: Int32) -> Bool {
        lock.withLock {
            guard !shuttingDown, let queue = listenerQueue else { return false }
            queue.yield(fd)
            return true
        }
    }

    /// Records a bound listener; false when shutdown began meanwhile (the caller closes it).
    func setListener(_ channel: any Channel) -> Bool {
        lock.withLock {
            if shuttingDown { return false }
            listeners.append(channel)
            return true
        }
    }

    func add(_ id: Int, _ channel: any Channel) -> Bool {
        lock.withLock {
            if shuttingDown { return false }
            channels[id] = (channel, false)
            return true
        }
    }

    func remove(_ id: Int) { lock.withLock { _ = channels.removeValue(forKey: id) } }

    /// Returns false when the connection should close now (shutdown began while it was busy).
    @discardableResult
    func setBusy(_ id: Int, _ busy: Bool) -> Bool {
        lock.withLock {
            channels[id]?.busy = busy
            return !(shuttingDown && !busy)
        }
    }

    func beginShutdown() {
        let (listeners, idle, queue): ([any Channel], [any Channel], AsyncStream<Int32>.Continuation?) = lock.withLock {
            shuttingDown = true
            return (self.listeners, channels.values.filter { !$0.busy }.map(\.channel), listenerQueue)
        }
        queue?.finish()
        for listener in listeners { listener.close(promise: nil) }
        for channel in idle { channel.close(promise: nil) }
    }

    func closeAll() {
        let all = lock.withLock { channels.values.map(\.channel) }
        for channel in all { channel.close(promise: nil) }
    }
}
