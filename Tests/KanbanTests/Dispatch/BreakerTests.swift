import Foundation
import KanbanProtocol
import Testing

extension Processes {
    /// The circuit breaker: consecutive failures block a task at exactly the limit; success and
    /// a manual unblock reset the count.
    @Suite struct Breaker {
        @Test func missingExecutableTripsTheBreakerAtExactlyTheLimit() throws {
            let daemon = try TestDaemon(
                config: """
                    interval = 0.2
                    retry_delay = 0.2
                    failure_limit = 3

                    [workers.w]
                    command = ["/nonexistent/kanban-worker", "{task_id}"]
                    """)
            defer { DispatchKit.shutdown(daemon) }
            let id = try daemon.create("cannot start", "--assignee", "w")
            #expect(eventually { (try? daemon.task(id).status) == .blocked }, "\(daemon.daemonLog)")
            // Several more ticks pass: a blocked task is not retried.
            usleep(700_000)
            let detail = try daemon.detail(id)
            let failed = detail.events.filter { $0.kind == "spawn_failed" }
            #expect(failed.count == 3, "\(detail.events.map(\.kind))")
            #expect(failed.map { $0.payload?["failures"]?.intValue } == [1, 2, 3])
            let gaveUp = detail.events.filter { $0.kind == "gave_up" }
            #expect(gaveUp.count == 1)
            #expect(gaveUp.first?.payload?["failures"]?.intValue == 3)
            #expect(gaveUp.first?.payload?["limit"]?.intValue == 3)
            #expect(gaveUp.first?.payload?["error"]?.stringValue?.contains("/nonexistent/kanban-worker") == true)
            #expect(detail.events.last?.kind == "gave_up")
            #expect(detail.task.status == .blocked)
            #expect(detail.task.consecutiveFailures == 3)
            #expect(detail.task.lastFailureError?.contains("executable not found") == true)
            #expect(detail.task.blockReason?.contains("gave up after 3") == true)
            #expect(detail.runs.count == 3)
            #expect(detail.runs.allSatisfy { $0.outcome == "spawn_failed" && $0.pid == nil })

            let show = daemon.ctl("show", id)
            #expect(show.code == 0)
            #expect(show.stdout.contains("failures:  3"), "\(show.stdout)")
            #expect(show.stdout.contains("executable not found: /nonexistent/kanban-worker"))
        }

        @Test func successResetsTheFailureCount() throws {
            // Fails twice (exit 3), then completes.
            let script = """
                n=$(cat "$KANBAN_HOME/attempts" 2>/dev/null || echo 0)
                n=$((n+1))
                echo $n > "$KANBAN_HOME/attempts"
                [ $n -ge 3 ] || exit 3
                kanbanctl complete --result "third time"
                """
            let daemon = try TestDaemon(
                config: DispatchKit.config("interval = 0.2\nretry_delay = 0.2\nfailure_limit = 5", DispatchKit.shellWorker("w", script)))
            defer { DispatchKit.shutdown(daemon) }
            let id = try daemon.create("flaky", "--assignee", "w")
            #expect(eventually { (try? daemon.task(id).status) == .done }, "\(daemon.daemonLog)")
            let detail = try daemon.detail(id)
            let crashes = detail.events.filter { $0.kind == "crashed" }
            #expect(crashes.map { $0.payload?["failures"]?.intValue } == [1, 2])
            #expect(crashes.allSatisfy { $0.payload?["exit_code"]?.intValue == 3 })
            #expect(detail.task.consecutiveFailures == 0)
            #expect(detail.task.lastFailureError == nil)
            #expect(detail.task.result == "third time")
            #expect(detail.runs.map(\.outcome) == ["crashed", "crashed", "completed"])
        }

        @Test func unblockResetsTheFailureCount() throws {
            let daemon = try TestDaemon(
                config: """
                    interval = 0.2
                    retry_delay = 0.2
                    failure_limit = 2

                    [workers.w]
                    command = ["/nonexistent/kanban-worker"]
                    """)
            defer { DispatchKit.shutdown(daemon) }
            let id = try daemon.create("blocked twice", "--assignee", "w")
            #expect(eventually { (try? daemon.task(id).status) == .blocked }, "\(daemon.daemonLog)")
            #expect(try daemon.task(id).consecutiveFailures == 2)

            let unblocked: TaskResult = try daemon.client().call(.taskUnblock, IDParams(id: id))
            #expect(unblocked.task.consecutiveFailures == 0)
            #expect(unblocked.task.lastFailureError == nil)
            // It is dispatched again, fails again, and needs the full limit again to be blocked.
            #expect(
                try eventually { try DispatchKit.kinds(daemon, id).filter { $0 == "gave_up" }.count == 2 },
                "\(daemon.daemonLog)")
            let events = try DispatchKit.events(daemon, id)
            let failures = events.filter { $0.kind == "spawn_failed" }.map { $0.payload?["failures"]?.intValue }
            #expect(failures == [1, 2, 1, 2])
            let kinds = events.map(\.kind).filter { ["spawn_failed", "gave_up", "unblocked"].contains($0) }
            #expect(kinds == ["spawn_failed", "spawn_failed", "gave_up", "unblocked", "spawn_failed", "spawn_failed", "gave_up"])
        }
    }
}
