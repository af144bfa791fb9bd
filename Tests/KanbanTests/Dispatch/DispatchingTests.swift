import Foundation
import KanbanProtocol
import Testing

extension Processes {
    /// Event-driven dispatch, dependency order, the caps, and `dispatch --dry-run`, with real
    /// shell workers started by a real kanband.
    @Suite struct Dispatching {
        @Test func newReadyTaskStartsItsWorkerAtOnce() throws {
            // interval = 60: only the commit can have woken the dispatcher.
            let script = """
                printf '%s\\n' "$KANBAN_TASK_ID" "$KANBAN_RUN_ID" "$KANBAN_ASSIGNEE" "$KANBAN_WORKSPACE" "$(pwd)" \
                  "$KANBAN_SOCKET" > "$KANBAN_HOME/env.tmp"
                mv "$KANBAN_HOME/env.tmp" "$KANBAN_HOME/env.$KANBAN_TASK_ID"
                kanbanctl complete --result "done by $KANBAN_ASSIGNEE"
                """
            let daemon = try TestDaemon(config: DispatchKit.config("interval = 60", DispatchKit.shellWorker("w", script)))
            defer { DispatchKit.shutdown(daemon) }
            let before = Date()
            let id = try daemon.create("do it now", "--assignee", "w")
            let marker = daemon.home + "/env." + id
            let started = eventually(timeout: 1.0) { FileManager.default.fileExists(atPath: marker) }
            let latency = Date().timeIntervalSince(before)
            #expect(started, "worker not started within 1 s of create (latency \(latency) s): \(daemon.daemonLog)")
            #expect(eventually { (try? daemon.task(id).status) == .done })

            let detail = try daemon.detail(id)
            #expect(detail.task.result == "done by w")
            #expect(detail.task.consecutiveFailures == 0)
            let workspace = daemon.home + "/workspaces/" + id
            let env = DispatchKit.lines(marker)
            #expect(env.count == 6)
            if env.count == 6 {
                #expect(env[0] == id)
                #expect(env[1] == detail.runs.first.map { String($0.id) })
                #expect(env[2] == "w")
                #expect(env[3] == workspace)
                #expect(env[4] == workspace)
                #expect(env[5] == daemon.socket)
            }
            let kinds = detail.events.map(\.kind)
            for kind in ["created", "claimed", "spawned", "completed"] { #expect(kinds.contains(kind), "\(kinds)") }
            #expect(detail.runs.count == 1)
            #expect(eventually { (try? DispatchKit.runs(daemon, id).first?.exitCode) == 0 })
            #expect(try DispatchKit.runs(daemon, id).first?.outcome == "completed")
        }

        @Test func dependencyChainRunsInOrder() throws {
            let script = """
                echo "start $KANBAN_TASK_ID" >> "$KANBAN_HOME/order"
                sleep 0.2
                echo "end $KANBAN_TASK_ID" >> "$KANBAN_HOME/order"
                kanbanctl complete --result "r-$KANBAN_TASK_ID"
                """
            let daemon = try TestDaemon(config: DispatchKit.config("interval = 60", DispatchKit.shellWorker("w", script)))
            defer { DispatchKit.shutdown(daemon) }
            let a = try daemon.create("a", "--assignee", "w")
            let b = try daemon.create("b", "--assignee", "w", "--parent", a)
            let c = try daemon.create("c", "--assignee", "w", "--parent", b)
            #expect(try daemon.task(c).status == .todo)
            #expect(eventually(timeout: 8) { (try? daemon.task(c).status) == .done }, "\(daemon.daemonLog)")
            #expect(
                DispatchKit.lines(daemon.home + "/order")
                    == ["start \(a)", "end \(a)", "start \(b)", "end \(b)", "start \(c)", "end \(c)"])
            #expect(try daemon.task(a).result == "r-\(a)")
            #expect(try daemon.task(b).status == .done)
        }

        /// The script of a worker that records how many workers of its group are live as it starts.
        /// Its marker exists for all of its life except the instant between `rm` and exit, when
        /// the dispatcher still counts it, so a count can only over-estimate, never miss a worker.
        static func countingWorker(group: String, sleep: Double) -> String {
            """
            mkdir -p "$KANBAN_HOME/live/\(group)"
            touch "$KANBAN_HOME/live/\(group)/$KANBAN_TASK_ID"
            ls "$KANBAN_HOME/live/\(group)" | wc -l >> "$KANBAN_HOME/counts.\(group)"
            sleep \(sleep)
            kanbanctl complete --result ok > /dev/null
            rm -f "$KANBAN_HOME/live/\(group)/$KANBAN_TASK_ID"
            """
        }

        static func counts(_ daemon: TestDaemon, _ group: String) -> [Int] {
            DispatchKit.lines(daemon.home + "/counts." + group).compactMap {
                Int($0.trimmingCharacters(in: .whitespaces))
            }
        }

        /// Distinct live runs among all of this board's worker processes.
        static func liveRunCount(_ daemon: TestDaemon) -> Int {
            Set(DispatchKit.workerEnvironments(home: daemon.home).compactMap { $0.env["KANBAN_RUN_ID"] }).count
        }

        @Test func globalCapIsNeverExceeded() throws {
            let daemon = try TestDaemon(
                config: DispatchKit.config(
                    "interval = 60\nmax_concurrent = 2",
                    DispatchKit.shellWorker("*", Dispatching.countingWorker(group: "all", sleep: 0.3))))
            defer { DispatchKit.shutdown(daemon) }
            var ids: [String] = []
            for index in 0..<5 { ids.append(try daemon.create("job \(index)", "--assignee", "a\(index % 2)")) }
            var maxLive = 0
            let finished = try eventually(timeout: 10) {
                maxLive = max(maxLive, Dispatching.liveRunCount(daemon))
                return try ids.allSatisfy { try daemon.task($0).status == .done }
            }
            #expect(finished, "\(daemon.daemonLog)")
            let counts = Dispatching.counts(daemon, "all")
            #expect(counts.count == 5)
            #expect(counts.max() == 2, "live workers seen at each start: \(counts)")
            #expect(maxLive <= 2, "sampled \(maxLive) live worker runs at once")
            let status = try JSONDecoder().decode(StatusResult.self, from: Data(daemon.ctl("status", "--json").stdout.utf8))
            #expect(status.dispatcher.maxConcurrent == 2)
        }

        @Test func perAssigneeCapHoldsOnlyThatAssignee() throws {
            let daemon = try TestDaemon(
                config: DispatchKit.config(
                    "interval = 60\nmax_concurrent = 8",
                    DispatchKit.shellWorker("x", Dispatching.countingWorker(group: "x", sleep: 0.4), "max_concurrent = 1"),
                    DispatchKit.shellWorker("y", Dispatching.countingWorker(group: "y", sleep: 0.4))))
            defer { DispatchKit.shutdown(daemon) }
            var ids: [String] = []
            for index in 0..<3 { ids.append(try daemon.create("x\(index)", "--assignee", "x")) }
            for index in 0..<3 { ids.append(try daemon.create("y\(index)", "--assignee", "y")) }
            let finished = try eventually(timeout: 10) { try ids.allSatisfy { try daemon.task($0).status == .done } }
            #expect(finished, "\(daemon.daemonLog)")
            let x = Dispatching.counts(daemon, "x")
            let y = Dispatching.counts(daemon, "y")
            #expect(x.count == 3 && y.count == 3)
            #expect(x.max() == 1, "x workers live at each start: \(x)")
            #expect((y.max() ?? 0) >= 2, "y is not capped, its workers should overlap: \(y)")
            let status = try JSONDecoder().decode(StatusResult.self, from: Data(daemon.ctl("status", "--json").stdout.utf8))
            #expect(status.dispatcher.perAssignee == ["x": 1])
        }

        /// A snapshot of everything a dispatch pass could change: every task and its events and runs.
        static func snapshot(_ daemon: TestDaemon) throws -> [String] {
            let tasks = try JSONDecoder().decode([TaskInfo].self, from: Data(daemon.ctl("list", "--json").stdout.utf8))
            return try tasks.sorted { $0.id < $1.id }.map { task in
                let detail = try daemon.detail(task.id)
                return "\(task) | \(detail.events.map { "\($0.id):\($0.kind)" }) | \(detail.runs)"
            }
        }

        @Test func dryRunChangesNothingAndHonoursMax() throws {
            // Workers fail at once; with interval = 60 their tasks then wait, ready, for the next tick.
            // Their retry delay (1 s) is longer than creating all three can take on a loaded machine
            // (a later create's wake-up pass must not retry an earlier one), and over by the time
            // of the dry run.
            let daemon = try TestDaemon(
                config: DispatchKit.config(
                    "interval = 60\nretry_delay = 1\nfailure_limit = 5", DispatchKit.shellWorker("w", "exit 1")))
            defer { DispatchKit.shutdown(daemon) }
            var ids: [String] = []
            for index in 0..<3 { ids.append(try daemon.create("fails \(index)", "--assignee", "w")) }
            #expect(
                try eventually { try ids.allSatisfy { try daemon.task($0).status == .ready && daemon.task($0).consecutiveFailures == 1 } },
                "\(daemon.daemonLog)")
            // An external claim that expires: a real pass would reclaim it.
            let external = try daemon.create("claimed elsewhere")
            #expect(daemon.ctl("claim", external, "--ttl", "0.05").code == 0)
            usleep(1_100_000)  // the claim expires, and the failed tasks' retry delay is over
            let unassigned = try daemon.create("nobody's")

            let before = try Dispatching.snapshot(daemon)
            let statusBefore = try JSONDecoder().decode(StatusResult.self, from: Data(daemon.ctl("status", "--json").stdout.utf8))

            let dry = daemon.ctl("dispatch", "--dry-run", "--json")
            #expect(dry.code == 0, "\(dry.stderr)")
            let report = try JSONDecoder().decode(DispatchReport.self, from: Data(dry.stdout.utf8))
            #expect(report.dryRun)
            #expect(report.reclaimed == [external])
            #expect(Set(report.spawned.map(\.taskID)) == Set(ids))
            #expect(report.spawned.allSatisfy { $0.pid == nil && $0.runID == nil })
            #expect(report.skippedUnassigned == [unassigned])

            let limited = daemon.ctl("dispatch", "--dry-run", "--max", "2", "--json")
            #expect(limited.code == 0)
            let limitedReport = try JSONDecoder().decode(DispatchReport.self, from: Data(limited.stdout.utf8))
            #expect(limitedReport.spawned.count == 2)
            let zero = try JSONDecoder().decode(
                DispatchReport.self, from: Data(daemon.ctl("dispatch", "--dry-run", "--max", "0", "--json").stdout.utf8))
            #expect(zero.spawned.isEmpty)
            let text = daemon.ctl("dispatch", "--dry-run")
            #expect(text.code == 0)
            #expect(text.stdout.contains("(dry)"))

            usleep(100_000)
            #expect(try Dispatching.snapshot(daemon) == before)
            #expect(try daemon.task(external).status == .running)
            #expect(DispatchKit.workerEnvironments(home: daemon.home).filter { $0.env["KANBAN_RUN_ID"] != nil }.isEmpty)
            let statusAfter = try JSONDecoder().decode(StatusResult.self, from: Data(daemon.ctl("status", "--json").stdout.utf8))
            #expect(statusAfter.dispatcher.ticks == statusBefore.dispatcher.ticks)
        }
    }
}
