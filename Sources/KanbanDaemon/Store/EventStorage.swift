import Foundation
import GRDB
import KanbanProtocol

/// How an event is stored (schema v4), as opposed to how it is sent (docs/PROTOCOL.md, unchanged).
///
/// The history is the bulk of the database — about ten events per task — so each stored event is
/// kept small, measured on the rows kanband really writes (docs/PERFORMANCE.md):
///
/// - **The task** is referenced by its number `tasks.seq`, a small integer (3 bytes up to 8 million
///   tasks) instead of the 18-byte text id, in the row and again in the `events_task` index. Reads
///   join `tasks` back to the text id. An event whose task the board does not hold (only a
///   database written by something else can have one) keeps its text id in `task_text` instead.
/// - **The kind** is stored as its code in `kindCodes` (one byte, or none for codes 0 and 1); a
///   kind not in that list is stored as its text, in the same untyped column.
/// - **The payload** of a kind with a layout is stored as a JSON array of its members' values in
///   layout order, with trailing members left out when they hold the value their omission stands
///   for (`null`, `[]`, `0`, `false`, the dispatcher as claimer…; absence for a member without
///   one). A payload that does not fit its layout exactly — a member missing before the end, a
///   member the layout does not name — is stored as a JSON object with sorted keys, as v3 stored
///   every payload. Reading restores the object, so clients see exactly what was appended, `null`
///   members included. (Payloads are objects by the protocol; a stored array is always read as
///   the positional form.)
///
/// `kindCodes` and `layouts` are part of the file format: append, never reorder or remove.
enum EventStorage {
    // MARK: task reference

    /// Selected columns in the order `event(_:)` reads them, over `source`.
    static let columns = "e.id, coalesce(t.id, e.task_text), e.run_id, e.kind, e.payload, e.actor, e.created_at"
    /// Events joined to their task (for the text id and for filters on the task's attributes).
    static let source = "events e LEFT JOIN tasks t ON t.seq = e.task_seq"

    /// The condition on `events e` that selects the events of task `id` (indexed either way): by
    /// its number, or by its text id when the board holds no such task.
    static func taskCondition(_ db: Database, task id: String) throws
        -> (sql: String, argument: any DatabaseValueConvertible & Sendable)
    {
        taskCondition(seq: try Int64.fetchOne(db.cachedStatement(sql: "SELECT seq FROM tasks WHERE id = ?"), arguments: [id]), id: id)
    }

    /// The same condition when the task's number (nil: not on the board) is already known.
    static func taskCondition(seq: Int64?, id: String) -> (sql: String, argument: any DatabaseValueConvertible & Sendable) {
        if let seq { return ("e.task_seq = ?", seq) }
        return ("e.task_text = ?", id)
    }

    // MARK: kinds

    /// Stored kind codes: a kind's code is its index. Append only.
    static let kindCodes: [String] = [
        EventKind.created, EventKind.completed, EventKind.claimed, EventKind.spawned, EventKind.commented,
        EventKind.heartbeat, EventKind.assigned, EventKind.linked, EventKind.unlinked, EventKind.promoted,
        EventKind.blocked, EventKind.unblocked, EventKind.archived, EventKind.reclaimed, EventKind.crashed,
        EventKind.exitedWithoutResult, EventKind.timedOut, EventKind.spawnFailed, EventKind.gaveUp, EventKind.adopted,
    ]
    private static let codeOfKind: [String: Int64] = Dictionary(
        uniqueKeysWithValues: kindCodes.enumerated().map { ($0.element, Int64($0.offset)) })

    /// The stored form of `kind`: its code, else its text.
    static func storedKind(_ kind: String) -> DatabaseValue {
        codeOfKind[kind].map { $0.databaseValue } ?? kind.databaseValue
    }

    /// The kind stored as `code` (a code this build does not know reads as its number).
    static func kind(code: Int64) -> String {
        code >= 0 && code < kindCodes.count ? kindCodes[Int(code)] : String(code)
    }

    /// `kinds` in their stored form as an SQL list, for kinds fixed in the code (never user input).
    static func storedKindList(_ kinds: [String]) -> String {
        let items = kinds.map { kind in
            codeOfKind[kind].map { String($0) } ?? "'" + kind.replacingOccurrences(of: "'", with: "''") + "'"
        }
        return "(" + items.joined(separator: ",") + ")"
    }

    /// SQL turning a v3 text kind (`expression`) into its stored form, for the migration.
    static func storedKindSQL(_ expression: String) -> String {
        let cases = kindCodes.enumerated().map { "WHEN '\($0.element)' THEN \($0.offset)" }.joined(separator: " ")
        return "CASE \(expression) \(cases) ELSE \(expression) END"
    }

    // MARK: payloads

    /// A payload member in a layout.
    struct Member: Sendable {
        let name: String
        /// What the member holds when a stored array ends before it: a value, or nil for a member
        /// that is then absent (an optional member, marked `?` in docs/PROTOCOL.md, or one that is
        /// always present and so is never left out).
        let omitted: JSONValue?

        init(_ name: String, omitted: JSONValue? = nil) {
            self.name = name
            self.omitted = omitted
        }
    }

    private static let failure = [
        Member("exit_code", omitted: .null), Member("signal", omitted: .null), Member("failures"), Member("error"),
        Member("log_tail"),
    ]

    /// The members of each kind's payload as docs/PROTOCOL.md lists them, those that most often hold
    /// their omitted value last. An omitted value is what the member usually holds: empty, or the
    /// common case (a task created ready, a claim by the dispatcher). Append members, never
    /// reorder or remove them, never change an omitted value.
    static let layouts: [String: [Member]] = [
        EventKind.created: [
            Member("assignee", omitted: .null), Member("status", omitted: .string(TaskStatus.ready.rawValue)),
            Member("priority", omitted: 0), Member("parents", omitted: []), Member("tenant", omitted: .null),
        ],
        EventKind.assigned: [Member("assignee", omitted: .null), Member("previous", omitted: .null)],
        EventKind.linked: [Member("parent"), Member("child"), Member("demoted", omitted: false)],
        EventKind.unlinked: [Member("parent"), Member("child")],
        EventKind.commented: [Member("author"), Member("len")],
        EventKind.promoted: [Member("from"), Member("to")],
        EventKind.claimed: [Member("expires"), Member("claimer", omitted: .string(Kernel.dispatcherClaimer))],
        EventKind.spawned: [Member("pid"), Member("workspace")],
        EventKind.adopted: [Member("pid")],
        EventKind.heartbeat: [Member("note")],
        EventKind.completed: [Member("result_len", omitted: 0), Member("summary", omitted: .null)],
        EventKind.blocked: [Member("reason", omitted: .null)],
        EventKind.unblocked: [Member("failures_reset", omitted: 0)],
        EventKind.archived: [Member("from")],
        EventKind.reclaimed: [
            Member("exit_code", omitted: .null), Member("signal", omitted: .null), Member("error"), Member("log_tail"),
        ],
        EventKind.crashed: failure,
        EventKind.exitedWithoutResult: failure,
        EventKind.spawnFailed: failure,
        EventKind.timedOut: failure + [Member("limit_seconds"), Member("elapsed_seconds")],
        EventKind.gaveUp: [Member("failures"), Member("limit"), Member("error")],
    ]

    /// The stored text of `payload` appended with an event of `kind`.
    static func storedPayload(kind: String, _ payload: JSONValue?) -> String? {
        guard let payload else { return nil }
        var stored = payload
        if case .object(let members) = payload, let layout = layouts[kind], let values = positional(members, layout) {
            stored = .array(values)
        }
        do {
            // `JSONValue` writes object members in key order: the same payload is always stored as
            // the same bytes.
            return String(decoding: try StreamingJSONEncoder.encode(stored, capacity: 64), as: UTF8.self)
        } catch {
            preconditionFailure("event payload failed to encode: \(error)")
        }
    }

    /// `members` as values in `layout` order, or nil when an array cannot say exactly the same.
    private static func positional(_ members: [String: JSONValue], _ layout: [Member]) -> [JSONValue]? {
        guard members.keys.allSatisfy({ name in layout.contains { $0.name == name } }) else { return nil }
        var count = layout.count
        // Leave out the tail whose members hold what their omission stands for (absent, for optional ones).
        while count > 0, members[layout[count - 1].name] == layout[count - 1].omitted { count -= 1 }
        var values: [JSONValue] = []
        for member in layout[..<count] {
            // A member missing before the end has no position to be left out from.
            guard let value = members[member.name] else { return nil }
            values.append(value)
        }
        return values
    }

    /// The payload an event of `kind` was appended with, from its stored text.
    static func payload(kind: String, _ stored: String?) -> JSONValue? {
        guard let stored else { return nil }
        // Text that is not JSON (only something other than kanband can have written it) reads as no payload.
        guard let value = try? StreamingJSONDecoder.decode(JSONValue.self, from: Array(stored.utf8)) else { return nil }
        guard case .array(let values) = value, let layout = layouts[kind], values.count <= layout.count else {
            return value
        }
        var members: [String: JSONValue] = [:]
        for (index, member) in layout.enumerated() {
            if index < values.count {
                members[member.name] = values[index]
            } else if let omitted = member.omitted {
                members[member.name] = omitted
            }
        }
        return .object(members)
    }

    // MARK: rows

    /// The event in the current row of a statement that selects `columns`.
    static func event(_ row: RawColumns) -> EventInfo {
        let kind = row.isInteger(3) ? kind(code: row.int64(3)) : row.string(3)
        return EventInfo(
            id: row.int64(0), taskID: row.string(1), runID: row.optionalInt64(2), kind: kind,
            payload: payload(kind: kind, row.optionalString(4)), actor: row.optionalString(5),
            createdAt: row.int64(6).seconds)
    }
}
