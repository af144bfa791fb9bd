import Foundation

/// Facts about a process read from /proc, used to tell a live worker from a dead one whose pid
/// was reused: a pid names the same process only while its start time is unchanged.
enum ProcFS {
    struct Stat: Equatable {
        var state: Character
        /// Start time in clock ticks since boot (field 22 of /proc/<pid>/stat).
        var startTime: Int64
    }

    static func stat(_ pid: Int32) -> Stat? {
        guard let text = try? String(contentsOfFile: "/proc/\(pid)/stat", encoding: .utf8),
            let close = text.lastIndex(of: ")")
        else { return nil }
        // Fields after the command name (which may contain spaces and parentheses).
        let fields = text[text.index(after: close)...].split(separator: " ")
        guard fields.count > 19, let state = fields[0].first, let start = Int64(fields[19]) else { return nil }
        return Stat(state: state, startTime: start)
    }

    /// True when `pid` is alive (not a zombie) and, if given, started at `startTime`.
    static func isAlive(_ pid: Int32, startTime: Int64?) -> Bool {
        guard pid > 0, let stat = stat(pid), stat.state != "Z", stat.state != "X" else { return false }
        if let startTime, stat.startTime != startTime { return false }
        return true
    }

    /// Finds a process whose environment carries `KANBAN_RUN_ID=<run>`: a worker started just
    /// before kanband died, whose pid never reached the database.
    static func findWorker(runID: Int64, home: String) -> Int32? {
        guard let entries = try? FileManager.default.contentsOfDirectory(atPath: "/proc") else { return nil }
        // Run ids are per board and a worker's children inherit its environment: the worker is
        // the session leader (spawned with setsid) whose run id *and* board home match.
        let run = Array("KANBAN_RUN_ID=\(runID)".utf8)
        let homePrefix = Array("KANBAN_HOME=".utf8)
        let board = canonical(home)
        for entry in entries {
            guard let pid = Int32(entry), pid != getpid(), getsid(pid) == pid,
                let data = FileManager.default.contents(atPath: "/proc/\(pid)/environ")
            else { continue }
            let variables = data.split(separator: 0)
            guard variables.contains(where: { Array($0) == run }),
                let home = variables.first(where: { $0.starts(with: homePrefix) }),
                canonical(String(decoding: home.dropFirst(homePrefix.count), as: UTF8.self)) == board
            else { continue }
            if isAlive(pid, startTime: nil) { return pid }
        }
        return nil
    }

    /// The path with symlinks, `.` and `..` resolved (as given when it does not exist): one board
    /// home however it was spelled.
    private static func canonical(_ path: String) -> String {
        guard let resolved = realpath(path, nil) else { return path }
        defer { free(resolved) }
        return String(cString: resolved)
    }
}

/// Waits for one child process on a thread of its own (`waitpid` on the exact pid), so the exit
/// status is exact and arrives within milliseconds, and nothing else's children are reaped.
enum ChildWatcher {
    static func watch(pid: Int32, onExit: @escaping @Sendable (_ exitCode: Int32?, _ signal: Int32?) -> Void) {
        let thread = Thread {
            var status: Int32 = 0
            while true {
                let result = waitpid(pid, &status, 0)
                if result == pid { break }
                if result < 0 && errno == EINTR { continue }
                onExit(nil, nil)
                return
            }
            // WIFEXITED / WEXITSTATUS / WTERMSIG, spelled out (the C macros are not imported).
            let low = status & 0x7f
            if low == 0 {
                onExit((status >> 8) & 0xff, nil)
            } else {
                onExit(nil, low)
            }
        }
        thread.name = "kanban-wait-\(pid)"
        thread.stackSize = 64 * 1024
        thread.start()
    }
}
