import Foundation
import GRDB
import KanbanProtocol

/// Prunes what finished tasks leave behind: old events of done/archived tasks, old worker logs and
/// the scratch workspaces of archived tasks. Nothing of a live task is touched, and removal never
/// leaves the workspaces root: symlinks are removed as links, never followed.
struct GarbageCollector: Sendable {
    let board: Board
    let locations: Locations
    let logs: WorkerLogs

    func run(eventRetentionDays: Double, logRetentionDays: Double, dryRun: Bool, liveTasks: Set<String>) async throws
        -> GCResult
    {
        guard eventRetentionDays >= 0, logRetentionDays >= 0 else {
            throw KanbanError.invalidArgument("retention days must not be negative")
        }
        let now = board.clock.nowMillis()
        let eventCutoff = now - Int64(eventRetentionDays * 86_400_000)
        let condition = """
            created_at < ? AND task_seq IN (
                SELECT seq FROM tasks WHERE status IN ('done', 'archived') AND id NOT IN (SELECT task_id FROM notify_subs))
            """
        let events: Int
        if dryRun {
            events = try await board.bulkRead { db in
                try Int.fetchOne(cached: db, sql: "SELECT count(*) FROM events WHERE \(condition)", arguments: [eventCutoff]) ?? 0
            }
        } else {
            events = try await board.write { db, _ in
                try db.run(sql: "DELETE FROM events WHERE \(condition)", arguments: [eventCutoff])
                return db.changesCount
            }
        }
        // Statuses decide what may go: logs of finished (done/archived) or deleted tasks only — a
        // blocked or ready task's log is still its diagnosis — and workspaces of archived ones.
        let statuses = try await board.bulkRead { db in
            try Dictionary(
                uniqueKeysWithValues: Row.fetchAll(cached: db, sql: "SELECT id, status FROM tasks").map {
                    ($0[0] as String, $0[1] as String)
                })
        }
        let logCutoff = Date(timeIntervalSince1970: Double(now) / 1000 - logRetentionDays * 86_400)
        var removedLogs: [String] = []
        let fm = FileManager.default
        for name in (try? fm.contentsOfDirectory(atPath: logs.directory)) ?? [] {
            guard let dot = name.firstIndex(of: ".") else { continue }
            let taskID = String(name[..<dot])
            if liveTasks.contains(taskID) { continue }
            if let status = statuses[taskID], status != TaskStatus.done.rawValue, status != TaskStatus.archived.rawValue {
                continue
            }
            let path = Locations.join(logs.directory, name)
            guard let attributes = try? fm.attributesOfItem(atPath: path),
                attributes[.type] as? FileAttributeType == .typeRegular,
                let modified = attributes[.modificationDate] as? Date, modified < logCutoff
            else { continue }
            if !dryRun { try? fm.removeItem(atPath: path) }
            removedLogs.append(path)
        }
        var removedWorkspaces: [String] = []
        let root = locations.workspacesDirectory
        for name in (try? fm.contentsOfDirectory(atPath: root)) ?? [] {
            guard statuses[name] == TaskStatus.archived.rawValue, !liveTasks.contains(name) else { continue }
            let path = Locations.join(root, name)
            if !dryRun { GarbageCollector.removeTree(path) }
            removedWorkspaces.append(path)
        }
        return GCResult(dryRun: dryRun, events: events, logs: removedLogs.sorted(), workspaces: removedWorkspaces.sorted())
    }

    /// Removes `path` and everything under it without following any symbolic link: a link is
    /// unlinked itself, so a link pointing outside the tree can never lead the removal there.
    static func removeTree(_ path: String) {
        var info = stat()
        guard lstat(path, &info) == 0 else { return }
        if (info.st_mode & S_IFMT) == S_IFDIR {
            if let entries = try? FileManager.default.contentsOfDirectory(atPath: path) {
                for entry in entries { removeTree(Locations.join(path, entry)) }
            }
            rmdir(path)
        } else {
            unlink(path)
        }
    }
}
