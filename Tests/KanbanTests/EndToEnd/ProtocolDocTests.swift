import Foundation
import KanbanProtocol
import Testing

extension Processes {
    /// docs/PROTOCOL.md is enough to write a client: its example client, run as it is printed
    /// there, drives a live daemon; and the document names every method, error kind and event kind.
    @Suite struct ProtocolDoc {
        @Test func exampleClientDrivesALiveDaemon() throws {
            let python = try #require(WireTest.python3, "python3 is needed to run the example client")
            let daemon = try TestDaemon()
            let run = runProcess(python, [WireTest.exampleClient], environment: daemon.environment, timeout: 15)
            #expect(run.code == 0, "example client failed: \(run.stderr)")
            let lines = run.stdout.split(separator: "\n").map { $0.split(separator: " ").map(String.init) }
            let hello = try #require(lines.first, "no output: \(run.stderr)")
            #expect(hello.count == 3 && hello[0] == "hello" && hello[2] == ProtocolVersion.string, "\(hello)")

            let created = try #require(lines.first { $0.first == "created" }, "no task created: \(run.stdout)")
            let id = created[1]
            #expect(id.hasPrefix("t_"))
            #expect(created[2] == "ready")
            #expect(lines.contains { $0.first == "ready" && $0.count > 1 && $0[1] == id }, "\(run.stdout)")
            #expect(lines.contains(["completed", id, "done"]))
            let error = try #require(lines.first { $0.first == "error" }, "no error reported: \(run.stdout)")
            #expect(error[1] == "-32000")
            #expect(error[2] == "invalid_transition")

            // The board agrees with what the script printed.
            let task = try daemon.task(id)
            #expect(task.status == .done)
            #expect(task.result == "report written")
            #expect(task.body == "two pages")
        }

        @Test func exampleClientFindsTheSocketFromKanbanSocket() throws {
            let python = try #require(WireTest.python3)
            let daemon = try TestDaemon()
            var env = daemon.environment
            env["KANBAN_HOME"] = "/nonexistent"
            env["KANBAN_SOCKET"] = daemon.socket
            let run = runProcess(python, [WireTest.exampleClient], environment: env, timeout: 15)
            #expect(run.code == 0, "\(run.stderr)")
            #expect(run.stdout.contains("error -32000 invalid_transition"))
        }

        @Test func documentEmbedsTheExampleClientVerbatim() throws {
            let doc = try String(contentsOfFile: WireTest.protocolDoc, encoding: .utf8)
            let script = try String(contentsOfFile: WireTest.exampleClient, encoding: .utf8)
            #expect(doc.contains("```python\n" + script + "```"), "docs/PROTOCOL.md must embed \(WireTest.exampleClient) verbatim")
        }

        @Test func documentNamesEveryMethodErrorKindAndEventKind() throws {
            let doc = try String(contentsOfFile: WireTest.protocolDoc, encoding: .utf8)
            for method in Method.allCases {
                #expect(doc.contains("### \(method.rawValue)") || doc.contains("/ \(method.rawValue)"), "method \(method.rawValue) is not documented")
            }
            for kind in ErrorKind.allCases {
                #expect(doc.contains("`\(kind.rawValue)`"), "error kind \(kind.rawValue) is not documented")
            }
            let eventKinds = [
                EventKind.created, EventKind.assigned, EventKind.linked, EventKind.unlinked, EventKind.commented,
                EventKind.promoted, EventKind.claimed, EventKind.heartbeat, EventKind.spawned,
                EventKind.completed, EventKind.blocked, EventKind.unblocked, EventKind.archived, EventKind.reclaimed,
                EventKind.crashed, EventKind.exitedWithoutResult, EventKind.timedOut, EventKind.spawnFailed,
                EventKind.gaveUp, EventKind.adopted,
            ]
            for kind in eventKinds {
                #expect(doc.contains("`\(kind)`"), "event kind \(kind) is not documented")
            }
            for variable in [
                WorkerEnvironment.taskID, WorkerEnvironment.runID, WorkerEnvironment.socket,
                WorkerEnvironment.workspace, WorkerEnvironment.assignee, WorkerEnvironment.tenant,
            ] {
                #expect(doc.contains("`\(variable)`"), "worker variable \(variable) is not documented")
            }
            for push in [PushMethod.event, PushMethod.overflow] {
                #expect(doc.contains(push), "push \(push) is not documented")
            }
        }
    }
}
