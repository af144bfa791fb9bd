import Foundation
import KanbanProtocol
import Logging
import NIOCore

/// One connection, served on its channel's event loop: frames in, replies out, in order.
///
/// A request is answered on the spot when the router can (protocol errors, point reads: no task,
/// no executor hop, the reply flushed once per burst of frames); anything that has to wait (a
/// write, a read kept off the loop) runs as a task that prefers this loop and hands its reply
/// back here. One request at a time per connection, so replies keep the requests' order.
///
/// Backpressure is explicit: while a frame waits to be handled or the channel is not writable
/// (a client that does not read its replies), the handler holds the channel's reads, so the
/// client's writes stall in its own socket buffer rather than in kanband's memory. Event pushes
/// wait for writability the same way (`Session.push`).
final class ConnectionHandler: ChannelDuplexHandler {
    typealias InboundIn = InboundFrame
    typealias OutboundIn = ByteBuffer
    typealias OutboundOut = ByteBuffer

    private let server: SocketServer
    private let peer: PeerCredentials
    private var context: ChannelHandlerContext?
    private var session: Session?
    private var id = 0
    /// Counted as open and in the registry (from `channelActive`).
    private var registered = false
    /// Active, allowed and not closing: frames are served and replies written.
    private var open = false
    /// A request is being handled (its reply not yet written).
    private var handling = false
    /// Frames read but not yet handled.
    private var queue = CircularBuffer<InboundFrame>()
    /// A `read` the handler held back, to pass on once it can take more frames.
    private var readHeld = false
    /// The client shut down its writing side: close once the frames it sent are answered.
    private var inputClosed = false
    /// Pushes waiting for the channel to become writable again.
    private var pushWaiters: [CheckedContinuation<Bool, Never>] = []
    /// Live subscriptions (replay done), by id: what the bus delivers here.
    private var live: [Int: LiveSubscription] = [:]
    /// A live push was written since the last flush.
    private var liveWrote = false
    /// This connection as the bus's sink for its live subscriptions.
    private var sink: ConnectionSink?

    init(server: SocketServer, peer: PeerCredentials) {
        self.server = server
        self.peer = peer
    }

    func handlerAdded(context: ChannelHandlerContext) { self.context = context }

    func handlerRemoved(context: ChannelHandlerContext) { self.context = nil }

    // MARK: lifecycle

    func channelActive(context: ChannelHandlerContext) {
        id = server.connections.open()
        registered = true
        let loop = context.eventLoop
        let bound = NIOLoopBound(self, eventLoop: loop)
        let session = Session(
            id: id, peer: peer, executor: EventLoopTaskExecutor(loop),
            push: { body in
                await withCheckedContinuation { continuation in
                    if loop.inEventLoop {
                        bound.value.push(body, continuation)
                    } else {
                        loop.execute { bound.value.push(body, continuation) }
                    }
                }
            },
            startLive: { subscription, floor in
                await withCheckedContinuation { (continuation: CheckedContinuation<Void, Never>) in
                    loop.execute {
                        bound.value.startLive(subscription, floor: floor)
                        continuation.resume()
                    }
                }
            })
        self.session = session
        self.sink = ConnectionSink(loop: loop, handler: bound)
        guard server.registry.add(id, context.channel) else {
            context.close(promise: nil)
            return
        }
        guard peer.isAllowed() else {
            server.logger.warning("refused connection from uid \(peer.uid) (pid \(peer.pid))")
            let error = KanbanError(
                .permissionDenied, "uid \(peer.uid) may not use this board (kanband runs as uid \(getuid()))")
            write(context, Router.failure(id: .null, RPCErrorObject(error)))
            context.flush()
            context.close(promise: nil)
            return
        }
        open = true
        context.fireChannelActive()
    }

    func channelInactive(context: ChannelHandlerContext) {
        open = false
        queue.removeAll()
        let waiters = pushWaiters
        pushWaiters.removeAll()
        for waiter in waiters { waiter.resume(returning: false) }
        releaseWatchers()
        if !handling { unregister() }
        context.fireChannelInactive()
    }

    func userInboundEventTriggered(context: ChannelHandlerContext, event: Any) {
        if let event = event as? ChannelEvent, event == .inputClosed {
            inputClosed = true
            serve(context)  // closes at once when nothing is queued or in hand
        } else if event is ShutdownEvent {
            // Busy connections close when their request ends (`finish`).
            if !handling { closeWhenWritten(context) }
            return
        }
        context.fireUserInboundEventTriggered(event)
    }

    func errorCaught(context: ChannelHandlerContext, error: any Error) {
        server.logger.debug("connection \(id) ended: \(error)")
        context.close(promise: nil)
    }

    /// Ends the connection's subscriptions (their tasks stop at their next push).
    private func releaseWatchers() {
        live.removeAll()
        guard let session else { return }
        for (subscription, task) in session.removeAllWatchers() {
            server.router.board.bus.unsubscribe(subscription)
            task.cancel()
        }
    }

    /// The connection is gone and nothing of it runs any more: shutdown can stop waiting for it.
    /// Also lets go of the session and the bus sink, whose closures hold this handler (a cycle
    /// that would otherwise keep every closed connection's handler alive).
    private func unregister() {
        guard registered else { return }
        registered = false
        session = nil
        sink = nil
        server.registry.remove(id)
        server.connections.close()
    }

    // MARK: reading

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        guard open else { return }
        queue.append(unwrapInboundIn(data))
        serve(context)
    }

    func read(context: ChannelHandlerContext) {
        // Also while a request is handled: a client may not park frames (each up to the frame
        // limit) in kanband's memory while its earlier request waits, for budget or the writer.
        if queue.isEmpty && !handling && context.channel.isWritable {
            context.read()
        } else {
            readHeld = true
        }
    }

    func channelWritabilityChanged(context: ChannelHandlerContext) {
        if context.channel.isWritable {
            let waiters = pushWaiters
            pushWaiters.removeAll()
            for waiter in waiters { waiter.resume(returning: true) }
            drainLive(context)
            serve(context)
        }
        context.fireChannelWritabilityChanged()
    }

    // MARK: requests

    /// Handles queued frames, one at a time, until one has to wait or the channel stops being
    /// writable; then lets reading resume if the queue is empty.
    private func serve(_ context: ChannelHandlerContext) {
        var wrote = false
        while open && !handling && context.channel.isWritable, let item = queue.popFirst() {
            switch item {
            case .oversize(let length):
                let error = RPCErrorObject(
                    code: RPC.Code.invalidRequest,
                    message: "frame of \(length) bytes exceeds the limit of \(server.maxFrameBytes) bytes; closing",
                    data: .init(kind: ErrorKind.invalidRequest.rawValue))
                write(context, Router.failure(id: .null, error))
                closeWhenWritten(context)
                return
            case .frame(let buffer):
                guard server.registry.setBusy(id, true) else {
                    // Shutdown began before this request started: it is not run, and says so.
                    if let head = try? StreamingJSONDecoder.decode(RPCRequestHead.self, from: Array(buffer.readableBytesView)),
                        head.hasID
                    {
                        let error = KanbanError(.unavailable, "kanband is shutting down; the request was not run")
                        write(context, Router.failure(id: head.id ?? .null, RPCErrorObject(error)))
                    }
                    closeWhenWritten(context)
                    return
                }
                handling = true
                if handle(context, Array(buffer.readableBytesView)) { wrote = true }
            }
        }
        if wrote { context.flush() }
        if inputClosed && queue.isEmpty && !handling {
            // Everything the client sent is answered.
            closeWhenWritten(context)
            return
        }
        if readHeld && open && queue.isEmpty && !handling && context.channel.isWritable {
            readHeld = false
            context.read()
        }
    }

    /// Starts handling one frame; true when it was answered on the spot and its reply written
    /// (not flushed).
    private func handle(_ context: ChannelHandlerContext, _ frame: [UInt8]) -> Bool {
        guard let session else { return false }
        // Parsing takes up to 16 bytes of tape per value (a value can be two bytes of frame),
        // built in a growing array then copied: charge that, not just the frame.
        let charge = frame.count * 24 + 4096
        let budget = server.budget
        let router = server.router
        guard let held = budget.tryAcquire(charge) else {
            // Over budget: wait for it off the loop, then handle the frame as usual.
            finishLater(context, session: session) {
                let taken = await budget.acquire(charge)
                defer { budget.release(taken) }
                return await router.handle(frame, session: session)
            }
            return false
        }
        switch router.handleNow(frame, session: session) {
        case .reply(let reply):
            budget.release(held)
            return finish(context, reply)
        case .later(let work):
            finishLater(context, session: session) {
                defer { budget.release(held) }
                return await work()
            }
            return false
        }
    }

    /// Runs `work` as a task that prefers this connection's loop, then writes its reply here.
    private func finishLater(
        _ context: ChannelHandlerContext, session: Session, _ work: @escaping @Sendable () async -> [UInt8]?
    ) {
        let loop = context.eventLoop
        let bound = NIOLoopBound(self, eventLoop: loop)
        Task(executorPreference: session.executor) {
            let reply = await work()
            if loop.inEventLoop {
                bound.value.finished(reply)
            } else {
                loop.execute { bound.value.finished(reply) }
            }
        }
    }

    /// A reply that had to wait is ready: write it and go on with the queue.
    private func finished(_ reply: [UInt8]?) {
        guard let context else {
            // The channel is gone; the request was the last thing running on it. What it started
            // (a watch registers its subscription after its reply) ends with it.
            handling = false
            for work in session?.takeAfterReply() ?? [] { work() }
            releaseWatchers()
            unregister()
            return
        }
        if finish(context, reply) { context.flush() }
        serve(context)
    }

    /// Writes a reply (not flushed) and ends the request; true when something was written.
    private func finish(_ context: ChannelHandlerContext, _ reply: [UInt8]?) -> Bool {
        handling = false
        var wrote = false
        if let reply, open {
            write(context, reply)
            wrote = true
        }
        // Work to run once the reply is written (a subscription's pushes start after its reply).
        for work in session?.takeAfterReply() ?? [] { work() }
        if !open {
            // Closed while the request ran: whatever it started ends with the connection.
            releaseWatchers()
            unregister()
            return wrote
        }
        if !server.registry.setBusy(id, false) {
            // Shutdown began while this request ran: close once its reply is out.
            closeWhenWritten(context)
        }
        return wrote
    }

    /// Stops serving and closes once everything written so far has left: a plain close drops
    /// whatever the socket buffer could not take yet (a large reply at shutdown arrived cut). A
    /// client that reads nothing keeps it open until shutdown's deadline closes everything.
    private func closeWhenWritten(_ context: ChannelHandlerContext) {
        guard open else { return }
        open = false
        // Nothing more is pushed: a live event written after the closing write would be cut.
        live.removeAll()
        // Writes complete in order: once this empty one has, everything before it is out. (Not
        // `close(mode: .output)`: on a channel whose input is closed it becomes a full close at
        // once, which would cut a half-closed client's large reply.)
        let channel = context.channel
        let written = context.eventLoop.makePromise(of: Void.self)
        written.futureResult.whenComplete { _ in channel.close(promise: nil) }
        context.writeAndFlush(wrapOutboundOut(channel.allocator.buffer(capacity: 0)), promise: written)
    }

    /// Sent down an idle connection's pipeline when shutdown begins (`ConnectionRegistry`): it
    /// closes on its own loop, after what it still has to write.
    struct ShutdownEvent {}

    // MARK: writing

    private func write(_ context: ChannelHandlerContext, _ body: [UInt8]) {
        context.write(wrapOutboundOut(SocketServer.frame(body, allocator: context.channel.allocator)), promise: nil)
    }

    /// Writes an event push; the caller resumes at once while the channel takes more, or once it
    /// is writable again, with false when the connection is gone.
    private func push(_ body: [UInt8], _ continuation: CheckedContinuation<Bool, Never>) {
        guard open, let context else {
            continuation.resume(returning: false)
            return
        }
        write(context, body)
        context.flush()
        if context.channel.isWritable {
            continuation.resume(returning: true)
        } else {
            pushWaiters.append(continuation)
        }
    }

    // MARK: live subscriptions

    /// A subscription whose events the bus delivers here.
    private struct LiveSubscription {
        /// Events at or below this id are not sent (the replay or the client's `since` covered them).
        var floor: Int64
        var limit: Int
        /// Events waiting for the channel to become writable, at most `limit`.
        var pending = CircularBuffer<SharedEvent>()
        /// The last event id written.
        var lastSent: Int64
        /// Set when `pending` overflowed: after what is pending, an overflow push with this id, and
        /// the end of the subscription.
        var overflowFrom: Int64?
    }

    /// Takes a subscription live once its replay is written: what the bus buffered meanwhile,
    /// then each event as it is published. On the loop, before any live delivery can arrive.
    fileprivate func startLive(_ subscription: EventBus.Subscription, floor: Int64) {
        let bus = server.router.board.bus
        guard open, let sink, let context else {
            bus.unsubscribe(subscription.id)
            return
        }
        let id = subscription.id
        live[id] = LiveSubscription(floor: floor, limit: subscription.limit, lastSent: floor)
        let (buffered, isLive) = bus.goLive(subscription, sink: sink)
        let overflowed = buffered.contains { if case .overflow = $0 { return true } else { return false } }
        if !isLive && (!overflowed || session?.hasWatcher(id) != true) {
            // Unwatched or shut down while replaying: nothing more to send (not even the overflow
            // of a subscription the client has already given up).
            live[id] = nil
            return
        }
        for item in buffered {
            switch item {
            case .event(let event): deliverLive(id, event)
            case .overflow(let resumeFrom): overflow(id, resumeFrom: resumeFrom)
            }
        }
        drainLive(context)
    }

    /// The bus's delivery of one event (on the loop).
    fileprivate func deliverLive(_ id: Int, _ event: SharedEvent) {
        guard open, let context, var state = live[id], state.overflowFrom == nil, event.event.id > state.floor else {
            return
        }
        if state.pending.isEmpty && context.channel.isWritable {
            write(context, EventPush.notification(subscription: id, encodedEvent: event.json))
            state.lastSent = event.event.id
            liveWrote = true
        } else if state.pending.count < state.limit {
            state.pending.append(event)
        } else {
            live[id] = state
            // The client reads too slowly: it gets what is pending, then where to resume from.
            overflow(id, resumeFrom: state.pending.last?.event.id ?? state.lastSent)
            return
        }
        live[id] = state
    }

    /// Ends a live subscription after its pending events, with an overflow push.
    private func overflow(_ id: Int, resumeFrom: Int64) {
        guard var state = live[id], state.overflowFrom == nil else { return }
        state.overflowFrom = resumeFrom
        live[id] = state
        server.router.board.bus.unsubscribe(id)
        _ = session?.removeWatcher(id)
        if let context { drainLive(context) }
    }

    /// After a commit's deliveries: one flush for all of them.
    fileprivate func flushLive() {
        guard liveWrote, let context else { return }
        liveWrote = false
        context.flush()
    }

    /// The bus dropped the subscription (unwatch, shutdown): stop sending it, unless it is
    /// finishing an overflow.
    fileprivate func endLive(_ id: Int) {
        if live[id]?.overflowFrom == nil { live[id] = nil }
    }

    /// Writes what live subscriptions have pending while the channel takes it; ends overflowed
    /// ones whose pending events are out.
    private func drainLive(_ context: ChannelHandlerContext) {
        for id in live.keys.sorted() {
            guard var state = live[id] else { continue }
            while context.channel.isWritable, let event = state.pending.popFirst() {
                write(context, EventPush.notification(subscription: id, encodedEvent: event.json))
                state.lastSent = event.event.id
                liveWrote = true
            }
            if state.pending.isEmpty, let resumeFrom = state.overflowFrom {
                write(
                    context,
                    WireJSON.encode(
                        RPCNotification(
                            method: PushMethod.overflow, params: OverflowPush(subscription: id, resumeFrom: resumeFrom))))
                liveWrote = true
                live[id] = nil
                continue
            }
            live[id] = state
        }
        flushLive()
    }
}

/// A connection as the event bus's sink for its live subscriptions: deliveries run on the
/// connection's loop (the bus hands each loop one closure per commit).
final class ConnectionSink: LiveEventSink {
    let loop: any EventLoop
    let handler: NIOLoopBound<ConnectionHandler>

    init(loop: any EventLoop, handler: NIOLoopBound<ConnectionHandler>) {
        self.loop = loop
        self.handler = handler
    }

    var eventLoop: (any EventLoop)? { loop }

    func deliver(subscription: Int, event: SharedEvent) { handler.value.deliverLive(subscription, event) }

    func deliveredBatch() { handler.value.flushLive() }

    func ended(subscription: Int) {
        let handler = handler
        if loop.inEventLoop {
            handler.value.endLive(subscription)
        } else {
            loop.execute { handler.value.endLive(subscription) }
        }
    }
}
