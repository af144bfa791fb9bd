import Foundation
import KanbanClient
import KanbanProtocol
import Testing

extension Processes {
    /// The daemon as a process: single-instance lock, crash recovery, clean stop, socket
    /// activation, socket permissions and the peer-uid check.
    @Suite struct DaemonLifecycle {
        @Test func aSecondDaemonOnTheSameHomeIsRefusedAndNamesTheRunningPid() throws {
            let daemon = try TestDaemon()
            let id = try daemon.create("owned by the first daemon")
            let second = runProcess(Binaries.kanband, ["--home", daemon.home], environment: daemon.environment, timeout: 15)
            #expect(second.code != 0)
            #expect(second.stderr.contains("pid \(daemon.pid)"), "stderr: \(second.stderr)")
            #expect(second.stderr.contains(daemon.home + "/kanband.pid"), "stderr: \(second.stderr)")

            // Its own pidfile elsewhere does not let it take over the socket either.
            let other = runProcess(
                Binaries.kanband, ["--home", daemon.home, "--pidfile", daemon.home + "/other.pid"],
                environment: daemon.environment, timeout: 15)
            #expect(other.code != 0)
            #expect(other.stderr.contains("already"), "stderr: \(other.stderr)")

            // The first one is untouched: same pid in the pidfile, still serving.
            let pidfile = try String(contentsOfFile: daemon.home + "/kanband.pid", encoding: .utf8)
            #expect(pidfile.trimmingCharacters(in: .whitespacesAndNewlines) == "\(daemon.pid)")
            let status: StatusResult = try daemon.client().call(.systemStatus, Empty())
            #expect(status.pid == daemon.pid)
            #expect(try daemon.task(id).title == "owned by the first daemon")
        }

        @Test func afterSIGKILLANewDaemonRecoversTheStalePidfileAndSocket() throws {
            let daemon = try TestDaemon()
            let done = try daemon.create("finished before the crash")
            #expect(daemon.ctl("complete", done, "--result", "kept").code == 0)
            let waiting = try daemon.create("waiting", "--parent", try daemon.create("parent"))
            let oldPid = daemon.pid
            daemon.crash()
            #expect(WireTest.exists(daemon.home + "/kanband.pid"), "SIGKILL cannot remove the pidfile")
            #expect(WireTest.exists(daemon.socket), "SIGKILL cannot remove the socket")
            #expect((try? KanbanClient(socket: daemon.socket)) == nil, "nothing should answer on a dead socket")

            try daemon.start()
            #expect(daemon.pid != oldPid)
            let pidfile = try String(contentsOfFile: daemon.home + "/kanband.pid", encoding: .utf8)
            #expect(pidfile.trimmingCharacters(in: .whitespacesAndNewlines) == "\(daemon.pid)")
            #expect(try daemon.task(done).status == .done)
            #expect(try daemon.task(done).result == "kept")
            #expect(try daemon.task(waiting).status == .todo)
            #expect(try daemon.create("after the restart").hasPrefix("t_"))
        }

        @Test func sigtermStopsPromptlyWithStatusZeroAndRemovesSocketAndPidfile() throws {
            let daemon = try TestDaemon()
            let id = try daemon.create("survives a clean stop")
            let idle = try WirePeer(daemon.socket)
            _ = try idle.call("task.list")
            let process = try #require(daemon.process)
            kill(process.processIdentifier, SIGTERM)
            let prompt = eventually(timeout: 3) { !process.isRunning }
            #expect(prompt, "kanband took more than 3 s to stop on SIGTERM with only an idle connection open")
            let status = daemon.stop()
            #expect(status == 0)
            #expect(process.terminationReason == .exit)
            #expect(!WireTest.exists(daemon.socket), "socket left behind after SIGTERM")
            #expect(!WireTest.exists(daemon.home + "/kanband.pid"), "pidfile left behind after SIGTERM")
            #expect(try idle.receive() == nil, "an idle connection should see EOF")

            try daemon.start()
            #expect(try daemon.task(id).title == "survives a clean stop")
        }

        /// A SIGTERM at any moment of startup — before the socket is bound, while the database
        /// opens or the dispatcher recovers, or just after — stops kanband promptly.
        @Test func sigtermDuringStartupStopsPromptly() throws {
            let daemon = try TestDaemon(start: false)
            var hung: [Double] = []
            // Every half millisecond across the first 60 ms: the window between installing the
            // signal handlers and serving the socket is about a millisecond wide.
            for step in 0..<120 {
                let delay = Double(step) / 2
                let process = Process()
                process.executableURL = URL(fileURLWithPath: Binaries.kanband)
                process.arguments = ["--home", daemon.home]
                process.environment = daemon.environment
                process.standardOutput = FileHandle.nullDevice
                process.standardError = FileHandle.nullDevice
                try process.run()
                usleep(UInt32(delay * 1000))
                kill(process.processIdentifier, SIGTERM)
                if !eventually(timeout: 5, { !process.isRunning }) {
                    hung.append(delay)
                    kill(process.processIdentifier, SIGKILL)
                }
                process.waitUntilExit()
            }
            #expect(hung.isEmpty, "kanband hung after a SIGTERM \(hung) ms into its startup")
        }

        /// A reply larger than the socket buffer, still being written when SIGTERM arrives, reaches
        /// the client whole before the connection closes (a plain close cut it at ~200 KiB).
        @Test func sigtermDeliversAReplyStillBeingWrittenWhole() throws {
            let daemon = try TestDaemon()
            let client = try daemon.client()
            let title = String(repeating: "a long title ", count: 40)
            for i in 0..<3000 {
                let _: CreateResult = try client.call(.taskCreate, CreateParams(title: "\(i) \(title)"))
            }
            let peer = try WirePeer(daemon.socket)
            try peer.send(#"{"jsonrpc":"2.0","id":1,"method":"task.list","params":{"limit":3000}}"#)
            // The reply (~1.6 MB) is produced and mostly waiting in kanband's buffers: the peer reads nothing yet.
            usleep(500_000)
            let process = try #require(daemon.process)
            kill(process.processIdentifier, SIGTERM)
            usleep(100_000)
            let reply = try #require(try peer.receive(), "the reply was cut off")
            let tasks = (reply["result"] as? [String: Any])?["tasks"] as? [Any]
            #expect(tasks?.count == 3000)
            #expect(try peer.receive() == nil, "then EOF")
            #expect(eventually(timeout: 5) { !process.isRunning })
        }

        /// A client that shuts down its writing side after a request (a one-shot script) still gets
        /// the reply, then EOF; the write it asked for happened exactly once.
        @Test func aHalfClosedClientGetsItsReply() throws {
            let daemon = try TestDaemon()
            let peer = try WirePeer(daemon.socket)
            try peer.send(#"{"jsonrpc":"2.0","id":7,"method":"task.create","params":{"title":"one-shot"}}"#)
            #expect(shutdown(peer.connection.descriptor, Int32(SHUT_WR)) == 0)
            let reply = try #require(try peer.receive(), "no reply after the half-close")
            #expect(Reply.idText(reply) == "7")
            #expect(((reply["result"] as? [String: Any])?["task"] as? [String: Any])?["title"] as? String == "one-shot")
            #expect(try peer.receive() == nil)
            let client = try daemon.client()
            let list: TaskListResult = try client.call(.taskList, ListParams())
            #expect(list.tasks.map(\.title) == ["one-shot"])
            // A reply far larger than the socket buffer arrives whole too.
            let title = String(repeating: "a long title ", count: 40)
            for i in 0..<2000 {
                let _: CreateResult = try client.call(.taskCreate, CreateParams(title: "\(i) \(title)"))
            }
            let big = try WirePeer(daemon.socket)
            try big.send(#"{"jsonrpc":"2.0","id":8,"method":"task.list","params":{"limit":3000}}"#)
            #expect(shutdown(big.connection.descriptor, Int32(SHUT_WR)) == 0)
            usleep(300_000)  // kanband has seen the half-close before the client reads anything
            let whole = try #require(try big.receive(), "the large reply was cut")
            #expect(((whole["result"] as? [String: Any])?["tasks"] as? [Any])?.count == 2001)
            #expect(try big.receive() == nil)
        }

        @Test func sigtermLetsABusyConnectionFinishItsRequestAndKeepsEveryAnsweredWrite() throws {
            let daemon = try TestDaemon()
            let peer = try WirePeer(daemon.socket)
            var bytes: [UInt8] = []
            for index in 1...2000 {
                let body = #"{"jsonrpc":"2.0","id":\#(index),"method":"task.create","params":{"title":"p\#(index)"}}"#
                bytes += Framing.frame(Array(body.utf8))
            }
            try peer.sendRaw(bytes)
            // Wait for the first reply so the connection is mid-stream, then ask kanband to stop.
            var answered: [String] = []
            let first = try #require(try peer.receive())
            answered.append(try #require((Reply.result(first)?["task"] as? [String: Any])?["id"] as? String))
            let process = try #require(daemon.process)
            kill(process.processIdentifier, SIGTERM)
            // The connection gets whole replies up to the request it was handling, then EOF — or
            // a reset, since the kernel resets a socket closed with requests still unread in it.
            // A request that would start after shutdown began is not run and says so.
            var refused: [String] = []
            while let reply = (try? peer.receive()) ?? nil {
                if Reply.kind(reply) == "unavailable" {
                    refused.append(Reply.idText(reply) ?? "")
                    continue
                }
                let id = try #require((Reply.result(reply)?["task"] as? [String: Any])?["id"] as? String, "\(reply)")
                answered.append(id)
            }
            #expect(answered.count < 2000, "shutdown should not wait for the rest of the pipeline")
            let stopped = eventually(timeout: 5) { !process.isRunning }
            #expect(stopped)
            #expect(daemon.stop() == 0)
            try daemon.start()
            let client = try daemon.client()
            for id in answered {
                let task: TaskDetail = try client.call(.taskGet, GetParams(id: id, events: 0))
                #expect(task.task.id == id)
            }
            let titles = Set((try client.call(.taskList, ListParams(limit: 5000)) as TaskListResult).tasks.map(\.title))
            for id in refused { #expect(!titles.contains("p\(id)"), "request \(id) was refused but ran") }
        }

        @Test func socketActivationServesTheInheritedSocket() throws {
            guard let activator = WireTest.which("systemd-socket-activate") else {
                Issue.record(
                    "systemd-socket-activate is not installed: install the Debian package 'systemd' (.ci/run does)")
                return
            }
            let daemon = try TestDaemon(start: false)
            // Not Foundation's Process: see SpawnedProcess for why.
            let launched = try SpawnedProcess(
                activator, ["-l", daemon.socket, Binaries.kanband, "--home", daemon.home],
                environment: daemon.environment, logPath: daemon.home + "/activate.out")
            // systemd-socket-activate binds at once and execs kanband at the first connection.
            #expect(eventually { WireTest.exists(daemon.socket) }, "no socket: \(launched.log)")
            let created = daemon.ctl("create", "via the inherited socket", "--json")
            #expect(created.code == 0, "create failed: \(created.stderr)\n\(launched.log)")
            #expect(daemon.ctl("list").stdout.contains("via the inherited socket"))

            let status: StatusResult = try daemon.client().call(.systemStatus, Empty())
            #expect(status.pid == launched.pid, "kanband should run in the activator's process (exec)")
            #expect(status.socket == daemon.socket)
            #expect(launched.log.contains("socket-activated"), "\(launched.log)")
            #expect(WireTest.exists(daemon.home + "/kanband.pid"), "the single-instance lock applies too")
            launched.kill()
            launched.wait()
        }

        @Test func socketIsPrivateToItsOwner() throws {
            let scratch = try TestDaemon(start: false)
            let home = scratch.home + "/fresh-home"
            let runDir = scratch.home + "/run/kanban"
            let socket = runDir + "/kanband.sock"
            let daemon = try LaunchedProcess(
                Binaries.kanband, ["--home", home, "--socket", socket], environment: scratch.environment,
                logPath: scratch.home + "/kanband-modes.out")
            #expect(daemon.waitUntilServing(socket), "\(daemon.log)")

            let socketMode = try #require(WireTest.mode(socket))
            #expect(socketMode & S_IFMT == S_IFSOCK)
            #expect(socketMode & 0o777 == 0o600, "socket mode is \(String(socketMode & 0o777, radix: 8))")
            let dirMode = try #require(WireTest.mode(runDir))
            #expect(dirMode & 0o777 == 0o700, "socket directory mode is \(String(dirMode & 0o777, radix: 8))")
            let pidMode = try #require(WireTest.mode(runDir + "/kanband.pid"), "pidfile is not beside the socket")
            #expect(pidMode & 0o077 == 0, "pidfile mode is \(String(pidMode & 0o777, radix: 8))")
            let homeMode = try #require(WireTest.mode(home))
            #expect(homeMode & 0o777 == 0o700, "home mode is \(String(homeMode & 0o777, radix: 8))")
            let status: StatusResult = try KanbanClient(socket: socket).call(.systemStatus, Empty())
            #expect(status.socket == socket)
            #expect(status.home == home)
        }

        @Test func defaultHomeUsesTheRuntimeDirectoryForItsSocket() throws {
            let scratch = try TestDaemon(start: false)
            var env = scratch.environment
            env["KANBAN_HOME"] = nil
            env["HOME"] = scratch.home + "/user"
            env["XDG_RUNTIME_DIR"] = scratch.home + "/xdg"
            try FileManager.default.createDirectory(atPath: scratch.home + "/xdg", withIntermediateDirectories: true)
            let daemon = try LaunchedProcess(
                Binaries.kanband, [], environment: env, logPath: scratch.home + "/kanband-xdg.out")
            let socket = scratch.home + "/xdg/kanban/kanband.sock"
            #expect(daemon.waitUntilServing(socket), "\(daemon.log)")
            let dirMode = try #require(WireTest.mode(scratch.home + "/xdg/kanban"))
            #expect(dirMode & 0o777 == 0o700)
            #expect(WireTest.exists(scratch.home + "/xdg/kanban/kanband.pid"))
            #expect(WireTest.exists(scratch.home + "/user/.local/state/kanban/kanban.db"))
            // kanbanctl resolves the same place from the same environment.
            let created = runProcess(Binaries.kanbanctl, ["create", "found by XDG_RUNTIME_DIR"], environment: env, timeout: 15)
            #expect(created.code == 0, "\(created.stderr)")
        }

        @Test(.enabled(if: getuid() == 0 && WireTest.which("setpriv") != nil && WireTest.python3 != nil))
        func anotherUIDIsRefusedWithPermissionDenied() throws {
            let daemon = try TestDaemon()
            // Open the file modes wide, so that only the peer-uid check stands in the way.
            #expect(chmod(daemon.home, 0o755) == 0)
            #expect(chmod(daemon.socket, 0o666) == 0)
            let script = """
                import json, socket, struct, sys
                s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
                s.connect(sys.argv[1])
                body = json.dumps({"jsonrpc": "2.0", "id": 1, "method": "task.create", "params": {"title": "intruder"}}).encode()
                try:
                    s.sendall(struct.pack(">I", len(body)) + body)
                except OSError:
                    pass
                def read(n):
                    data = b""
                    while len(data) < n:
                        try:
                            chunk = s.recv(n - len(data))
                        except ConnectionResetError:  # closed with our request still unread
                            chunk = b""
                        if not chunk: return None
                        data += chunk
                    return data
                header = read(4)
                print(read(struct.unpack(">I", header)[0]).decode() if header else "no reply")
                print("closed" if read(1) is None else "open")
                """
            let nobody = runProcess(
                "/usr/bin/setpriv",
                ["--reuid=65534", "--regid=65534", "--clear-groups", WireTest.python3!, "-c", script, daemon.socket],
                environment: ["PATH": "/usr/bin:/bin", "LANG": "C.UTF-8"], timeout: 15)
            #expect(nobody.code == 0, "client as uid 65534 failed: \(nobody.stderr)")
            let lines = nobody.stdout.split(separator: "\n").map(String.init)
            let reply = try #require(
                lines.first.flatMap { try? JSONSerialization.jsonObject(with: Data($0.utf8)) as? [String: Any] },
                "no JSON reply: \(nobody.stdout) \(nobody.stderr)")
            #expect(Reply.code(reply) == -32000)
            #expect(Reply.kind(reply) == "permission_denied")
            #expect(Reply.isNullID(reply))
            #expect(lines.last == "closed")
            // The request was not executed, and the owner is still served.
            let list: TaskListResult = try daemon.client().call(.taskList, ListParams(archived: true))
            #expect(list.tasks.isEmpty)
            #expect(daemon.daemonLog.contains("refused connection from uid 65534"))
        }
    }
}
