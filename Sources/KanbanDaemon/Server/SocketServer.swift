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

    init(router: Router, logger: Logger, maxFrameBytes: Int, connections: ConnectionCounter) {
        self.router = router
        self.logger = logger
        self.maxFrameBytes = maxFrameBytes
        self.connections = connections
    }

    typealias Connection = NIOAsyncChannel<InboundFrame, ByteBuffer>

    /// Accepts on `fd` until `shutdown()` closes the listener, then lets in-flight requests
    /// finish (up to `drainSeconds`) and returns.
    func run(fd: Int32, group: MultiThreadedEventLoopGroup, drainSeconds: Double = 10) async throws {
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
        registry.setListener(server.channel)
        try await withThrowingDiscardingTaskGroup { tasks in
            try await server.executeThenClose { inbound in
                for try await (connection, peer) in inbound {
                    tasks.addTask { await self.serve(connection, peer: peer) }
                }
            }
            // The listener is closed: give open connections a bounded time to finish.
            let registry = registry
            tasks.addTask {
                try? await Task.sleep(nanoseconds: UInt64(drainSeconds * 1_000_000_000))
                registry.closeAll()
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
                let session = Session(id: id, peer: peer) { body in
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
                        let reply = await router.handle(Array(buffer: buffer), session: session)
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
    private var listener: (any Channel)?
    private var shuttingDown = false

    func setListener(_ channel: any Channel) {
        lock.withLock { listener = channel }
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
        let (listener, idle): ((any Channel)?, [any Channel]) = lock.withLock {
            shuttingDown = true
            return (self.listener, channels.values.filter { !$0.busy }.map(\.channel))
        }
        listener?.close(promise: nil)
        for channel in idle { channel.close(promise: nil) }
    }

    func closeAll() {
        let all = lock.withLock { channels.values.map(\.channel) }
        for channel in all { channel.close(promise: nil) }
    }
}
