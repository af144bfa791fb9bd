import ArgumentParser
import KanbanDaemon

/// kanband: the board daemon. Parses flags and hands over to KanbanDaemon.
@main
struct Kanband: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "kanband",
        abstract: "The kanban board daemon: owns the database, serves the socket, runs the workers.",
        discussion: """
            Paths: the home holds kanban.db, logs/, workspaces/ and kanband.toml. The socket defaults to \
            kanband.sock in the home when --home or KANBAN_HOME is given; otherwise to \
            $XDG_RUNTIME_DIR/kanban/kanband.sock (or the home when XDG_RUNTIME_DIR is unset). Under systemd \
            socket activation the inherited socket is served. SIGTERM/SIGINT stop it cleanly; SIGHUP reloads \
            kanband.toml.
            """,
        version: "0.1.0")

    @Option(help: ArgumentHelp("Board home directory (env KANBAN_HOME).", valueName: "dir"))
    var home: String?

    @Option(help: ArgumentHelp("Unix socket path (env KANBAN_SOCKET).", valueName: "path"))
    var socket: String?

    @Option(help: ArgumentHelp("Pidfile holding the single-instance lock (default: beside the socket).", valueName: "path"))
    var pidfile: String?

    @Option(help: ArgumentHelp("Worker configuration file (default: kanband.toml in the home).", valueName: "path"))
    var config: String?

    @Option(help: ArgumentHelp("Seconds between dispatcher ticks (overrides the file).", valueName: "seconds"))
    var interval: Double?

    @Option(help: ArgumentHelp("Global cap of concurrent workers (overrides the file).", valueName: "n"))
    var max: Int?

    @Option(help: ArgumentHelp("Failures after which a task is blocked (overrides the file).", valueName: "n"))
    var failureLimit: Int?

    @Flag(name: .shortAndLong, help: "Log debug detail.")
    var verbose = false

    func validate() throws {
        if let interval, interval <= 0 { throw ValidationError("--interval must be positive") }
        if let max, max < 0 { throw ValidationError("--max must not be negative") }
        if let failureLimit, failureLimit < 1 { throw ValidationError("--failure-limit must be at least 1") }
    }

    func run() async throws {
        var options = DaemonOptions()
        options.home = home
        options.socket = socket
        options.pidfile = pidfile
        options.config = config
        options.verbose = verbose
        options.overrides = DispatcherOverrides(interval: interval, maxConcurrent: max, failureLimit: failureLimit)
        let code = await KanbanDaemon.run(options)
        if code != 0 { throw ExitCode(code) }
    }
}

