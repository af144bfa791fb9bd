import CKanbanSystem
import Foundation
import KanbanProtocol

/// Starts worker processes: resolves the workspace, builds argv and environment, and spawns the
/// worker in its own session with its log as stdout and stderr.
struct Spawner: Sendable {
    let locations: Locations
    let logs: WorkerLogs

    struct Started {
        var pid: Int32
        var startTime: Int64?
        var workspace: String
    }

    /// The workspace directory for `task`, created if needed.
    func resolveWorkspace(_ task: TaskInfo, config: DispatcherConfig) throws -> String {
        let fm = FileManager.default
        switch task.workspaceKind {
        case "scratch":
            let path = Locations.join(locations.workspacesDirectory, task.id)
            try fm.createDirectory(atPath: path, withIntermediateDirectories: true)
            return path
        case "dir":
            guard let path = task.workspacePath, path.hasPrefix("/") else {
                throw SpawnFailure("workspace: task \(task.id) has workspace dir without an absolute path")
            }
            do {
                try fm.createDirectory(atPath: path, withIntermediateDirectories: true)
            } catch {
                throw SpawnFailure("workspace: cannot create \(path): \(error.localizedDescription)")
            }
            return path
        case "worktree":
            if let existing = task.workspacePath, fm.fileExists(atPath: existing) { return existing }
            let repo = config.worktreeRepo ?? fm.currentDirectoryPath
            let path = Locations.join(repo, ".worktrees/\(task.id)")
            if fm.fileExists(atPath: path) { return path }
            if fm.fileExists(atPath: Locations.join(repo, ".git")) {
                let status = Spawner.runQuietly(["git", "-C", repo, "worktree", "add", "--detach", path])
                if status == 0 { return path }
            }
            // The daemon could not make one: hand the path to the worker, which may.
            return path
        default:
            throw SpawnFailure("workspace: unknown workspace kind '\(task.workspaceKind)'")
        }
    }

    /// Runs a helper command to completion, output discarded. Returns its exit status.
    static func runQuietly(_ argv: [String]) -> Int32 {
        let devnull = open("/dev/null", O_WRONLY | O_CLOEXEC)
        defer { close(devnull) }
        var env = ProcessInfo.processInfo.environment.map { "\($0.key)=\($0.value)" }
        env.append("GIT_TERMINAL_PROMPT=0")
        guard let pid = try? spawn(argv: argv, env: env, cwd: nil, output: devnull) else { return -1 }
        var status: Int32 = 0
        while waitpid(pid, &status, 0) < 0 && errno == EINTR {}
        return (status & 0x7f) == 0 ? (status >> 8) & 0xff : 128 + (status & 0x7f)
    }

    static func spawn(argv: [String], env: [String], cwd: String?, output: Int32) throws -> Int32 {
        var cArgs: [UnsafeMutablePointer<CChar>?] = argv.map { strdup($0) } + [nil]
        var cEnv: [UnsafeMutablePointer<CChar>?] = env.map { strdup($0) } + [nil]
        defer {
            for pointer in cArgs { free(pointer) }
            for pointer in cEnv { free(pointer) }
        }
        var pid: pid_t = 0
        let rc = cArgs.withUnsafeMutableBufferPointer { args in
            cEnv.withUnsafeMutableBufferPointer { envp in
                if let cwd {
                    return cwd.withCString { ckanban_spawn(args.baseAddress, envp.baseAddress, $0, output, &pid) }
                }
                return ckanban_spawn(args.baseAddress, envp.baseAddress, nil, output, &pid)
            }
        }
        guard rc == 0 else {
            let reason = String(cString: strerror(rc))
            if rc == ENOENT { throw SpawnFailure("executable not found: \(argv.first ?? "") (\(reason))") }
            throw SpawnFailure("cannot start \(argv.first ?? ""): \(reason)")
        }
        return pid
    }

    /// Starts `spec`'s command for `task` on run `run`.
    func start(task: TaskInfo, run: Int64, spec: WorkerSpec, workspace: String, config: DispatcherConfig) throws -> Started {
        let substitutions = [
            "{task_id}": task.id, "{assignee}": task.assignee ?? "", "{workspace}": workspace,
            "{tenant}": task.tenant ?? "", "{run_id}": String(run),
        ]
        let argv = spec.command.map { argument in
            substitutions.reduce(argument) { $0.replacingOccurrences(of: $1.key, with: $1.value) }
        }
        var environment = ProcessInfo.processInfo.environment
        for (key, value) in spec.env { environment[key] = value }
        environment[WorkerEnvironment.taskID] = task.id
        environment[WorkerEnvironment.runID] = String(run)
        environment[WorkerEnvironment.socket] = locations.socket
        environment[WorkerEnvironment.workspace] = workspace
        environment[WorkerEnvironment.assignee] = task.assignee ?? ""
        environment["KANBAN_HOME"] = locations.home
        if let tenant = task.tenant {
            environment[WorkerEnvironment.tenant] = tenant
        } else {
            environment[WorkerEnvironment.tenant] = nil
        }
        let output = try logs.openForRun(taskID: task.id, runID: run, command: argv, maxBytes: config.logMaxBytes)
        defer { close(output) }
        let cwd = FileManager.default.fileExists(atPath: workspace) ? workspace : nil
        let pid = try Spawner.spawn(
            argv: argv, env: environment.map { "\($0.key)=\($0.value)" }, cwd: cwd, output: output)
        return Started(pid: pid, startTime: ProcFS.stat(pid)?.startTime, workspace: workspace)
    }
}

/// Why a worker could not be started (counts toward the circuit breaker).
struct SpawnFailure: Error, CustomStringConvertible {
    var description: String
    init(_ description: String) { self.description = description }
}
