import Foundation
import KanbanProtocol
import Testing

extension Processes {
    /// kanband dies and comes back while its workers live on in their own sessions.
    @Suite struct Restart {
        @Test func restartReadoptsALiveWorker() throws {
            // Sleeps through the daemon's crash and restart, then completes (retrying while the
            // socket may still be down).
            let script = """
                sleep 1.5
                for i in 1 2 3 4 5 6 7 8 9 10; do
                  kanbanctl complete --result adopted > /dev/null && exit 0
                  sleep 0.2
                done
                exit 9
                """
            let daemon = try TestDaemon(config: DispatchKit.config("interval = 60", DispatchKit.shellWorker("w", script)))
            defer { DispatchKit.shutdown(daemon) }
            let id = try daemon.create("outlives its daemon", "--assignee", "w")
            let (run, pid) = try DispatchKit.waitForWorker(daemon, id)
            DispatchKit.crashDaemon(daemon)
            #expect(DispatchKit.isAlive(pid), "the worker died with its daemon")
            try daemon.start()

            let adopted = try DispatchKit.events(daemon, id).first { $0.kind == "adopted" }
            #expect(adopted != nil, "\(daemon.daemonLog)")
            #expect(adopted?.runID == run)
            #expect(adopted?.payload?["pid"]?.intValue == Int64(pid))
            #expect(try daemon.task(id).status == .running)

            #expect(eventually(timeout: 6) { (try? daemon.task(id).status) == .done }, "\(daemon.daemonLog)")
            let detail = try daemon.detail(id)
            #expect(detail.task.result == "adopted")
            #expect(detail.runs.count == 1)
            #expect(detail.runs.first?.outcome == "completed")
            #expect(!detail.events.contains { $0.kind == "crashed" || $0.kind == "reclaimed" })
            // Once the adopted worker exits, the daemon notices (no waitpid: it is not its child).
            #expect(eventually(timeout: 2) { (try? DispatchKit.runs(daemon, id).first?.endedAt) != nil })
            #expect(try daemon.detail(id).task.consecutiveFailures == 0)
        }

        @Test func workerThatDiedWhileTheDaemonWasDownIsCrashed() throws {
            let daemon = try TestDaemon(config: DispatchKit.config("interval = 60", DispatchKit.shellWorker("w", "exec sleep 30")))
            defer { DispatchKit.shutdown(daemon) }
            let id = try daemon.create("dies alone", "--assignee", "w")
            let (run, pid) = try DispatchKit.waitForWorker(daemon, id)
            DispatchKit.crashDaemon(daemon)
            #expect(kill(pid, SIGKILL) == 0)
            #expect(eventually(timeout: 2) { !DispatchKit.isAlive(pid) })
            try daemon.start()

            let detail = try daemon.detail(id)
            let record = detail.runs.first { $0.id == run }
            #expect(record?.outcome == "crashed", "\(daemon.daemonLog)")
            #expect(record?.endedAt != nil)
            let crashed = detail.events.first { $0.kind == "crashed" && $0.runID == run }
            #expect(crashed != nil)
            #expect(crashed?.payload?["error"]?.stringValue?.contains("not running") == true)
            #expect(crashed?.payload?["failures"]?.intValue == 1)
            #expect(!detail.events.contains { $0.kind == "adopted" })
            // The task is no longer held by the dead run (it may already be running again).
            #expect(detail.task.currentRunID != run)
        }
    }
}
