import Foundation
import KanbanClient
import KanbanProtocol
import Testing

/// Every suite that starts real processes nests under this one, so they run one at a time
/// (two cores: parallel daemons make timing-sensitive tests flaky). Pure unit tests stay parallel.
@Suite(.serialized) enum Processes {}

/// Where the built binaries are: beside the test bundle.
enum Binaries {
    static let directory: String = {
        let exe = (try? FileManager.default.destinationOfSymbolicLink(atPath: "/proc/self/exe")) ?? ""
        var dir = (exe as NSString).deletingLastPathComponent
        if !FileManager.default.fileExists(atPath: dir + "/kanband") {
            // Fallback: the package's debug build folder.
            let root = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
                .deletingLastPathComponent().deletingLastPathComponent().path
            dir = root + "/.build/debug"
        }
        return dir
    }()
    static var kanband: String { directory + "/kanband" }
    static var kanbanctl: String { directory + "/kanbanctl" }
}

/// A temporary directory removed at deinit.
final class TempDir {
    let path: String
    init(_ prefix: String = "kanban-test") {
        let template = NSTemporaryDirectory() + "\(prefix).XXXXXX"
        var bytes = Array(template.utf8CString)
        path = bytes.withUnsafeMutableBufferPointer { String(cString: mkdtemp($0.baseAddress!)!) }
    }
    deinit { try? FileManager.default.removeItem(atPath: path) }
}

/// Output of a finished process.
struct ProcessResult {
    var code: Int32
    var stdout: String
    var stderr: String
}

/// Runs a program to completion with the given environment, capturing its output. With a
/// `timeout`, the program is SIGKILLed after that many seconds, so a hung daemon fails the test
/// instead of hanging the suite.
@discardableResult
func runProcess(
    _ path: String, _ arguments: [String], environment: [String: String], stdin: String? = nil, timeout: Double? = nil
) -> ProcessResult {
    let process = Process()
    process.executableURL = URL(fileURLWithPath: path)
    process.arguments = arguments
    process.environment = environment
    let out = Pipe()
    let err = Pipe()
    process.standardOutput = out
    process.standardError = err
    if let stdin {
        let input = Pipe()
        process.standardInput = input
        input.fileHandleForWriting.write(Data(stdin.utf8))
        try? input.fileHandleForWriting.close()
    } else {
        process.standardInput = FileHandle.nullDevice
    }
    do {
        try process.run()
    } catch {
        return ProcessResult(code: -1, stdout: "", stderr: "\(error)")
    }
    let pid = process.processIdentifier
    let watchdog = DispatchWorkItem { kill(pid, SIGKILL) }
    if let timeout { DispatchQueue.global().asyncAfter(deadline: .now() + timeout, execute: watchdog) }
    let outData = out.fileHandleForReading.readDataToEndOfFile()
    let errData = err.fileHandleForReading.readDataToEndOfFile()
    process.waitUntilExit()
    watchdog.cancel()
    return ProcessResult(
        code: process.terminationStatus, stdout: String(decoding: outData, as: UTF8.self),
        stderr: String(decoding: errData, as: UTF8.self))
}

/// Polls `condition` every 20 ms until it holds or `timeout` passes.
@discardableResult
func eventually(timeout: Double = 5, _ condition: () throws -> Bool) rethrows -> Bool {
    let deadline = Date().addingTimeInterval(timeout)
    while Date() < deadline {
        if try condition() { return true }
        usleep(20_000)
    }
    return try condition()
}

/// A real kanband on a temporary home, driven through the real kanbanctl.
final class TestDaemon {
    let dir: TempDir
    var home: String { dir.path }
    var socket: String { home + "/kanband.sock" }
    private(set) var process: Process?
    private(set) var logPath: String
    var extraArguments: [String]

    init(config: String? = nil, arguments: [String] = [], start: Bool = true) throws {
        dir = TempDir()
        logPath = dir.path + "/kanband.out"
        extraArguments = arguments
        if let config { try config.write(toFile: home + "/kanband.toml", atomically: true, encoding: .utf8) }
        if start { try self.start() }
    }

    deinit {
        if let process, process.isRunning {
            kill(process.processIdentifier, SIGKILL)
            process.waitUntilExit()
        }
        killWorkers()
    }

    var environment: [String: String] {
        var env = ProcessInfo.processInfo.environment
        env["KANBAN_HOME"] = home
        env["KANBAN_SOCKET"] = nil
        env["KANBAN_TASK_ID"] = nil
        env["KANBAN_RUN_ID"] = nil
        env["KANBAN_ASSIGNEE"] = nil
        env["PATH"] = Binaries.directory + ":" + (env["PATH"] ?? "/usr/bin:/bin")
        return env
    }

    /// Starts kanband and waits until its socket answers.
    func start(arguments: [String]? = nil) throws {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: Binaries.kanband)
        process.arguments = ["--home", home] + (arguments ?? extraArguments)
        process.environment = environment
        _ = FileManager.default.createFile(atPath: logPath, contents: nil)
        let log = FileHandle(forWritingAtPath: logPath)!
        log.seekToEndOfFile()
        process.standardOutput = log
        process.standardError = log
        process.standardInput = FileHandle.nullDevice
        try process.run()
        self.process = process
        let up = eventually(timeout: 10) {
            guard process.isRunning else { return false }
            // Ready means answering, not just accepting: the socket is bound before the database opens.
            guard let client = try? KanbanClient(socket: socket) else { return false }
            return (try? client.call(.systemHello, HelloParams(), as: HelloResult.self)) != nil
        }
        if !up { throw TestFailure("kanband did not start: \(daemonLog)") }
    }

    var daemonLog: String { (try? String(contentsOfFile: logPath, encoding: .utf8)) ?? "" }

    var pid: Int32 { process?.processIdentifier ?? 0 }

    /// SIGTERM and wait; returns the exit status.
    @discardableResult
    func stop() -> Int32 {
        guard let process else { return -1 }
        if process.isRunning { kill(process.processIdentifier, SIGTERM) }
        process.waitUntilExit()
        self.process = nil
        return process.terminationStatus
    }

    /// SIGKILL, as a crash would.
    func crash() {
        guard let process else { return }
        kill(process.processIdentifier, SIGKILL)
        process.waitUntilExit()
        self.process = nil
    }

    /// Runs kanbanctl against this board.
    @discardableResult
    func ctl(_ arguments: String..., env: [String: String] = [:]) -> ProcessResult {
        ctl(arguments, env: env)
    }

    @discardableResult
    func ctl(_ arguments: [String], env: [String: String] = [:]) -> ProcessResult {
        var environment = environment
        for (key, value) in env { environment[key] = value }
        return runProcess(Binaries.kanbanctl, arguments, environment: environment)
    }

    func client() throws -> KanbanClient { try KanbanClient(socket: socket) }

    /// Creates a task and returns its id.
    func create(_ title: String, _ extra: String...) throws -> String {
        let result = ctl(["create", title, "--json"] + extra)
        guard result.code == 0 else { throw TestFailure("create failed: \(result.stderr)") }
        let task = try JSONDecoder().decode(TaskInfo.self, from: Data(result.stdout.utf8))
        return task.id
    }

    func task(_ id: String) throws -> TaskInfo {
        let detail: TaskDetail = try client().call(.taskGet, GetParams(id: id, events: 0))
        return detail.task
    }

    func detail(_ id: String, events: Int = 1000) throws -> TaskDetail {
        try client().call(.taskGet, GetParams(id: id, events: events))
    }

    /// Kills any worker processes still running with this home (their env carries it).
    func killWorkers() {
        guard let entries = try? FileManager.default.contentsOfDirectory(atPath: "/proc") else { return }
        let needle = Array("KANBAN_HOME=\(home)".utf8)
        for entry in entries {
            guard let pid = Int32(entry), pid != getpid(),
                let data = FileManager.default.contents(atPath: "/proc/\(pid)/environ")
            else { continue }
            if data.split(separator: 0).contains(where: { Array($0) == needle }) { kill(pid, SIGKILL) }
        }
    }
}

struct TestFailure: Error, CustomStringConvertible {
    var description: String
    init(_ description: String) { self.description = description }
}
