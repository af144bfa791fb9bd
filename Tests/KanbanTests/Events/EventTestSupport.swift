import Foundation
import KanbanClient
import KanbanProtocol
import Testing

/// Helpers for the event, notification, stats and gc tests: threads, socket timeouts, typed pushes,
/// whole-history reads and a kanbanctl child that streams (watch, tail) until it is interrupted.
/// Everything lives in this namespace so that other test folders' helpers never collide with it.
enum EventKit {
    /// A value shared between the test thread and helper threads.
    final class Shared<Value>: @unchecked Sendable {
        private let lock = NSLock()
        private var value: Value
        init(_ value: Value) { self.value = value }
        var get: Value { lock.withLock { value } }
        func set(_ newValue: Value) { lock.withLock { value = newValue } }
        @discardableResult
        func update<R>(_ body: (inout Value) -> R) -> R { lock.withLock { body(&value) } }
    }

    /// Runs `body` on its own thread; `join` waits for it to return.
    final class Background: @unchecked Sendable {
        private let done = DispatchSemaphore(value: 0)
        private let finished = Shared(false)

        init(_ body: @escaping @Sendable () -> Void) {
            let done = done
            let finished = finished
            let thread = Thread {
                body()
                finished.set(true)
                done.signal()
            }
            thread.start()
        }

        var isFinished: Bool { finished.get }

        @discardableResult
        func join(timeout: Double = 60) -> Bool {
            if finished.get { return true }
            return done.wait(timeout: .now() + timeout) == .success || finished.get
        }
    }

    /// Makes a blocked `receive` on `connection` fail after `seconds` instead of hanging the test run.
    static func setReceiveTimeout(_ connection: SocketConnection, _ seconds: Double) {
        var value = timeval(tv_sec: Int(seconds), tv_usec: Int((seconds - seconds.rounded(.down)) * 1_000_000))
        _ = setsockopt(connection.descriptor, SOL_SOCKET, SO_RCVTIMEO, &value, socklen_t(MemoryLayout<timeval>.size))
    }

    /// A server push, decoded.
    enum Push {
        case event(subscription: Int, EventInfo)
        case overflow(subscription: Int, resumeFrom: Int64)
        case other(String)
    }

    /// A typed client over one connection whose reads time out instead of hanging.
    final class Client {
        let raw: KanbanClient

        init(socket: String, timeout: Double = 10) throws {
            raw = try KanbanClient(socket: socket)
            EventKit.setReceiveTimeout(raw.connection, timeout)
        }

        func call<P: Encodable, R: Decodable>(_ method: KanbanProtocol.Method, _ params: P, as: R.Type = R.self) throws -> R {
            try raw.call(method, params)
        }

        /// The next push, decoded; throws when nothing arrives within the receive timeout.
        func push() throws -> Push {
            guard let (method, frame) = try raw.nextPush() else { throw TestFailure("kanband closed the connection") }
            switch method {
            case PushMethod.event:
                let push = try raw.decodePush(frame, as: EventPush.self)
                return .event(subscription: push.subscription, push.event)
            case PushMethod.overflow:
                let push = try raw.decodePush(frame, as: OverflowPush.self)
                return .overflow(subscription: push.subscription, resumeFrom: push.resumeFrom)
            default:
                return .other(method)
            }
        }

        /// Pushed events of `subscription` until `done` holds for the events so far; fails on overflow.
        func events(of subscription: Int, until done: ([EventInfo]) -> Bool) throws -> [EventInfo] {
            var events: [EventInfo] = []
            while !done(events) {
                switch try push() {
                case .event(let sub, let event):
                    if sub == subscription { events.append(event) }
                case .overflow(let sub, let resume):
                    if sub == subscription { throw TestFailure("unexpected overflow of \(sub), resume from \(resume)") }
                case .other(let method):
                    throw TestFailure("unexpected push \(method)")
                }
            }
            return events
        }

        /// True when no push arrives within `seconds` (nothing more than expected was sent).
        func isQuiet(for seconds: Double) -> Bool {
            EventKit.setReceiveTimeout(raw.connection, seconds)
            defer { EventKit.setReceiveTimeout(raw.connection, 10) }
            do {
                _ = try push()
                return false
            } catch {
                return true
            }
        }

        func watch(_ params: WatchParams) throws -> WatchResult { try call(.eventsWatch, params) }

        @discardableResult
        func create(
            _ title: String, assignee: String? = nil, tenant: String? = nil, parents: [String]? = nil,
            triage: Bool? = nil
        ) throws -> TaskInfo {
            let result: CreateResult = try call(
                .taskCreate,
                CreateParams(title: title, assignee: assignee, parents: parents, tenant: tenant, triage: triage))
            return result.task
        }

        @discardableResult
        func comment(_ id: String, _ body: String) throws -> CommentInfo {
            let result: CommentResult = try call(.taskComment, CommentParams(id: id, body: body))
            return result.comment
        }

        @discardableResult
        func complete(_ id: String, result: String? = nil) throws -> TaskInfo {
            try call(.taskComplete, CompleteParams(id: id, result: result), as: TaskResult.self).task
        }

        @discardableResult
        func block(_ id: String, _ reason: String) throws -> TaskInfo {
            try call(.taskBlock, BlockParams(id: id, reason: reason), as: TaskResult.self).task
        }

        @discardableResult
        func unblock(_ id: String) throws -> TaskInfo {
            try call(.taskUnblock, IDParams(id: id), as: TaskResult.self).task
        }

        @discardableResult
        func archive(_ id: String) throws -> TaskInfo {
            try call(.taskArchive, IDParams(id: id), as: TaskResult.self).task
        }

        @discardableResult
        func claim(_ id: String) throws -> ClaimResult {
            try call(.taskClaim, ClaimParams(id: id, claimer: "test"))
        }

        func task(_ id: String) throws -> TaskDetail { try call(.taskGet, GetParams(id: id, events: 10_000)) }

        /// Every event on the board (or of one task), oldest first, read page by page through `events.list`.
        func allEvents(task: String? = nil) throws -> [EventInfo] {
            var all: [EventInfo] = []
            var since: Int64 = 0
            while true {
                let page: EventsListResult = try call(
                    .eventsList, EventsListParams(since: since, task: task, limit: 10_000))
                all += page.events
                if page.events.isEmpty { return all }
                since = page.cursor
            }
        }

        func lastEventID() throws -> Int64 { try allEvents().last?.id ?? 0 }

        func status() throws -> StatusResult { try call(.systemStatus, Empty()) }
    }

    /// kanbanctl ... (which must succeed), its stdout decoded from JSON.
    static func ctlJSON<T: Decodable>(_ daemon: TestDaemon, _ type: T.Type, _ arguments: String...) throws -> T {
        let result = daemon.ctl(arguments)
        guard result.code == 0 else {
            throw TestFailure("kanbanctl \(arguments.joined(separator: " ")) exited \(result.code): \(result.stderr)")
        }
        do {
            return try JSONDecoder().decode(T.self, from: Data(result.stdout.utf8))
        } catch {
            throw TestFailure("kanbanctl \(arguments.joined(separator: " ")) printed unreadable JSON (\(error)): \(result.stdout)")
        }
    }

    /// A kanbanctl that keeps running (watch, tail): its output is collected as it comes.
    ///
    /// Started with posix_spawn and a clean signal mask, as a shell would start it: a child of
    /// Foundation's `Process` inherits this test process's mask, in which SIGINT is blocked, so Ctrl-C
    /// could never reach it.
    final class StreamingCtl: @unchecked Sendable {
        let pid: pid_t
        private let output = Shared("")
        private let errors = Shared("")
        private var readers: [Background] = []
        private var waitStatus: Int32?

        enum Exit: Equatable {
            case exited(Int32)
            case signaled(Int32)
        }

        init(_ daemon: TestDaemon, _ arguments: [String]) throws {
            var out: [Int32] = [-1, -1]
            var err: [Int32] = [-1, -1]
            guard pipe(&out) == 0, pipe(&err) == 0 else { throw TestFailure("pipe failed") }
            for fd in out + err { _ = fcntl(fd, F_SETFD, FD_CLOEXEC) }
            var actions = posix_spawn_file_actions_t()
            posix_spawn_file_actions_init(&actions)
            defer { posix_spawn_file_actions_destroy(&actions) }
            posix_spawn_file_actions_addopen(&actions, 0, "/dev/null", O_RDONLY, 0)
            posix_spawn_file_actions_adddup2(&actions, out[1], 1)
            posix_spawn_file_actions_adddup2(&actions, err[1], 2)
            var attributes = posix_spawnattr_t()
            posix_spawnattr_init(&attributes)
            defer { posix_spawnattr_destroy(&attributes) }
            var mask = sigset_t()
            sigemptyset(&mask)
            posix_spawnattr_setsigmask(&attributes, &mask)
            var defaults = sigset_t()
            sigemptyset(&defaults)
            for signal in [SIGINT, SIGTERM, SIGPIPE, SIGQUIT] { sigaddset(&defaults, signal) }
            posix_spawnattr_setsigdefault(&attributes, &defaults)
            posix_spawnattr_setflags(&attributes, Int16(POSIX_SPAWN_SETSIGMASK | POSIX_SPAWN_SETSIGDEF))
            let path = Binaries.kanbanctl
            let argv: [UnsafeMutablePointer<CChar>?] = ([path] + arguments).map { strdup($0) } + [nil]
            let envp: [UnsafeMutablePointer<CChar>?] =
                daemon.environment.map { strdup("\($0.key)=\($0.value)") } + [nil]
            defer {
                for pointer in argv { free(pointer) }
                for pointer in envp { free(pointer) }
            }
            var child: pid_t = 0
            let result = posix_spawn(&child, path, &actions, &attributes, argv, envp)
            close(out[1])
            close(err[1])
            guard result == 0 else {
                close(out[0])
                close(err[0])
                throw TestFailure("posix_spawn \(path) failed: \(result)")
            }
            pid = child
            for (fd, sink) in [(out[0], output), (err[0], errors)] {
                readers.append(
                    Background {
                        var buffer = [UInt8](repeating: 0, count: 64 * 1024)
                        while true {
                            let count = buffer.withUnsafeMutableBytes { read(fd, $0.baseAddress, $0.count) }
                            if count < 0 && errno == EINTR { continue }
                            if count <= 0 { break }
                            sink.update { $0 += String(decoding: buffer[0..<count], as: UTF8.self) }
                        }
                        close(fd)
                    })
            }
        }

        deinit {
            if isRunning {
                kill(pid, SIGKILL)
                var status: Int32 = 0
                waitpid(pid, &status, 0)
            }
        }

        var stdout: String { output.get }
        var stderr: String { errors.get }
        var lines: [String] { stdout.split(separator: "\n").map(String.init) }

        /// Reaps the child if it has exited.
        var isRunning: Bool {
            if waitStatus != nil { return false }
            var status: Int32 = 0
            let result = waitpid(pid, &status, WNOHANG)
            if result == pid {
                waitStatus = status
                return false
            }
            return result == 0
        }

        /// How it ended, once it has (waiting up to `timeout`); nil while it still runs.
        func exit(timeout: Double = 5) -> Exit? {
            guard eventually(timeout: timeout, { !isRunning }), let status = waitStatus else { return nil }
            for reader in readers { reader.join(timeout: 5) }
            let signal = status & 0x7f
            return signal == 0 ? .exited((status >> 8) & 0xff) : .signaled(signal)
        }

        /// Ctrl-C, then wait for the exit; nil if it did not exit within `timeout`.
        func interrupt(timeout: Double = 5) -> Exit? {
            kill(pid, SIGINT)
            return exit(timeout: timeout)
        }
    }

    /// One frame read from a raw connection, with its envelope decoded.
    struct RawFrame: CustomStringConvertible {
        var bytes: [UInt8]
        var id: JSONValue?
        var method: String?

        private struct Head: Decodable {
            var id: JSONValue?
            var method: String?
        }

        static func next(_ connection: SocketConnection) throws -> RawFrame {
            guard let bytes = try connection.receive() else { throw TestFailure("kanband closed the connection") }
            let head = try JSONDecoder().decode(Head.self, from: Data(bytes))
            return RawFrame(bytes: bytes, id: head.id, method: head.method)
        }

        func decode<P: Codable>(_ type: P.Type) throws -> P {
            try JSONDecoder().decode(RPCNotification<P>.self, from: Data(bytes)).params
        }

        var description: String { String(decoding: bytes.prefix(300), as: UTF8.self) }
    }

    /// Sets a file's modification (and access) time to `secondsAgo` in the past, without following a link.
    static func backdate(_ path: String, secondsAgo: Double) throws {
        let then = Date().timeIntervalSince1970 - secondsAgo
        var times = [timeval(tv_sec: Int(then), tv_usec: 0), timeval(tv_sec: Int(then), tv_usec: 0)]
        guard lutimes(path, &times) == 0 else { throw TestFailure("lutimes \(path) failed: errno \(errno)") }
    }
}
