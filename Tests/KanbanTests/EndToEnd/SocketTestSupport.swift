import Foundation
import KanbanClient
import KanbanProtocol
@testable import KanbanDaemon
import Testing

/// Paths and tools the socket-level end-to-end tests need.
enum WireTest {
    /// The package root, from this file's place in `Tests/KanbanTests/EndToEnd/`.
    static let packageRoot: String = {
        URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
            .deletingLastPathComponent().deletingLastPathComponent().path
    }()

    static var exampleClient: String { packageRoot + "/Tests/KanbanTests/Fixtures/protocol_client.py" }
    static var protocolDoc: String { packageRoot + "/docs/PROTOCOL.md" }

    /// A python3 every uid can run (the pyenv shim under /root is not), else whatever PATH finds.
    static var python3: String? {
        for candidate in ["/usr/bin/python3", "/usr/local/bin/python3"]
        where FileManager.default.isExecutableFile(atPath: candidate) {
            return candidate
        }
        return which("python3")
    }

    static func which(_ name: String) -> String? {
        let path = ProcessInfo.processInfo.environment["PATH"] ?? "/usr/bin:/bin"
        for directory in (path + ":/usr/sbin:/sbin:/usr/bin:/bin").split(separator: ":") {
            let candidate = "\(directory)/\(name)"
            if FileManager.default.isExecutableFile(atPath: candidate) { return candidate }
        }
        return nil
    }

    /// `st_mode` of `path` (not following a final symlink), or nil when it does not exist.
    static func mode(_ path: String) -> mode_t? {
        var info = stat()
        guard lstat(path, &info) == 0 else { return nil }
        return info.st_mode
    }

    static func exists(_ path: String) -> Bool { mode(path) != nil }

    /// True while `pid` is a live (not zombie) process (the daemon's own check).
    static func isAlive(_ pid: Int32) -> Bool { ProcFS.isAlive(pid, startTime: nil) }
}

/// A long-running process the test starts itself (a daemon with unusual flags, or under
/// systemd-socket-activate), killed with SIGKILL when the test lets go of it.
final class LaunchedProcess {
    let process: Process
    let logPath: String

    init(_ path: String, _ arguments: [String], environment: [String: String], logPath: String) throws {
        process = Process()
        process.executableURL = URL(fileURLWithPath: path)
        process.arguments = arguments
        process.environment = environment
        self.logPath = logPath
        _ = FileManager.default.createFile(atPath: logPath, contents: nil)
        let log = FileHandle(forWritingAtPath: logPath)!
        process.standardOutput = log
        process.standardError = log
        process.standardInput = FileHandle.nullDevice
        try process.run()
    }

    var pid: Int32 { process.processIdentifier }
    var log: String { (try? String(contentsOfFile: logPath, encoding: .utf8)) ?? "" }

    /// Waits until a client can connect to `socket` while this process runs.
    func waitUntilServing(_ socket: String, timeout: Double = 10) -> Bool {
        eventually(timeout: timeout) {
            guard process.isRunning else { return false }
            return (try? SocketConnection(path: socket)) != nil
        }
    }

    func kill(_ signal: Int32 = SIGKILL) {
        if process.isRunning { Glibc.kill(process.processIdentifier, signal) }
    }

    deinit {
        if process.isRunning {
            Glibc.kill(process.processIdentifier, SIGKILL)
            process.waitUntilExit()
        }
    }
}

/// A child started with `posix_spawn` and reaped with `waitpid` by the test itself. Needed for
/// programs that close the descriptors they inherit (systemd-socket-activate does, before it
/// execs): Foundation's `Process` watches each child through an inherited socket, and when that
/// socket closes early its monitor thread blocks in `wait4` on the still-running child, which
/// stalls every later `Process` of the test run.
final class SpawnedProcess {
    let pid: pid_t
    let logPath: String
    private var exitStatus: Int32?

    init(_ path: String, _ arguments: [String], environment: [String: String], logPath: String) throws {
        self.logPath = logPath
        var actions = posix_spawn_file_actions_t()
        posix_spawn_file_actions_init(&actions)
        defer { posix_spawn_file_actions_destroy(&actions) }
        posix_spawn_file_actions_addopen(&actions, 0, "/dev/null", O_RDONLY, 0)
        posix_spawn_file_actions_addopen(&actions, 1, logPath, O_WRONLY | O_CREAT | O_APPEND, 0o644)
        posix_spawn_file_actions_adddup2(&actions, 1, 2)
        let argv: [UnsafeMutablePointer<CChar>?] = ([path] + arguments).map { strdup($0) } + [nil]
        let envp: [UnsafeMutablePointer<CChar>?] = environment.map { strdup("\($0.key)=\($0.value)") } + [nil]
        defer {
            for pointer in argv { free(pointer) }
            for pointer in envp { free(pointer) }
        }
        var pid: pid_t = 0
        let rc = posix_spawn(&pid, path, &actions, nil, argv, envp)
        guard rc == 0 else { throw TestFailure("cannot start \(path): \(String(cString: strerror(rc)))") }
        self.pid = pid
    }

    var log: String { (try? String(contentsOfFile: logPath, encoding: .utf8)) ?? "" }

    var isRunning: Bool {
        if exitStatus == nil {
            var status: Int32 = 0
            if waitpid(pid, &status, WNOHANG) == pid { exitStatus = status }
        }
        return exitStatus == nil
    }

    func kill(_ signal: Int32 = SIGKILL) {
        if isRunning { Glibc.kill(pid, signal) }
    }

    /// Waits for the exit; returns the raw wait status.
    @discardableResult
    func wait() -> Int32 {
        while exitStatus == nil {
            var status: Int32 = 0
            let rc = waitpid(pid, &status, 0)
            if rc == pid { exitStatus = status } else if rc < 0 && errno != EINTR { exitStatus = -1 }
        }
        return exitStatus!
    }

    deinit {
        if isRunning {
            Glibc.kill(pid, SIGKILL)
            wait()
        }
    }
}

/// One raw connection speaking JSON bodies: for requests the typed client would never send.
final class WirePeer {
    let connection: SocketConnection

    init(_ socket: String) throws {
        connection = try SocketConnection(path: socket)
    }

    /// Frames and sends `json` as it is.
    func send(_ json: String) throws { try connection.send(Array(json.utf8)) }

    /// Sends raw bytes, no framing added.
    func sendRaw(_ bytes: [UInt8]) throws { try connection.writeAll(bytes) }

    /// The next frame as a JSON object; nil when the server closed the connection.
    func receive() throws -> [String: Any]? {
        guard let frame = try connection.receive() else { return nil }
        let value = try JSONSerialization.jsonObject(with: Data(frame), options: [.fragmentsAllowed])
        guard let object = value as? [String: Any] else {
            throw TestFailure("server sent a non-object frame: \(String(decoding: frame, as: UTF8.self))")
        }
        return object
    }

    /// Sends `json` and returns the next frame (which must exist).
    func exchange(_ json: String) throws -> [String: Any] {
        try send(json)
        guard let reply = try receive() else { throw TestFailure("connection closed instead of answering \(json)") }
        return reply
    }

    /// A request with a numeric id; `params` is a JSON text.
    func call(_ method: String, id: Int = 1, params: String = "{}") throws -> [String: Any] {
        try exchange(#"{"jsonrpc":"2.0","id":\#(id),"method":"\#(method)","params":\#(params)}"#)
    }

    func close() { connection.close() }
}

/// Reading replies as loosely typed JSON.
enum Reply {
    static func error(_ reply: [String: Any]) -> [String: Any]? { reply["error"] as? [String: Any] }
    static func code(_ reply: [String: Any]) -> Int? { (error(reply)?["code"] as? NSNumber)?.intValue }
    static func kind(_ reply: [String: Any]) -> String? {
        (error(reply)?["data"] as? [String: Any])?["kind"] as? String
    }
    static func details(_ reply: [String: Any]) -> [String: Any]? {
        (error(reply)?["data"] as? [String: Any])?["details"] as? [String: Any]
    }
    static func result(_ reply: [String: Any]) -> [String: Any]? { reply["result"] as? [String: Any] }
    /// The id as JSON text (`1`, `"a"`, `null`, `1.5`), or nil when the member is missing.
    static func idText(_ reply: [String: Any]) -> String? {
        guard let id = reply["id"] else { return nil }
        if id is NSNull { return "null" }
        if let text = id as? String { return "\"\(text)\"" }
        if let number = id as? NSNumber { return number.stringValue }
        return "\(id)"
    }
    static func isNullID(_ reply: [String: Any]) -> Bool { reply["id"] is NSNull }
}

/// A lock-protected bag of values filled by many threads.
final class Collected<Value>: @unchecked Sendable {
    private let lock = NSLock()
    private var items: [Value] = []
    func append(_ value: Value) { lock.withLock { items.append(value) } }
    var values: [Value] { lock.withLock { items } }
}

/// Runs `body(i)` on `count` dedicated threads that each connect first, then start together.
/// Returns when every thread has finished. `connect` runs on the thread before the start gate.
func raceOnThreads<Connection>(
    _ count: Int, connect: @escaping @Sendable (Int) throws -> Connection,
    body: @escaping @Sendable (Int, Connection) -> Void
) -> [String] {
    let ready = DispatchGroup()
    let done = DispatchGroup()
    let gate = DispatchSemaphore(value: 0)
    let failures = Collected<String>()
    for index in 0..<count {
        ready.enter()
        done.enter()
        let thread = Thread {
            defer { done.leave() }
            let connection: Connection
            do {
                connection = try connect(index)
            } catch {
                failures.append("thread \(index) could not connect: \(error)")
                ready.leave()
                return
            }
            ready.leave()
            gate.wait()
            body(index, connection)
        }
        thread.stackSize = 1 << 20
        thread.start()
    }
    ready.wait()
    for _ in 0..<count { gate.signal() }
    done.wait()
    return failures.values
}
