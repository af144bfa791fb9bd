import ArgumentParser
import KanbanClient
import KanbanProtocol

/// Options every command accepts: which board to talk to, and who is talking.
struct GlobalOptions: ParsableArguments {
    @Option(help: ArgumentHelp("Board home (env KANBAN_HOME); selects the board's socket.", valueName: "dir"))
    var home: String?

    @Option(help: ArgumentHelp("kanband socket (env KANBAN_SOCKET).", valueName: "path"))
    var socket: String?

    @Option(help: ArgumentHelp("Name recorded as the actor of changes (default: your uid/pid, or KANBAN_ASSIGNEE inside a worker).", valueName: "name"))
    var author: String?

    var environment: [String: String] { CommandContext.current.environment }

    var locations: Locations {
        Locations.resolve(home: home, socket: socket, environment: environment)
    }

    /// The actor name to send, if any.
    var actor: String? {
        author ?? environment[WorkerEnvironment.assignee].flatMap { $0.isEmpty ? nil : $0 }
    }

    func connect() throws -> KanbanClient {
        let locations = locations
        do {
            return try KanbanClient(socket: locations.socket)
        } catch {
            throw error
        }
    }

    /// The task id given, else `KANBAN_TASK_ID` (inside a worker).
    func taskID(_ given: String?) throws -> String {
        if let given, !given.isEmpty { return given }
        if let id = environment[WorkerEnvironment.taskID], !id.isEmpty { return id }
        throw ValidationError("a task id is required (or run inside a worker, where KANBAN_TASK_ID is set)")
    }

    /// The worker's run id, when the call concerns the worker's own task: it fences stale workers.
    func runID(for taskID: String) -> Int64? {
        guard environment[WorkerEnvironment.taskID] == taskID else { return nil }
        return environment[WorkerEnvironment.runID].flatMap { Int64($0) }
    }
}
