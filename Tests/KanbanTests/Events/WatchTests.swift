import Foundation
import KanbanClient
import KanbanProtocol
import Testing

extension Processes {
    /// `events.watch` against a real kanband: replay then live with no gap, filters, and a slow consumer
    /// that is cut off with a resume cursor instead of slowing anybody down.
    @Suite struct EventWatch {
        /// Fast commits: these tests are about delivery, not durability.
        static let fastConfig = "durability = \"normal\"\n"

        @Test func replayThenLiveHasNoGapAndNoDuplicate() throws {
            let daemon = try TestDaemon(config: EventWatch.fastConfig)
            let setup = try EventKit.Client(socket: daemon.socket)
            for i in 0..<200 { try setup.create("before \(i)") }

            // Another connection keeps creating tasks while the watcher subscribes and replays.
            let stop = EventKit.Shared(false)
            let created = EventKit.Shared(0)
            let socket = daemon.socket
            let producer = EventKit.Background {
                guard let client = try? EventKit.Client(socket: socket) else { return }
                var i = 0
                while !stop.get {
                    do { try client.create("during \(i)") } catch { return }
                    i += 1
                    created.set(i)
                }
            }
            defer {
                stop.set(true)
                producer.join()
            }
            #expect(eventually { created.get >= 20 })

            let watcher = try EventKit.Client(socket: daemon.socket)
            let started = try watcher.watch(WatchParams(since: 0))
            #expect(started.cursor >= 220)
            // Read until well past the replay/live boundary, then stop the producer and read to its end.
            var events = try watcher.events(of: started.subscription) { ($0.last?.id ?? 0) >= started.cursor + 300 }
            stop.set(true)
            #expect(producer.join())
            #expect(created.get > 0)
            let target = try setup.lastEventID()
            let lastSoFar = events.last?.id ?? 0
            events += try watcher.events(of: started.subscription) { ($0.last?.id ?? lastSoFar) >= target }

            let ids = events.map(\.id)
            #expect(zip(ids, ids.dropFirst()).allSatisfy { $0 < $1 }, "ids must be strictly increasing")
            #expect(Set(ids).count == ids.count, "no duplicates")
            let history = try setup.allEvents()
            #expect(ids == history.map(\.id), "pushed ids must be exactly the database's, with no gap")
            #expect(events == history, "pushed events must equal the stored ones")
            #expect(ids.contains { $0 <= started.cursor } && ids.contains { $0 > started.cursor })
            #expect(ids.last == target)
            #expect(watcher.isQuiet(for: 0.15), "nothing is pushed twice after the end")
        }

        @Test func filtersApplyToReplayAndLive() throws {
            // No worker may run: assigned ready tasks must stay as they are.
            let daemon = try TestDaemon(config: "max_concurrent = 0\n")
            let c = try EventKit.Client(socket: daemon.socket)
            var owners: [String: (assignee: String?, tenant: String?)] = [:]
            func make(_ title: String, _ assignee: String?, _ tenant: String?) throws -> String {
                let task = try c.create(title, assignee: assignee, tenant: tenant)
                owners[task.id] = (assignee, tenant)
                return task.id
            }
            let a1 = try make("a1", "alice", "acme")
            let b1 = try make("b1", "bob", "acme")
            let c1 = try make("c1", "alice", "zeta")
            let u1 = try make("u1", nil, nil)
            try c.comment(a1, "first look")
            try c.comment(b1, "bob here")
            try c.complete(c1, result: "done early")
            try c.block(u1, "waiting")

            struct Case {
                var name: String
                var params: WatchParams
                var matches: (EventInfo) -> Bool
            }
            let owner = { (event: EventInfo) in owners[event.taskID] }
            let cases: [Case] = [
                Case(name: "task", params: WatchParams(since: 0, task: a1)) { $0.taskID == a1 },
                Case(name: "assignee", params: WatchParams(since: 0, assignee: "alice")) {
                    owner($0)?.assignee == "alice"
                },
                Case(name: "tenant", params: WatchParams(since: 0, tenant: "acme")) { owner($0)?.tenant == "acme" },
                Case(name: "kinds", params: WatchParams(since: 0, kinds: ["completed", "commented"])) {
                    ["completed", "commented"].contains($0.kind)
                },
                Case(name: "assignee+kinds", params: WatchParams(since: 0, assignee: "alice", kinds: ["completed"])) {
                    owner($0)?.assignee == "alice" && $0.kind == "completed"
                },
                Case(name: "tenant+assignee", params: WatchParams(since: 0, assignee: "alice", tenant: "zeta")) {
                    owner($0)?.assignee == "alice" && owner($0)?.tenant == "zeta"
                },
            ]
            var watchers: [(Case, EventKit.Client, WatchResult)] = []
            for item in cases {
                let client = try EventKit.Client(socket: daemon.socket)
                watchers.append((item, client, try client.watch(item.params)))
            }

            // Live traffic of every shape.
            try c.comment(a1, "live on a1")
            try c.complete(b1, result: "bob done")
            try c.comment(c1, "after the fact")
            let a2 = try make("a2", "alice", "acme")
            try c.comment(a2, "new alice task")
            try c.unblock(u1)
            try c.complete(a1, result: "alice done")
            let z1 = try make("z1", "bob", "zeta")
            try c.complete(z1)
            try c.archive(c1)

            let history = try c.allEvents()
            for (item, client, started) in watchers {
                let expected = history.filter(item.matches)
                #expect(expected.contains { $0.id <= started.cursor }, "\(item.name): the case must replay something")
                #expect(expected.contains { $0.id > started.cursor }, "\(item.name): the case must see live events")
                let got = try client.events(of: started.subscription) { $0.count >= expected.count }
                #expect(got.map(\.id) == expected.map(\.id), "\(item.name)")
                #expect(client.isQuiet(for: 0.1), "\(item.name): nothing beyond the filter")
            }
        }

        @Test func watchWithoutSinceStartsAtNowAndUnwatchStops() throws {
            let daemon = try TestDaemon()
            let c = try EventKit.Client(socket: daemon.socket)
            let old = try c.create("old")
            let watcher = try EventKit.Client(socket: daemon.socket)
            let started = try watcher.watch(WatchParams())
            #expect(started.cursor == (try c.lastEventID()))
            try c.comment(old.id, "new")
            let got = try watcher.events(of: started.subscription) { $0.count >= 1 }
            #expect(got.map(\.kind) == ["commented"])
            let changed: ChangedResult = try watcher.call(.eventsUnwatch, UnwatchParams(subscription: started.subscription))
            #expect(changed.changed)
            try c.comment(old.id, "unseen")
            #expect(watcher.isQuiet(for: 0.15))
            #expect(throws: (any Error).self) {
                let _: ChangedResult = try watcher.call(.eventsUnwatch, UnwatchParams(subscription: started.subscription))
            }
            #expect(throws: (any Error).self) { _ = try watcher.watch(WatchParams(since: -1)) }
        }

        /// A consumer that subscribes and never reads: the daemon keeps serving everybody else at full
        /// speed, cuts the reader off after its buffer limit, and tells it where to resume.
        @Test func slowConsumerIsCutOffWithAResumeCursor() throws {
            let daemon = try TestDaemon(config: EventWatch.fastConfig)
            let setup = try EventKit.Client(socket: daemon.socket)
            let tasks = try (0..<4).map { try setup.create("noisy \($0)").id }

            // The slow consumer: a raw connection that subscribes to everything live and then reads nothing.
            let slow = try SocketConnection(path: daemon.socket)
            EventKit.setReceiveTimeout(slow, 10)
            try slow.send(
                WireJSON.encode(RPCRequest(id: .int(1), method: Method.eventsWatch.rawValue, params: WatchParams())))
            #expect(eventually { (try? setup.status().subscribers) == 1 })
            let first = try setup.lastEventID()

            let socket = daemon.socket
            let stop = EventKit.Shared(false)
            let produced = EventKit.Shared(0)
            defer { stop.set(true) }

            // A well-behaved watcher on another connection must get every event, live.
            let fastTarget = EventKit.Shared<Int64?>(nil)
            let fastIDs = EventKit.Shared<[Int64]>([])
            let fastOverflows = EventKit.Shared(0)
            let fastError = EventKit.Shared<String?>(nil)
            let fastSubscribed = EventKit.Shared(false)
            let fast = EventKit.Background {
                do {
                    // Short reads, so that the target set after the last event arrived is noticed.
                    let client = try EventKit.Client(socket: socket, timeout: 0.2)
                    var started: WatchResult = try client.watch(WatchParams(since: first))
                    fastSubscribed.set(true)
                    var lastProgress = Date()
                    while true {
                        if let target = fastTarget.get, (fastIDs.get.last ?? 0) >= target { return }
                        let push: EventKit.Push
                        do {
                            push = try client.push()
                        } catch {
                            if Date().timeIntervalSince(lastProgress) > 30 { throw error }
                            continue
                        }
                        lastProgress = Date()
                        switch push {
                        case .event(let sub, let event):
                            if sub == started.subscription { fastIDs.update { $0.append(event.id) } }
                        case .overflow(let sub, let resume):
                            guard sub == started.subscription else { continue }
                            fastOverflows.update { $0 += 1 }
                            started = try client.watch(WatchParams(since: resume))
                        case .other:
                            continue
                        }
                    }
                } catch {
                    fastError.set("\(error)")
                }
            }
            #expect(eventually { fastSubscribed.get })

            // Another client keeps asking questions; every answer must stay fast.
            let latencies = EventKit.Shared<[Double]>([])
            let asker = EventKit.Background {
                guard let client = try? EventKit.Client(socket: socket) else { return }
                while !stop.get {
                    let start = DispatchTime.now().uptimeNanoseconds
                    do {
                        let _: TaskListResult = try client.call(.taskList, ListParams(limit: 5))
                    } catch { return }
                    let seconds = Double(DispatchTime.now().uptimeNanoseconds - start) / 1e9
                    latencies.update { $0.append(seconds) }
                    usleep(2_000)
                }
            }

            // Writers: four connections commenting as fast as they can.
            let writers = tasks.enumerated().map { index, task in
                EventKit.Background {
                    guard let client = try? EventKit.Client(socket: socket) else { return }
                    var i = 0
                    while !stop.get {
                        do { try client.comment(task, "noise \(index)-\(i)") } catch { return }
                        i += 1
                        produced.update { $0 += 1 }
                    }
                }
            }

            // Produce until the slow subscription has been cut off (the bus dropped it: only the
            // fast watcher is left), with at least 5000 events, and a hard ceiling.
            let cutOff = eventually(timeout: 90) {
                produced.get >= 5000 && (try? setup.status().subscribers) == 1 && fastOverflows.get == 0
            }
            stop.set(true)
            for writer in writers { #expect(writer.join()) }
            #expect(asker.join())
            #expect(cutOff, "the slow subscription was never cut off after \(produced.get) events")

            // The rest: events after the cut-off, which only a resumed subscription can see.
            for i in 0..<50 { try setup.comment(tasks[0], "after the cut-off \(i)") }
            let history = try setup.allEvents().filter { $0.id > first }
            let target = try #require(history.last?.id)
            fastTarget.set(target)
            #expect(fast.join(timeout: 30))
            #expect(fastError.get == nil)
            #expect(daemon.process?.isRunning == true)

            #expect(fastOverflows.get == 0, "a reader that keeps up is never cut off")
            #expect(fastIDs.get == history.map(\.id), "the fast watcher saw every event, once, in order")

            let answers = latencies.get.sorted()
            #expect(answers.count > 10)
            if !answers.isEmpty {
                let median = answers[answers.count / 2]
                let worst = answers.last!
                #expect(median < 0.05, "median answer \(median) s while a consumer is stuck")
                #expect(worst < 1.0, "slowest answer \(worst) s while a consumer is stuck")
            }

            // The slow reader finally reads: its reply, the events it had buffered, then the overflow.
            let reply = try EventKit.RawFrame.next(slow)
            #expect(reply.id == .int(1))
            var slowEvents: [EventInfo] = []
            var resume: Int64?
            while resume == nil {
                let frame = try EventKit.RawFrame.next(slow)
                switch frame.method {
                case PushMethod.event: slowEvents.append(try frame.decode(EventPush.self).event)
                case PushMethod.overflow: resume = try frame.decode(OverflowPush.self).resumeFrom
                default: throw TestFailure("unexpected frame \(frame)")
                }
            }
            let resumeFrom = try #require(resume)
            #expect(slowEvents.count >= 4096, "at least the buffer limit was delivered before the cut-off")
            #expect(slowEvents.count < history.count)
            #expect(slowEvents.last?.id == resumeFrom, "the resume cursor is the last event delivered")
            #expect(slowEvents.map(\.id) == history.filter { $0.id <= resumeFrom }.map(\.id), "no gap before the cut-off")
            #expect(resumeFrom < target)

            // Resuming from the cursor delivers exactly the rest, on the same connection.
            try slow.send(
                WireJSON.encode(
                    RPCRequest(id: .int(2), method: Method.eventsWatch.rawValue, params: WatchParams(since: resumeFrom))))
            var rest: [EventInfo] = []
            var resumed = false
            while (rest.last?.id ?? resumeFrom) < target {
                let frame = try EventKit.RawFrame.next(slow)
                if frame.id == .int(2) {
                    resumed = true
                    continue
                }
                #expect(frame.method == PushMethod.event)
                rest.append(try frame.decode(EventPush.self).event)
            }
            #expect(resumed)
            #expect(rest.map(\.id) == history.filter { $0.id > resumeFrom }.map(\.id))
            #expect((slowEvents + rest).map(\.id) == history.map(\.id), "cut-off plus resume is the whole history")
            #expect(daemon.process?.isRunning == true)
        }

        @Test func twoSubscriptionsOnOneConnectionAreToldApartByTheirID() throws {
            let daemon = try TestDaemon(config: "max_concurrent = 0\n")
            let c = try EventKit.Client(socket: daemon.socket)
            let mine = try c.create("mine", assignee: "alice")
            let theirs = try c.create("theirs", assignee: "bob")
            let watcher = try EventKit.Client(socket: daemon.socket)
            let all = try watcher.watch(WatchParams(since: 0))
            let alice = try watcher.watch(WatchParams(since: 0, assignee: "alice"))
            #expect(all.subscription != alice.subscription)
            try c.comment(mine.id, "for both")
            try c.comment(theirs.id, "for one")
            let history = try c.allEvents()
            var seen: [Int: [Int64]] = [:]
            while seen[all.subscription, default: []].count < history.count
                || seen[alice.subscription, default: []].count < 2
            {
                guard case .event(let sub, let event) = try watcher.push() else { throw TestFailure("unexpected push") }
                seen[sub, default: []].append(event.id)
            }
            #expect(seen[all.subscription] == history.map(\.id))
            #expect(seen[alice.subscription] == history.filter { $0.taskID == mine.id }.map(\.id))
            #expect(watcher.isQuiet(for: 0.1))
        }

        /// `since` means "events after this id", also when the cursor is ahead of what the bus has
        /// published — as a cursor read from `events.list` can be, since a commit is visible to readers
        /// a moment before it is published.
        @Test func watchNeverDeliversEventsAtOrBeforeItsCursor() throws {
            let daemon = try TestDaemon()
            let c = try EventKit.Client(socket: daemon.socket)
            let task = try c.create("counting")
            let last = try c.lastEventID()
            let watcher = try EventKit.Client(socket: daemon.socket)
            let since = last + 3
            let started = try watcher.watch(WatchParams(since: since))
            for i in 0..<5 { try c.comment(task.id, "comment \(i)") }
            let history = try c.allEvents()
            let expected = history.filter { $0.id > since }.map(\.id)
            #expect(expected.count == 2)
            let got = try watcher.events(of: started.subscription) { ($0.last?.id ?? 0) >= history.last!.id }.map(\.id)
            #expect(got == expected, "asked for events after \(since), got \(got)")
        }

        /// A kinds filter is a bounded list: naming more distinct kinds than any board has is
        /// refused up front (it once made the replay's query fail and the subscription go live
        /// with a silent gap).
        @Test func aWatchNamingTooManyKindsIsRefused() throws {
            let daemon = try TestDaemon()
            let c = try EventKit.Client(socket: daemon.socket)
            #expect(throws: (any Error).self) {
                _ = try c.watch(WatchParams(since: 0, kinds: (0..<65).map { "kind\($0)" }))
            }
            let repeated = try c.watch(WatchParams(since: 0, kinds: Array(repeating: "created", count: 500)))
            #expect(repeated.subscription > 0)
            #expect(try c.status().subscribers == 1)
        }

        /// Reads frames from a raw connection until the reply with `id`: the subscription's pushes
        /// before it (events, and whether an overflow push came), and the reply itself.
        static func framesUntilReply(_ connection: SocketConnection, id: Int, subscription: Int) throws
            -> (events: Int, overflowed: Bool, reply: EventKit.RawFrame)
        {
            var events = 0
            var overflowed = false
            while true {
                let frame = try EventKit.RawFrame.next(connection)
                if frame.id == .int(Int64(id)) { return (events, overflowed, frame) }
                switch frame.method {
                case PushMethod.event where try frame.decode(EventPush.self).subscription == subscription: events += 1
                case PushMethod.overflow where try frame.decode(OverflowPush.self).subscription == subscription:
                    overflowed = true
                default: throw TestFailure("unexpected frame \(frame)")
                }
            }
        }

        /// Sends `events.unwatch` for `subscription` on a raw connection (request id `id`).
        static func sendUnwatch(_ connection: SocketConnection, id: Int, subscription: Int) throws {
            try connection.send(
                WireJSON.encode(
                    RPCRequest(
                        id: .int(Int64(id)), method: Method.eventsUnwatch.rawValue,
                        params: UnwatchParams(subscription: subscription))))
        }

        /// The reply to `events.unwatch` is the last word on a subscription: no push for it
        /// follows, even when the unwatch lands in the middle of a replay page.
        @Test func noPushFollowsTheUnwatchOfAReplayingSubscription() throws {
            let daemon = try TestDaemon(config: EventWatch.fastConfig)
            let setup = try EventKit.Client(socket: daemon.socket)
            let task = try setup.create("long history")
            for i in 0..<2500 { try setup.comment(task.id, "history \(i) " + String(repeating: "x", count: 200)) }
            let total = try setup.allEvents().count

            let raw = try SocketConnection(path: daemon.socket)
            EventKit.setReceiveTimeout(raw, 10)
            try raw.send(
                WireJSON.encode(RPCRequest(id: .int(1), method: Method.eventsWatch.rawValue, params: WatchParams(since: 0))))
            let reply = try EventKit.RawFrame.next(raw)
            #expect(reply.id == .int(1))
            let subscription = try JSONDecoder().decode(RPCIncoming<WatchResult>.self, from: Data(reply.bytes)).result!.subscription
            // Unwatch at once, while the replay is still being written (and mostly unread).
            try EventWatch.sendUnwatch(raw, id: 2, subscription: subscription)
            let (events, overflowed, answer) = try EventWatch.framesUntilReply(raw, id: 2, subscription: subscription)
            #expect(!overflowed)
            #expect(events < total, "the unwatch should have cut the replay short (\(events) of \(total))")
            let changed = try JSONDecoder().decode(RPCIncoming<ChangedResult>.self, from: Data(answer.bytes)).result
            #expect(changed?.changed == true, "\(answer)")
            EventKit.setReceiveTimeout(raw, 0.3)
            #expect(throws: (any Error).self, "a push followed the unwatch reply") { try EventKit.RawFrame.next(raw) }
            // The connection still serves requests, and the subscription is gone.
            EventKit.setReceiveTimeout(raw, 10)
            try EventWatch.sendUnwatch(raw, id: 3, subscription: subscription)
            let again = try EventKit.RawFrame.next(raw)
            #expect(again.id == .int(3))
            #expect(String(decoding: again.bytes, as: UTF8.self).contains("not_found"))
        }

        /// A subscription cut off for reading too slowly still has its queued events and its
        /// overflow push to write. A connection reads no request while pushes wait for it, so an
        /// unwatch sent meanwhile is read after all of them: it is answered `not_found` (the
        /// subscription has ended) and nothing follows it.
        @Test func unwatchAfterACutOffIsAnsweredAfterTheOverflow() throws {
            let daemon = try TestDaemon(config: EventWatch.fastConfig)
            let setup = try EventKit.Client(socket: daemon.socket)
            let task = try setup.create("noisy")
            let raw = try SocketConnection(path: daemon.socket)
            EventKit.setReceiveTimeout(raw, 10)
            try raw.send(WireJSON.encode(RPCRequest(id: .int(1), method: Method.eventsWatch.rawValue, params: WatchParams())))
            let reply = try EventKit.RawFrame.next(raw)
            let subscription = try JSONDecoder().decode(RPCIncoming<WatchResult>.self, from: Data(reply.bytes)).result!.subscription
            #expect(eventually { (try? setup.status().subscribers) == 1 })
            // The watcher reads nothing while more than its queue (4096) is committed: the bus
            // drops it (cut off), with its queued events and the overflow push still to write.
            var written = 0
            while (try? setup.status().subscribers) != 0 && written < 20_000 {
                for _ in 0..<500 {
                    try setup.comment(task.id, "noise \(written) " + String(repeating: "y", count: 200))
                    written += 1
                }
            }
            #expect((try setup.status().subscribers) == 0, "never cut off after \(written) events")
            try EventWatch.sendUnwatch(raw, id: 2, subscription: subscription)
            let (events, overflowed, answer) = try EventWatch.framesUntilReply(raw, id: 2, subscription: subscription)
            let text = String(decoding: answer.bytes, as: UTF8.self)
            #expect(overflowed, "the overflow push comes before the unwatch reply")
            #expect(events >= 4096, "the queued events come first (\(events))")
            #expect(text.contains("not_found"), "\(text)")
            EventKit.setReceiveTimeout(raw, 0.3)
            #expect(throws: (any Error).self, "a push followed the unwatch reply") { try EventKit.RawFrame.next(raw) }
        }

        @Test func closingAWatchingConnectionEndsItsSubscription() throws {
            let daemon = try TestDaemon()
            let c = try EventKit.Client(socket: daemon.socket)
            do {
                let watcher = try EventKit.Client(socket: daemon.socket)
                _ = try watcher.watch(WatchParams(since: 0))
                #expect(eventually { (try? c.status().subscribers) == 1 })
                watcher.raw.connection.close()
            }
            #expect(eventually { (try? c.status().subscribers) == 0 })
            try c.create("still fine")
        }
    }
}
