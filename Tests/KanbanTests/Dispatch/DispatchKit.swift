import Foundation
import KanbanProtocol
@testable import KanbanDaemon
import Testing

/// Helpers for the dispatcher tests: kanband.toml text for small shell workers, process
/// inspection through /proc, and short views of a task's events and runs.
enum DispatchKit {
    /// A TOML basic string (double-quoted, escaped).
    static func toml(_ text: String) -> String {
        var out = "\""
        for scalar in text.unicodeScalars {
            switch scalar {
            case "\\": out += "\\\\"
            case "\"": out += "\\\""
            case "\n": out += "\\n"
            case "\t": out += "\\t"
            default: out.unicodeScalars.append(scalar)
            }
        }
        return out + "\""
    }

    /// A `[workers.<name>]` entry running `script` under /bin/sh -c; `extra` lines go inside it.
    static func shellWorker(_ name: String, _ script: String, _ extra: String...) -> String {
        let key = name == "*" ? "\"*\"" : name
        return """
            [workers.\(key)]
            command = ["/bin/sh", "-c", \(toml(script))]
            \(extra.joined(separator: "\n"))

            """
    }

    /// Global settings first (TOML needs them before any table), then the worker tables.
    static func config(_ globals: String, _ workers: String...) -> String {
        globals + "\n" + workers.joined(separator: "\n")
    }

    // MARK: processes

    /// True while `pid` exists and is not a zombie (the daemon's own check).
    static func isAlive(_ pid: Int32) -> Bool { ProcFS.isAlive(pid, startTime: nil) }

    /// The environment of every live process whose env carries `KANBAN_HOME=<home>`.
    static func workerEnvironments(home: String) -> [(pid: Int32, env: [String: String])] {
        guard let entries = try? FileManager.default.contentsOfDirectory(atPath: "/proc") else { return [] }
        let needle = "KANBAN_HOME=\(home)"
        var found: [(Int32, [String: String])] = []
        for entry in entries {
            guard let pid = Int32(entry), pid != getpid(), isAlive(pid),
                let data = FileManager.default.contents(atPath: "/proc/\(pid)/environ")
            else { continue }
            let variables = data.split(separator: 0).map { String(decoding: $0, as: UTF8.self) }
            guard variables.contains(needle) else { continue }
            var env: [String: String] = [:]
            for variable in variables {
                guard let equals = variable.firstIndex(of: "=") else { continue }
                env[String(variable[..<equals])] = String(variable[variable.index(after: equals)...])
            }
            found.append((pid, env))
        }
        return found
    }

    /// Distinct runs with a live process for `task` (a worker and its children share a run id).
    static func liveRuns(home: String, task: String) -> Set<String> {
        Set(workerEnvironments(home: home).filter { $0.env["KANBAN_TASK_ID"] == task }.compactMap { $0.env["KANBAN_RUN_ID"] })
    }

    /// Reads a small file written by a worker; "" when missing.
    static func read(_ path: String) -> String {
        (try? String(contentsOfFile: path, encoding: .utf8)) ?? ""
    }

    static func lines(_ path: String) -> [String] {
        read(path).split(separator: "\n").map(String.init)
    }

    static func pid(in path: String) -> Int32? {
        Int32(read(path).trimmingCharacters(in: .whitespacesAndNewlines))
    }

    static func fileSize(_ path: String) -> Int {
        ((try? FileManager.default.attributesOfItem(atPath: path))?[.size] as? NSNumber)?.intValue ?? -1
    }

    // MARK: daemon life

    /// SIGKILLs kanband without waiting through Foundation's `Process`, which learns of its
    /// child's exit from EOF on a socket the child inherits. kanband passes that descriptor on to
    /// its workers (see `workersInheritOnlyTheStandardDescriptors`), so while a worker lives,
    /// `TestDaemon.crash()`/`stop()`/`deinit` would wait for it. Waits for the pid itself instead.
    ///
    /// The leader turning zombie is not enough: the other threads can still be exiting (one in
    /// fsync, say) and hold the descriptor table, listening socket included, so a client could
    /// still connect to the dead daemon's socket and be reset a moment later. Waits until no
    /// thread but the zombie leader is left.
    static func crashDaemon(_ daemon: TestDaemon) {
        let pid = daemon.pid
        guard pid > 0 else { return }
        kill(pid, SIGKILL)
        eventually(timeout: 5) { !isAlive(pid) && livingThreads(pid) == 0 }
    }

    /// Threads of `pid` that have not finished exiting (a zombie leader does not count).
    static func livingThreads(_ pid: Int32) -> Int {
        let tasks = (try? FileManager.default.contentsOfDirectory(atPath: "/proc/\(pid)/task")) ?? []
        return tasks.filter { tid in
            guard let text = try? String(contentsOfFile: "/proc/\(pid)/task/\(tid)/stat", encoding: .utf8),
                let close = text.lastIndex(of: ")")
            else { return false }
            let state = text[text.index(after: close)...].split(separator: " ").first ?? ""
            return state != "Z" && state != "X"
        }.count
    }

    /// End of every test: the daemon first (so it cannot start another worker), then every
    /// process of this board, so that TestDaemon's deinit never waits on a live worker.
    static func shutdown(_ daemon: TestDaemon) {
        crashDaemon(daemon)
        for _ in 0..<50 {
            daemon.killWorkers()
            if workerEnvironments(home: daemon.home).isEmpty { break }
            usleep(20_000)
        }
    }

    /// A process's open descriptors: number → what it points at.
    static func descriptors(_ pid: Int32) -> [Int: String] {
        let dir = "/proc/\(pid)/fd"
        var result: [Int: String] = [:]
        for entry in (try? FileManager.default.contentsOfDirectory(atPath: dir)) ?? [] {
            guard let fd = Int(entry) else { continue }
            result[fd] = (try? FileManager.default.destinationOfSymbolicLink(atPath: dir + "/" + entry)) ?? "?"
        }
        return result
    }

    // MARK: board views

    static func events(_ daemon: TestDaemon, _ id: String) throws -> [EventInfo] {
        try daemon.detail(id).events
    }

    static func kinds(_ daemon: TestDaemon, _ id: String) throws -> [String] {
        try events(daemon, id).map(\.kind)
    }

    static func runs(_ daemon: TestDaemon, _ id: String) throws -> [RunInfo] {
        try daemon.detail(id, events: 0).runs
    }

    /// The pid of the task's live run once the dispatcher has recorded it.
    static func waitForWorker(_ daemon: TestDaemon, _ id: String, timeout: Double = 5) throws -> (run: Int64, pid: Int32) {
        var found: (Int64, Int32)?
        try eventually(timeout: timeout) {
            let detail = try daemon.detail(id, events: 0)
            guard detail.task.status == .running, let run = detail.task.currentRunID,
                let pid = detail.runs.first(where: { $0.id == run })?.pid
            else { return false }
            found = (run, pid)
            return true
        }
        guard let found else {
            throw TestFailure("no worker started for \(id): \(try daemon.detail(id).events.map(\.kind))\n\(daemon.daemonLog)")
        }
        return found
    }
}
