#if canImport(FoundationEssentials)
import FoundationEssentials
#else
import Foundation
#endif
import ArgumentParser
import KanbanClient
import KanbanProtocol

struct Create: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "create", _superCommandName: Kanbanctl.toolName,
        abstract: "Create a task.",
        discussion: """
            The task starts ready when it has no unfinished parent, todo otherwise, or triage with --triage. \
            With --idempotency-key, creating again with the same key returns the existing task unchanged.
            Example: kanbanctl create "Write the parser" --assignee coder --parent t_1a2b --priority 2
            """)
    @OptionGroup var global: GlobalOptions
    @Argument(help: "Title (required, non-empty).") var title: String
    @Option(help: "Longer description: the worker's brief.") var body: String?
    @Option(help: "Worker profile that should do it.") var assignee: String?
    @Option(name: .customLong("parent"), help: "A task this one waits for (repeatable).") var parents: [String] = []
    @Option(help: "scratch | worktree | dir:<absolute path>.") var workspace: String = "scratch"
    @Option(help: "Namespace for filtering.") var tenant: String?
    @Option(help: "Higher runs first.") var priority: Int = 0
    @Flag(help: "Park in triage: never dispatched until promoted.") var triage = false
    @Option(help: "Deduplication key: one live task per key.") var idempotencyKey: String?
    @Option(help: "Creator label (default: the author).") var createdBy: String?
    @Flag(help: "Print the task as JSON.") var json = false

    func validate() throws {
        if title.trimmed.isEmpty { throw ValidationError("title must not be empty") }
        do {
            _ = try WorkspaceSpec.parse(expandHome(workspace))
        } catch {
            throw ValidationError(error.message)
        }
    }

    private func expandHome(_ text: String) -> String {
        if text.hasPrefix("dir:~") {
            let home = global.environment["HOME"] ?? ""
            return "dir:" + home + text.dropFirst(5)
        }
        return text
    }

    func run() throws {
        let client = try global.connect()
        let result: CreateResult = try client.call(
            .taskCreate,
            CreateParams(
                title: title, body: body, assignee: assignee, parents: parents.isEmpty ? nil : parents, tenant: tenant,
                priority: priority, workspace: expandHome(workspace), triage: triage ? true : nil,
                idempotencyKey: idempotencyKey, createdBy: createdBy, author: global.actor))
        if json {
            out(Format.json(result.task))
        } else {
            let verb = result.created ? "Created" : "Exists"
            out("\(verb) \(result.task.id)  (\(result.task.status.rawValue), assignee=\(result.task.assignee ?? "-"))")
        }
    }
}

extension Create: QuickParsable {
    static func quickParse(_ arguments: ArraySlice<String>) -> Create? {
        guard
            let line = QuickCommandLine(
                arguments,
                options: QuickCommandLine.globalOptions.union([
                    "--body", "--assignee", "--parent", "--workspace", "--tenant", "--priority", "--idempotency-key",
                    "--created-by",
                ]),
                repeatable: ["--parent"], flags: ["--triage", "--json"]),
            line.positionals.count == 1, let priority = line.number("--priority", as: Int.self)
        else { return nil }
        var command = Create()
        command.global = line.global
        command.title = line.positionals[0]
        command.body = line.value("--body")
        command.assignee = line.value("--assignee")
        command.parents = line.values("--parent")
        command.workspace = line.value("--workspace") ?? "scratch"
        command.tenant = line.value("--tenant")
        command.priority = priority ?? 0
        command.triage = line.flag("--triage")
        command.idempotencyKey = line.value("--idempotency-key")
        command.createdBy = line.value("--created-by")
        command.json = line.flag("--json")
        return command
    }
}

struct List: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "list", _superCommandName: Kanbanctl.toolName, abstract: "List tasks (priority first, then oldest).", aliases: ["ls"])
    @OptionGroup var global: GlobalOptions
    @Option(help: "Only this assignee's tasks.") var assignee: String?
    @Flag(help: "Only tasks assigned to KANBAN_ASSIGNEE (or --author).") var mine = false
    @Option(help: "Only this status: triage, todo, ready, running, blocked, done, archived.") var status: String?
    @Option(help: "Only this tenant.") var tenant: String?
    @Flag(help: "Include archived tasks.") var archived = false
    @Option(help: "At most this many.") var limit: Int?
    @Flag(help: "Print a JSON array of tasks.") var json = false

    func validate() throws {
        if let status {
            do { _ = try TaskStatus.parse(status) } catch { throw ValidationError(error.message) }
        }
        if let limit, limit < 0 { throw ValidationError("--limit must not be negative") }
    }

    func run() throws {
        var who = assignee
        if mine && who == nil {
            guard let actor = global.actor else {
                throw ValidationError("--mine needs --author or KANBAN_ASSIGNEE")
            }
            who = actor
        }
        let client = try global.connect()
        var params = ListParams(assignee: who, status: status, tenant: tenant, archived: archived ? true : nil, limit: limit)
        if json {
            let result: TaskListResult = try client.call(.taskList, params)
            out(Format.json(result.tasks))
            return
        }
        // The table shows only summary members: no bodies or results to send and parse.
        params.summary = true
        let result: TaskSummaryListResult = try client.call(.taskList, params)
        out(result.tasks.isEmpty ? "(no matching tasks)" : Format.taskLines(result.tasks))
    }
}

struct Show: ParsableCommand {
    static let configuration = CommandConfiguration(commandName: "show", _superCommandName: Kanbanctl.toolName, abstract: "Show one task: fields, links, comments, runs, latest events.")
    @OptionGroup var global: GlobalOptions
    @Argument(help: "Task id.") var id: String
    @Option(help: "How many of the latest events to show.") var events: Int = 20
    @Option(help: "How many of the latest comments to show.") var comments: Int = GetParams.defaultComments
    @Flag(help: "Print the task detail as JSON.") var json = false

    func run() throws {
        let client = try global.connect()
        let detail: TaskDetail = try client.call(.taskGet, GetParams(id: id, events: events, comments: comments))
        if json {
            out(Format.json(detail))
            return
        }
        let task = detail.task
        var lines = ["Task \(task.id): \(task.title)"]
        lines.append("  status:    \(task.status.rawValue)")
        lines.append("  assignee:  \(task.assignee ?? "(unassigned)")")
        if let tenant = task.tenant { lines.append("  tenant:    \(tenant)") }
        if task.priority != 0 { lines.append("  priority:  \(task.priority)") }
        lines.append("  workspace: \(task.workspaceKind)\(task.workspacePath.map { " @ \($0)" } ?? "")")
        lines.append("  created:   \(Format.time(task.createdAt)) by \(task.createdBy ?? "-")")
        lines.append("  started:   \(Format.time(task.startedAt))")
        lines.append("  completed: \(Format.time(task.completedAt))")
        lines.append("  parents:   \(detail.parents.isEmpty ? "-" : detail.parents.joined(separator: ", "))")
        lines.append("  children:  \(detail.children.isEmpty ? "-" : detail.children.joined(separator: ", "))")
        if let run = task.currentRunID {
            lines.append("  run:       \(run) (claim expires \(Format.time(task.claimExpires)))")
        }
        lines.append("  failures:  \(task.consecutiveFailures)\(task.lastFailureError.map { " (last: \($0))" } ?? "")")
        if let reason = task.blockReason { lines.append("  blocked:   \(reason)") }
        if let body = task.body, !body.isEmpty {
            lines.append("")
            lines.append("Body:")
            lines.append(body)
        }
        if let result = task.result, !result.isEmpty {
            lines.append("")
            lines.append("Result:")
            lines.append(result)
        }
        lines.append("")
        lines.append(
            detail.comments.count == detail.commentCount
                ? "Comments (\(detail.comments.count)):" : "Comments (\(detail.comments.count) of \(detail.commentCount)):")
        for comment in detail.comments {
            lines.append("  [\(Format.time(comment.createdAt))] \(comment.author): \(comment.body)")
        }
        if !detail.runs.isEmpty {
            lines.append("")
            lines.append("Runs (\(detail.runs.count)):")
            for run in detail.runs.suffix(10) { lines.append("  " + Runs.line(run)) }
        }
        lines.append("")
        lines.append("Events (\(detail.events.count) of \(detail.eventCount)):")
        for event in detail.events { lines.append("  " + Format.eventLine(event)) }
        out(lines.joined(separator: "\n"))
    }
}

struct Assign: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "assign", _superCommandName: Kanbanctl.toolName,
        abstract: "Assign a task to a worker profile (none, - or null unassigns). Refused while running.")
    @OptionGroup var global: GlobalOptions
    @Argument(help: "Task id.") var id: String
    @Argument(help: "Profile name, or none.") var profile: String

    func run() throws {
        let client = try global.connect()
        let unassign = ["none", "-", "null"].contains(profile.lowercased())
        let result: TaskResult = try client.call(
            .taskAssign, AssignParams(id: id, assignee: unassign ? nil : profile, author: global.actor))
        out("Assigned \(result.task.id) to \(result.task.assignee ?? "(unassigned)")")
    }
}

struct Link: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "link", _superCommandName: Kanbanctl.toolName,
        abstract: "Make CHILD wait for PARENT. Self-links and cycles are refused; a ready child goes back to todo.")
    @OptionGroup var global: GlobalOptions
    @Argument var parent: String
    @Argument var child: String

    func run() throws {
        let client = try global.connect()
        let result: LinkResult = try client.call(.taskLink, LinkParams(parent: parent, child: child, author: global.actor))
        out("Linked \(result.parent) -> \(result.child)  (child is \(result.childStatus.rawValue))")
    }
}

struct Unlink: ParsableCommand {
    static let configuration = CommandConfiguration(commandName: "unlink", _superCommandName: Kanbanctl.toolName, abstract: "Remove a dependency; the child becomes ready if nothing else blocks it.")
    @OptionGroup var global: GlobalOptions
    @Argument var parent: String
    @Argument var child: String

    func run() throws {
        let client = try global.connect()
        let result: LinkResult = try client.call(.taskUnlink, LinkParams(parent: parent, child: child, author: global.actor))
        out("Unlinked \(result.parent) -> \(result.child)  (child is \(result.childStatus.rawValue))")
    }
}

struct Comment: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "comment", _superCommandName: Kanbanctl.toolName,
        abstract: "Add a comment to a task's thread.",
        discussion: "Inside a worker, `kanbanctl comment -- \"text\"` comments on the worker's own task.")
    @OptionGroup var global: GlobalOptions
    @Argument(help: "Task id (optional inside a worker when --task is used) followed by the text.")
    var words: [String] = []
    @Option(help: "Task id (alternative to the first argument).") var task: String?

    func run() throws {
        var words = words
        let id: String
        if let task {
            id = task
        } else if let first = words.first, first.hasPrefix("t_") {
            id = first
            words.removeFirst()
        } else {
            id = try global.taskID(nil)
        }
        let text = words.joined(separator: " ")
        guard !text.trimmed.isEmpty else {
            throw ValidationError("comment text is required")
        }
        let client = try global.connect()
        let author = global.author ?? global.actor ?? global.environment["USER"]
        let _: CommentResult = try client.call(
            .taskComment, CommentParams(id: id, body: text, author: author, runID: global.runID(for: id)))
        out("Comment added to \(id)")
    }
}

extension Comment: QuickParsable {
    static func quickParse(_ arguments: ArraySlice<String>) -> Comment? {
        guard let line = QuickCommandLine(arguments, options: QuickCommandLine.globalOptions.union(["--task"])) else {
            return nil
        }
        var command = Comment()
        command.global = line.global
        command.words = line.positionals
        command.task = line.value("--task")
        return command
    }
}

/// Runs one call per id; every id is tried, failures are reported on stderr and make the exit 1.
func bulk(_ ids: [String], _ body: (String) throws -> String) throws {
    var failed = false
    for id in ids {
        do {
            out(try body(id))
        } catch let ClientError.server(error) {
            err("kanbanctl: \(error.message) [\(error.kind.rawValue)]")
            failed = true
        }
    }
    if failed { throw CommandExit(code: ExitStatus.refused) }
}

struct Complete: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "complete", _superCommandName: Kanbanctl.toolName,
        abstract: "Mark tasks done (from running, ready or blocked); their waiting children become ready.",
        discussion: "Example: kanbanctl complete t_a t_b --result \"merged in #12\"")
    @OptionGroup var global: GlobalOptions
    @Argument(help: "Task ids (default: KANBAN_TASK_ID).") var ids: [String] = []
    @Option(help: "Result text, handed to child tasks.") var result: String?

    func run() throws {
        let ids = self.ids.isEmpty ? [try global.taskID(nil)] : self.ids
        let client = try global.connect()
        try bulk(ids) { id in
            let _: TaskResult = try client.call(
                .taskComplete, CompleteParams(id: id, result: result, author: global.actor, runID: global.runID(for: id)))
            return "Completed \(id)"
        }
    }
}

extension Complete: QuickParsable {
    static func quickParse(_ arguments: ArraySlice<String>) -> Complete? {
        guard let line = QuickCommandLine(arguments, options: QuickCommandLine.globalOptions.union(["--result"])) else {
            return nil
        }
        var command = Complete()
        command.global = line.global
        command.ids = line.positionals
        command.result = line.value("--result")
        return command
    }
}

struct Block: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "block", _superCommandName: Kanbanctl.toolName,
        abstract: "Block tasks with a reason (needs a human).",
        discussion: "Examples: kanbanctl block t_a need the API key;  kanbanctl block t_a waiting --ids t_b t_c")
    @OptionGroup var global: GlobalOptions
    @Argument(help: "Task id (default: KANBAN_TASK_ID) followed by the reason.") var words: [String] = []
    @Option(parsing: .upToNextOption, help: "More task ids to block with the same reason.") var ids: [String] = []

    func run() throws {
        var words = words
        var targets: [String] = []
        if let first = words.first, first.hasPrefix("t_") {
            targets.append(first)
            words.removeFirst()
        } else if let id = global.environment[WorkerEnvironment.taskID], !id.isEmpty {
            targets.append(id)
        }
        targets += ids
        guard !targets.isEmpty else { throw ValidationError("a task id is required") }
        let reason = words.isEmpty ? nil : words.joined(separator: " ")
        let client = try global.connect()
        try bulk(targets) { id in
            let _: TaskResult = try client.call(
                .taskBlock, BlockParams(id: id, reason: reason, author: global.actor, runID: global.runID(for: id)))
            return reason.map { "Blocked \(id): \($0)" } ?? "Blocked \(id)"
        }
    }
}

struct Unblock: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "unblock", _superCommandName: Kanbanctl.toolName,
        abstract: "Return blocked tasks to ready (or todo while a parent is unfinished); resets the failure count.")
    @OptionGroup var global: GlobalOptions
    @Argument(help: "Task ids.") var ids: [String]

    func run() throws {
        let client = try global.connect()
        try bulk(ids) { id in
            let _: TaskResult = try client.call(.taskUnblock, IDParams(id: id, author: global.actor))
            return "Unblocked \(id)"
        }
    }
}

struct Archive: ParsableCommand {
    static let configuration = CommandConfiguration(commandName: "archive", _superCommandName: Kanbanctl.toolName, abstract: "Archive tasks: hidden from default views; a running worker is stopped.")
    @OptionGroup var global: GlobalOptions
    @Argument(help: "Task ids.") var ids: [String]

    func run() throws {
        let client = try global.connect()
        try bulk(ids) { id in
            let _: TaskResult = try client.call(.taskArchive, IDParams(id: id, author: global.actor))
            return "Archived \(id)"
        }
    }
}

struct Promote: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "promote", _superCommandName: Kanbanctl.toolName,
        abstract: "Move triage tasks onto the board: ready (todo while a parent is unfinished), or todo with --todo.")
    @OptionGroup var global: GlobalOptions
    @Argument(help: "Task ids.") var ids: [String]
    @Flag(help: "Park in todo instead of ready.") var todo = false

    func run() throws {
        let client = try global.connect()
        try bulk(ids) { id in
            let result: TaskResult = try client.call(
                .taskPromote, PromoteParams(id: id, to: todo ? "todo" : "ready", author: global.actor))
            return "Promoted \(id) to \(result.task.status.rawValue)"
        }
    }
}
