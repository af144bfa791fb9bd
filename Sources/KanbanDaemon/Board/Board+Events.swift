import GRDB
import KanbanProtocol

extension Board {
    /// One page of committed events in `(after, upTo]` that pass `filter`, for a watcher's replay.
    func replay(after: Int64, upTo: Int64, filter: EventFilter) async throws -> EventsListResult {
        try await bulkRead { db in
            var sql = "SELECT \(EventStorage.columns) FROM \(EventStorage.source) WHERE e.id > ? AND e.id <= ?"
            var arguments: [any DatabaseValueConvertible] = [after, upTo]
            if let task = filter.task {
                let (condition, reference) = try EventStorage.taskCondition(db, task: task)
                sql += " AND \(condition)"
                arguments.append(reference)
            }
            if let assignee = filter.assignee {
                sql += " AND t.assignee = ?"
                arguments.append(assignee)
            }
            if let tenant = filter.tenant {
                sql += " AND t.tenant = ?"
                arguments.append(tenant)
            }
            if let kinds = filter.kinds {
                sql += " AND e.kind IN (\(kinds.map { _ in "?" }.joined(separator: ",")))"
                arguments.append(contentsOf: kinds.sorted().map(EventStorage.storedKind) as [any DatabaseValueConvertible])
            }
            sql += " ORDER BY e.id LIMIT 1000"
            // Not cached: the kinds filter has as many placeholders as the client names kinds, and
            // each count would stay in the statement cache for good.
            let events = try RawColumns.fetch(
                db, sql: sql, cached: false, arguments: StatementArguments(arguments), EventStorage.event)
            // A page shorter than the limit means everything up to the boundary has been seen.
            let cursor = events.count < 1000 ? upTo : events.last!.id
            return EventsListResult(events: events, cursor: cursor)
        }
    }
}
