import Foundation
import KanbanClient
import KanbanProtocol
import Testing

/// How hard the fault suite pushes: CI runs the light variant; `KANBAN_SOAK=1` runs the heavy one.
enum FaultLoad {
    static let soak = ProcessInfo.processInfo.environment["KANBAN_SOAK"] == "1"
    static var killCycles: Int { soak ? 60 : 6 }
    static var fuzzFrames: Int { soak ? 50_000 : 3_000 }
    static var hammerClients: Int { 64 }
    static var hammerCallsPerClient: Int { soak ? 2_000 : 150 }
    static var shortConnections: Int { soak ? 60_000 : 6_000 }
}

/// A thread-safe tally shared by writer threads.
final class Ledger: @unchecked Sendable {
    private let lock = NSLock()
    private(set) var created: [String] = []
    private(set) var completed: [String] = []
    func create(_ id: String) { lock.withLock { created.append(id) } }
    func complete(_ id: String) { lock.withLock { completed.append(id) } }
}

/// Runs `body` on `count` threads at once and waits for all of them.
func onThreads(_ count: Int, _ body: @escaping @Sendable (Int) -> Void) {
    let group = DispatchGroup()
    for index in 0..<count {
        group.enter()
        Thread {
            body(index)
            group.leave()
        }.start()
    }
    group.wait()
}

func integrityCheck(_ database: String) -> String {
    runProcess("/usr/bin/sqlite3", [database, "PRAGMA integrity_check;"], environment: ProcessInfo.processInfo.environment)
        .stdout.trimmingCharacters(in: .whitespacesAndNewlines)
}

func residentBytes(_ pid: Int32) -> Int {
    guard let text = try? String(contentsOfFile: "/proc/\(pid)/status", encoding: .utf8) else { return 0 }
    for line in text.split(separator: "\n") where line.hasPrefix("VmRSS:") {
        return (line.split(separator: " ").dropFirst().first.flatMap { Int($0) } ?? 0) * 1024
    }
    return 0
}

extension Processes {
    /// Faults: crashes under load, hostile frames, many clients, broken filesystems.
    @Suite struct Faults {
        /// kill -9 of kanband at random moments under 8 concurrent writers: every acknowledged write
        /// survives, the database stays intact, and no dispatched task is left running without a
        /// live worker.
        @Test func killNineUnderLoadLosesNoAcknowledgedWrite() throws {
            let daemon = try TestDaemon(config: """
                interval = 0.2
                retry_delay = 0.2
                kill_grace = 0.5
                [workers.w]
                command = ["/bin/sh", "-c", "sleep 0.05; kanbanctl complete --result by-worker"]
                """)
            let ledger = Ledger()
            var verified = 0
            for cycle in 0..<FaultLoad.killCycles {
                let socket = daemon.socket
                let stop = Flag()
                let writers = Thread {
                    onThreads(8) { index in
                        guard let client = try? KanbanClient(socket: socket) else { return }
                        var round = 0
                        while !stop.isSet {
                            round += 1
                            do {
                                let assignee = round % 4 == 0 ? "w" : nil
                                let created: CreateResult = try client.call(
                                    .taskCreate, CreateParams(title: "c\(cycle) w\(index) r\(round)", assignee: assignee))
                                ledger.create(created.task.id)
                                if assignee == nil && round % 2 == 0 {
                                    let _: TaskResult = try client.call(
                                        .taskComplete, CompleteParams(id: created.task.id, result: "r"))
                                    ledger.complete(created.task.id)
                                }
                            } catch {
                                return
                            }
                        }
                    }
                }
                writers.start()
                usleep(UInt32.random(in: 50_000...250_000))
                daemon.crash()
                stop.set()
                while writers.isExecuting { usleep(5_000) }
                try daemon.start()
                let client = try daemon.client()
                for id in ledger.created {
                    let detail: TaskDetail = try client.call(.taskGet, GetParams(id: id, events: 0))
                    #expect(detail.task.id == id)
                    verified += 1
                }
                for id in ledger.completed {
                    let detail: TaskDetail = try client.call(.taskGet, GetParams(id: id, events: 0))
                    #expect(detail.task.status == .done, "acknowledged completion of \(id) lost")
                }
                // Every dispatched running task has a live worker once recovery has run.
                let running: TaskListResult = try client.call(.taskList, ListParams(status: "running"))
                for task in running.tasks {
                    let runs: RunsResult = try client.call(.taskRuns, IDParams(id: task.id))
                    guard let live = runs.runs.last, live.claimer == "kanband" else { continue }
                    let alive = eventually(timeout: 3) {
                        guard let now: TaskDetail = try? client.call(.taskGet, GetParams(id: task.id, events: 0)) else {
                            return false
                        }
                        if now.task.status != .running { return true }
                        return now.runs.last?.pid.map { kill($0, 0) == 0 } ?? false
                    }
                    #expect(alive, "task \(task.id) is running without a live worker after restart")
                }
            }
            daemon.stop()
            #expect(integrityCheck(daemon.home + "/kanban.db") == "ok")
            print("fault suite: kill -9 — \(FaultLoad.killCycles) cycles, \(ledger.created.count) acknowledged creates and \(ledger.completed.count) completions verified (\(verified) reads)")
        }

        /// Random and mutated frames at the live daemon: it never crashes, its memory stays bounded,
        /// and a well-behaved client keeps being served throughout.
        @Test func fuzzedFramesNeverCrashTheDaemon() throws {
            let daemon = try TestDaemon()
            let id = try daemon.create("fuzz target")
            let healthy = try daemon.client()
            var generator = SystemRandomNumberGenerator()
            let valid = #"{"jsonrpc":"2.0","id":1,"method":"task.get","params":{"id":"\#(id)"}}"#
            func mutate(_ text: String) -> [UInt8] {
                var bytes = Array(text.utf8)
                for _ in 0..<Int.random(in: 1...4, using: &generator) {
                    let index = Int.random(in: 0..<bytes.count, using: &generator)
                    switch Int.random(in: 0..<3, using: &generator) {
                    case 0: bytes[index] = UInt8.random(in: 0...255, using: &generator)
                    case 1: bytes.remove(at: index)
                    default: bytes.insert(UInt8.random(in: 0...255, using: &generator), at: index)
                    }
                }
                return bytes
            }
            let bodies: [() -> [UInt8]] = [
                { (0..<Int.random(in: 0...200, using: &generator)).map { _ in UInt8.random(in: 0...255, using: &generator) } },
                { mutate(valid) },
                { [0xff, 0xfe, 0x22, 0xc3, 0x28] },
                { Array(String(repeating: "[", count: 100_000).utf8) },
                { Array(String(repeating: "{\"a\":", count: 50_000).utf8) },
                { Array(#"{"jsonrpc":"2.0","id":2,"method":"task.create","params":{"title":"\#(String(repeating: "x", count: 1 << 20))"}}"#.utf8) },
                { Array(#"{"jsonrpc":"2.0","id":3,"method":"task.get","params":{"id":42}}"#.utf8) },
                { Array(#"{"jsonrpc":"2.0","id":[1],"method":"task.get"}"#.utf8) },
                { Array(#"{"jsonrpc":"2.0","id":4,"method":"x.\#(String(repeating: "y", count: 5000))"}"#.utf8) },
                { Array(#"{"jsonrpc":"2.0","id":5,"method":"task.list","params":{"limit":-1,"status":7}}"#.utf8) },
                { Array(#"{"jsonrpc":"2.0","id":6,"method":"events.watch","params":{"since":-5}}"#.utf8) },
            ]
            var frames = 0
            var connection = try SocketConnection(path: daemon.socket)
            let baseline = residentBytes(daemon.pid)
            for round in 0..<FaultLoad.fuzzFrames {
                let body = bodies[round % bodies.count]()
                var frame = Framing.frame(body)
                switch round % 7 {
                case 5: frame = Array(frame.prefix(Int.random(in: 0...frame.count, using: &generator)))  // truncated
                case 6 where round % 14 == 6:
                    frame = [0x7f, 0xff, 0xff, 0xff] + Array(body.prefix(16))  // oversize length
                default: break
                }
                do {
                    try connection.writeAll(frame)
                    frames += 1
                } catch {
                    connection = try SocketConnection(path: daemon.socket)
                }
                if round % 7 == 5 || round % 14 == 6 || round % 50 == 0 {
                    connection.close()
                    connection = try SocketConnection(path: daemon.socket)
                }
                if round % 250 == 0 {
                    let detail: TaskDetail = try healthy.call(.taskGet, GetParams(id: id, events: 0))
                    #expect(detail.task.id == id)
                }
            }
            connection.close()
            #expect(daemon.process?.isRunning == true)
            let detail: TaskDetail = try daemon.client().call(.taskGet, GetParams(id: id, events: 0))
            #expect(detail.task.id == id)
            let rss = residentBytes(daemon.pid)
            #expect(rss < max(baseline, 1) + 256 * 1024 * 1024, "RSS grew from \(baseline) to \(rss)")
            print("fault suite: fuzz — \(frames) hostile frames sent, daemon alive, RSS \(rss / 1024) KiB (start \(baseline / 1024) KiB)")
        }

        /// 64 connections hammering mixed calls, some dropped mid-frame, one never reading.
        @Test func manyClientsHammeringMixedCalls() throws {
            let daemon = try TestDaemon()
            let seed = try daemon.create("shared")
            let silent = try SocketConnection(path: daemon.socket)
            let watch = WireJSON.encode(RPCRequest(id: 1, method: "events.watch", params: WatchParams(since: 0)))
            try silent.send(watch)
            let failures = Ledger()
            let socket = daemon.socket
            onThreads(FaultLoad.hammerClients) { index in
                guard let client = try? KanbanClient(socket: socket) else {
                    failures.create("connect \(index)")
                    return
                }
                for call in 0..<FaultLoad.hammerCallsPerClient {
                    do {
                        switch call % 6 {
                        case 0:
                            let _: CreateResult = try client.call(.taskCreate, CreateParams(title: "h\(index)-\(call)"))
                        case 1:
                            let _: TaskListResult = try client.call(.taskList, ListParams(limit: 20))
                        case 2:
                            let _: TaskDetail = try client.call(.taskGet, GetParams(id: seed, events: 5))
                        case 3:
                            let _: CommentResult = try client.call(.taskComment, CommentParams(id: seed, body: "c\(index)"))
                        case 4:
                            let _: StatsResult = try client.call(.boardStats, Empty())
                        default:
                            if index % 8 == 0, let raw = try? SocketConnection(path: socket) {
                                try? raw.writeAll([0, 0, 0, 100] + Array("{\"jsonrpc\":".utf8))  // dropped mid-frame
                                raw.close()
                            }
                            let _: EventsListResult = try client.call(.eventsList, EventsListParams(since: 0, limit: 50))
                        }
                    } catch {
                        failures.create("client \(index) call \(call): \(error)")
                    }
                }
            }
            #expect(failures.created.isEmpty, "\(failures.created.prefix(5))")
            #expect(daemon.process?.isRunning == true)
            silent.close()
            print("fault suite: clients — \(FaultLoad.hammerClients) clients × \(FaultLoad.hammerCallsPerClient) calls, \(failures.created.count) failures")
        }

        /// Thousands of short connections (one request each, as kanbanctl and workers make them)
        /// leave nothing behind: a closed connection's handler, session and bus sink are freed.
        /// (A reference cycle once kept ~0.7 KB per closed connection for good.)
        @Test func shortConnectionsLeaveNoMemoryBehind() throws {
            let daemon = try TestDaemon()
            let pid = try #require(daemon.process?.processIdentifier)
            let hello = WireJSON.encode(RPCRequest(id: 1, method: Method.systemHello.rawValue, params: Empty()))
            func churn(_ count: Int) throws {
                for _ in 0..<count {
                    let connection = try SocketConnection(path: daemon.socket)
                    try connection.send(hello)
                    _ = try connection.receive()
                    connection.close()
                }
            }
            try churn(1_000)  // warm-up: allocator arenas, caches
            let before = residentBytes(pid)
            try churn(FaultLoad.shortConnections)
            #expect(eventually { (try? daemon.client().call(.systemStatus, Empty()) as StatusResult)?.connections == 1 })
            let grown = residentBytes(pid) - before
            #expect(grown < 2 * 1024 * 1024, "RSS grew by \(grown / 1024) KiB over \(FaultLoad.shortConnections) connections")
            print("fault suite: connections — \(FaultLoad.shortConnections) short connections, RSS +\(grown / 1024) KiB")
        }

        /// The socket file deleted under a running daemon: clients get a clear "unreachable" error
        /// (exit 3), and the daemon puts its socket back.
        @Test func deletedSocketIsRecreated() throws {
            let daemon = try TestDaemon()
            let id = try daemon.create("survives")
            unlink(daemon.socket)
            let refused = daemon.ctl("list")
            #expect(refused.code == 3)
            #expect(refused.stderr.contains("cannot reach kanband"))
            let back = eventually(timeout: 5) { daemon.ctl("list").code == 0 }
            #expect(back, "the daemon did not recreate its socket")
            #expect(daemon.ctl("list").stdout.contains(id))
        }
    }
}

final class Flag: @unchecked Sendable {
    private let lock = NSLock()
    private var value = false
    func set() { lock.withLock { value = true } }
    var isSet: Bool { lock.withLock { value } }
}
