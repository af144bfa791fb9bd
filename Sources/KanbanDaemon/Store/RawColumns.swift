import GRDB
import GRDBSQLite

/// Column reads straight from SQLite for the hot row mappings (tasks in lists and lookups).
///
/// GRDB's `row[i]` decodes an optional column through a generic path that instantiates type
/// metadata per value; for a 10k-task list that was about a third of kanband's time. The columns
/// a mapping reads are fixed by its own SELECT, so typed C reads lose nothing.
struct RawColumns {
    let statement: OpaquePointer

    /// Steps `statement` (arguments already set) to its end and maps each row.
    ///
    /// GRDB's `Row.fetchCursor` builds a `Row` first, lowercasing every column name on each call
    /// (a tenth of a task lookup); this steps through GRDB's cursor protocol, which keeps its
    /// bookkeeping, without one. Works for `INSERT`/`UPDATE … RETURNING` too: stepping to the
    /// end completes the change.
    static func map<T>(_ statement: Statement, _ transform: (RawColumns) throws -> T) throws -> [T] {
        var results: [T] = []
        try withoutActuallyEscaping(transform) { transform in
            try Cursor(statement, transform).forEach { results.append($0) }
        }
        return results
    }

    /// The first row of `statement` mapped, stepping it to its end (see `map`).
    static func first<T>(_ statement: Statement, _ transform: (RawColumns) throws -> T) throws -> T? {
        try map(statement, transform).first
    }

    /// Every row of `sql` mapped: through the statement cache, or (`cached: false`, for SQL whose
    /// shape varies too much to cache) compiled for this call only.
    static func fetch<T>(
        _ db: Database, sql: String, cached: Bool = true, arguments: StatementArguments = [],
        _ transform: (RawColumns) throws -> T
    ) throws -> [T] {
        let statement = cached ? try db.cachedStatement(sql: sql) : try db.makeStatement(sql: sql)
        try statement.setArguments(arguments)
        return try map(statement, transform)
    }

    /// Executes `statement` (arguments already set), which returns no rows, through the same path.
    static func execute(_ statement: Statement) throws {
        try Cursor(statement) { _ in }.forEach { _ in }
    }

    /// A GRDB cursor whose elements are made from each row's raw columns.
    private final class Cursor<Element>: DatabaseCursor {
        var _isDone = false
        let _statement: Statement
        private let transform: (RawColumns) throws -> Element

        init(_ statement: Statement, _ transform: @escaping (RawColumns) throws -> Element) {
            self._statement = statement
            self.transform = transform
        }

        func _element(sqliteStatement: SQLiteStatement) throws -> Element {
            try transform(RawColumns(statement: sqliteStatement))
        }
    }

    func isNull(_ index: Int32) -> Bool { sqlite3_column_type(statement, index) == SQLITE_NULL }

    func isInteger(_ index: Int32) -> Bool { sqlite3_column_type(statement, index) == SQLITE_INTEGER }

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
