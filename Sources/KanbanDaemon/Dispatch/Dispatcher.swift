import Foundation
import GRDB
import KanbanProtocol
import Logging

/// Settings given on kanband's command line; they win over the file.
public struct DispatcherOverrides: Sendable {
    public var interval: Double?
    public var maxConcurrent: Int?
    public var failureLimit: Int?
    public init(interval: Double? = nil, maxConcurrent: Int? = nil, failureLimit: Int? = nil) {
        self.interval = interval
        self.maxConcurrent = maxConcurrent
        self.failureLimit = failureLimit
    }
}

/// The dispatcher: starts workers for ready, assigned tasks within the caps, watches them, and
/// puts their tasks back (or blocks them) when they die, time out or go silent.
///
/// It is an actor: every decision about live workers is made on one serial executor, while the
/// workers themselves are watched by one waiting thread each (exact exit status, no polling).
/// Dispatch is event-driven: a commit that makes a task ready wakes it at once; the periodic
/// tick only reclaims expired claims and retries what the caps held back.
actor Dispatcher: CommitObserver {
    enum StopReason: Sendable, Equatable {
        case claimExpired
        case timedOut(limit: Double)
        /// Its run was ended by somebody else (completed, blocked or archived by a human).
        case runEnded
    }

    struct LiveWorker {
        var runID: Int64
        var taskID: String
        var assignee: String
        var pid: Int32
        var startTime: Int64?
        var startedAt: Int64
        var maxRuntime: Double?
        var adopted: Bool
        var spawnRecorded: Bool
        var pendingExit: (Int32?, Int32?)?
        var stopReason: StopReason?
        var killAt: Int64?
    }

    let board: Board
    nonisolated let logs: WorkerLogs
    let spawner: Spawner
    let locations: Locations
    let configPath: String
    let overrides: DispatcherOverrides
    let logger: Logger
    let clock: any BoardClock
    private(set) var config: DispatcherConfig
    private var configError: String?
    private var workers: [Int64: LiveWorker] = [:]
    /// Process groups of exited workers that were still alive (children left behind): SIGTERMed,
    /// then SIGKILLed at their deadline. Keyed by group id; the task is kept so that no new worker
    /// starts for it while they live.
    private var lingeringGroups: [Int32: LingeringGroup] = [:]

    /// Tasks with a live worker, or with processes an exited worker left behind: no new worker
    /// starts for them, and the gc leaves their workspaces alone.
    private var occupiedTasks: Set<String> {
        Set(workers.values.map(\.taskID)).union(lingeringGroups.values.map(\.taskID))
    }

    struct LingeringGroup {
        var taskID: String
        /// SIGKILL at this time; once sent, the time after which the group is let go of.
        var deadline: Int64
        var killed = false
    }
    private var lastTickAt: Int64?
    private var lastTickMillis: Double?
    private var ticks = 0
    private var passRunning = false
    private var wakeRequested = false
    private var fullRequested = false
    private var loops: [Task<Void, Never>] = []
    private var lastGC: Int64 = 0
    /// Tasks whose last attempt failed wait `retry_delay` before another attempt, so a failing
    /// spawn cannot spin through the breaker in a burst of retries.
    private var retryNotBefore: [String: Int64] = [:]

    init(
        board: Board, locations: Locations, configPath: String, config: DispatcherConfig,
        overrides: DispatcherOverrides, logger: Logger
    ) {
        self.board = board
        self.locations = locations
        self.logs = WorkerLogs(directory: locations.logsDirectory)
        self.spawner = Spawner(locations: locations, logs: WorkerLogs(directory: locations.logsDirectory))
        self.configPath = configPath
        self.overrides = overrides
        self.logger = logger
        self.clock = board.clock
        self.config = Dispatcher.applying(overrides, to: config)
        board.claimTTLSeconds = self.config.claimTTL
    }

    static func applying(_ overrides: DispatcherOverrides, to config: DispatcherConfig) -> DispatcherConfig {
        var config = config
        if let value = overrides.interval { config.interval = value }
        if let value = overrides.maxConcurrent { config.maxConcurrent = value }
        if let value = overrides.failureLimit { config.failureLimit = value }
        return config
    }

    // MARK: life cycle

    /// Recovers runs left by a previous daemon, then starts the tick and housekeeping loops.
    func start() async {
        await recover()
        board.setObserver(self)
        // The first automatic gc an hour after start, then daily: a daemon restarted every day
        // still collects, and opening is not slowed by it.
        lastGC = clock.nowMillis() - 23 * 3_600_000
        loops.append(Task { [weak self] in
            while !Task.isCancelled {
                guard let self else { return }
                let interval = await self.config.interval
                try? await Task.sleep(nanoseconds: UInt64(interval * 1_000_000_000))
                if Task.isCancelled { return }
                await self.tick()
            }
        })
        loops.append(Task { [weak self] in
            while !Task.isCancelled {
                try? await Task.sleep(nanoseconds: 100_000_000)
                guard let self, !Task.isCancelled else { return }
                await self.housekeeping()
            }
        })
        await tick()
    }

    /// Stops the loops. Workers keep running: they are in their own sessions, and the next kanband
    /// re-adopts them.
    func stop() {
        board.setObserver(nil)
        for loop in loops { loop.cancel() }
        loops.removeAll()
    }

    nonisolated func didCommit(wake: Bool, terminateRuns: [Int64]) {
        Task { await self.handleCommit(wake: wake, terminateRuns: terminateRuns) }
    }

    private func handleCommit(wake: Bool, terminateRuns: [Int64]) async {
        for run in terminateRuns {
            // SIGTERM, then SIGKILL after `kill_grace`: a worker that ignores SIGTERM must not
            // outlive its run (it would hold its slots and keep writing to the workspace).
            if let worker = workers[run], worker.stopReason == nil { stop(run, reason: .runEnded) }
        }
        if wake { await tick(full: false) }
    }

    // MARK: passes

    /// One periodic or event-driven pass; concurrent requests coalesce into one more pass.
    ///
    /// A full pass (the periodic tick) also reclaims expired claims; a wake-up after a commit only
    /// looks for work to start, which is all a commit can have made possible.
    func tick(full: Bool = true) async {
        if passRunning {
            wakeRequested = true
            fullRequested = fullRequested || full
            return
        }
        passRunning = true
        defer { passRunning = false }
        var full = full
        repeat {
            wakeRequested = false
            fullRequested = false
            do {
                _ = try await pass(dryRun: false, max: nil, full: full)
            } catch {
                logger.error("dispatch pass failed: \(error)")
            }
            // Inside the loop: a wake-up that arrives while the gc runs gets its pass.
            if full { await dailyGC() }
            full = fullRequested
        } while wakeRequested
    }

    /// `kanbanctl dispatch`: one pass now. A dry run reads only and reports what a pass would do.
    func runPass(dryRun: Bool, max: Int?) async throws -> DispatchReport {
        if dryRun { return try await pass(dryRun: true, max: max) }
        while passRunning { try await Task.sleep(nanoseconds: 1_000_000) }
        passRunning = true
        defer { passRunning = false }
        return try await pass(dryRun: false, max: max)
    }

    private func pass(dryRun: Bool, max: Int?, full: Bool = true) async throws -> DispatchReport {
        let started = DispatchTime.now()
        var report = DispatchReport(dryRun: dryRun)
        let now = clock.nowMillis()
        let kernel = board.kernel
        let limit = config.failureLimit

        // 1. Expired claims. A live worker is stopped first; its task is reclaimed when it is gone.
        let expired = full ? try await board.read { db in try kernel.expiredClaims(db, now: now) } : []
        for (taskID, run) in expired {
            if let run, let worker = workers[run] {
                if !dryRun && worker.stopReason == nil { stop(run, reason: .claimExpired) }
                report.reclaimed.append(taskID)
            } else if run == nil {
                // A running task without a run (an older board's claim): release it.
                report.reclaimed.append(taskID)
                if !dryRun {
                    try await board.write { db, fx in try kernel.releaseRunlessClaim(db, &fx, taskID: taskID) }
                }
            } else if let run {
                report.reclaimed.append(taskID)
                if !dryRun {
                    try await board.write { db, fx in
                        try kernel.finishRun(
                            db, &fx, run: run,
                            ending: RunEnding(
                                outcome: EventKind.reclaimed, error: "claim expired without a heartbeat",
                                countsAsFailure: false),
                            failureLimit: limit)
                    }
                }
            }
        }

        // 2. Start what the caps allow, highest priority first.
        var running = workers.count
        var perAssignee: [String: Int] = [:]
        for worker in workers.values { perAssignee[worker.assignee, default: 0] += 1 }
        // Assignees at their cap are left out of the query: otherwise a long backlog of one
        // (or of one paused with max_concurrent = 0) fills the candidate window and nobody
        // else's work ever starts.
        var saturated = Set(perAssignee.compactMap { assignee, count in
            (config.worker(for: assignee)?.maxConcurrent).map { count >= $0 } == true ? assignee : nil
        })
        for (name, spec) in config.workers where name != "*" && spec.maxConcurrent == 0 { saturated.insert(name) }
        let candidates: [(id: String, assignee: String)]
        if let filter = assigneeFilter(saturated: saturated) {
            candidates = try await board.read { db in try Dispatcher.candidates(db, filter) }
        } else {
            candidates = []  // nobody may start anything
        }
        // A task whose previous worker (or what it left behind) is still alive waits for it to go:
        // a block and unblock, or a reclaim, must not put two workers on one task.
        let occupied = occupiedTasks
        if full {
            report.skippedUnassigned = try await board.read { db in
            try String.fetchAll(
                cached: db, sql: "SELECT id FROM tasks WHERE status = 'ready' AND assignee IS NULL ORDER BY priority DESC, created_at LIMIT 100")
            }
        }
        var started_ = 0
        retryNotBefore = retryNotBefore.filter { $0.value > now }
        for candidate in candidates {
            if let max, started_ >= max { break }
            if retryNotBefore[candidate.id] != nil || occupied.contains(candidate.id) { continue }
            let spec = config.worker(for: candidate.assignee)
            let assigneeCap = spec?.maxConcurrent
            if running >= config.maxConcurrent
                || (assigneeCap.map { perAssignee[candidate.assignee, default: 0] >= $0 } ?? false)
            {
                report.skippedCapacity.append(candidate.id)
                continue
            }
            if dryRun {
                report.spawned.append(
                    .init(taskID: candidate.id, assignee: candidate.assignee, workspace: nil, runID: nil, pid: nil))
                started_ += 1
                running += 1
                perAssignee[candidate.assignee, default: 0] += 1
                continue
            }
            switch try await startWorker(taskID: candidate.id, assignee: candidate.assignee, spec: spec) {
            case .started(let spawn):
                report.spawned.append(spawn)
                started_ += 1
                running += 1
                perAssignee[candidate.assignee, default: 0] += 1
            case .failed(let gaveUp):
                retryNotBefore[candidate.id] = now + Int64(config.retryDelay * 1000)
                report.spawnFailed.append(candidate.id)
                if gaveUp { report.gaveUp.append(candidate.id) }
            case .lostRace:
                continue
            }
        }
        if !dryRun && full {
            ticks += 1
            lastTickAt = clock.nowMillis()
            lastTickMillis = Double(DispatchTime.now().uptimeNanoseconds - started.uptimeNanoseconds) / 1e6
        }
        return report
    }

    /// Which assignees the candidate query may return; nil when nobody may start anything.
    private func assigneeFilter(saturated: Set<String>) -> (clause: String, names: [String])? {
        if config.workers["*"]?.maxConcurrent == 0 {
            // The "*" fallback paused: only assignees configured by name, and not at their cap.
            let named = config.workers.keys.filter { $0 != "*" && !saturated.contains($0) }.sorted()
            return named.isEmpty ? nil : ("IN", named)
        }
        return ("NOT IN", saturated.sorted())
    }

    /// Ready, assigned tasks in dispatch order, within the assignee filter.
    private static func candidates(_ db: Database, _ filter: (clause: String, names: [String])) throws
        -> [(id: String, assignee: String)]
    {
        let list =
            filter.names.isEmpty
            ? "" : "AND assignee \(filter.clause) (\(repeatElement("?", count: filter.names.count).joined(separator: ",")))"
        let sql = """
            SELECT id, assignee FROM tasks INDEXED BY tasks_dispatchable
            WHERE status = 'ready' AND assignee IS NOT NULL \(list)
            ORDER BY priority DESC, created_at ASC, rowid ASC LIMIT 1000
            """
        // Cached only without a list: each list length would stay in the statement cache.
        let rows =
            filter.names.isEmpty
            ? try Row.fetchAll(cached: db, sql: sql) : try Row.fetchAll(db, sql: sql, arguments: StatementArguments(filter.names))
        return rows.map { (id: $0[0] as String, assignee: $0[1] as String) }
    }

    private enum StartOutcome {
        case started(DispatchReport.Spawn)
        case failed(gaveUp: Bool)
        case lostRace
    }

    private func startWorker(taskID: String, assignee: String, spec: WorkerSpec?) async throws -> StartOutcome {
        let kernel = board.kernel
        let ttl = config.claimTTL
        let claim: ClaimResult
        do {
            claim = try await board.write { db, fx in
                try kernel.claim(
                    db, &fx, id: taskID, ttlSeconds: ttl, claimer: Kernel.dispatcherClaimer,
                    actor: Kernel.dispatcherClaimer, assignee: assignee)
            }
        } catch let error as KanbanError where error.kind == .conflict || error.kind == .notFound {
            return .lostRace
        }
        let run = claim.runID
        let config = config
        let started: Spawner.Started
        do {
            guard let spec else {
                throw SpawnFailure(
                    "no worker configured for assignee '\(assignee)': add [workers.\(assignee)] or [workers.\"*\"] "
                        + "to \(configPath)")
            }
            let workspace = try spawner.resolveWorkspace(claim.task, config: config)
            started = try spawner.start(task: claim.task, run: run, spec: spec, workspace: workspace, config: config)
            workers[run] = LiveWorker(
                runID: run, taskID: taskID, assignee: assignee, pid: started.pid, startTime: started.startTime,
                startedAt: clock.nowMillis(), maxRuntime: spec.maxRuntime, adopted: false, spawnRecorded: false)
            ChildWatcher.watch(pid: started.pid) { [weak self] code, signal in
                Task { await self?.workerExited(run: run, exitCode: code, signal: signal) }
            }
        } catch {
            let message = (error as? SpawnFailure)?.description ?? "\(error)"
            logger.warning("cannot start worker for \(taskID): \(message)")
            let limit = config.failureLimit
            let gaveUp = try await board.write { db, fx in
                try kernel.finishRun(
                    db, &fx, run: run,
                    ending: RunEnding(outcome: EventKind.spawnFailed, error: message, countsAsFailure: true),
                    failureLimit: limit)
                return try Rows.requireTask(db, taskID).status == .blocked
            }
            return .failed(gaveUp: gaveUp)
        }
        // The process exists from here on: its run ends only when it is reaped (`workerExited`),
        // never while it may still be working.
        var recorded = true
        do {
            let live = try await board.write { db, fx in
                try kernel.recordSpawn(
                    db, &fx, run: run, taskID: taskID, pid: started.pid, startTime: started.startTime,
                    workspace: started.workspace)
            }
            // Ended while it was being started (archived, blocked, completed): the request to stop
            // it came before it was a worker here, so it is stopped now.
            if !live, workers[run]?.stopReason == nil { stop(run, reason: .runEnded) }
        } catch {
            // Without its pid on record a later kanband could not find or stop this worker: kill
            // it now; its run ends (crashed) when it is reaped.
            logger.error("cannot record the worker of \(taskID) (run \(run), pid \(started.pid)); killing it: \(error)")
            recorded = false
            workers[run]?.stopReason = .runEnded
            kill(-started.pid, SIGKILL)
        }
        workers[run]?.spawnRecorded = true
        if let pending = workers[run]?.pendingExit {
            await workerExited(run: run, exitCode: pending.0, signal: pending.1)
        }
        guard recorded else { return .failed(gaveUp: false) }
        logger.info("started worker for \(taskID) (run \(run), pid \(started.pid))")
        return .started(
            .init(taskID: taskID, assignee: assignee, workspace: started.workspace, runID: run, pid: started.pid))
    }

    // MARK: worker exits

    func workerExited(run: Int64, exitCode: Int32?, signal: Int32?) async {
        guard var worker = workers[run] else { return }
        if !worker.spawnRecorded {
            worker.pendingExit = (exitCode, signal)
            workers[run] = worker
            return
        }
        workers[run] = nil
        // Whatever the worker left behind in its process group goes too.
        if kill(-worker.pid, 0) == 0 {
            kill(-worker.pid, SIGTERM)
            lingeringGroups[worker.pid] = LingeringGroup(
                taskID: worker.taskID, deadline: clock.nowMillis() + Int64(config.killGrace * 1000))
        }
        let ending: RunEnding
        switch worker.stopReason {
        case .claimExpired:
            ending = RunEnding(
                outcome: EventKind.reclaimed, exitCode: exitCode, signal: signal,
                error: "claim expired without a heartbeat; worker stopped", countsAsFailure: false)
        case .timedOut(let limit):
            let elapsed = Double(clock.nowMillis() - worker.startedAt) / 1000
            ending = RunEnding(
                outcome: EventKind.timedOut, exitCode: exitCode, signal: signal,
                error: "worker exceeded max_runtime of \(limit)s", logTail: logs.tail(taskID: worker.taskID),
                countsAsFailure: true,
                extra: ["limit_seconds": .double(limit), "elapsed_seconds": .double(elapsed)])
        case .runEnded, .none:
            let exitedClean = exitCode == 0 && signal == nil
            ending = RunEnding(
                outcome: exitedClean ? EventKind.exitedWithoutResult : EventKind.crashed, exitCode: exitCode,
                signal: signal,
                error: worker.adopted && exitCode == nil && signal == nil
                    ? "re-adopted worker exited; its exit status is unknown" : nil,
                logTail: logs.tail(taskID: worker.taskID), countsAsFailure: true)
        }
        // A run someone else ended (block, complete, archive) did not fail: no retry delay for
        // whatever happens to its task next (an unblock starts a worker as soon as this one is gone).
        if ending.countsAsFailure && worker.stopReason != .runEnded {
            retryNotBefore[worker.taskID] = clock.nowMillis() + Int64(config.retryDelay * 1000)
        }
        let kernel = board.kernel
        let limit = config.failureLimit
        do {
            try await board.write { db, fx in try kernel.finishRun(db, &fx, run: run, ending: ending, failureLimit: limit) }
        } catch {
            logger.error("cannot record the end of run \(run): \(error)")
        }
        await tick(full: false)
    }

    // MARK: stopping workers

    private func stop(_ run: Int64, reason: StopReason) {
        guard var worker = workers[run] else { return }
        worker.stopReason = reason
        worker.killAt = clock.nowMillis() + Int64(config.killGrace * 1000)
        workers[run] = worker
        logger.info("stopping worker of \(worker.taskID) (run \(run), pid \(worker.pid)): \(reason)")
        signal(worker, SIGTERM)
    }

    private func signal(_ worker: LiveWorker, _ number: Int32) {
        // The worker leads its own session and process group (setsid): signal the whole group.
        // No fallback to the bare pid: the group outlives its leader until the leader is reaped,
        // so a failure means the worker is gone and its pid may already be someone else's.
        kill(-worker.pid, number)
    }

    /// Every 100 ms: runtime limits, SIGKILL escalation, log bounds, adopted workers' liveness.
    private func housekeeping() async {
        let now = clock.nowMillis()
        for (run, worker) in workers {
            if let killAt = worker.killAt, now >= killAt {
                signal(worker, SIGKILL)
                workers[run]?.killAt = nil
            }
            if worker.stopReason == nil, let limit = worker.maxRuntime,
                Double(now - worker.startedAt) / 1000 >= limit
            {
                stop(run, reason: .timedOut(limit: limit))
            }
            logs.rotateIfNeeded(path: logs.path(for: worker.taskID), maxBytes: config.logMaxBytes)
            if worker.adopted && !ProcFS.isAlive(worker.pid, startTime: worker.startTime) {
                await workerExited(run: run, exitCode: nil, signal: nil)
            }
        }
        var groupsGone = false
        for (group, lingering) in lingeringGroups {
            if kill(-group, 0) != 0 {
                lingeringGroups[group] = nil
                groupsGone = true
            } else if now >= lingering.deadline && !lingering.killed {
                kill(-group, SIGKILL)
                lingeringGroups[group]?.killed = true
                lingeringGroups[group]?.deadline = now + Int64(config.killGrace * 1000) + 1000
            } else if now >= lingering.deadline {
                // Still there a grace after SIGKILL: zombies nobody reaps (kanband as PID 1 inherits
                // its workers' orphans) or a reused group id. Let go rather than hold the task
                // (and signal the id) forever.
                logger.warning("process group \(group) of \(lingering.taskID) outlived SIGKILL; no longer waiting for it")
                lingeringGroups[group] = nil
                groupsGone = true
            }
        }
        // A task held back while its old processes lived may start now.
        if groupsGone { await tick(full: false) }
    }

    // MARK: recovery

    /// After a restart: re-adopt workers that are still alive (same pid and start time), and
    /// treat the ones that died meanwhile as crashed.
    private func recover() async {
        let kernel = board.kernel
        let limit = config.failureLimit
        do {
            try await board.write { db, fx in
                try kernel.closeOrphanRuns(db)
                _ = try kernel.promoteAllReady(db, &fx)
            }
            let live = try await board.read { db in try kernel.liveRuns(db) }
            for run in live {
                var pid = run.pid
                var startTime = run.pidStartTime
                if pid == nil && run.claimer == Kernel.dispatcherClaimer {
                    // kanband died between starting the worker and recording its pid.
                    pid = ProcFS.findWorker(runID: run.id, home: locations.home)
                    startTime = pid.flatMap { ProcFS.stat($0)?.startTime }
                    if pid == nil {
                        try await board.write { db, fx in
                            try kernel.finishRun(
                                db, &fx, run: run.id,
                                ending: RunEnding(
                                    outcome: EventKind.reclaimed, error: "kanband stopped while starting this worker",
                                    countsAsFailure: false), failureLimit: limit)
                        }
                        continue
                    }
                }
                guard let pid else { continue }  // an external claim: its TTL governs it
                if ProcFS.isAlive(pid, startTime: startTime) {
                    let task = try await board.task(run.taskID)
                    workers[run.id] = LiveWorker(
                        runID: run.id, taskID: run.taskID, assignee: task.assignee ?? "", pid: pid, startTime: startTime,
                        startedAt: run.startedAt, maxRuntime: config.worker(for: task.assignee ?? "")?.maxRuntime,
                        adopted: true, spawnRecorded: true)
                    try await board.write { db, fx in
                        try kernel.appendEvent(
                            db, &fx, task: run.taskID, kind: EventKind.adopted, payload: ["pid": .int(Int64(pid))],
                            run: run.id, actor: Kernel.dispatcherClaimer)
                    }
                    logger.info("re-adopted worker of \(run.taskID) (run \(run.id), pid \(pid))")
                } else {
                    try await board.write { db, fx in
                        try kernel.finishRun(
                            db, &fx, run: run.id,
                            ending: RunEnding(
                                outcome: EventKind.crashed, error: "worker died while kanband was not running",
                                countsAsFailure: true), failureLimit: limit)
                    }
                    retryNotBefore[run.taskID] = clock.nowMillis() + Int64(config.retryDelay * 1000)
                }
            }
        } catch {
            logger.error("recovery failed: \(error)")
        }
    }

    // MARK: configuration and status

    func reload() throws -> ReloadResult {
        do {
            let fresh = try DispatcherConfig.load(path: configPath)
            config = Dispatcher.applying(overrides, to: fresh)
            board.claimTTLSeconds = config.claimTTL
            configError = nil
            logger.info("reloaded \(configPath)")
            let names = config.workers.keys.sorted()
            Task { await self.tick() }
            return ReloadResult(ok: true, path: configPath, workers: names)
        } catch {
            configError = error.description
            logger.error("reload refused, keeping the previous configuration: \(error.description)")
            throw KanbanError(.invalidArgument, "config not reloaded (the previous one stays in force): \(error.description)")
        }
    }

    func health() async -> DispatcherHealth {
        let failing = (try? await board.read { db in try Int.fetchOne(cached: db, sql: "SELECT count(*) FROM tasks WHERE failures > 0") ?? 0 }) ?? 0
        return DispatcherHealth(
            enabled: true, lastTickAt: lastTickAt?.seconds, lastTickSeconds: lastTickMillis.map { $0 / 1000 },
            ticks: ticks, running: workers.count, maxConcurrent: config.maxConcurrent,
            perAssignee: config.workers.compactMapValues(\.maxConcurrent), failureLimit: config.failureLimit,
            intervalSeconds: config.interval, claimTTLSeconds: config.claimTTL, failingTasks: failing,
            configPath: configPath, configError: configError)
    }

    // MARK: gc

    func gc(_ p: GCParams) async throws -> GCResult {
        let collector = GarbageCollector(board: board, locations: locations, logs: logs)
        let events = p.eventRetentionDays ?? config.eventRetentionDays
        let logs = p.logRetentionDays ?? config.logRetentionDays
        let dryRun = p.dryRun ?? false
        let live = occupiedTasks
        // Off the actor: its directory scans and deletions must not hold up housekeeping (SIGKILL
        // escalation, runtime limits). (The periodic pass that runs the daily gc still waits for it.)
        return try await Task.detached {
            try await collector.run(eventRetentionDays: events, logRetentionDays: logs, dryRun: dryRun, liveTasks: live)
        }.value
    }

    private func dailyGC() async {
        let now = clock.nowMillis()
        guard now - lastGC >= 86_400_000 else { return }
        lastGC = now
        do {
            let result = try await gc(GCParams())
            logger.info("daily gc: \(result.events) events, \(result.logs.count) logs, \(result.workspaces.count) workspaces")
        } catch {
            logger.error("daily gc failed: \(error)")
        }
    }
}
