import PollTraceStore

/// Why `polltrace query` refused or failed to run a statement.
public enum TraceQueryError: Error, CustomStringConvertible, Sendable {
    /// The statement could change the trace (`sqlite3_stmt_readonly` says so).
    case writeRefused(path: String, sql: String)
    case invalidSQL(path: String, detail: String)

    public var description: String {
        switch self {
        case .writeRefused(let path, let sql):
            "\(path): refused: the statement could change the trace, and the analyzer never writes to a trace it reads: \(sql)"
        case .invalidSQL(let path, let detail):
            "\(path): the SQL could not run: \(detail)"
        }
    }
}

/// Read-only SQL over a trace. Two locks: the file is opened read-only, and the
/// statement is refused before it runs unless SQLite says it is read-only.
public enum TraceQuery {
    /// Runs `sql`, calling `header` once with the column names and `row` per row
    /// (streamed, so a large result never sits in memory).
    public static func run(path: String, sql: String, header: ([String]) throws -> Void,
                           row: ([SQLiteValue]) throws -> Void) throws {
        let reader = try TraceReader(path: path)
        let statement: SQLiteStatement
        do {
            statement = try reader.connection.makeStatement(sql: sql)
        } catch let error as SQLiteError {
            throw TraceQueryError.invalidSQL(path: path, detail: error.description)
        }
        guard statement.isReadOnly else { throw TraceQueryError.writeRefused(path: path, sql: sql) }
        let columns = statement.columnCount
        try header((0..<columns).map { statement.columnName($0) })
        do {
            while try statement.step() {
                try row((0..<columns).map { statement.value($0) })
            }
        } catch let error as SQLiteError {
            throw TraceQueryError.invalidSQL(path: path, detail: error.description)
        }
    }
}
