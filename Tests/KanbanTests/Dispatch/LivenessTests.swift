import Foundation
import KanbanClient
import KanbanProtocol
import Testing

extension Processes {
    /// How workers' ends are observed and recorded: exact exit status, reclaim of silent workers
    /// (killed first), heartbeats, runtime limits, run-id fencing and process-group cleanup.
    @Suite struct Liveness {
        @Test func sigkilledWorkerPutsTheTaskBackWithItsSignal() throws {
            let daemon = try TestDaemon(
                config: DispatchKit.config("interval = 60", DispatchKit.shellWorker("w", "echo working; exec sleep 30")))
            defer { DispatchKit.shutdown(daemon) }
            let id = try daemon.create("will be killed", "--assignee", "w")
            let (run, pid) = try DispatchKit.waitForWorker(daemon, id)
            #expect(kill(pid, SIGKILL) == 0)
            let back = eventually(timeout: 1.0) { (try? daemon.task(id).status) == .ready }
            #expect(back, "task not ready within 1 s of SIGKILL: \(daemon.daemonLog)")

            let detail = try daemon.detail(id)
            let record = detail.runs.first { $0.id == run }
            #expect(record?.outcome == "crashed")
            #expect(record?.signal == 9)
            #expect(record?.exitCode == nil)
            #expect(record?.endedAt != nil)
            let crashed = detail.events.last { $0.kind == "crashed" }
            #expect(crashed?.runID == run)
            #expect(crashed?.payload?["signal"]?.intValue == 9)
            #expect(crashed?.payload?["failures"]?.intValue == 1)
            #expect(crashed?.payload?["log_tail"]?.stringValue?.contains("working") == true)
            #expect(detail.task.consecutiveFailures == 1)
            #expect(detail.task.lastFailureError?.contains("signal 9") == true)
            #expect(detail.task.currentRunID == nil)
        }

        /// A worker gets stdin, stdout and stderr and nothing else of kanband's: no descriptor kanband
        /// opened without O_CLOEXEC, and none kanband itself inherited from whoever started it.
        @Test func workersInheritOnlyTheStandardDescriptors() throws {
            let daemon = try TestDaemon(config: DispatchKit.config("interval = 60", DispatchKit.shellWorker("w", "exec sleep 30")))
            defer { DispatchKit.shutdown(daemon) }
            let id = try daemon.create("look at my fds", "--assignee", "w")
            let (_, pid) = try DispatchKit.waitForWorker(daemon, id)
            let fds = DispatchKit.descriptors(pid)
            #expect(fds[0] == "/dev/null")
            #expect(fds[1] == daemon.home + "/logs/\(id).log")
            #expect(fds[2] == daemon.home + "/logs/\(id).log")
            let extra = fds.filter { $0.key > 2 }.sorted { $0.key < $1.key }.map { "\($0.key) -> \($0.value)" }
            #expect(extra.isEmpty, "worker inherited kanband's descriptors: \(extra)")
        }

        @Test func workerExitingZeroWithoutCompletingIsAFailure() throws {
            let daemon = try TestDaemon(config: DispatchKit.config("interval = 60", DispatchKit.shellWorker("w", "exit 0")))
            defer { DispatchKit.shutdown(daemon) }
            let id = try daemon.create("forgets to complete", "--assignee", "w")
            #expect(try eventually { try DispatchKit.kinds(daemon, id).contains("exited_without_result") }, "\(daemon.daemonLog)")
            let detail = try daemon.detail(id)
            #expect(detail.task.status == .ready)
            #expect(detail.task.consecutiveFailures == 1)
            #expect(detail.runs.count == 1)
            #expect(detail.runs.first?.outcome == "exited_without_result")
            #expect(detail.runs.first?.exitCode == 0)
            #expect(detail.runs.first?.signal == nil)
            let event = detail.events.last { $0.kind == "exited_without_result" }
            #expect(event?.payload?["exit_code"]?.intValue == 0)
        }

        /// The claim expires under a silent worker: it is SIGTERMed and gone before the task is
        /// reclaimed, and at no moment do two runs of the task have live processes.
        @Test func expiredClaimKillsTheSilentWorkerBeforeReclaim() throws {
            let daemon = try TestDaemon(
                config: DispatchKit.config(
                    "interval = 0.2\nclaim_ttl = 1\nkill_grace = 0.5", DispatchKit.shellWorker("w", "exec sleep 30")))
            defer { DispatchKit.shutdown(daemon) }
            let id = try daemon.create("silent", "--assignee", "w")
            let (run, pid) = try DispatchKit.waitForWorker(daemon, id)
            var maxLiveRuns = 0
            var aliveAtReclaim: Bool?
            let reclaimed = try eventually(timeout: 4) {
                maxLiveRuns = max(maxLiveRuns, DispatchKit.liveRuns(home: daemon.home, task: id).count)
                let detail = try daemon.detail(id)
                let over = detail.task.currentRunID != run
                    || detail.events.contains { $0.kind == "reclaimed" && $0.runID == run }
                if over {
                    // Checked after the read: if the worker were still alive now, it was alive at the reclaim.
                    aliveAtReclaim = DispatchKit.isAlive(pid)
                }
                return over
            }
            #expect(reclaimed, "\(daemon.daemonLog)")
            #expect(aliveAtReclaim == false, "worker pid \(pid) still alive after its task was reclaimed")
            // Keep watching through the next run's start: never two live workers for the task.
            for _ in 0..<25 {
                maxLiveRuns = max(maxLiveRuns, DispatchKit.liveRuns(home: daemon.home, task: id).count)
                usleep(20_000)
            }
            #expect(maxLiveRuns <= 1)
            let detail = try daemon.detail(id)
            let record = detail.runs.first { $0.id == run }
            #expect(record?.outcome == "reclaimed")
            #expect(record?.signal == SIGTERM)
            let event = detail.events.first { $0.kind == "reclaimed" && $0.runID == run }
            #expect(event != nil)
            #expect(event?.payload?["signal"]?.intValue == Int64(SIGTERM))
            // A reclaim is not the worker's fault.
            #expect(detail.task.consecutiveFailures == 0)
            #expect(!detail.events.contains { $0.kind == "crashed" })
        }

        @Test func workerIgnoringSIGTERMIsKilledAfterTheGrace() throws {
            // The shell ignores SIGTERM; its sleeps do not, so it loops on until SIGKILL.
            let daemon = try TestDaemon(
                config: DispatchKit.config(
                    "interval = 0.2\nclaim_ttl = 0.5\nkill_grace = 0.5",
                    DispatchKit.shellWorker("w", "trap '' TERM; while true; do sleep 0.1; done")))
            defer { DispatchKit.shutdown(daemon) }
            let id = try daemon.create("stubborn", "--assignee", "w")
            let (run, pid) = try DispatchKit.waitForWorker(daemon, id)
            var aliveAtReclaim: Bool?
            let reclaimed = try eventually(timeout: 4) {
                let over = try DispatchKit.kinds(daemon, id).contains("reclaimed")
                if over { aliveAtReclaim = DispatchKit.isAlive(pid) }
                return over
            }
            #expect(reclaimed, "\(daemon.daemonLog)")
            #expect(aliveAtReclaim == false)
            let record = try DispatchKit.runs(daemon, id).first { $0.id == run }
            #expect(record?.outcome == "reclaimed")
            #expect(record?.signal == SIGKILL)
        }

        /// Blocking a running task ends its run: the worker gets SIGTERM and, when it ignores
        /// that, SIGKILL after `kill_grace`. Unblocking at once must not start a second worker
        /// while the first still lives; the next one starts as soon as it is gone.
        @Test func unblockWhileTheOldWorkerLivesStartsNoSecondWorker() throws {
            let daemon = try TestDaemon(
                config: DispatchKit.config(
                    "interval = 0.2\nkill_grace = 1",
                    DispatchKit.shellWorker("w", "trap '' TERM; while true; do sleep 0.1; done")))
            defer { DispatchKit.shutdown(daemon) }
            let id = try daemon.create("stubborn", "--assignee", "w")
            let (run, pid) = try DispatchKit.waitForWorker(daemon, id)
            #expect(daemon.ctl("block", id, "have", "a", "look").code == 0)
            #expect(daemon.ctl("unblock", id).code == 0)
            var mostAtOnce = 0
            var next: String?
            let deadline = Date().addingTimeInterval(8)
            while Date() < deadline {
                let live = DispatchKit.liveRuns(home: daemon.home, task: id)
                mostAtOnce = max(mostAtOnce, live.count)
                if let other = live.first(where: { $0 != String(run) }), !DispatchKit.isAlive(pid) {
                    next = other
                    break
                }
                usleep(20_000)
            }
            #expect(mostAtOnce <= 1, "two workers at once for one task")
            #expect(!DispatchKit.isAlive(pid), "the worker that ignored SIGTERM outlived its run")
            #expect(next != nil, "no new worker after the old one was gone: \(daemon.daemonLog)")
            let first = try DispatchKit.runs(daemon, id).first { $0.id == run }
            #expect(first?.outcome == "blocked")
            #expect(first?.signal == SIGKILL)
        }

        /// A task archived while the dispatcher is claiming and starting it: whichever comes first,
        /// no worker outlives the archive (a stop request that came before the worker was known
        /// used to be dropped).
        @Test func aTaskArchivedWhileItsWorkerStartsLeavesNoWorker() throws {
            let daemon = try TestDaemon(
                config: DispatchKit.config(
                    "interval = 0.2\nkill_grace = 0.5\nmax_concurrent = 64", DispatchKit.shellWorker("w", "exec sleep 30")))
            defer { DispatchKit.shutdown(daemon) }
            let client = try daemon.client()
            for i in 0..<40 {
                let created: CreateResult = try client.call(.taskCreate, CreateParams(title: "short-lived \(i)", assignee: "w"))
                if i % 4 != 0 { usleep(UInt32(200 * i % 3000)) }
                let _: TaskResult = try client.call(.taskArchive, IDParams(id: created.task.id))
            }
            func workers() -> [Int32] {
                DispatchKit.workerEnvironments(home: daemon.home).filter { $0.env["KANBAN_RUN_ID"] != nil }.map(\.pid)
            }
            #expect(eventually(timeout: 5) { workers().isEmpty }, "workers of archived tasks still running: \(workers())")
        }

        /// With the "*" fallback paused and the one named worker at its cap, nobody may start
        /// anything: passes find no candidates (they used to fail on an empty `IN ()`), and work
        /// starts again once there is room.
        @Test func aPausedFallbackWithTheNamedWorkerBusyStillDispatches() throws {
            let daemon = try TestDaemon(
                config: DispatchKit.config(
                    "interval = 0.2",
                    DispatchKit.shellWorker("*", "sleep 30", "max_concurrent = 0"),
                    DispatchKit.shellWorker("a", "sleep 1; kanbanctl complete --result ok", "max_concurrent = 1")))
            defer { DispatchKit.shutdown(daemon) }
            let first = try daemon.create("first", "--assignee", "a")
            _ = try DispatchKit.waitForWorker(daemon, first)
            let second = try daemon.create("second", "--assignee", "a")
            let other = try daemon.create("unlisted", "--assignee", "b")
            let dry = daemon.ctl("dispatch", "--dry-run")
            #expect(dry.code == 0, "\(dry.stdout)\(dry.stderr)")
            #expect(eventually(timeout: 8) { (try? daemon.task(second).status) == .done }, "\(daemon.daemonLog)")
            #expect(try daemon.task(other).status == .ready, "the paused fallback started nothing")
        }

        /// An assignee at its cap (here paused with max_concurrent = 0) with a long backlog of
        /// higher-priority work must not keep everybody else's tasks from starting.
        @Test func aCappedAssigneesBacklogStarvesNobody() throws {
            let daemon = try TestDaemon(
                config: DispatchKit.config(
                    "interval = 0.2",
                    DispatchKit.shellWorker("reviewer", "sleep 30", "max_concurrent = 0"),
                    DispatchKit.shellWorker("coder", "kanbanctl complete --result coded")))
            defer { DispatchKit.shutdown(daemon) }
            let client = try daemon.client()
            for i in 0..<1100 {
                let _: CreateResult = try client.call(
                    .taskCreate, CreateParams(title: "review \(i)", assignee: "reviewer", priority: 5))
            }
            let id = try daemon.create("code", "--assignee", "coder")
            #expect(eventually(timeout: 10) { (try? daemon.task(id).status) == .done }, "\(daemon.daemonLog)")
        }

        @Test func heartbeatsKeepALongRunAlive() throws {
            let script = """
                i=0
                while [ $i -lt 10 ]; do
                  kanbanctl heartbeat > /dev/null || exit 7
                  sleep 0.3
                  i=$((i+1))
                done
                kanbanctl complete --result survived
                """
            let daemon = try TestDaemon(
                config: DispatchKit.config("interval = 0.2\nclaim_ttl = 1", DispatchKit.shellWorker("w", script)))
            defer { DispatchKit.shutdown(daemon) }
            let id = try daemon.create("long", "--assignee", "w")
            #expect(eventually(timeout: 8) { (try? daemon.task(id).status) == .done }, "\(daemon.daemonLog)")
            let detail = try daemon.detail(id)
            #expect(detail.task.result == "survived")
            #expect(detail.runs.count == 1)
            #expect(!detail.events.contains { $0.kind == "reclaimed" })
            #expect(detail.events.filter { $0.kind == "heartbeat" }.count >= 5 || detail.runs.first?.lastHeartbeatAt != nil)
        }

        @Test func maxRuntimeStopsTheWorkerAsTimedOut() throws {
            let daemon = try TestDaemon(
                config: DispatchKit.config(
                    "interval = 60\nkill_grace = 0.5\nfailure_limit = 5",
                    DispatchKit.shellWorker("w", "exec sleep 30", "max_runtime = 0.5")))
            defer { DispatchKit.shutdown(daemon) }
            let id = try daemon.create("too slow", "--assignee", "w")
            let (run, pid) = try DispatchKit.waitForWorker(daemon, id)
            #expect(try eventually(timeout: 3) { try DispatchKit.kinds(daemon, id).contains("timed_out") }, "\(daemon.daemonLog)")
            #expect(!DispatchKit.isAlive(pid))
            let detail = try daemon.detail(id)
            let event = detail.events.last { $0.kind == "timed_out" }
            #expect(event?.runID == run)
            #expect(event?.payload?["limit_seconds"] == .double(0.5))
            #expect(event?.payload?["failures"]?.intValue == 1)
            #expect(detail.runs.first?.outcome == "timed_out")
            #expect(detail.runs.first?.signal == SIGTERM)
            #expect(detail.task.consecutiveFailures == 1)
            #expect(detail.task.status == .ready)
            #expect(detail.task.lastFailureError?.contains("max_runtime") == true)
        }

        @Test func staleRunIDIsRefused() throws {
            let daemon = try TestDaemon(config: DispatchKit.config("interval = 60", DispatchKit.shellWorker("w", "exec sleep 30")))
            defer { DispatchKit.shutdown(daemon) }
            let id = try daemon.create("fenced", "--assignee", "w")
            let (run, _) = try DispatchKit.waitForWorker(daemon, id)
            let before = try daemon.detail(id)

            let wrong = String(run + 1000)
            let result = daemon.ctl(["complete", "--result", "x"], env: ["KANBAN_TASK_ID": id, "KANBAN_RUN_ID": wrong])
            #expect(result.code == 1, "\(result)")
            #expect(result.stderr.contains("not the live run"), "\(result.stderr)")
            #expect(result.stderr.contains(wrong))
            #expect(result.stderr.contains("stale_run"), "the refusal's kind should be on stderr: \(result.stderr)")
            // The same call through the client library carries the stable kind.
            do {
                let _: TaskResult = try daemon.client().call(
                    .taskComplete, CompleteParams(id: id, result: "x", runID: run + 1000))
                Issue.record("a stale run completed the task")
            } catch let error as ClientError {
                guard case .server(let server) = error else { throw error }
                #expect(server.kind == .staleRun)
            }
            let heartbeat = daemon.ctl(["heartbeat"], env: ["KANBAN_TASK_ID": id, "KANBAN_RUN_ID": wrong])
            #expect(heartbeat.code == 1)

            let after = try daemon.detail(id)
            #expect(after.task == before.task)
            #expect(after.events.map(\.id) == before.events.map(\.id))
            #expect(after.task.status == .running)
            #expect(after.task.result == nil)
        }

        /// A worker that leaves a child behind: after the run ends, its process group goes too,
        /// with SIGKILL after the grace for a child that ignores SIGTERM.
        @Test func forkedChildrenAreCleanedUpAfterTheRun() throws {
            let script = """
                sleep 30 &
                echo $! > "$KANBAN_HOME/child"
                (trap '' TERM; exec sleep 30) &
                echo $! > "$KANBAN_HOME/stubborn"
                kanbanctl complete --result forked
                """
            let daemon = try TestDaemon(
                config: DispatchKit.config("interval = 60\nkill_grace = 0.5", DispatchKit.shellWorker("w", script)))
            defer { DispatchKit.shutdown(daemon) }
            let id = try daemon.create("forks", "--assignee", "w")
            #expect(eventually { (try? daemon.task(id).status) == .done }, "\(daemon.daemonLog)")
            // The run ends when the worker exits: its exit status is then on the run.
            #expect(eventually { (try? DispatchKit.runs(daemon, id).first?.exitCode) == 0 })
            let child = try #require(DispatchKit.pid(in: daemon.home + "/child"))
            let stubborn = try #require(DispatchKit.pid(in: daemon.home + "/stubborn"))
            #expect(eventually(timeout: 1.5) { !DispatchKit.isAlive(child) }, "child \(child) outlived its worker")
            #expect(eventually(timeout: 1.5) { !DispatchKit.isAlive(stubborn) }, "SIGTERM-ignoring child \(stubborn) outlived its worker")
        }
    }
}
