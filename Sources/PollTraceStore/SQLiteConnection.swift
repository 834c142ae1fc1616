import CSQLite

/// One open SQLite database: the thin layer every `sqlite3_*` call of PollTrace goes
/// through. Each return code is checked where the call is made and becomes an
/// `SQLiteError` carrying the code, SQLite's message and the SQL.
///
/// Not thread-safe: a connection belongs to one thread at a time (the trace writer's
/// background thread, or the reader's caller). Opened with `SQLITE_OPEN_NOMUTEX`.
public final class SQLiteConnection {
    /// `sqlite3*`. Closed in `deinit` (`sqlite3_close_v2` waits for unfinalized statements).
    let handle: OpaquePointer
    public let path: String
    public let isReadOnly: Bool

    /// Opens (`readOnly`) or opens-or-creates the database at `path`. `immutable`
    /// (read-only only) promises SQLite that nothing changes the file while it is
    /// open: no locks, no `-wal` or `-shm` files made beside it.
    public init(path: String, readOnly: Bool, immutable: Bool = false) throws {
        _ = Self.configureOnce
        var db: OpaquePointer?
        var flags = (readOnly ? SQLITE_OPEN_READONLY : (SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE))
            | SQLITE_OPEN_NOMUTEX | SQLITE_OPEN_EXRESCODE
        var name = path
        if readOnly && immutable {
            flags |= SQLITE_OPEN_URI
            // An absolute path gets an empty authority ("file:///x"): "file://tmp/x"
            // would make "tmp" the host, which SQLite refuses.
            name = (path.hasPrefix("/") ? "file://" : "file:") + Self.uriEscaped(path) + "?immutable=1"
        }
        let code = sqlite3_open_v2(name, &db, flags, nil)
        guard code == SQLITE_OK, let db else {
            let error = SQLiteError.from(db, code: code, sql: nil)
            if let db { sqlite3_close_v2(db) }
            throw error
        }
        handle = db
        self.path = path
        isReadOnly = readOnly
        sqlite3_extended_result_codes(db, 1)
        // A reader that meets a writer's lock (a daemon's trace being closed: its
        // checkpoint and the switch out of WAL mode take the file for a moment)
        // waits for it rather than failing with "database is locked".
        if readOnly { sqlite3_busy_timeout(db, Self.readerBusyTimeoutMs) }
    }

    /// How long a reader waits for a writer's lock before giving up, in ms.
    static let readerBusyTimeoutMs: Int32 = 10_000

    /// Process-wide settings, made before the first open initializes SQLite. Memory
    /// statistics off: each SQLite allocation took a global mutex to count itself
    /// (a few percent of the trace writer thread, measured with perf).
    /// If something in the process initialized SQLite first, the call is refused
    /// and SQLite keeps counting; nothing else changes.
    private static let configureOnce: Void = {
        _ = polltrace_sqlite_disable_memory_statistics()
    }()

    deinit {
        sqlite3_close_v2(handle)
    }

    /// `path` as the path of a `file:` URI: the bytes a URI gives a meaning to
    /// (`%`, `?`, `#`) and any outside printable ASCII percent-encoded.
    static func uriEscaped(_ path: String) -> String {
        var out = ""
        for byte in path.utf8 {
            if byte > 0x20 && byte < 0x7F && byte != UInt8(ascii: "%") && byte != UInt8(ascii: "?") && byte != UInt8(ascii: "#") {
                out.unicodeScalars.append(Unicode.Scalar(byte))
            } else {
                let hex = String(byte, radix: 16, uppercase: true)
                out += (hex.count < 2 ? "%0" : "%") + hex
            }
        }
        return out
    }

    /// Runs one or more statements that return no rows we need.
    public func execute(sql: String) throws {
        var message: UnsafeMutablePointer<CChar>?
        let code = sqlite3_exec(handle, sql, nil, nil, &message)
        if code != SQLITE_OK {
            let text = message.map { String(cString: $0) } ?? String(cString: sqlite3_errstr(code))
            sqlite3_free(message)
            let extended = sqlite3_extended_errcode(handle)
            throw SQLiteError(resultCode: (extended & 0xff) == (code & 0xff) ? extended : code, message: text, sql: sql)
        }
    }

    /// Compiles the first statement of `sql`. Throws if `sql` holds more than one
    /// statement (other than trailing whitespace and semicolons), so a caller that
    /// checks `isReadOnly` cannot be fooled by a second, writing statement.
    public func makeStatement(sql: String) throws -> SQLiteStatement {
        var statement: OpaquePointer?
        var rest: UnsafePointer<CChar>?
        let code: Int32 = sql.withCString { text in
            let result = sqlite3_prepare_v3(handle, text, -1, UInt32(SQLITE_PREPARE_PERSISTENT), &statement, &rest)
            if result == SQLITE_OK, let rest, !Self.isOnlyPunctuationAndComments(rest) { return SQLITE_MISUSE }
            return result
        }
        if code == SQLITE_MISUSE, let statement {
            sqlite3_finalize(statement)
            throw SQLiteError(resultCode: SQLITE_MISUSE, message: "only one SQL statement is allowed here", sql: sql)
        }
        guard code == SQLITE_OK else { throw SQLiteError.from(handle, code: code, sql: sql) }
        guard let statement else {
            throw SQLiteError(resultCode: SQLITE_MISUSE, message: "no SQL statement given", sql: sql)
        }
        return SQLiteStatement(handle: statement, connection: self, sql: sql)
    }

    /// Compiles `sql` and checks that it takes exactly `parameters` parameters: the
    /// number the caller is about to bind. A mismatch is a bug in the caller's SQL
    /// (a column added to the list but not to the binding, or the reverse) and
    /// would otherwise insert NULLs silently.
    public func makeStatement(sql: String, parameters: Int) throws -> SQLiteStatement {
        let statement = try makeStatement(sql: sql)
        guard Int(statement.parameterCount) == parameters else {
            throw SQLiteError(resultCode: SQLITE_RANGE,
                              message: "the statement takes \(statement.parameterCount) parameters but the code binds \(parameters)",
                              sql: sql)
        }
        return statement
    }

    /// True when `text` holds nothing but whitespace, `;` and SQL comments (`-- …`
    /// to the end of a line, `/* … */`): what may follow the one statement.
    static func isOnlyPunctuationAndComments(_ text: UnsafePointer<CChar>) -> Bool {
        var p = text
        while p.pointee != 0 {
            let c = p.pointee
            if c == 0x20 || c == 0x0a || c == 0x0d || c == 0x09 || c == 0x0c || c == 0x3b {
                p += 1
            } else if c == 0x2d && p[1] == 0x2d {  // -- comment
                while p.pointee != 0 && p.pointee != 0x0a { p += 1 }
            } else if c == 0x2f && p[1] == 0x2a {  // /* comment */
                p += 2
                while p.pointee != 0 && !(p.pointee == 0x2a && p[1] == 0x2f) { p += 1 }
                if p.pointee != 0 { p += 2 }
            } else {
                return false
            }
        }
        return true
    }

    /// The single integer the query returns (nil when it returns no row or NULL).
    public func scalarInt(sql: String) throws -> Int64? {
        let statement = try makeStatement(sql: sql)
        guard try statement.step(), !statement.isNull(0) else { return nil }
        return statement.int64(0)
    }
}
