#if canImport(FoundationEssentials)
import FoundationEssentials
#else
import Foundation
#endif
#if canImport(Glibc)
import Glibc
#endif
import ArgumentParser
import KanbanClient
import KanbanProtocol

struct Status: ParsableCommand {
    static let configuration = CommandConfiguration(commandName: "status", _superCommandName: Kanbanctl.toolName, abstract: "Daemon status: pid, version, uptime, database, dispatcher health.")
    @OptionGroup var global: GlobalOptions
    @Flag(help: "Print as JSON.") var json = false

    func run() throws {
        let client = try global.connect()
        let status: StatusResult = try client.call(.systemStatus, Empty())
        if json {
            out(Format.json(status))
            return
        }
        let d = status.dispatcher
        out("""
            kanband \(status.serverVersion) (protocol \(status.protocolVersion)), pid \(status.pid), up \(Format.duration(status.uptimeSeconds))
            home:        \(status.home)
            database:    \(status.database) (schema \(status.schemaVersion), durability \(status.durability))
            socket:      \(status.socket)
            connections: \(status.connections), subscribers: \(status.subscribers)
            dispatcher:  \(d.running)/\(d.maxConcurrent) workers running, \(d.ticks) ticks, last \(Format.time(d.lastTickAt)) (\(d.lastTickSeconds.map { String(Int($0 * 1_000_000)) + " µs" } ?? "-"))
                         interval \(d.intervalSeconds)s, claim ttl \(d.claimTTLSeconds)s, failure limit \(d.failureLimit), \(d.failingTasks) task(s) failing
            config:      \(d.configPath ?? "-")\(d.configError.map { "  (last reload refused: \($0))" } ?? "")
            """)
    }
}

struct Dispatch: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "dispatch", _superCommandName: Kanbanctl.toolName,
        abstract: "Run one dispatcher pass now. --dry-run reports what it would do and changes nothing.")
    @OptionGroup var global: GlobalOptions
    @Flag(help: "Change nothing; report what a pass would do.") var dryRun = false
    @Option(help: "Start at most this many workers.") var max: Int?
    @Flag(help: "Print the report as JSON.") var json = false

    func validate() throws {
        if let max, max < 0 { throw ValidationError("--max must not be negative") }
    }

    func run() throws {
        let client = try global.connect()
        let report: DispatchReport = try client.call(.dispatchRun, DispatchParams(dryRun: dryRun, max: max))
        if json {
            out(Format.json(report))
            return
        }
        var lines: [String] = []
        func list(_ label: String, _ ids: [String]) {
            lines.append(Format.padded(label + ":", 14) + "\(ids.count)")
            if !ids.isEmpty { lines.append("  " + ids.joined(separator: ", ")) }
        }
        list("Reclaimed", report.reclaimed)
        list("Spawn failed", report.spawnFailed)
        list("Gave up", report.gaveUp)
        lines.append(Format.padded("Spawned:", 14) + "\(report.spawned.count)")
        for spawn in report.spawned {
            lines.append("  - \(spawn.taskID)  ->  \(spawn.assignee)  @ \(spawn.workspace ?? "-")\(report.dryRun ? " (dry)" : "")")
        }
        if !report.skippedCapacity.isEmpty { lines.append("Held by caps: " + report.skippedCapacity.joined(separator: ", ")) }
        if !report.skippedUnassigned.isEmpty {
            lines.append("Skipped (unassigned): " + report.skippedUnassigned.joined(separator: ", "))
        }
        out(lines.joined(separator: "\n"))
    }
}

struct Reload: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "reload", _superCommandName: Kanbanctl.toolName,
        abstract: "Reload kanband.toml. A bad file is refused and the running configuration stays.")
    @OptionGroup var global: GlobalOptions

    func run() throws {
        let client = try global.connect()
        let result: ReloadResult = try client.call(.configReload, Empty())
        out("Reloaded \(result.path ?? "-") (workers: \(result.workers.isEmpty ? "none" : result.workers.joined(separator: ", ")))")
    }
}

struct Runs: ParsableCommand {
    static let configuration = CommandConfiguration(commandName: "runs", _superCommandName: Kanbanctl.toolName, abstract: "List a task's runs: each claim and its worker's fate.")
    @OptionGroup var global: GlobalOptions
    @Argument(help: "Task id.") var id: String
    @Flag(help: "Print as JSON.") var json = false

    static func line(_ run: RunInfo) -> String {
        var text = "#\(run.id) \(Format.padded(run.outcome, 22)) started \(Format.time(run.startedAt))"
        if let ended = run.endedAt { text += ", took \(Format.duration(ended - run.startedAt))" }
        if let pid = run.pid { text += ", pid \(pid)" }
        if let code = run.exitCode { text += ", exit \(code)" }
        if let signal = run.signal { text += ", signal \(signal)" }
        if let error = run.error { text += " — \(error)" }
        return text
    }

    func run() throws {
        let client = try global.connect()
        let result: RunsResult = try client.call(.taskRuns, IDParams(id: id))
        if json {
            out(Format.json(result.runs))
        } else if result.runs.isEmpty {
            out("(no runs)")
        } else {
            out(result.runs.map(Runs.line).joined(separator: "\n"))
        }
    }
}

/// Ctrl-C handling for streams: the first SIGINT asks the stream to stop cleanly.
enum Interrupt {
    nonisolated(unsafe) static var requested: sig_atomic_t = 0

    static func install() {
        signal(SIGINT) { _ in Interrupt.requested = 1 }
        signal(SIGTERM) { _ in Interrupt.requested = 1 }
        // A parent may have started us with these blocked; Ctrl-C must still work.
        var set = sigset_t()
        sigemptyset(&set)
        sigaddset(&set, SIGINT)
        sigaddset(&set, SIGTERM)
        pthread_sigmask(SIG_UNBLOCK, &set, nil)
    }

    static var stop: Bool { requested != 0 || CommandContext.current.shouldStop() }

    /// Waits up to `millis` for `fd` to become readable; false on timeout or interrupt.
    static func wait(fd: Int32, millis: Int32) -> Bool {
        var poller = pollfd(fd: fd, events: Int16(POLLIN), revents: 0)
        return poll(&poller, 1, millis) > 0
    }
}

struct Log: ParsableCommand {
    static let configuration = CommandConfiguration(commandName: "log", _superCommandName: Kanbanctl.toolName, abstract: "Print a task's worker log.")
    @OptionGroup var global: GlobalOptions
    @Argument(help: "Task id.") var id: String
    @Option(help: "Only the last BYTES bytes (a partial first line is dropped).") var tail: Int?
    @Flag(help: "Keep printing as the log grows (Ctrl-C to stop).") var follow = false

    func validate() throws {
        if let tail, tail <= 0 { throw ValidationError("--tail must be positive") }
    }

    func run() throws {
        let client = try global.connect()
        let first: LogResult = try client.call(.taskLog, LogParams(id: id, tail: tail))
        if !first.exists && !follow {
            err("(no log for \(id) — task may not have spawned yet)")
            throw CommandExit(code: ExitStatus.refused)
        }
        let output = CommandContext.current.output
        if !first.content.isEmpty {
            output.out(first.content.hasSuffix("\n") ? String(first.content.dropLast()) : first.content)
            output.flush()
        }
        guard follow else { return }
        Interrupt.install()
        var offset = first.nextOffset
        while !Interrupt.stop {
            usleep(200_000)
            let next: LogResult = try client.call(.taskLog, LogParams(id: id, offset: offset))
            if !next.content.isEmpty {
                output.out(next.content.hasSuffix("\n") ? String(next.content.dropLast()) : next.content)
                output.flush()
            }
            offset = next.nextOffset
        }
    }
}

/// Reads pushes for one subscription until interrupted; prints each event with `line`.
func stream(_ client: KanbanClient, params: WatchParams, json: Bool, line: (EventInfo) -> String) throws {
    let output = CommandContext.current.output
    Interrupt.install()
    var params = params
    while !Interrupt.stop {
        let started: WatchResult = try client.call(.eventsWatch, params)
        var resume: Int64?
        while !Interrupt.stop {
            guard client.hasBufferedPush || Interrupt.wait(fd: client.connection.descriptor, millis: 200) else { continue }
            guard let push = try client.nextPush() else {
                throw ClientError.transport("kanband closed the connection")
            }
            if push.method == PushMethod.event {
                let event = try client.decodePush(push.frame, as: EventPush.self)
                guard event.subscription == started.subscription else { continue }
                output.out(json ? String(decoding: WireJSON.encode(event.event), as: UTF8.self) : line(event.event))
                output.flush()
            } else if push.method == PushMethod.overflow {
                let overflow = try client.decodePush(push.frame, as: OverflowPush.self)
                resume = overflow.resumeFrom
                break
            }
        }
        guard let resume else { break }
        // Fell behind: resubscribe from where delivery stopped, so nothing is missed.
        params.since = resume
    }
    // On stderr: stdout stays one JSON event per line for scripts.
    output.err("(stopped)")
}

struct Watch: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "watch", _superCommandName: Kanbanctl.toolName,
        abstract: "Stream board events as they are committed (Ctrl-C to stop).",
        discussion: "With --since ID, events after ID are replayed first, then live ones follow with no gap.")
    @OptionGroup var global: GlobalOptions
    @Option(help: "Only events of this assignee's tasks.") var assignee: String?
    @Option(help: "Only events of this tenant's tasks.") var tenant: String?
    @Option(help: "Only these kinds, comma-separated (e.g. completed,blocked,gave_up).") var kinds: String?
    @Option(help: "Replay events after this id first (0 replays everything).") var since: Int64?
    @Flag(help: "One JSON event per line.") var json = false

    func run() throws {
        let client = try global.connect()
        let kinds = self.kinds?.split(separator: ",").map { String($0).trimmed }.filter { !$0.isEmpty }
        if !json { out("Watching kanban events. Ctrl-C to stop.") }
        try stream(
            client, params: WatchParams(since: since, assignee: assignee, tenant: tenant, kinds: kinds), json: json
        ) { Format.eventLine($0, withTask: true) }
    }
}

struct Tail: ParsableCommand {
    static let configuration = CommandConfiguration(commandName: "tail", _superCommandName: Kanbanctl.toolName, abstract: "Follow one task's events: its history, then live (Ctrl-C to stop).")
    @OptionGroup var global: GlobalOptions
    @Argument(help: "Task id.") var id: String
    @Flag(help: "One JSON event per line.") var json = false

    func run() throws {
        let client = try global.connect()
        let _: TaskResult = TaskResult(task: try client.call(.taskGet, GetParams(id: id, events: 0), as: TaskDetail.self).task)
        if !json { out("Tailing events for \(id). Ctrl-C to stop.") }
        try stream(client, params: WatchParams(since: 0, task: id), json: json) { Format.eventLine($0) }
    }
}

struct Stats: ParsableCommand {
    static let configuration = CommandConfiguration(commandName: "stats", _superCommandName: Kanbanctl.toolName, abstract: "Board statistics: counts, ages, throughput, failures.")
    @OptionGroup var global: GlobalOptions
    @Flag(help: "Print as JSON.") var json = false

    func run() throws {
        let client = try global.connect()
        let stats: StatsResult = try client.call(.boardStats, Empty())
        if json {
            out(Format.json(stats))
            return
        }
        var lines = ["By status:"]
        for status in TaskStatus.allCases where status != .archived {
            lines.append("  \(Format.padded(status.rawValue, 9)) \(stats.byStatus[status.rawValue] ?? 0)")
        }
        if !stats.byAssignee.isEmpty {
            lines.append("")
            lines.append("By assignee:")
            for (who, counts) in stats.byAssignee.sorted(by: { $0.key < $1.key }) {
                let parts = counts.sorted { $0.key < $1.key }.map { "\($0.key)=\($0.value)" }
                lines.append("  \(Format.padded(who, 20))  \(parts.joined(separator: ", "))")
            }
        }
        lines.append("")
        if let age = stats.oldestReadyAgeSeconds { lines.append("Oldest ready task age: \(Format.duration(age))") }
        lines.append("Running workers:       \(stats.running)")
        lines.append("Completed last hour:   \(stats.completedLastHour)")
        lines.append("Failing tasks:         \(stats.failingTasks) (\(stats.totalFailures) failures)")
        out(lines.joined(separator: "\n"))
    }
}

struct GC: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "gc", _superCommandName: Kanbanctl.toolName,
        abstract: "Remove old events of finished tasks, old worker logs and archived tasks' scratch workspaces.")
    @OptionGroup var global: GlobalOptions
    @Option(help: "Keep events younger than this many days.") var eventRetentionDays: Double?
    @Option(help: "Keep logs younger than this many days.") var logRetentionDays: Double?
    @Flag(help: "Report what would be removed; remove nothing.") var dryRun = false
    @Flag(help: "Print as JSON.") var json = false

    func validate() throws {
        if let days = eventRetentionDays, days < 0 { throw ValidationError("--event-retention-days must not be negative") }
        if let days = logRetentionDays, days < 0 { throw ValidationError("--log-retention-days must not be negative") }
    }

    func run() throws {
        let client = try global.connect()
        let result: GCResult = try client.call(
            .boardGC,
            GCParams(eventRetentionDays: eventRetentionDays, logRetentionDays: logRetentionDays, dryRun: dryRun))
        if json {
            out(Format.json(result))
            return
        }
        var lines: [String] = []
        let verb = dryRun ? "would remove" : "removed"
        for path in result.workspaces { lines.append("workspace \(verb): \(path)") }
        for path in result.logs { lines.append("log \(verb): \(path)") }
        lines.append(
            "GC \(dryRun ? "dry run" : "complete"): \(result.workspaces.count) workspace(s), \(result.events) event row(s), \(result.logs.count) log file(s) \(verb)"
        )
        out(lines.joined(separator: "\n"))
    }
}

struct NotifyTargetOptions: ParsableArguments {
    @Option(help: "Chat platform, e.g. telegram.") var platform: String
    @Option(help: "Chat id.") var chatId: String
    @Option(help: "Thread or topic id.") var threadId: String?
}

struct NotifySubscribe: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "notify-subscribe", _superCommandName: Kanbanctl.toolName,
        abstract: "Subscribe a chat to a task's terminal events (completed, blocked, gave_up, crashed, timed_out, archived).")
    @OptionGroup var global: GlobalOptions
    @Argument(help: "Task id.") var id: String
    @OptionGroup var target: NotifyTargetOptions
    @Option(help: "User to mention.") var userId: String?

    func run() throws {
        let client = try global.connect()
        let sub: NotifySubscription = try client.call(
            .notifySubscribe,
            NotifySubscribeParams(
                target: NotifyTarget(taskID: id, platform: target.platform, chatID: target.chatId, threadID: target.threadId),
                userID: userId))
        let thread = sub.target.threadID.map { ":\($0)" } ?? ""
        out("Subscribed \(sub.target.platform):\(sub.target.chatID)\(thread) to \(sub.target.taskID)")
    }
}

struct NotifyList: ParsableCommand {
    static let configuration = CommandConfiguration(commandName: "notify-list", _superCommandName: Kanbanctl.toolName, abstract: "List notification subscriptions.")
    @OptionGroup var global: GlobalOptions
    @Argument(help: "Only this task's subscriptions.") var id: String?
    @Flag(help: "Print as JSON.") var json = false

    func run() throws {
        let client = try global.connect()
        let result: NotifyListResult = try client.call(.notifyList, NotifyListParams(taskID: id))
        if json {
            out(Format.json(result.subscriptions))
        } else if result.subscriptions.isEmpty {
            out("(no subscriptions)")
        } else {
            out(result.subscriptions.map { sub in
                let thread = sub.target.threadID.map { ":\($0)" } ?? ""
                return "  \(Format.padded(sub.target.taskID, 18))  \(sub.target.platform):\(sub.target.chatID)\(thread)  (since event \(sub.cursor))"
            }.joined(separator: "\n"))
        }
    }
}

struct NotifyUnsubscribe: ParsableCommand {
    static let configuration = CommandConfiguration(commandName: "notify-unsubscribe", _superCommandName: Kanbanctl.toolName, abstract: "Remove a notification subscription.")
    @OptionGroup var global: GlobalOptions
    @Argument(help: "Task id.") var id: String
    @OptionGroup var target: NotifyTargetOptions

    func run() throws {
        let client = try global.connect()
        let result: ChangedResult = try client.call(
            .notifyUnsubscribe,
            NotifyTarget(taskID: id, platform: target.platform, chatID: target.chatId, threadID: target.threadId))
        guard result.changed else {
            err("(no such subscription)")
            throw CommandExit(code: ExitStatus.refused)
        }
        out("Unsubscribed from \(id)")
    }
}
