import Foundation
import KanbanProtocol
import Testing

@testable import KanbanDaemon

/// An in-process board on a temporary database with a manual clock: for kernel and store tests
/// that need no daemon process. Call `close()` at the end of each test.
final class BoardFixture: @unchecked Sendable {
    let dir: TempDir
    let clock: ManualBoardClock
    let board: Board
    var path: String { dir.path + "/kanban.db" }

    /// The actor recorded on events written through the fixture.
    static let actor = "tester"

    /// `seed`, when given, writes the database file first (an older schema to migrate, say).
    init(
        clock: ManualBoardClock = ManualBoardClock(), durability: Durability = .normal,
        seed: ((_ path: String) throws -> Void)? = nil
    ) throws {
        dir = TempDir("kanban-board")
        self.clock = clock
        try seed?(dir.path + "/kanban.db")
        board = try Board(path: dir.path + "/kanban.db", durability: durability, clock: clock)
    }

    func close() { board.close() }

    // MARK: shortcuts over the board's operations

    @discardableResult
    func create(
        _ title: String, body: String? = nil, assignee: String? = nil, parents: [String]? = nil,
        tenant: String? = nil, priority: Int? = nil, workspace: String? = nil, triage: Bool? = nil,
        key: String? = nil
    ) async throws -> TaskInfo {
        try await board.create(
            CreateParams(
                title: title, body: body, assignee: assignee, parents: parents, tenant: tenant, priority: priority,
                workspace: workspace, triage: triage, idempotencyKey: key),
            actor: BoardFixture.actor
        ).task
    }

    func task(_ id: String) async throws -> TaskInfo { try await board.task(id) }

    func status(_ id: String) async throws -> TaskStatus { try await board.task(id).status }

    @discardableResult
    func claim(_ id: String, ttl: Double? = nil, claimer: String? = "worker") async throws -> ClaimResult {
        try await board.claim(ClaimParams(id: id, ttl: ttl, claimer: claimer), actor: BoardFixture.actor)
    }

    @discardableResult
    func complete(_ id: String, result: String? = nil, run: Int64? = nil) async throws -> TaskInfo {
        try await board.complete(CompleteParams(id: id, result: result, runID: run), actor: BoardFixture.actor)
    }

    @discardableResult
    func block(_ id: String, reason: String? = nil, run: Int64? = nil) async throws -> TaskInfo {
        try await board.block(BlockParams(id: id, reason: reason, runID: run), actor: BoardFixture.actor)
    }

    @discardableResult
    func unblock(_ id: String) async throws -> TaskInfo {
        try await board.unblock(IDParams(id: id), actor: BoardFixture.actor)
    }

    @discardableResult
    func link(_ parent: String, _ child: String) async throws -> LinkResult {
        try await board.link(LinkParams(parent: parent, child: child), actor: BoardFixture.actor)
    }

    @discardableResult
    func unlink(_ parent: String, _ child: String) async throws -> LinkResult {
        try await board.unlink(LinkParams(parent: parent, child: child), actor: BoardFixture.actor)
    }

    /// Every event of `id`, oldest first.
    func events(_ id: String) async throws -> [EventInfo] {
        try await board.events(EventsListParams(task: id, limit: 10_000)).events
    }

    func kinds(_ id: String) async throws -> [String] { try await events(id).map(\.kind) }

    /// Ends `run` the way the dispatcher would.
    @discardableResult
    func finish(run: Int64, _ ending: RunEnding, failureLimit: Int = 3) async throws -> Bool {
        let kernel = board.kernel
        return try await board.write { db, fx in
            try kernel.finishRun(db, &fx, run: run, ending: ending, failureLimit: failureLimit)
        }
    }

    /// Everything an operation could have changed about a task, for "nothing changed" checks.
    struct Snapshot: Equatable {
        var task: TaskInfo
        var events: [EventInfo]
        var runs: [RunInfo]
        var comments: [CommentInfo]
        var parents: [String]
        var children: [String]
    }

    func snapshot(_ id: String) async throws -> Snapshot {
        let detail = try await board.detail(GetParams(id: id, events: 0))
        return Snapshot(
            task: detail.task, events: try await events(id), runs: detail.runs, comments: detail.comments,
            parents: detail.parents, children: detail.children)
    }

    /// Every event on the board (up to 10,000), oldest first.
    func allEvents() async throws -> [EventInfo] {
        try await board.events(EventsListParams(since: 0, limit: 10_000)).events
    }
}

/// Runs `body`, expecting it to be refused with a `KanbanError` of `kind`; returns the error.
@discardableResult
func expectBoardRefusal<T>(
    _ kind: ErrorKind, sourceLocation: SourceLocation = #_sourceLocation, _ body: () async throws -> T
) async -> KanbanError? {
    do {
        _ = try await body()
        Issue.record("expected a \(kind.rawValue) refusal, but the call succeeded", sourceLocation: sourceLocation)
        return nil
    } catch let error as KanbanError {
        #expect(error.kind == kind, "refused as \(error.kind.rawValue): \(error.message)", sourceLocation: sourceLocation)
        return error
    } catch {
        Issue.record("expected KanbanError(\(kind.rawValue)), got \(error)", sourceLocation: sourceLocation)
        return nil
    }
}
