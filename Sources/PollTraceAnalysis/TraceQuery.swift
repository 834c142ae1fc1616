import PollTraceCore
import PollTraceStore

/// Why `polltrace query` refused or failed to run a statement.
public enum TraceQueryError: Error, CustomStringConvertible, Sendable {
    /// The statement could change the trace (`sqlite3_stmt_readonly` says so).
    case writeRefused(path: String, sql: String)
    case invalidSQL(path: String, detail: String)
    /// A parameter (`:name`, `?1`) that no `--param` binds.
    case unboundParameter(path: String, name: String)
    /// A trace without the v7 tables: one whose writer never closed it, one kept in
    /// its recording form on purpose (`keptRecordingForm`: closed, in this version's
    /// record chunks), or an older version. `finalize` (alias `upgrade`) makes them.
    case notPlainTables(path: String, version: Int, closed: Bool, keptRecordingForm: Bool)

    public var description: String {
        switch self {
        case .writeRefused(let path, let sql):
            "\(path): refused: the statement could change the trace, and the analyzer never writes to a trace it reads: \(sql)"
        case .invalidSQL(let path, let detail):
            "\(path): the SQL could not run: \(detail)"
        case .unboundParameter(let path, let name):
            "\(path): the SQL has a parameter \(name) that nothing binds; give it a value with --param \(name.dropFirst())=VALUE"
        case .notPlainTables(let path, _, true, true):
            "\(path): the trace was kept in its recording form (polltraced --trace-form recording, or a writer told not to make tables), which has no tables to query; `polltrace finalize \(path) -o NEW.sqlite` makes them (analyze, verify, stats, timeline and report read it as it is)"
        case .notPlainTables(let path, let version, let closed, _):
            closed
                ? "\(path): a trace of schema version \(version), whose tables this PollTrace no longer documents; `polltrace upgrade \(path) -o NEW.sqlite` makes a version \(TraceMetadata.currentSchemaVersion) copy to query (analyze, verify and stats read it as it is)"
                : "\(path): the trace was not closed by its writer (the process was killed, or is still recording), so it has only its recording form; `polltrace finalize \(path) -o NEW.sqlite` makes the tables to query (analyze, verify and stats read it as it is)"
        }
    }
}

/// Read-only SQL over a trace. Two locks: the file is opened read-only, and the
/// statement is refused before it runs unless SQLite says it is read-only.
public enum TraceQuery {
    /// Runs `sql`, calling `header` once with the column names and `row` per row
    /// (streamed, so a large result never sits in memory).
    public static func run(path: String, sql: String, parameters: [String: SQLiteValue] = [:],
                           header: ([String]) throws -> Void, row: ([SQLiteValue]) throws -> Void) throws {
        let reader = try TraceReader(path: path)
        guard reader.isPlain else {
            throw TraceQueryError.notPlainTables(path: path, version: reader.metadata.schemaVersion, closed: reader.closedCleanly,
                                                 keptRecordingForm: reader.hasRecordChunks)
        }
        let statement: SQLiteStatement
        do {
            statement = try reader.connection.makeStatement(sql: sql)
        } catch let error as SQLiteError {
            throw TraceQueryError.invalidSQL(path: path, detail: error.description)
        }
        guard statement.isReadOnly else { throw TraceQueryError.writeRefused(path: path, sql: sql) }
        for index in 0..<statement.parameterCount {
            let name = statement.parameterName(index + 1) ?? "?\(index + 1)"
            let key = String(name.dropFirst())
            guard let value = parameters[key] ?? parameters[name] else {
                throw TraceQueryError.unboundParameter(path: path, name: name)
            }
            statement.bind(value, at: index + 1)
        }
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
