import Foundation
import KanbanProtocol
import Testing

@testable import KanbanDaemon

/// `task.list`: filters, order and limits, and that a summary list is the same tasks as the whole
/// list, member for member.
@Suite struct BoardListTests {
    @Test func summariesAreTheWholeListsTasksInTheSameOrder() async throws {
        let f = try BoardFixture()
        defer { f.close() }
        let parent = try await f.create("parent", assignee: "alice", tenant: "acme", priority: 2)
        try await f.create("child", body: String(repeating: "long body ", count: 100), parents: [parent.id])
        try await f.create("low", priority: -1)
        try await f.create("high", assignee: "bob", priority: 5)
        f.clock.advance(seconds: 1)
        try await f.create("high but later", priority: 5)
        let filters = [
            ListParams(), ListParams(status: "ready"), ListParams(status: "todo"), ListParams(assignee: "alice"),
            ListParams(tenant: "acme"), ListParams(limit: 2), ListParams(status: "ready", limit: 0),
        ]
        for filter in filters {
            var summary = filter
            summary.summary = true
            let whole = try await f.board.list(filter)
            #expect(try await f.board.listSummaries(summary) == whole.map(\.summary))
        }
        #expect(try await f.board.list(ListParams()).map(\.title) == ["high", "high but later", "parent", "child", "low"])
        #expect(try await f.board.list(ListParams(limit: 2)).map(\.title) == ["high", "high but later"])
    }

    @Test func aNegativeLimitIsRefused() async throws {
        let f = try BoardFixture()
        defer { f.close() }
        await #expect(throws: KanbanError.self) { try await f.board.list(ListParams(limit: -1)) }
    }
}
