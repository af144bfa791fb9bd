import Foundation
import KanbanProtocol
import Testing

extension Processes {
    /// `kanbanctl gc`: exactly the old events of finished tasks, old logs and archived tasks' scratch
    /// workspaces go; nothing of a live task, nothing outside the workspaces root, nothing on --dry-run.
    @Suite struct GarbageCollection {
        static let fortyDays: Double = 40 * 86_400

        static func write(_ path: String, _ text: String = "x") throws {
            try FileManager.default.createDirectory(
                atPath: (path as NSString).deletingLastPathComponent, withIntermediateDirectories: true)
            try text.write(toFile: path, atomically: false, encoding: .utf8)
        }

        static func exists(_ path: String) -> Bool {
            var info = stat()
            return lstat(path, &info) == 0
        }

        /// Every path under `root` (links not followed) with its kind and size: a snapshot to compare.
        static func tree(_ root: String) -> [String] {
            var out: [String] = []
            func walk(_ path: String) {
                var info = stat()
                guard lstat(path, &info) == 0 else { return }
                let kind = info.st_mode & S_IFMT
                out.append("\(path) \(kind) \(info.st_size) \(info.st_mtim.tv_sec)")
                if kind == S_IFDIR {
                    for entry in ((try? FileManager.default.contentsOfDirectory(atPath: path)) ?? []).sorted() {
                        walk(path + "/" + entry)
                    }
                }
            }
            walk(root)
            return out
        }

        static func eventCounts(_ c: EventKit.Client, _ ids: [String]) throws -> [String: Int] {
            var counts: [String: Int] = [:]
            for id in ids { counts[id] = try c.task(id).eventCount }
            return counts
        }

        @Test func eventsOfFinishedTasksArePrunedAndLiveTasksKeepTheirs() throws {
            let daemon = try TestDaemon()
            let c = try EventKit.Client(socket: daemon.socket)
            let done = try c.create("done")
            try c.comment(done.id, "working on it")
            try c.complete(done.id, result: "ok")
            let archived = try c.create("archived")
            try c.comment(archived.id, "dropping this")
            try c.archive(archived.id)
            let ready = try c.create("ready")
            try c.comment(ready.id, "still to do")
            let blocked = try c.create("blocked")
            try c.block(blocked.id, "waiting")
            // A finished task whose notification is not delivered yet keeps the events it must deliver.
            let notified = try c.create("notified")
            try c.complete(notified.id)
            let _: NotifySubscription = try c.call(
                .notifySubscribe,
                NotifySubscribeParams(target: NotifyTarget(taskID: notified.id, platform: "telegram", chatID: "1")))
            let ids = [done.id, archived.id, ready.id, blocked.id, notified.id]
            let before = try GarbageCollection.eventCounts(c, ids)
            #expect(before[done.id] == 3 && before[archived.id] == 3)

            // Default retention (30 days): everything is younger, nothing goes.
            let kept = try EventKit.ctlJSON(daemon, GCResult.self, "gc", "--json")
            #expect(kept.events == 0)
            #expect(try GarbageCollection.eventCounts(c, ids) == before)

            usleep(5_000)
            let pruned = try EventKit.ctlJSON(daemon, GCResult.self, "gc", "--event-retention-days", "0", "--json")
            #expect(!pruned.dryRun)
            #expect(pruned.events == before[done.id]! + before[archived.id]!)
            let after = try GarbageCollection.eventCounts(c, ids)
            #expect(after[done.id] == 0)
            #expect(after[archived.id] == 0)
            #expect(after[ready.id] == before[ready.id])
            #expect(after[blocked.id] == before[blocked.id])
            #expect(after[notified.id] == before[notified.id])
            // The tasks themselves stay.
            #expect(try c.task(done.id).task.status == .done)
            #expect(try c.task(archived.id).task.status == .archived)
            // The remaining history is exactly the live tasks' (and the undelivered notification's).
            let remaining = Set(try c.allEvents().map(\.taskID))
            #expect(remaining == [ready.id, blocked.id, notified.id])
            // New events keep counting up after a prune.
            let last = try c.lastEventID()
            let comment = try c.comment(ready.id, "after gc")
            #expect(comment.taskID == ready.id)
            #expect(try c.lastEventID() == last + 1)
        }

        @Test func onlyOldLogsOfTasksWithoutALiveRunGo() throws {
            let daemon = try TestDaemon(config: "max_concurrent = 0\n")
            let c = try EventKit.Client(socket: daemon.socket)
            let old = try c.create("old log")
            try c.complete(old.id)
            let fresh = try c.create("fresh log")
            try c.complete(fresh.id)
            let running = try c.create("running", assignee: "alice")
            try c.claim(running.id)
            let logs = daemon.home + "/logs"
            let outside = TempDir("kanban-outside")

            let oldLog = "\(logs)/\(old.id).log"
            let oldRotated = "\(logs)/\(old.id).log.1"
            let freshLog = "\(logs)/\(fresh.id).log"
            let runningLog = "\(logs)/\(running.id).log"
            let outsideFile = outside.path + "/precious.log"
            let link = "\(logs)/\(fresh.id).log.2"
            for path in [oldLog, oldRotated, freshLog, runningLog, outsideFile] {
                try GarbageCollection.write(path, "log of \(path)\n")
            }
            #expect(symlink(outsideFile, link) == 0)
            for path in [oldLog, oldRotated, runningLog, outsideFile, link] {
                try EventKit.backdate(path, secondsAgo: GarbageCollection.fortyDays)
            }

            let result = try EventKit.ctlJSON(daemon, GCResult.self, "gc", "--json")
            // (Whether an old link in the logs folder is unlinked is not the point; its target is.)
            #expect(result.logs.filter { $0 != link } == [oldLog, oldRotated].sorted())
            #expect(result.events == 0)
            #expect(result.workspaces.isEmpty)
            #expect(!GarbageCollection.exists(oldLog))
            #expect(!GarbageCollection.exists(oldRotated))
            #expect(GarbageCollection.exists(freshLog))
            #expect(GarbageCollection.exists(runningLog), "the log of a running task is never removed")
            #expect(FileManager.default.fileExists(atPath: outsideFile), "a link's target outside the logs is never removed")

            // A shorter retention takes the fresh one too, but still not the running task's.
            try EventKit.backdate(freshLog, secondsAgo: 3 * 86_400)
            let shorter = try EventKit.ctlJSON(daemon, GCResult.self, "gc", "--log-retention-days", "1", "--json")
            #expect(shorter.logs == [freshLog])
            #expect(GarbageCollection.exists(runningLog))
            #expect(FileManager.default.fileExists(atPath: outsideFile))
        }

        @Test func archivedScratchWorkspacesGoWithoutFollowingLinksOut() throws {
            let daemon = try TestDaemon()
            let c = try EventKit.Client(socket: daemon.socket)
            let archived = try c.create("archived")
            try c.archive(archived.id)
            let linkedAway = try c.create("archived, workspace is a link")
            try c.archive(linkedAway.id)
            let done = try c.create("done")
            try c.complete(done.id)
            let ready = try c.create("ready")
            let root = daemon.home + "/workspaces"

            let outside = TempDir("kanban-outside")
            try GarbageCollection.write(outside.path + "/keep.txt", "keep me")
            try GarbageCollection.write(outside.path + "/sub/deep.txt", "keep me too")
            let outsideTree = GarbageCollection.tree(outside.path)

            let workspace = "\(root)/\(archived.id)"
            try GarbageCollection.write(workspace + "/notes.txt")
            try GarbageCollection.write(workspace + "/src/main.swift")
            #expect(symlink(outside.path, workspace + "/escape-dir") == 0)
            #expect(symlink(outside.path + "/keep.txt", workspace + "/src/escape-file") == 0)
            #expect(symlink(outside.path + "/sub", "\(root)/\(linkedAway.id)") == 0)
            try GarbageCollection.write("\(root)/\(done.id)/result.txt")
            try GarbageCollection.write("\(root)/\(ready.id)/wip.txt")

            let result = try EventKit.ctlJSON(daemon, GCResult.self, "gc", "--json")
            #expect(result.workspaces == [workspace, "\(root)/\(linkedAway.id)"].sorted())
            #expect(!GarbageCollection.exists(workspace))
            #expect(!GarbageCollection.exists("\(root)/\(linkedAway.id)"), "the link itself is removed")
            #expect(GarbageCollection.tree(outside.path) == outsideTree, "nothing outside the root was touched")
            #expect(GarbageCollection.exists("\(root)/\(done.id)/result.txt"), "only archived tasks' workspaces go")
            #expect(GarbageCollection.exists("\(root)/\(ready.id)/wip.txt"))
            #expect(GarbageCollection.exists(root))
        }

        @Test func dryRunChangesNothingAndReportsWhatARealRunRemoves() throws {
            let daemon = try TestDaemon()
            let c = try EventKit.Client(socket: daemon.socket)
            let done = try c.create("done")
            try c.comment(done.id, "one")
            try c.complete(done.id)
            let archived = try c.create("archived")
            try c.archive(archived.id)
            let ready = try c.create("ready")
            try c.comment(ready.id, "live")
            let logs = daemon.home + "/logs"
            let root = daemon.home + "/workspaces"
            let outside = TempDir("kanban-outside")
            try GarbageCollection.write(outside.path + "/keep.txt")
            try GarbageCollection.write("\(logs)/\(done.id).log")
            try GarbageCollection.write("\(logs)/\(ready.id).log")
            try EventKit.backdate("\(logs)/\(done.id).log", secondsAgo: GarbageCollection.fortyDays)
            try GarbageCollection.write("\(root)/\(archived.id)/scratch.txt")
            #expect(symlink(outside.path, "\(root)/\(archived.id)/out") == 0)
            try GarbageCollection.write("\(root)/\(ready.id)/wip.txt")
            usleep(5_000)

            let ids = [done.id, archived.id, ready.id]
            let counts = try GarbageCollection.eventCounts(c, ids)
            let home = GarbageCollection.tree(daemon.home + "/logs") + GarbageCollection.tree(root)
            let outsideTree = GarbageCollection.tree(outside.path)
            let allEvents = try c.allEvents()

            let dry = try EventKit.ctlJSON(
                daemon, GCResult.self, "gc", "--dry-run", "--event-retention-days", "0", "--json")
            #expect(dry.dryRun)
            #expect(dry.events == counts[done.id]! + counts[archived.id]!)
            #expect(dry.logs == ["\(logs)/\(done.id).log"])
            #expect(dry.workspaces == ["\(root)/\(archived.id)"])
            let dryText = daemon.ctl("gc", "--dry-run", "--event-retention-days", "0")
            #expect(dryText.code == 0)
            #expect(dryText.stdout.contains("workspace would remove: \(root)/\(archived.id)"))
            #expect(dryText.stdout.contains("log would remove: \(logs)/\(done.id).log"))
            #expect(dryText.stdout.contains("GC dry run: 1 workspace(s), \(dry.events) event row(s), 1 log file(s)"))

            // Nothing changed: files, links, events.
            #expect(GarbageCollection.tree(daemon.home + "/logs") + GarbageCollection.tree(root) == home)
            #expect(GarbageCollection.tree(outside.path) == outsideTree)
            #expect(try GarbageCollection.eventCounts(c, ids) == counts)
            #expect(try c.allEvents() == allEvents)

            // The real run removes exactly what the dry run reported.
            let real = daemon.ctl("gc", "--event-retention-days", "0")
            #expect(real.code == 0)
            #expect(real.stdout.contains("workspace removed: \(root)/\(archived.id)"))
            #expect(real.stdout.contains("log removed: \(logs)/\(done.id).log"))
            #expect(
                real.stdout.contains(
                    "GC complete: 1 workspace(s), \(dry.events) event row(s), 1 log file(s) removed"), "\(real.stdout)")
            #expect(!GarbageCollection.exists("\(root)/\(archived.id)"))
            #expect(!GarbageCollection.exists("\(logs)/\(done.id).log"))
            #expect(GarbageCollection.exists("\(logs)/\(ready.id).log"))
            #expect(GarbageCollection.exists("\(root)/\(ready.id)/wip.txt"))
            #expect(GarbageCollection.tree(outside.path) == outsideTree)
            #expect(try GarbageCollection.eventCounts(c, ids) == [done.id: 0, archived.id: 0, ready.id: counts[ready.id]!])

            let again = daemon.ctl("gc", "--event-retention-days", "0")
            #expect(again.stdout.contains("GC complete: 0 workspace(s), 0 event row(s), 0 log file(s) removed"))
            #expect(daemon.ctl("gc", "--event-retention-days", "-1").code == 2)
        }
    }
}
