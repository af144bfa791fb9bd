import Foundation
import KanbanProtocol
import Testing

extension Processes {
    /// Worker logs and the dispatcher's CLI surface: log rotation and `log --tail`, `runs`,
    /// `status`, `reload`.
    @Suite struct DispatchCLI {
        @Test func liveLogIsBoundedDuringTheRun() throws {
            // ~100 KB in 1 KB lines, a little at a time.
            let script = """
                i=0
                while [ $i -lt 100 ]; do
                  head -c 1000 /dev/zero | tr '\\0' x; echo
                  sleep 0.01
                  i=$((i+1))
                done
                kanbanctl complete --result written > /dev/null
                """
            let limit = 4096
            let daemon = try TestDaemon(
                config: DispatchKit.config("interval = 60\nlog_max_bytes = \(limit)", DispatchKit.shellWorker("w", script)))
            defer { DispatchKit.shutdown(daemon) }
            let id = try daemon.create("chatty", "--assignee", "w")
            let log = daemon.home + "/logs/\(id).log"
            var largest = 0
            var samples = 0
            let done = eventually(timeout: 15) {
                largest = max(largest, DispatchKit.fileSize(log))
                samples += 1
                return (try? daemon.task(id).status) == .done
            }
            #expect(done, "\(daemon.daemonLog)")
            #expect(samples > 10)
            #expect(largest > 0)
            #expect(largest <= 8 * limit, "live log reached \(largest) bytes with log_max_bytes = \(limit)")
            #expect(FileManager.default.fileExists(atPath: log + ".1"))
            let kept = DispatchKit.fileSize(log) + DispatchKit.fileSize(log + ".1")
            #expect(kept < 100_000 / 2, "\(kept) bytes kept")
        }

        @Test func logTailDropsThePartialFirstLine() throws {
            let script = "printf 'alpha\\nbravo\\ncharlie\\n'; kanbanctl complete --result ok > /dev/null"
            let daemon = try TestDaemon(config: DispatchKit.config("interval = 60", DispatchKit.shellWorker("w", script)))
            defer { DispatchKit.shutdown(daemon) }
            let id = try daemon.create("talks", "--assignee", "w")
            #expect(eventually { (try? daemon.task(id).status) == .done }, "\(daemon.daemonLog)")
            let full = daemon.ctl("log", id)
            #expect(full.code == 0)
            #expect(full.stdout.contains("=== kanban run"))
            #expect(full.stdout.hasSuffix("alpha\nbravo\ncharlie\n"))
            // The last 16 bytes are "a\nbravo\ncharlie\n": the partial "a" line is dropped.
            let tail = daemon.ctl("log", id, "--tail", "16")
            #expect(tail.code == 0)
            #expect(tail.stdout == "bravo\ncharlie\n")
            #expect(daemon.ctl("log", id, "--tail", "0").code == 2)
            let never = try daemon.create("never ran")
            #expect(daemon.ctl("log", never).code == 1)
        }

        @Test func runsListsEachAttempt() throws {
            let script = """
                if [ -e "$KANBAN_HOME/second" ]; then kanbanctl complete --result ok > /dev/null; exit 0; fi
                touch "$KANBAN_HOME/second"
                exit 4
                """
            let daemon = try TestDaemon(
                config: DispatchKit.config("interval = 0.2\nretry_delay = 0.2\nfailure_limit = 5", DispatchKit.shellWorker("w", script)))
            defer { DispatchKit.shutdown(daemon) }
            let id = try daemon.create("second try", "--assignee", "w")
            #expect(eventually { (try? daemon.task(id).status) == .done }, "\(daemon.daemonLog)")
            #expect(eventually { (try? DispatchKit.runs(daemon, id).last?.exitCode) == 0 })
            let text = daemon.ctl("runs", id)
            #expect(text.code == 0)
            let lines = text.stdout.split(separator: "\n").map(String.init)
            #expect(lines.count == 2, "\(text.stdout)")
            if lines.count == 2 {
                #expect(lines[0].hasPrefix("#"))
                #expect(lines[0].contains("crashed"))
                #expect(lines[0].contains("exit 4"))
                #expect(lines[0].contains("pid "))
                #expect(lines[1].contains("completed"))
            }
            let json = daemon.ctl("runs", id, "--json")
            let runs = try JSONDecoder().decode([RunInfo].self, from: Data(json.stdout.utf8))
            #expect(runs.map(\.outcome) == ["crashed", "completed"])
            #expect(runs.first?.exitCode == 4)
            #expect(runs.allSatisfy { $0.taskID == id && $0.assignee == "w" && $0.claimer == "kanband" })
            let never = try daemon.create("no runs")
            #expect(daemon.ctl("runs", never).stdout.contains("(no runs)"))
            #expect(daemon.ctl("runs", "t_doesnotexist").code == 1)
        }

        @Test func statusShowsDispatcherHealth() throws {
            let daemon = try TestDaemon(
                config: DispatchKit.config(
                    "interval = 60\nmax_concurrent = 3\nfailure_limit = 4\nclaim_ttl = 100",
                    DispatchKit.shellWorker("w", "exec sleep 30", "max_concurrent = 1")))
            defer { DispatchKit.shutdown(daemon) }
            let id = try daemon.create("busy", "--assignee", "w")
            _ = try DispatchKit.waitForWorker(daemon, id)
            // No [workers.ghost] and no "*" fallback: a spawn failure with a clear reason.
            let ghost = try daemon.create("nobody runs this", "--assignee", "ghost")
            #expect(eventually { (try? daemon.task(ghost).consecutiveFailures) == 1 })
            #expect(try daemon.task(ghost).lastFailureError?.contains("no worker configured for assignee 'ghost'") == true)

            let json = daemon.ctl("status", "--json")
            #expect(json.code == 0)
            let d = try JSONDecoder().decode(StatusResult.self, from: Data(json.stdout.utf8)).dispatcher
            #expect(d.enabled)
            #expect(d.running == 1)
            #expect(d.maxConcurrent == 3)
            #expect(d.perAssignee == ["w": 1])
            #expect(d.failureLimit == 4)
            #expect(d.intervalSeconds == 60)
            #expect(d.claimTTLSeconds == 100)
            #expect(d.failingTasks == 1)
            #expect(d.ticks >= 1)
            #expect(d.lastTickAt != nil)
            #expect(d.lastTickSeconds != nil)
            #expect(d.configPath == daemon.home + "/kanband.toml")
            #expect(d.configError == nil)

            let text = daemon.ctl("status")
            #expect(text.code == 0)
            #expect(text.stdout.contains("dispatcher:  1/3 workers running"), "\(text.stdout)")
            #expect(text.stdout.contains("failure limit 4"))
            #expect(text.stdout.contains("1 task(s) failing"))
        }

        @Test func reloadRefusesABadFileAndKeepsTheOldConfig() throws {
            let path = { (daemon: TestDaemon) in daemon.home + "/kanband.toml" }
            let v1 = DispatchKit.config(
                "interval = 60\nmax_concurrent = 3", DispatchKit.shellWorker("w", "kanbanctl complete --result v1"))
            let daemon = try TestDaemon(config: v1)
            defer { DispatchKit.shutdown(daemon) }

            try "max_concurrent = [oops\n".write(toFile: path(daemon), atomically: true, encoding: .utf8)
            let bad = daemon.ctl("reload")
            #expect(bad.code == 1)
            #expect(bad.stderr.contains("not reloaded"), "\(bad.stderr)")
            try "bogus = 1\n".write(toFile: path(daemon), atomically: true, encoding: .utf8)
            let unknown = daemon.ctl("reload")
            #expect(unknown.code == 1)
            #expect(unknown.stderr.contains("bogus"))

            let status = try JSONDecoder().decode(StatusResult.self, from: Data(daemon.ctl("status", "--json").stdout.utf8))
            #expect(status.dispatcher.maxConcurrent == 3)
            #expect(status.dispatcher.configError != nil)
            #expect(daemon.ctl("status").stdout.contains("last reload refused"))
            // The old workers are still in force.
            let first = try daemon.create("under v1", "--assignee", "w")
            #expect(eventually { (try? daemon.task(first).status) == .done }, "\(daemon.daemonLog)")
            #expect(try daemon.task(first).result == "v1")

            let v2 = DispatchKit.config(
                "interval = 60\nmax_concurrent = 4", DispatchKit.shellWorker("w", "kanbanctl complete --result v2"))
            try v2.write(toFile: path(daemon), atomically: true, encoding: .utf8)
            let good = daemon.ctl("reload")
            #expect(good.code == 0, "\(good.stderr)")
            #expect(good.stdout.contains("Reloaded"))
            #expect(good.stdout.contains("w"))
            let after = try JSONDecoder().decode(StatusResult.self, from: Data(daemon.ctl("status", "--json").stdout.utf8))
            #expect(after.dispatcher.maxConcurrent == 4)
            #expect(after.dispatcher.configError == nil)
            let second = try daemon.create("under v2", "--assignee", "w")
            #expect(eventually { (try? daemon.task(second).status) == .done })
            #expect(try daemon.task(second).result == "v2")
        }
    }
}
