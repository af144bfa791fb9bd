import Foundation
import KanbanClient
import KanbanProtocol
import Testing

@testable import KanbanDaemon

extension Processes {
    /// Many clients at once, each on its own thread and connection; clients that misbehave at the
    /// socket level. The daemon must stay correct and responsive for everybody else.
    @Suite struct ConcurrentClients {
        @Test func sixtyFourClientsRaceForOneClaimAndExactlyOneWins() throws {
            let daemon = try TestDaemon()
            let id = try daemon.create("contested")  // ready, unassigned: the dispatcher leaves it alone
            let socket = daemon.socket
            let winners = Collected<Int64>()
            let refusals = Collected<ErrorKind>()
            let oddities = Collected<String>()
            let failures = raceOnThreads(64, connect: { _ in try KanbanClient(socket: socket) }) { index, client in
                do {
                    let claim: ClaimResult = try client.call(.taskClaim, ClaimParams(id: id, claimer: "racer-\(index)"))
                    winners.append(claim.runID)
                } catch ClientError.server(let error) {
                    refusals.append(error.kind)
                } catch {
                    oddities.append("\(error)")
                }
            }
            #expect(failures.isEmpty, "\(failures)")
            #expect(oddities.values.isEmpty, "\(oddities.values)")
            #expect(winners.values.count == 1, "winners: \(winners.values)")
            #expect(refusals.values.count == 63)
            #expect(refusals.values.allSatisfy { $0 == .conflict }, "\(refusals.values)")

            let detail = try daemon.detail(id)
            #expect(detail.task.status == .running)
            #expect(detail.runs.count == 1)
            #expect(detail.task.currentRunID == winners.values.first)
            #expect(detail.events.filter { $0.kind == EventKind.claimed }.count == 1)
        }

        @Test func fiftyConcurrentCreatesWithOneIdempotencyKeyMakeOneTask() throws {
            let daemon = try TestDaemon()
            let socket = daemon.socket
            let results = Collected<CreateResult>()
            let errors = Collected<String>()
            let failures = raceOnThreads(50, connect: { _ in try KanbanClient(socket: socket) }) { index, client in
                do {
                    let result: CreateResult = try client.call(
                        .taskCreate, CreateParams(title: "attempt \(index)", idempotencyKey: "deploy-42"))
                    results.append(result)
                } catch {
                    errors.append("\(error)")
                }
            }
            #expect(failures.isEmpty, "\(failures)")
            #expect(errors.values.isEmpty, "\(errors.values)")
            let all = results.values
            #expect(all.count == 50)
            #expect(all.filter(\.created).count == 1, "created: \(all.filter(\.created).map(\.task.id))")
            #expect(Set(all.map(\.task.id)).count == 1, "ids: \(Set(all.map(\.task.id)))")
            let list: TaskListResult = try daemon.client().call(.taskList, ListParams(archived: true))
            #expect(list.tasks.count == 1)
            #expect(list.tasks.first?.idempotencyKey == "deploy-42")
            let events: EventsListResult = try daemon.client().call(.eventsList, EventsListParams())
            #expect(events.events.filter { $0.kind == EventKind.created }.count == 1)
        }

        @Test func statusCountsCommitsAndTheWritesTheyCarried() throws {
            let daemon = try TestDaemon(config: "max_concurrent = 0\n")
            let socket = daemon.socket
            let client = try daemon.client()
            let before = try #require((try client.call(.systemStatus, Empty()) as StatusResult).writes)
            let errors = Collected<String>()
            let failures = raceOnThreads(16, connect: { _ in try KanbanClient(socket: socket) }) { index, client in
                for round in 0..<10 {
                    do {
                        let _: CreateResult = try client.call(.taskCreate, CreateParams(title: "w\(index).\(round)"))
                    } catch {
                        errors.append("\(error)")
                    }
                }
            }
            #expect(failures.isEmpty && errors.values.isEmpty, "\(failures) \(errors.values)")
            let after = try #require((try client.call(.systemStatus, Empty()) as StatusResult).writes)
            #expect(after.writes - before.writes == 160)
            #expect(after.commits > before.commits)
            #expect(after.commits - before.commits <= 160)
            #expect(after.pending == 0)
            // A write refused on its own is rolled back: no commit, no write counted.
            #expect(throws: ClientError.self) {
                let _: TaskResult = try client.call(.taskComplete, CompleteParams(id: "t_0000000000000000"))
            }
            let refused = try #require((try client.call(.systemStatus, Empty()) as StatusResult).writes)
            #expect(refused.commits == after.commits && refused.writes == after.writes)
        }

        @Test func taskGetBoundsCommentsAndAnswersBigAsksInFull() throws {
            // Past `Router.itemsAnsweredOnTheLoop` events or comments the read moves off the event
            // loop; the answer is the same. Comments come latest first up to the limit asked
            // (default `GetParams.defaultComments`), with the thread's full count.
            let daemon = try TestDaemon()
            let client = try daemon.client()
            let id = try daemon.create("chatty")
            let total = Router.itemsAnsweredOnTheLoop + 40
            for index in 0..<total {
                let _: CommentResult = try client.call(.taskComment, CommentParams(id: id, body: "note \(index)"))
            }
            let all: TaskDetail = try client.call(.taskGet, GetParams(id: id, events: 10_000, comments: 10_000))
            #expect(all.eventCount == total + 1)
            #expect(all.events.count == all.eventCount)
            #expect(all.events.map(\.id) == all.events.map(\.id).sorted())
            #expect(all.comments.map(\.body) == (0..<total).map { "note \($0)" })
            #expect(all.commentCount == total)
            let usual: TaskDetail = try client.call(.taskGet, GetParams(id: id, events: 5))
            #expect(usual.events.map(\.id) == Array(all.events.suffix(5)).map(\.id))
            #expect(usual.comments.map(\.body) == Array(all.comments.suffix(GetParams.defaultComments)).map(\.body))
            #expect(usual.commentCount == total)
            // Any integer may be asked for; the reply is sized by what the task holds.
            let most: TaskDetail = try client.call(.taskGet, GetParams(id: id, events: Int.max, comments: Int.max))
            #expect(most.events.count == total + 1 && most.comments.count == total)
            let none: TaskDetail = try client.call(.taskGet, GetParams(id: id, events: 0, comments: 0))
            #expect(none.comments.isEmpty && none.commentCount == total && none.events.isEmpty)
            let shown = daemon.ctl("show", id, "--comments", "3", "--events", "2").stdout
            #expect(shown.contains("Comments (3 of \(total)):"))
            #expect(shown.contains("note \(total - 1)") && !shown.contains("note \(total - 4)\n"))
            // The worker's brief keeps the whole thread (read off the loop).
            let brief: ContextResult = try client.call(.taskContext, IDParams(id: id))
            #expect(brief.text.contains("note 0") && brief.text.contains("note \(total - 1)"))
        }

        @Test func aClientThatNeverReadsStallsOnlyItself() throws {
            let daemon = try TestDaemon()
            let worker = try daemon.client()
            let body = String(repeating: "x", count: 4000)
            for index in 0..<40 {
                let _: CreateResult = try worker.call(.taskCreate, CreateParams(title: "seed \(index)", body: body))
            }
            // Hog 1 pipelines 400 big list requests (~70 MB of replies) and never reads one.
            let hog = try WirePeer(daemon.socket)
            var requests: [UInt8] = []
            for index in 0..<400 {
                requests += Framing.frame(Array(#"{"jsonrpc":"2.0","id":\#(index),"method":"task.list"}"#.utf8))
            }
            try hog.sendRaw(requests)
            // Hog 2 subscribes to everything, replay included, and never reads either.
            let watcher = try WirePeer(daemon.socket)
            try watcher.send(#"{"jsonrpc":"2.0","id":1,"method":"events.watch","params":{"since":0}}"#)

            // Everybody else keeps working, promptly.
            let started = Date()
            for index in 0..<100 {
                let created: CreateResult = try worker.call(.taskCreate, CreateParams(title: "meanwhile \(index)"))
                let _: TaskDetail = try worker.call(.taskGet, GetParams(id: created.task.id, events: 1))
            }
            let elapsed = Date().timeIntervalSince(started)
            #expect(elapsed < 10, "200 calls took \(elapsed) s beside a stalled client")
            #expect(daemon.ctl("list", "--status", "ready").stdout.contains("meanwhile 99"))
            let status: StatusResult = try worker.call(.systemStatus, Empty())
            #expect(status.connections >= 3)

            // When the hogs go away, so do their connections and the subscription.
            hog.close()
            watcher.close()
            let cleaned = eventually(timeout: 5) {
                guard let status: StatusResult = try? worker.call(.systemStatus, Empty()) else { return false }
                return status.connections == 1 && status.subscribers == 0
            }
            #expect(cleaned, "connections or subscriptions of closed clients linger")
        }

        @Test func clientsThatHangUpMidFrameDoNotHurtTheDaemon() throws {
            let daemon = try TestDaemon()
            // Half a length header.
            try WirePeer(daemon.socket).sendRaw([0, 0])
            // A header announcing 1000 bytes, then 10 of them.
            var partial: [UInt8] = []
            Framing.appendHeader(length: 1000, to: &partial)
            try WirePeer(daemon.socket).sendRaw(partial + Array(repeating: 0x20, count: 10))
            // A frame of exactly the limit (accepted), abandoned after 64 KiB.
            var big: [UInt8] = []
            Framing.appendHeader(length: Framing.defaultMaxFrameBytes, to: &big)
            try WirePeer(daemon.socket).sendRaw(big + Array(repeating: 0x20, count: 64 * 1024))
            // Requests whose sender is gone before the reply is written.
            for index in 0..<20 {
                try WirePeer(daemon.socket).send(#"{"jsonrpc":"2.0","id":\#(index),"method":"task.list"}"#)
            }
            // A whole frame followed by half a frame, then the hang-up: the whole one is still handled.
            var mixed = Framing.frame(
                Array(#"{"jsonrpc":"2.0","id":1,"method":"task.create","params":{"title":"sent before hanging up"}}"#.utf8))
            mixed += Framing.frame(Array(#"{"jsonrpc":"2.0","id":2,"method":"task.list"}"#.utf8)).prefix(9)
            try WirePeer(daemon.socket).sendRaw(mixed)

            let client = try daemon.client()
            #expect(eventually {
                let list: TaskListResult? = try? client.call(.taskList, ListParams())
                return list?.tasks.map(\.title) == ["sent before hanging up"]
            })
            #expect(eventually {
                let status: StatusResult? = try? client.call(.systemStatus, Empty())
                return status?.connections == 1
            }, "connections of peers that hung up are not closed")
            #expect(daemon.process?.isRunning == true)
            #expect(daemon.ctl("create", "still fine").code == 0)
        }
    }
}
