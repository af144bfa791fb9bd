import Foundation
import KanbanProtocol
import NIOConcurrencyHelpers

/// An event as published after its commit, with the task attributes that watch filters use.
struct PublishedEvent: Sendable {
    var event: EventInfo
    var assignee: String?
    var tenant: String?
}

/// What a watcher wants to see.
struct EventFilter: Sendable {
    var task: String?
    var assignee: String?
    var tenant: String?
    var kinds: Set<String>?

    func matches(_ published: PublishedEvent) -> Bool {
        if let task, published.event.taskID != task { return false }
        if let assignee, published.assignee != assignee { return false }
        if let tenant, published.tenant != tenant { return false }
        if let kinds, !kinds.contains(published.event.kind) { return false }
        return true
    }
}

/// In-memory fan-out of committed events to live subscribers.
///
/// The writer publishes each commit's events in commit order, under one lock, so every subscriber
/// sees ids strictly increasing. A subscriber registers first and replays from the database
/// second: events up to the id returned by `subscribe` come from the database, later ones from
/// its queue — no gap and no duplicate at the boundary. A subscriber whose queue passes its limit
/// is cut off with an overflow marker that says where to resume; it never slows the writer.
final class EventBus: @unchecked Sendable {
    enum Item: Sendable {
        case event(SharedEvent)
        /// The subscriber fell behind; resume with `since` = this id.
        case overflow(resumeFrom: Int64)
    }

    final class Subscription: @unchecked Sendable {
        let id: Int
        let filter: EventFilter
        let limit: Int
        let stream: AsyncStream<Item>
        fileprivate let continuation: AsyncStream<Item>.Continuation
        fileprivate var queued = 0
        fileprivate var lastQueued: Int64
        fileprivate var overflowed = false

        fileprivate init(id: Int, filter: EventFilter, limit: Int, start: Int64) {
            self.id = id
            self.filter = filter
            self.limit = limit
            self.lastQueued = start
            (stream, continuation) = AsyncStream.makeStream(of: Item.self)
        }
    }

    private let lock = NSLock()
    private var subscribers: [Int: Subscription] = [:]
    private var nextID = 1
    private(set) var lastPublished: Int64

    init(lastEventID: Int64) {
        lastPublished = lastEventID
    }

    func reset(lastEventID: Int64) {
        lock.lock()
        lastPublished = lastEventID
        lock.unlock()
    }

    var count: Int {
        lock.lock()
        defer { lock.unlock() }
        return subscribers.count
    }

    /// Registers a subscriber. Returns it and the last published id: the caller replays events up
    /// to that id from the database, then reads `stream`.
    func subscribe(filter: EventFilter, limit: Int) -> (Subscription, Int64) {
        lock.lock()
        defer { lock.unlock() }
        let subscription = Subscription(id: nextID, filter: filter, limit: limit, start: lastPublished)
        nextID += 1
        subscribers[subscription.id] = subscription
        return (subscription, lastPublished)
    }

    func unsubscribe(_ id: Int) {
        lock.lock()
        let subscription = subscribers.removeValue(forKey: id)
        lock.unlock()
        subscription?.continuation.finish()
    }

    /// The consumer took one item off the stream.
    func consumed(_ subscription: Subscription) {
        lock.lock()
        subscription.queued -= 1
        lock.unlock()
    }

    /// Called by the writer after each commit, in commit order.
    func publish(_ events: [PublishedEvent]) {
        guard !events.isEmpty else { return }
        lock.lock()
        defer { lock.unlock() }
        for published in events {
            lastPublished = max(lastPublished, published.event.id)
            var shared: SharedEvent?
            for subscription in subscribers.values where !subscription.overflowed {
                guard subscription.filter.matches(published) else { continue }
                if subscription.queued >= subscription.limit {
                    subscription.overflowed = true
                    subscription.continuation.yield(.overflow(resumeFrom: subscription.lastQueued))
                    subscription.continuation.finish()
                    subscribers[subscription.id] = nil
                    continue
                }
                subscription.queued += 1
                subscription.lastQueued = published.event.id
                if shared == nil { shared = SharedEvent(published.event) }
                subscription.continuation.yield(.event(shared!))
            }
        }
    }

    /// Ends every subscription (shutdown).
    func finishAll() {
        lock.lock()
        let all = subscribers.values
        subscribers.removeAll()
        lock.unlock()
        for subscription in all { subscription.continuation.finish() }
    }
}

/// A committed event as every subscriber gets it: its wire JSON is encoded by the first subscriber
/// that pushes it and reused by the others (with 100 subscribers, encoding per subscriber was most
/// of the fan-out).
final class SharedEvent: Sendable {
    let event: EventInfo
    private let encoded = NIOLockedValueBox<[UInt8]?>(nil)

    init(_ event: EventInfo) { self.event = event }

    var json: [UInt8] {
        encoded.withLockedValue { bytes in
            if let bytes { return bytes }
            let fresh = WireJSON.encode(event)
            bytes = fresh
            return fresh
        }
    }
}
