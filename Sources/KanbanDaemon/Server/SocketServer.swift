import Foundation
import KanbanProtocol
import Logging
import NIOCore
import NIOPosix

/// Serves the protocol on the listening socket: each connection is a `ConnectionHandler` on an
/// event loop, requests on a connection answered in order, many connections at once. A client
/// that stops reading only stalls itself.
final class SocketServer: Sendable {
    let router: Router
    let logger: Logger
    let maxFrameBytes: Int
    let connections: ConnectionCounter
    let registry = ConnectionRegistry()
    /// At most this many request bytes are being handled at once (frames up to the frame limit).
    let budget = RequestBudget(bytes: 64 * 1024 * 1024)

    init(router: Router, logger: Logger, maxFrameBytes: Int, connections: ConnectionCounter) {
        self.router = router
        self.logger = logger
        self.maxFrameBytes = maxFrameBytes
        self.connections = connections
    }

    /// Accepts on `fd` (and on any listener added later) until `shutdown()` closes them, then lets
    /// in-flight requests finish (busy connections are force-closed after `drainSeconds`) and
    /// returns once every connection is gone.
    func run(fd: Int32, group: MultiThreadedEventLoopGroup, drainSeconds: Int64 = 10) async throws {
        let (listeners, continuation) = AsyncStream.makeStream(of: Int32.self)
        registry.setListenerQueue(continuation)
        continuation.yield(fd)
        let registry = registry
        do {
            try await withThrowingDiscardingTaskGroup { tasks in
                for await fd in listeners {
                    tasks.addTask {
                        do {
                            try await self.accept(on: fd, group: group)
                        } catch {
                            // The group cancels the other listeners but not this loop: ending the
                            // listener queue is what lets it finish and the error reach `run`.
                            registry.beginShutdown()
                            throw error
                        }
                    }
                }
            }
        } catch {
            // A listener failed: stop like a shutdown, so the board is not closed under the
            // connections still being served.
            registry.beginShutdown()
            group.next().scheduleTask(in: .seconds(drainSeconds)) { registry.closeAll() }
            await registry.drained()
            throw error
        }
        // Shutdown began: connections still busy after the grace period are closed.
        group.next().scheduleTask(in: .seconds(drainSeconds)) { registry.closeAll() }
        await registry.drained()
    }

    /// Serves another listening socket (the socket file was deleted and has been re-created).
    func addListener(fd: Int32) -> Bool {
        registry.addListener(fd)
    }

    private func accept(on fd: Int32, group: MultiThreadedEventLoopGroup) async throws {
        let maxFrameBytes = maxFrameBytes
        let server = try await ServerBootstrap(group: group)
            .serverChannelOption(.backlog, value: 512)
            // A client that shuts down its writing side still gets its replies (the handler
            // closes once they are out).
            .childChannelOption(.allowRemoteHalfClosure, value: true)
            .childChannelInitializer { channel in
                PeerCredentials.of(channel).flatMapThrowing { peer in
                    try channel.pipeline.syncOperations.addHandlers([
                        ByteToMessageHandler(FrameDecoder(maxFrameBytes: maxFrameBytes)),
                        ConnectionHandler(server: self, peer: peer),
                    ])
                }
            }
            .withBoundSocket(fd).get()
        guard registry.setListener(server) else {
            try? await server.close()
            return
        }
        // A failing sibling listener cancels this task: close the channel so the wait ends.
        try await withTaskCancellationHandler {
            try await server.closeFuture.get()
        } onCancel: {
            server.close(promise: nil)
        }
    }

    /// Stops accepting and closes idle connections; busy ones close after their current request.
    func shutdown() {
        registry.beginShutdown()
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
    private var drainWaiters: [CheckedContinuation<Void, Never>] = []

    /// Where listeners go once `run` serves them. A shutdown that began before (a SIGTERM while
    /// the daemon was still recovering) ends the queue at once, so `run` returns instead of
    /// waiting on a listener that will never come.
    func setListenerQueue(_ queue: AsyncStream<Int32>.Continuation) {
        let already: Bool = lock.withLock {
            listenerQueue = queue
            return shuttingDown
        }
        if already { queue.finish() }
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

    /// The connection is gone and nothing of it runs any more.
    func remove(_ id: Int) {
        let waiters: [CheckedContinuation<Void, Never>] = lock.withLock {
            _ = channels.removeValue(forKey: id)
            guard shuttingDown && channels.isEmpty else { return [] }
            defer { drainWaiters.removeAll() }
            return drainWaiters
        }
        for waiter in waiters { waiter.resume() }
    }

    /// Returns once shutdown has begun and every connection is gone.
    func drained() async {
        await withCheckedContinuation { (continuation: CheckedContinuation<Void, Never>) in
            let done: Bool = lock.withLock {
                if shuttingDown && channels.isEmpty { return true }
                drainWaiters.append(continuation)
                return false
            }
            if done { continuation.resume() }
        }
    }

    /// Returns false when the connection should close now (shutdown began while it was busy).
    /// Starting a request (`busy`) is refused once shutdown has begun: the connection was (or is
    /// about to be) closed as idle. Ending one returns false when the connection should close.
    @discardableResult
    func setBusy(_ id: Int, _ busy: Bool) -> Bool {
        lock.withLock {
            if shuttingDown { return false }
            channels[id]?.busy = busy
            return true
        }
    }

    func beginShutdown() {
        let (listeners, idle, queue): ([any Channel], [any Channel], AsyncStream<Int32>.Continuation?) = lock.withLock {
            shuttingDown = true
            return (self.listeners, channels.values.filter { !$0.busy }.map(\.channel), listenerQueue)
        }
        queue?.finish()
        for listener in listeners { listener.close(promise: nil) }
        // What an idle connection still has to write (pushes) goes out first.
        for channel in idle { channel.pipeline.fireUserInboundEventTriggered(ConnectionHandler.ShutdownEvent()) }
    }

    func closeAll() {
        let all = lock.withLock { channels.values.map(\.channel) }
        for channel in all { channel.close(promise: nil) }
    }
}
