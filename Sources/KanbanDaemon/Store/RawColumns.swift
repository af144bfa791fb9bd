import GRDB
import GRDBSQLite

/// Column reads straight from SQLite for the hot row mappings (tasks in lists and lookups).
///
/// GRDB's `row[i]` decodes an optional column through a generic path that instantiates type
/// metadata per value; for a 10k-task list that was about a third of kanband's time. The columns
/// a mapping reads are fixed by its own SELECT, so typed C reads lose nothing.
struct RawColumns {
    let statement: OpaquePointer

    /// Steps `statement` (arguments already set) and maps each row.
    static func map<T>(_ statement: Statement, _ transform: (RawColumns) throws -> T) throws -> [T] {
        let cursor = try Row.fetchCursor(statement)
        let columns = RawColumns(statement: statement.sqliteStatement)
        var results: [T] = []
        while try cursor.next() != nil { results.append(try transform(columns)) }
        return results
    }

    func isNull(_ index: Int32) -> Bool { sqlite3_column_type(statement, index) == SQLITE_NULL }

    func string(_ index: Int32) -> String {
        guard let text = sqlite3_column_text(statement, index) else { return "" }
        let count = Int(sqlite3_column_bytes(statement, index))
        return String(decoding: UnsafeBufferPointer(start: text, count: count), as: UTF8.self)
    }

    func optionalString(_ index: Int32) -> String? { isNull(index) ? nil : string(index) }

    func int64(_ index: Int32) -> Int64 { sqlite3_column_int64(statement, index) }

    func optionalInt64(_ index: Int32) -> Int64? { isNull(index) ? nil : int64(index) }

    func int(_ index: Int32) -> Int { Int(int64(index)) }
}
