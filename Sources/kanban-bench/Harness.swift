import Foundation
import KanbanClient
import KanbanProtocol

/// Latency samples in nanoseconds.
struct Samples {
    var values: [UInt64] = []
    mutating func add(_ value: UInt64) { values.append(value) }
    func percentile(_ p: Double) -> Double {
        guard !values.isEmpty else { return .nan }
        let sorted = values.sorted()
        let index = min(sorted.count - 1, Int((Double(sorted.count) * p / 100).rounded(.up)) - 1)
        return Double(sorted[max(index, 0)]) / 1000  // µs
    }
    var p50: Double { percentile(50) }
    var p99: Double { percentile(99) }
    var p999: Double { percentile(99.9) }
    var mean: Double { values.isEmpty ? .nan : Double(values.reduce(0, +)) / Double(values.count) / 1000 }
}

@inline(__always) func nowNanos() -> UInt64 { DispatchTime.now().uptimeNanoseconds }

func realtimeNanos() -> UInt64 {
    var spec = timespec()
    clock_gettime(CLOCK_REALTIME, &spec)
    return UInt64(spec.tv_sec) * 1_000_000_000 + UInt64(spec.tv_nsec)
}

enum Binaries {
    static let directory: String = {
        let exe = (try? FileManager.default.destinationOfSymbolicLink(atPath: "/proc/self/exe")) ?? CommandLine.arguments[0]
        return (exe as NSString).deletingLastPathComponent
    }()
    static var kanband: String { directory + "/kanband" }
    static var kanbanctl: String { directory + "/kanbanctl" }
    static var bench: String { directory + "/kanban-bench" }
}

/// posix_spawn + waitpid on the exact pid: the cheapest way to run a whole process.
func spawnAndWait(_ argv: [String], env: [String]) -> Int32 {
    var pid: pid_t = 0
    var cArgs: [UnsafeMutablePointer<CChar>?] = argv.map { strdup($0) } + [nil]
    var cEnv: [UnsafeMutablePointer<CChar>?] = env.map { strdup($0) } + [nil]
    defer {
        cArgs.forEach { free($0) }
        cEnv.forEach { free($0) }
    }
    var actions = posix_spawn_file_actions_t()
    posix_spawn_file_actions_init(&actions)
    posix_spawn_file_actions_addopen(&actions, 1, "/dev/null", O_WRONLY, 0)
    defer { posix_spawn_file_actions_destroy(&actions) }
    guard posix_spawn(&pid, argv[0], &actions, nil, &cArgs, &cEnv) == 0 else { return -1 }
    var status: Int32 = 0
    while waitpid(pid, &status, 0) < 0 && errno == EINTR {}
    return status
}

/// A kanband started for the benchmark on its own temporary home.
final class BenchDaemon {
    let home: String
    var socket: String { home + "/kanband.sock" }
    private(set) var pid: Int32 = 0
    private var process: Process?

    init(config: String? = nil, home: String? = nil) throws {
        if let home {
            self.home = home
        } else {
            var template = Array((NSTemporaryDirectory() + "kanban-bench.XXXXXX").utf8CString)
            self.home = template.withUnsafeMutableBufferPointer { String(cString: mkdtemp($0.baseAddress!)!) }
        }
        if let config { try config.write(toFile: self.home + "/kanband.toml", atomically: true, encoding: .utf8) }
    }

    /// Starts kanband and returns the nanoseconds until its socket answered.
    @discardableResult
    func start() throws -> UInt64 {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: Binaries.kanband)
        process.arguments = ["--home", home]
        var env = ProcessInfo.processInfo.environment
        env["PATH"] = Binaries.directory + ":" + (env["PATH"] ?? "/usr/bin:/bin")
        process.environment = env
        process.standardOutput = FileHandle(forWritingAtPath: "/dev/null")
        process.standardError = FileHandle(forWritingAtPath: "/dev/null")
        let started = nowNanos()
        try process.run()
        while true {
            // Ready means answering, not just accepting: the socket is bound before the database opens.
            if let client = try? KanbanClient(socket: socket),
                (try? client.call(.systemHello, HelloParams(), as: HelloResult.self)) != nil
            {
                break
            }
            if !process.isRunning { throw BenchError("kanband exited at start") }
            usleep(500)
        }
        let elapsed = nowNanos() - started
        self.process = process
        pid = process.processIdentifier
        return elapsed
    }

    func stop() {
        guard let process else { return }
        kill(process.processIdentifier, SIGTERM)
        process.waitUntilExit()
        self.process = nil
    }

    func client() throws -> KanbanClient { try KanbanClient(socket: socket) }

    var rssBytes: Int {
        guard let text = try? String(contentsOfFile: "/proc/\(pid)/status", encoding: .utf8) else { return 0 }
        for line in text.split(separator: "\n") where line.hasPrefix("VmRSS:") {
            let digits = line.split(separator: " ").dropFirst().first.flatMap { Int($0) } ?? 0
            return digits * 1024
        }
        return 0
    }

    func cleanup() {
        stop()
        try? FileManager.default.removeItem(atPath: home)
    }
}

struct BenchError: Error, CustomStringConvertible {
    var description: String
    init(_ description: String) { self.description = description }
}

/// Runs `body` on `count` threads at once and waits for all.
func onThreads(_ count: Int, _ body: @escaping @Sendable (Int) -> Void) {
    let group = DispatchGroup()
    for index in 0..<count {
        group.enter()
        let thread = Thread {
            body(index)
            group.leave()
        }
        thread.stackSize = 1 << 20
        thread.start()
    }
    group.wait()
}
