import Foundation
import KanbanProtocol
import Testing

extension Processes {
    /// `kanbanctl watch` and `kanbanctl tail` as real child processes, ended with Ctrl-C (SIGINT).
    @Suite struct EventStreamsCLI {
        static func decodeLines(_ lines: [String]) -> [EventInfo] {
            lines.compactMap { try? JSONDecoder().decode(EventInfo.self, from: Data($0.utf8)) }
        }

        @Test func watchJSONSinceZeroReplaysFollowsAndStopsCleanlyOnCtrlC() throws {
            let daemon = try TestDaemon()
            let c = try EventKit.Client(socket: daemon.socket)
            // Enough history that replayed frames arrive several to a read.
            for i in 0..<40 {
                let task = try c.create("history \(i)")
                try c.comment(task.id, "note \(i)")
            }
            let history = try c.allEvents()
            #expect(history.count == 80)

            let watch = try EventKit.StreamingCtl(daemon, ["watch", "--json", "--since", "0"])
            let replayed = eventually { EventStreamsCLI.decodeLines(watch.lines).count >= history.count }
            #expect(replayed, "replay printed \(EventStreamsCLI.decodeLines(watch.lines).count) of \(history.count) events")

            let live = try c.create("live one")
            try c.complete(live.id, result: "ok")
            let all = try c.allEvents()
            #expect(eventually { EventStreamsCLI.decodeLines(watch.lines).count >= all.count })

            let exit = try #require(watch.interrupt(), "kanbanctl watch did not stop on SIGINT")
            #expect(exit == .exited(0), "stderr: \(watch.stderr)")
            let printed = EventStreamsCLI.decodeLines(watch.lines)
            #expect(printed.map(\.id) == all.map(\.id), "printed exactly the board's events, in order, once")
            if printed.map(\.id) == all.map(\.id) { #expect(printed == all) }
            let notJSON = watch.lines.filter { line in
                (try? JSONDecoder().decode(EventInfo.self, from: Data(line.utf8))) == nil
            }
            #expect(notJSON.isEmpty, "--json promises one JSON event per line on stdout; also printed: \(notJSON)")
        }

        @Test func watchFiltersAndTextOutput() throws {
            let daemon = try TestDaemon(config: "max_concurrent = 0\n")
            let c = try EventKit.Client(socket: daemon.socket)
            let alice = try c.create("alice's", assignee: "alice", tenant: "acme")
            let bob = try c.create("bob's", assignee: "bob", tenant: "acme")
            try c.complete(bob.id)

            let filtered = try EventKit.StreamingCtl(
                daemon, ["watch", "--json", "--since", "0", "--assignee", "alice", "--kinds", "created,completed"])
            let tenant = try EventKit.StreamingCtl(daemon, ["watch", "--json", "--since", "0", "--tenant", "acme"])
            let text = try EventKit.StreamingCtl(daemon, ["watch"])
            #expect(eventually { text.stdout.contains("Watching kanban events. Ctrl-C to stop.") })
            #expect(eventually { EventStreamsCLI.decodeLines(tenant.lines).count >= 3 })
            #expect(eventually { (try? c.status().subscribers) == 3 })

            try c.comment(alice.id, "not a wanted kind")
            try c.complete(alice.id, result: "done")
            let expected = try c.allEvents().filter {
                $0.taskID == alice.id && ["created", "completed"].contains($0.kind)
            }
            #expect(eventually { EventStreamsCLI.decodeLines(filtered.lines).count >= expected.count })
            #expect(eventually { text.stdout.contains("completed") })
            #expect(eventually { EventStreamsCLI.decodeLines(tenant.lines).count >= 5 })

            for stream in [filtered, tenant, text] {
                let exit = try #require(stream.interrupt())
                #expect(exit == .exited(0))
            }
            #expect(EventStreamsCLI.decodeLines(filtered.lines).map(\.id) == expected.map(\.id))
            #expect(EventStreamsCLI.decodeLines(tenant.lines).count == 5)
            // Text mode: no replay without --since; live lines name the task and the kind.
            let lines = text.lines.filter { $0.hasPrefix("[") }
            #expect(lines.count == 2, "\(text.lines)")
            #expect(lines.allSatisfy { $0.contains(alice.id) })
            #expect(lines.first?.contains("commented") == true)
            #expect(lines.last?.contains("completed") == true)
            #expect(!text.stdout.contains(bob.id))
        }

        @Test func tailPrintsHistoryThenLiveAndStops() throws {
            let daemon = try TestDaemon()
            let c = try EventKit.Client(socket: daemon.socket)
            let task = try c.create("tailed")
            let other = try c.create("other")
            try c.comment(task.id, "progress report")
            try c.block(task.id, "need input")
            try c.unblock(task.id)
            try c.comment(other.id, "not this task")

            let tail = try EventKit.StreamingCtl(daemon, ["tail", task.id])
            #expect(eventually { tail.stdout.contains("unblocked") }, "history: \(tail.stdout)")
            try c.complete(task.id, result: "finished")
            #expect(eventually { tail.stdout.contains("completed") }, "live: \(tail.stdout)")

            let exit = try #require(tail.interrupt(), "kanbanctl tail did not stop on SIGINT")
            #expect(exit == .exited(0))
            let lines = tail.lines
            #expect(lines.first == "Tailing events for \(task.id). Ctrl-C to stop.")
            let eventLines = lines.filter { $0.hasPrefix("[") }
            let kinds = ["created", "commented", "blocked", "unblocked", "completed"]
            #expect(eventLines.count == kinds.count, "\(lines)")
            for (line, kind) in zip(eventLines, kinds) {
                #expect(line.contains(" \(kind)"), "\(line) should be a \(kind) event")
            }
            #expect(tail.stdout.contains("need input"), "payloads are printed")
            #expect(!tail.stdout.contains("not this task"))
            #expect(!tail.stdout.contains(other.id))
        }

        @Test func tailJSONAndUnknownTask() throws {
            let daemon = try TestDaemon()
            let c = try EventKit.Client(socket: daemon.socket)
            let task = try c.create("json tail")
            try c.comment(task.id, "one")
            let tail = try EventKit.StreamingCtl(daemon, ["tail", task.id, "--json"])
            #expect(eventually { EventStreamsCLI.decodeLines(tail.lines).count >= 2 })
            _ = tail.interrupt()
            #expect(EventStreamsCLI.decodeLines(tail.lines).map(\.id) == (try c.allEvents(task: task.id)).map(\.id))

            let missing = try EventKit.StreamingCtl(daemon, ["tail", "t_doesnotexist"])
            #expect(missing.exit() == .exited(1), "tail of an unknown task must fail at once, not stream")
            #expect(missing.stderr.contains("no such task"))
        }
    }
}
