import ArgumentParser
import KanbanClient
import KanbanProtocol

/// The command tree of kanbanctl, shared with the chat gateway's `/kanban …`.
public struct Kanbanctl: ParsableCommand {
    public static let configuration = CommandConfiguration(
        commandName: Kanbanctl.toolName,
        abstract: "Drive a kanban board: create tasks, link them, watch workers finish them.",
        discussion: """
            kanbanctl talks to kanband over its Unix socket (see --home/--socket, KANBAN_HOME, KANBAN_SOCKET). \
            Inside a worker, KANBAN_TASK_ID is the default task for complete, block, comment, heartbeat and \
            context, and KANBAN_RUN_ID fences the worker's calls to its own run.
            Exit codes: 0 ok, 1 refused or not found, 2 usage error, 3 daemon unreachable.
            """,
        version: "0.1.0",
        subcommands: [
            Create.self, List.self, Show.self, Assign.self, Link.self, Unlink.self, Comment.self, Complete.self,
            Block.self, Unblock.self, Archive.self, Promote.self, Claim.self, Heartbeat.self, Context.self,
            Status.self, Dispatch.self, Reload.self, Runs.self, Log.self, Watch.self, Tail.self, Stats.self, GC.self,
            NotifySubscribe.self, NotifyList.self, NotifyUnsubscribe.self,
        ])

    public init() {}

    /// The root's name. Every subcommand names it as its `_superCommandName`, so a subcommand
    /// parsed on its own (`KanbanCLI.parse`) prints the same usage and help as under the root.
    static let toolName = "kanbanctl"

    /// The verbs the quick reader knows (`QuickCommandLine`), by name.
    static let quickVerbs: [String: @Sendable (ArraySlice<String>) -> (any ParsableCommand)?] = [
        "create": Create.quickParseAny, "complete": Complete.quickParseAny, "comment": Comment.quickParseAny,
        "heartbeat": Heartbeat.quickParseAny,
    ]

    /// Subcommands by name and alias.
    static let subcommandsByName: [String: any ParsableCommand.Type] = {
        var table: [String: any ParsableCommand.Type] = [:]
        for command in configuration.subcommands {
            let names = [command.configuration.commandName].compactMap { $0 } + command.configuration.aliases
            for name in names { table[name] = command }
        }
        return table
    }()
}

/// Entry points for kanbanctl and for anything that runs the same commands from text.
public enum KanbanCLI {
    /// Parses and runs `arguments` (without the program name); returns the exit code.
    public static func run(_ arguments: [String], context: CommandContext) -> Int32 {
        CommandContext.$current.withValue(context) {
            do {
                var command = try parse(arguments)
                do {
                    try command.run()
                    return ExitStatus.ok
                } catch {
                    return report(error, command: command)
                }
            } catch {
                return report(error, command: nil)
            }
        }
    }

    /// Parses a command line into its command.
    ///
    /// Three ways, cheapest first; each later one reads every line the earlier ones left:
    /// - the hot worker verbs in their plain shape are read by `QuickCommandLine`, without
    ///   reflection;
    /// - `kanbanctl VERB …` is parsed by VERB's own parser: swift-argument-parser's root parse also
    ///   tries two completion-script pseudo-commands, about a third of a short command's run;
    /// - the root parses everything else, and whatever the verb's parser refused (help,
    ///   `--version`, usage errors), so every message and help text is exactly the root's. A help
    ///   request parses as a help command, not as VERB, and goes to the root too.
    /// docs/PERFORMANCE.md has the measurements.
    static func parse(_ arguments: [String]) throws -> any ParsableCommand {
        guard let verb = arguments.first, let command = Kanbanctl.subcommandsByName[verb] else {
            return try Kanbanctl.parseAsRoot(arguments)
        }
        if var quick = Kanbanctl.quickVerbs[verb]?(arguments.dropFirst()), (try? quick.validate()) != nil {
            return quick
        }
        if !arguments.contains(where: { $0.hasPrefix("--generate-completion-script") || $0.hasPrefix("--experimental-") }),
            let parsed = try? command.parseAsRoot(Array(arguments.dropFirst())), type(of: parsed) == command
        {
            return parsed
        }
        return try Kanbanctl.parseAsRoot(arguments)
    }

    /// Runs a command line as a chat message gives it (`create "fix it" --assignee bob`) and
    /// returns what it printed, the way `/kanban …` answers.
    public static func runCaptured(_ line: String, environment: [String: String] = Locations.processEnvironment())
        -> (code: Int32, output: String)
    {
        guard let arguments = ShellWords.split(line) else { return (ExitStatus.usage, "(usage error: unbalanced quotes)") }
        let capture = CapturedOutput()
        let code = run(arguments, context: CommandContext(output: capture, environment: environment))
        let parts = [capture.stdoutText, capture.stderrText].filter { !$0.isEmpty }
        return (code, parts.isEmpty ? "(no output)" : parts.joined(separator: "\n"))
    }

    static func report(_ error: any Error, command: (any ParsableCommand)?) -> Int32 {
        switch error {
        case let exit as CommandExit:
            return exit.code
        case let client as ClientError:
            switch client {
            case .unreachable(let socket, let reason):
                err("kanbanctl: cannot reach kanband at \(socket): \(reason)")
                err("Start the daemon with `kanband` (add --home DIR for a board elsewhere), or "
                    + "`systemctl --user start kanband.socket` if you installed the units.")
                return ExitStatus.unreachable
            case .transport(let message):
                err("kanbanctl: \(message)")
                return ExitStatus.unreachable
            case .server(let error):
                err("kanbanctl: \(error.message) [\(error.kind.rawValue)]")
                return [.invalidParams, .invalidRequest].contains(error.kind) ? ExitStatus.usage : ExitStatus.refused
            }
        default:
            let code = Kanbanctl.exitCode(for: error)
            let message = Kanbanctl.fullMessage(for: error)
            if code == .success {
                if !message.isEmpty { out(message) }
                return ExitStatus.ok
            }
            if !message.isEmpty { err(message) }
            return code == .validationFailure ? ExitStatus.usage : code.rawValue == 1 ? ExitStatus.refused : ExitStatus.usage
        }
    }
}
