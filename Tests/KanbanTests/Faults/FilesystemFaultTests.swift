import Foundation
import KanbanClient
import KanbanProtocol
import Testing

/// A small tmpfs mounted for one test (we run as root in CI); unmounted at deinit.
final class SmallFilesystem {
    let path: String
    private let dir: TempDir

    init?(megabytes: Int) {
        dir = TempDir("kanban-fs")
        path = dir.path + "/mnt"
        try? FileManager.default.createDirectory(atPath: path, withIntermediateDirectories: true)
        let result = runProcess("/bin/mount", ["-t", "tmpfs", "-o", "size=\(megabytes)m", "tmpfs", path], environment: [:])
        if result.code != 0 { return nil }
    }

    func remount(readOnly: Bool) -> Bool {
        runProcess("/bin/mount", ["-o", "remount,\(readOnly ? "ro" : "rw")", path], environment: [:]).code == 0
    }

    deinit {
        _ = runProcess("/bin/umount", ["-l", path], environment: [:])
    }
}

extension Processes {
    @Suite struct FilesystemFaults {
        /// A full disk: writes are refused with kind `unavailable` and change nothing, reads keep
        /// working, the daemon stays up, and writes succeed again once space is freed.
        @Test func fullDiskRefusesWritesAndRecovers() throws {
            guard let fs = SmallFilesystem(megabytes: 3) else {
                Issue.record("cannot mount a tmpfs here (needs root); the full-disk fault cannot be simulated")
                return
            }
            let home = fs.path + "/board"
            try FileManager.default.createDirectory(atPath: home, withIntermediateDirectories: true)
            let daemon = try TestDaemon(start: false)
            try daemon.start(arguments: ["--home", home, "--socket", daemon.socket])
            var env = daemon.environment
            env["KANBAN_HOME"] = home
            env["KANBAN_SOCKET"] = daemon.socket
            let client = try KanbanClient(socket: daemon.socket)
            // Fill most of the disk with a file we can delete later.
            let filler = fs.path + "/filler"
            _ = FileManager.default.createFile(atPath: filler, contents: Data(count: 2 * 1024 * 1024))
            var acknowledged: [String] = []
            var refusal: KanbanError?
            let body = String(repeating: "b", count: 32 * 1024)
            for index in 0..<200 {
                let outcome = Result { () throws(ClientError) -> CreateResult in
                    try client.call(.taskCreate, CreateParams(title: "fill \(index)", body: body))
                }
                switch outcome {
                case .success(let created): acknowledged.append(created.task.id)
                case .failure(let error):
                    if case .server(let kanbanError) = error { refusal = kanbanError }
                }
                if refusal != nil { break }
            }
            #expect(refusal?.kind == .unavailable, "writes on a full disk should be refused as unavailable, got \(String(describing: refusal))")
            // The CLI says so clearly, with exit 1; reads still work.
            let cli = runProcess(Binaries.kanbanctl, ["create", "one more", "--body", body], environment: env)
            #expect(cli.code == 1)
            #expect(cli.stderr.contains("cannot take writes"))
            let list: TaskListResult = try client.call(.taskList, ListParams())
            #expect(list.tasks.count == acknowledged.count)
            // Free the space: writes work again.
            try FileManager.default.removeItem(atPath: filler)
            let after: CreateResult = try client.call(.taskCreate, CreateParams(title: "after the disk was freed"))
            acknowledged.append(after.task.id)
            #expect(daemon.stop() == 0)
            #expect(integrityCheck(home + "/kanban.db") == "ok")
            try daemon.start(arguments: ["--home", home, "--socket", daemon.socket])
            let again = try KanbanClient(socket: daemon.socket)
            for id in acknowledged {
                let detail: TaskDetail = try again.call(.taskGet, GetParams(id: id, events: 0))
                #expect(detail.task.id == id)
            }
            daemon.stop()
            print("fault suite: full disk — \(acknowledged.count) acknowledged writes kept, refusal kind \(refusal?.kind.rawValue ?? "none")")
        }

        /// A database on a read-only filesystem: kanband refuses to start with a clear message and
        /// changes nothing; once the filesystem is writable again it starts with the data intact.
        @Test func readOnlyDatabaseIsAClearErrorAndRecovers() throws {
            guard let fs = SmallFilesystem(megabytes: 8) else {
                Issue.record("cannot mount a tmpfs here (needs root); the read-only fault cannot be simulated")
                return
            }
            let home = fs.path + "/board"
            try FileManager.default.createDirectory(atPath: home, withIntermediateDirectories: true)
            let daemon = try TestDaemon(start: false)
            let socket = daemon.socket
            try daemon.start(arguments: ["--home", home, "--socket", socket])
            let created: CreateResult = try KanbanClient(socket: socket).call(.taskCreate, CreateParams(title: "kept"))
            #expect(daemon.stop() == 0)
            #expect(fs.remount(readOnly: true))
            var env = daemon.environment
            env["KANBAN_HOME"] = home
            let refused = runProcess(
                Binaries.kanband, ["--home", home, "--socket", socket, "--pidfile", daemon.home + "/k.pid"],
                environment: env, timeout: 10)
            #expect(refused.code != 0)
            #expect(refused.stderr.contains("kanband:"))
            #expect(refused.stderr.contains("is not writable (Read-only file system)"), "message should say why: \(refused.stderr)")
            #expect(fs.remount(readOnly: false))
            try daemon.start(arguments: ["--home", home, "--socket", socket])
            let detail: TaskDetail = try KanbanClient(socket: socket).call(.taskGet, GetParams(id: created.task.id, events: 0))
            #expect(detail.task.title == "kept")
            daemon.stop()
            #expect(integrityCheck(home + "/kanban.db") == "ok")
        }
    }
}
