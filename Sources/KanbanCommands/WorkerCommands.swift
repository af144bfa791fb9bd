import ArgumentParser
import KanbanClient
import KanbanProtocol

struct Claim: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "claim", _superCommandName: Kanbanctl.toolName,
        abstract: "Claim a ready task for an external worker; prints the run id to pass to later calls.",
        discussion: "Keep the claim alive with `kanbanctl heartbeat ID --run RUN` before the TTL runs out.")
    @OptionGroup var global: GlobalOptions
    @Argument(help: "Task id.") var id: String
    @Option(help: "Claim lifetime in seconds (default: the daemon's claim_ttl).") var ttl: Double?
    @Option(help: "Claimer label recorded on the run.") var claimer: String?
    @Flag(help: "Print the claim as JSON.") var json = false

    func validate() throws {
        if let ttl, ttl <= 0 { throw ValidationError("--ttl must be positive") }
    }

    func run() throws {
        let client = try global.connect()
        let result: ClaimResult = try client.call(
            .taskClaim, ClaimParams(id: id, ttl: ttl, claimer: claimer, author: global.actor))
        if json {
            out(Format.json(result))
        } else {
            out("Claimed \(result.task.id) (run \(result.runID), expires \(Format.time(result.claimExpires)))")
            out("Workspace: \(result.workspace ?? "(resolved by the worker)")")
        }
    }
}

struct Heartbeat: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "heartbeat", _superCommandName: Kanbanctl.toolName,
        abstract: "Extend a running task's claim (workers call this while they work).")
    @OptionGroup var global: GlobalOptions
    @Argument(help: "Task id (default: KANBAN_TASK_ID).") var id: String?
    @Option(name: .customLong("run"), help: "Run id (default: KANBAN_RUN_ID inside a worker).") var runID: Int64?
    @Option(help: "New lifetime in seconds from now (default: claim_ttl).") var ttl: Double?
    @Option(help: "A progress note, recorded as a heartbeat event.") var note: String?

    func validate() throws {
        if let ttl, ttl <= 0 { throw ValidationError("--ttl must be positive") }
    }

    func run() throws {
        let id = try global.taskID(id)
        let client = try global.connect()
        let result: ClaimResult = try client.call(
            .taskHeartbeat,
            HeartbeatParams(id: id, runID: runID ?? global.runID(for: id), ttl: ttl, note: note, author: global.actor))
        out("Heartbeat \(id) (run \(result.runID), expires \(Format.time(result.claimExpires)))")
    }
}

extension Heartbeat: QuickParsable {
    static func quickParse(_ arguments: ArraySlice<String>) -> Heartbeat? {
        guard
            let line = QuickCommandLine(
                arguments, options: QuickCommandLine.globalOptions.union(["--run", "--ttl", "--note"])),
            line.positionals.count <= 1, let runID = line.number("--run", as: Int64.self),
            let ttl = line.number("--ttl", as: Double.self)
        else { return nil }
        var command = Heartbeat()
        command.global = line.global
        command.id = line.positionals.first
        command.runID = runID
        command.ttl = ttl
        command.note = line.value("--note")
        return command
    }
}

struct Context: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "context", _superCommandName: Kanbanctl.toolName,
        abstract: "Print a task's brief for its worker: title, body, parent results, comment thread.")
    @OptionGroup var global: GlobalOptions
    @Argument(help: "Task id (default: KANBAN_TASK_ID).") var id: String?
    @Flag(help: "Print as JSON.") var json = false

    func run() throws {
        let id = try global.taskID(id)
        let client = try global.connect()
        let result: ContextResult = try client.call(.taskContext, IDParams(id: id))
        out(json ? Format.json(result) : result.text)
    }
}
