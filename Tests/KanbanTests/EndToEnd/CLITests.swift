import Foundation
import KanbanProtocol
import Testing

extension Processes {
    /// The real kanbanctl against a real kanband: verbs, outputs, exit codes.
    @Suite struct CLI {
        @Test func createListShowCompleteChain() throws {
            let daemon = try TestDaemon()
            let parent = try daemon.create("Write the parser", "--assignee", "alice", "--body", "parse it")
            let child = try daemon.create("Ship it", "--parent", parent)
            #expect(try daemon.task(parent).status == .ready)
            #expect(try daemon.task(child).status == .todo)

            let list = daemon.ctl("list")
            #expect(list.code == 0)
            #expect(list.stdout.contains("Write the parser"))
            #expect(list.stdout.contains("alice"))

            let done = daemon.ctl("complete", parent, "--result", "parser merged")
            #expect(done.code == 0)
            #expect(done.stdout.contains("Completed \(parent)"))
            #expect(try daemon.task(child).status == .ready)
            let ready = daemon.ctl("ls", "--status", "ready")
            #expect(ready.stdout.contains(child))

            let context = daemon.ctl("context", child)
            #expect(context.stdout.contains("parser merged"))
            #expect(context.stdout.contains("Ship it"))
        }

        @Test func exitCodes() throws {
            let daemon = try TestDaemon()
            #expect(daemon.ctl("show", "t_doesnotexist").code == 1)
            #expect(daemon.ctl("show", "t_doesnotexist").stderr.contains("no such task"))
            #expect(daemon.ctl("create").code == 2)
            #expect(daemon.ctl("create", "   ").code == 2)
            #expect(daemon.ctl("list", "--status", "bogus").code == 2)
            #expect(daemon.ctl("create", "x", "--workspace", "dir:relative/path").code == 2)
            #expect(daemon.ctl("create", "x", "--workspace", "cloud").code == 2)
            #expect(daemon.ctl("frobnicate").code == 2)
            #expect(daemon.ctl("--help").code == 0)
            var env = daemon.environment
            env["KANBAN_HOME"] = daemon.home + "/nowhere"
            let unreachable = runProcess(Binaries.kanbanctl, ["list"], environment: env)
            #expect(unreachable.code == 3)
            #expect(unreachable.stderr.contains("kanband"))
            // Nothing above changed the board.
            let tasks = try JSONDecoder().decode([TaskInfo].self, from: Data(daemon.ctl("list", "--json").stdout.utf8))
            #expect(tasks.isEmpty)
        }

        @Test func bulkVerbsRunEveryIDAndReportFailures() throws {
            let daemon = try TestDaemon()
            let a = try daemon.create("a")
            let b = try daemon.create("b")
            let c = try daemon.create("c")
            let result = daemon.ctl("complete", a, "t_missing", b, c, "--result", "all-done")
            #expect(result.code == 1)
            #expect(result.stdout.components(separatedBy: "Completed").count - 1 == 3)
            #expect(result.stderr.contains("t_missing"))
            for id in [a, b, c] { #expect(try daemon.task(id).status == .done) }

            let d = try daemon.create("d")
            let e = try daemon.create("e")
            let blocked = daemon.ctl("block", d, "need", "input", "--ids", e)
            #expect(blocked.code == 0)
            #expect(blocked.stdout.components(separatedBy: "Blocked").count - 1 == 2)
            #expect(try daemon.task(e).blockReason == "need input")
            let unblocked = daemon.ctl("unblock", d, e)
            #expect(unblocked.stdout.components(separatedBy: "Unblocked").count - 1 == 2)
            let archived = daemon.ctl("archive", d, e)
            #expect(archived.code == 0)
            #expect(try daemon.task(d).status == .archived)
            #expect(!daemon.ctl("list").stdout.contains(d))
            #expect(daemon.ctl("list", "--archived").stdout.contains(d))
        }

        /// Each verb is parsed by its own parser first (`KanbanCLI.parse`); help and usage errors
        /// must still read exactly as the root's, for every verb and alias the root lists.
        @Test func everyVerbsHelpAndErrorsMatchTheRoots() throws {
            let root = runProcess(Binaries.kanbanctl, ["--help"], environment: [:])
            let listing = root.stdout.components(separatedBy: "SUBCOMMANDS:").last ?? ""
            // "  list, ls                List tasks…": names up to the gap before the abstract.
            let verbs = listing.split(separator: "\n")
                .filter { $0.hasPrefix("  ") && $0.dropFirst(2).first?.isLetter == true }
                .flatMap { line in
                    (line.dropFirst(2).components(separatedBy: "  ").first ?? "").components(separatedBy: ", ")
                }
            #expect(verbs.count >= 27)
            #expect(verbs.contains("ls") && verbs.contains("notify-unsubscribe"))
            for verb in verbs {
                let canonical = runProcess(Binaries.kanbanctl, ["help", verb], environment: [:])
                #expect(canonical.code == 0)
                #expect(canonical.stdout.contains("USAGE: kanbanctl "), "\(verb)")
                for flag in ["--help", "-h"] {
                    let help = runProcess(Binaries.kanbanctl, [verb, flag], environment: [:])
                    #expect(help.code == 0)
                    #expect(help.stdout == canonical.stdout, "\(verb) \(flag)")
                }
                let refused = runProcess(Binaries.kanbanctl, [verb, "--no-such-option"], environment: [:])
                #expect(refused.code == 2)
                #expect(refused.stderr.hasPrefix("Error: "), "\(verb)")
                #expect(refused.stderr.contains("See 'kanbanctl "), "\(verb): \(refused.stderr)")
            }
            #expect(runProcess(Binaries.kanbanctl, ["create", "--version"], environment: [:]).stdout.hasPrefix("0."))
        }

        @Test func idempotencyKeyReturnsTheSameTask() throws {
            let daemon = try TestDaemon()
            let first = try daemon.create("x", "--idempotency-key", "abc")
            let second = try daemon.create("y", "--idempotency-key", "abc")
            #expect(first == second)
            #expect(try daemon.task(first).title == "x")
            daemon.ctl("archive", first)
            let third = try daemon.create("z", "--idempotency-key", "abc")
            #expect(third != first)
        }

        @Test func workerEnvironmentDefaultsTheTaskID() throws {
            let daemon = try TestDaemon()
            let id = try daemon.create("in a worker")
            let env = ["KANBAN_TASK_ID": id]
            #expect(daemon.ctl("comment", "--", "progress", "report", env: env).code == 0)
            #expect(daemon.ctl("context", env: env).stdout.contains("progress report"))
            #expect(daemon.ctl("complete", "--result", "ok", env: env).code == 0)
            #expect(try daemon.task(id).status == .done)
        }

        @Test func statusReportsTheDaemon() throws {
            let daemon = try TestDaemon()
            let status = daemon.ctl("status", "--json")
            #expect(status.code == 0)
            let decoded = try JSONDecoder().decode(StatusResult.self, from: Data(status.stdout.utf8))
            #expect(decoded.pid == daemon.pid)
            #expect(decoded.database == daemon.home + "/kanban.db")
            #expect(decoded.schemaVersion == 4)
        }
    }
}
