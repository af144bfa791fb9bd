import GRDB
import KanbanProtocol

extension Board {
    /// One page of committed events in `(after, upTo]` that pass `filter`, for a watcher's replay.
    func replay(after: Int64, upTo: Int64, filter: EventFilter) async throws -> EventsListResult {
        try await bulkRead { db in
            var sql = """
                SELECT e.id, e.task_id, e.run_id, e.kind, e.payload, e.actor, e.created_at
                FROM events e LEFT JOIN tasks t ON t.id = e.task_id
                WHERE e.id > ? AND e.id <= ?
                """
            var arguments: [any DatabaseValueConvertible] = [after, upTo]
            if let task = filter.task {
                sql += " AND e.task_id = ?"
                arguments.append(task)
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
                arguments.append(contentsOf: kinds.sorted() as [any DatabaseValueConvertible])
            }
            sql += " ORDER BY e.id LIMIT 1000"
            let events = try Row.fetchAll(db, sql: sql, arguments: StatementArguments(arguments)).map(Rows.event)
            // A page shorter than the limit means everything up to the boundary has been seen.
            let cursor = events.count < 1000 ? upTo : events.last!.id
            return EventsListResult(events: events, cursor: cursor)
        }
    }
}
