import Foundation
import KanbanProtocol
import TOMLKit

/// How to run one assignee's worker.
public struct WorkerSpec: Sendable, Equatable {
    /// argv; `{task_id}`, `{assignee}`, `{workspace}`, `{tenant}`, `{run_id}` are substituted.
    public var command: [String]
    public var env: [String: String] = [:]
    /// At most this many of this assignee's workers at once (nil: only the global cap applies).
    public var maxConcurrent: Int?
    /// Seconds a run may last before it is stopped as `timed_out` (nil: unlimited).
    public var maxRuntime: Double?
}

/// `kanband.toml`: the dispatcher's settings and the worker commands. Read at start, and again on
/// SIGHUP or `kanbanctl reload`; a file that does not parse or validate is refused as a whole.
public struct DispatcherConfig: Sendable, Equatable {
    /// Seconds between periodic ticks (dispatch is event-driven; the tick catches the rest).
    public var interval: Double = 5
    /// Global cap of live workers: a board can never fork-bomb its host.
    public var maxConcurrent = 8
    /// Consecutive failures after which a task is blocked (`gave_up`).
    public var failureLimit = 5
    /// Seconds a task waits after a failed attempt before the next one, so a broken command
    /// cannot burn through the failure limit in a burst.
    public var retryDelay: Double = 5
    /// Default claim lifetime in seconds; heartbeats extend it.
    public var claimTTL: Double = 900
    /// Seconds between SIGTERM and SIGKILL when a worker is stopped.
    public var killGrace: Double = 5
    /// Live log size that triggers a copy-truncate rotation (one `.log.1` generation kept).
    public var logMaxBytes = 2 * 1024 * 1024
    public var eventRetentionDays: Double = 30
    public var logRetentionDays: Double = 30
    /// Where `worktree` workspaces are made (`<repo>/.worktrees/<id>`); default: kanband's cwd.
    public var worktreeRepo: String?
    public var durability: Durability = .full
    public var workers: [String: WorkerSpec] = [:]

    public init() {}

    /// The largest duration (or retention, in days) a setting takes: one year in seconds.
    public static let maxSeconds: Double = 31_536_000

    /// The worker for `assignee`: its own entry, else the `"*"` fallback.
    public func worker(for assignee: String) -> WorkerSpec? {
        workers[assignee] ?? workers["*"]
    }

    /// Reads `path`; a missing file is the defaults (no workers), a bad file is an error.
    public static func load(path: String) throws(ConfigError) -> DispatcherConfig {
        guard FileManager.default.fileExists(atPath: path) else { return DispatcherConfig() }
        let text: String
        do {
            text = try String(contentsOfFile: path, encoding: .utf8)
        } catch {
            throw ConfigError("\(path): cannot read: \(error.localizedDescription)")
        }
        return try parse(text, source: path)
    }

    public static func parse(_ text: String, source: String = "kanband.toml") throws(ConfigError) -> DispatcherConfig {
        let table: TOMLTable
        do {
            table = try TOMLTable(string: text)
        } catch let error as TOMLParseError {
            throw ConfigError("\(source): \(error.description) at line \(error.source.begin.line)")
        } catch {
            throw ConfigError("\(source): \(error)")
        }
        var config = DispatcherConfig()
        let known: Set<String> = [
            "interval", "max_concurrent", "failure_limit", "retry_delay", "claim_ttl", "kill_grace", "log_max_bytes",
            "event_retention_days", "log_retention_days", "worktree_repo", "durability", "workers",
        ]
        for key in table.keys where !known.contains(key) {
            throw ConfigError("\(source): unknown setting '\(key)'")
        }
        func number(_ key: String, in table: TOMLTable, min: Double) throws(ConfigError) -> Double? {
            guard let value = table[key] else { return nil }
            guard let number = value.double ?? value.int.map(Double.init) else {
                throw ConfigError("\(source): '\(key)' must be a number")
            }
            guard number >= min else { throw ConfigError("\(source): '\(key)' must be at least \(min)") }
            // Durations become integer milliseconds and nanoseconds: a year is plenty, and far
            // inside what those conversions hold.
            guard number <= DispatcherConfig.maxSeconds else {
                throw ConfigError("\(source): '\(key)' must be at most \(Int(DispatcherConfig.maxSeconds))")
            }
            return number
        }
        func integer(_ key: String, in table: TOMLTable, min: Int) throws(ConfigError) -> Int? {
            guard let value = table[key] else { return nil }
            guard let number = value.int else { throw ConfigError("\(source): '\(key)' must be an integer") }
            guard number >= min else { throw ConfigError("\(source): '\(key)' must be at least \(min)") }
            return number
        }
        if let value = try number("interval", in: table, min: 0.01) { config.interval = value }
        if let value = try integer("max_concurrent", in: table, min: 0) { config.maxConcurrent = value }
        if let value = try integer("failure_limit", in: table, min: 1) { config.failureLimit = value }
        if let value = try number("claim_ttl", in: table, min: 0.01) { config.claimTTL = value }
        if let value = try number("retry_delay", in: table, min: 0) { config.retryDelay = value }
        if let value = try number("kill_grace", in: table, min: 0) { config.killGrace = value }
        if let value = try integer("log_max_bytes", in: table, min: 1024) { config.logMaxBytes = value }
        if let value = try number("event_retention_days", in: table, min: 0) { config.eventRetentionDays = value }
        if let value = try number("log_retention_days", in: table, min: 0) { config.logRetentionDays = value }
        if let value = table["worktree_repo"] {
            guard let path = value.string, path.hasPrefix("/") else {
                throw ConfigError("\(source): 'worktree_repo' must be an absolute path")
            }
            config.worktreeRepo = path
        }
        if let value = table["durability"] {
            guard let text = value.string, let durability = Durability(rawValue: text) else {
                throw ConfigError("\(source): 'durability' must be \"full\" or \"normal\"")
            }
            config.durability = durability
        }
        if let value = table["workers"] {
            guard let workers = value.table else { throw ConfigError("\(source): 'workers' must be a table") }
            for name in workers.keys {
                guard let entry = workers[name]?.table else {
                    throw ConfigError("\(source): workers.\(name) must be a table")
                }
                let where_ = "workers.\(name)"
                for key in entry.keys where !["command", "env", "max_concurrent", "max_runtime"].contains(key) {
                    throw ConfigError("\(source): unknown setting '\(key)' in \(where_)")
                }
                guard let array = entry["command"]?.array else {
                    throw ConfigError("\(source): \(where_).command must be a list of strings, e.g. [\"my-agent\", \"{task_id}\"]")
                }
                var command: [String] = []
                for item in array {
                    guard let text = item.string else {
                        throw ConfigError("\(source): \(where_).command must contain only strings")
                    }
                    command.append(text)
                }
                guard let first = command.first, !first.isEmpty else {
                    throw ConfigError("\(source): \(where_).command must not be empty")
                }
                var spec = WorkerSpec(command: command)
                if let env = entry["env"] {
                    guard let envTable = env.table else { throw ConfigError("\(source): \(where_).env must be a table") }
                    for key in envTable.keys {
                        guard let text = envTable[key]?.string else {
                            throw ConfigError("\(source): \(where_).env.\(key) must be a string")
                        }
                        spec.env[key] = text
                    }
                }
                spec.maxConcurrent = try integer("max_concurrent", in: entry, min: 0)
                spec.maxRuntime = try number("max_runtime", in: entry, min: 0.01)
                config.workers[name] = spec
            }
        }
        return config
    }
}

/// A configuration that cannot be used, with a message that says where and why.
public struct ConfigError: Error, CustomStringConvertible, Sendable {
    public var description: String
    public init(_ description: String) { self.description = description }
}
