import CSQLite

/// `SQLITE_TRANSIENT`: SQLite copies the bound bytes (the macro does not import).
let sqliteTransient = unsafeBitCast(-1, to: sqlite3_destructor_type.self)

/// One compiled statement. Finalized in `deinit`. Parameters are 1-based as in
/// SQLite; result columns are 0-based.
public final class SQLiteStatement {
    let handle: OpaquePointer
    /// Keeps the connection open while the statement lives.
    public let connection: SQLiteConnection
    public let sql: String

    init(handle: OpaquePointer, connection: SQLiteConnection, sql: String) {
        self.handle = handle; self.connection = connection; self.sql = sql
    }

    deinit { sqlite3_finalize(handle) }

    /// The first failed `sqlite3_bind_*` since the last `reset`, with its parameter.
    /// Binding does not throw, so that the hot insert path stays free of `try`; the
    /// failure is raised by the next `step()` instead, before anything is written.
    private var bindFailure: (code: Int32, index: Int32)?

    /// Notes a failed bind (SQLITE_RANGE: no such parameter; SQLITE_TOOBIG; SQLITE_NOMEM).
    @inline(__always)
    private func check(_ code: Int32, _ index: Int32) {
        if code != SQLITE_OK && bindFailure == nil { bindFailure = (code, index) }
    }

    /// Advances to the next row: true if there is one, false when done.
    @inline(__always)
    public func step() throws -> Bool {
        if let failure = bindFailure { try failBind(failure) }
        let code = sqlite3_step(handle)
        if code == SQLITE_ROW { return true }
        if code == SQLITE_DONE { return false }
        try failStep(code)
    }

    /// The one place a failed step becomes an error.
    @inline(never)
    private func failStep(_ code: Int32) throws -> Never {
        throw SQLiteError.from(connection.handle, code: code, sql: sql)
    }

    @inline(never)
    private func failBind(_ failure: (code: Int32, index: Int32)) throws -> Never {
        bindFailure = nil
        throw SQLiteError(resultCode: failure.code,
                          message: "binding parameter \(failure.index) failed: \(String(cString: sqlite3_errstr(failure.code)))",
                          sql: sql)
    }

    /// Runs the statement to completion, ignoring rows.
    public func run() throws {
        while try step() {}
    }

    /// Rewinds the statement so it can run again; bindings are kept.
    public func reset() {
        sqlite3_reset(handle)
        bindFailure = nil
    }


    // MARK: Binding

    @inline(__always)
    public func bind(_ value: Int64, at index: Int32) {
        check(sqlite3_bind_int64(handle, index, value), index)
    }

    @inline(__always)
    public func bind(_ value: Int64?, at index: Int32) {
        check(value.map { sqlite3_bind_int64(handle, index, $0) } ?? sqlite3_bind_null(handle, index), index)
    }


    /// Binds the string's UTF-8 bytes in place (SQLite copies them). Handing the
    /// `String` to the C parameter directly would make a NUL-terminated copy on the
    /// heap for every short string (labels, syscall names), one allocation per bind.
    public func bind(_ value: String?, at index: Int32) {
        guard var value else { check(sqlite3_bind_null(handle, index), index); return }
        let code = value.withUTF8 { bytes -> Int32 in
            // A nil base address would bind NULL; an empty string is text.
            guard let base = bytes.baseAddress, bytes.count > 0 else { return sqlite3_bind_text(handle, index, "", 0, sqliteTransient) }
            return base.withMemoryRebound(to: CChar.self, capacity: bytes.count) {
                sqlite3_bind_text(handle, index, $0, Int32(bytes.count), sqliteTransient)
            }
        }
        check(code, index)
    }


    /// Binds packed text (UTF-8 bytes, copied by SQLite), or NULL.
    @inline(__always)
    func bindText(_ text: PackedTextBytes?, at index: Int32) {
        guard let text else { check(sqlite3_bind_null(handle, index), index); return }
        let code = text.base.withMemoryRebound(to: CChar.self, capacity: text.count) {
            sqlite3_bind_text(handle, index, $0, Int32(text.count), sqliteTransient)
        }
        check(code, index)
    }

    /// Binds `bytes` as a blob (SQLite copies them; no bytes bind NULL).
    func bindBlob(_ bytes: UnsafeBufferPointer<UInt8>, at index: Int32) {
        check(sqlite3_bind_blob64(handle, index, bytes.baseAddress, sqlite3_uint64(bytes.count), sqliteTransient), index)
    }

    public func bind(_ value: SQLiteValue, at index: Int32) {
        let code: Int32
        switch value {
        case .null: code = sqlite3_bind_null(handle, index)
        case .integer(let v): code = sqlite3_bind_int64(handle, index, v)
        case .real(let v): code = sqlite3_bind_double(handle, index, v)
        case .text(let v): code = sqlite3_bind_text(handle, index, v, -1, sqliteTransient)
        case .blob(let v):
            code = v.withUnsafeBytes { sqlite3_bind_blob64(handle, index, $0.baseAddress, sqlite3_uint64($0.count), sqliteTransient) }
        }
        check(code, index)
    }

    /// Binds a named parameter (`:n`, `@n`, `$n`; give the name with its prefix).
    /// Returns false if the statement has no such parameter.
    @discardableResult
    public func bind(_ value: SQLiteValue, named name: String) -> Bool {
        let index = sqlite3_bind_parameter_index(handle, name)
        guard index > 0 else { return false }
        bind(value, at: index)
        return true
    }

    /// The name of parameter `index` (1-based), with its prefix; nil for a bare `?`.
    public func parameterName(_ index: Int32) -> String? {
        sqlite3_bind_parameter_name(handle, index).map { String(cString: $0) }
    }

    /// Number of `?` parameters.
    public var parameterCount: Int32 { sqlite3_bind_parameter_count(handle) }

    // MARK: Reading

    public var columnCount: Int32 { sqlite3_column_count(handle) }

    public func columnName(_ index: Int32) -> String {
        sqlite3_column_name(handle, index).map { String(cString: $0) } ?? "?"
    }

    @inline(__always)
    public func int64(_ index: Int32) -> Int64 { sqlite3_column_int64(handle, index) }


    /// The column as text ("" for NULL), all of it: a zero byte inside is kept.
    public func text(_ index: Int32) -> String {
        withTextBytes(index) { String(decoding: $0, as: UTF8.self) }
    }

    @inline(__always)
    public func isNull(_ index: Int32) -> Bool { sqlite3_column_type(handle, index) == SQLITE_NULL }

    /// The column's bytes, copied ([] for NULL or an empty blob).
    func blob(_ index: Int32) -> [UInt8] {
        // _blob first, then _bytes: the documented order.
        let bytes = sqlite3_column_blob(handle, index)
        let count = Int(sqlite3_column_bytes(handle, index))
        guard count > 0, let bytes else { return [] }
        return Array(UnsafeRawBufferPointer(start: bytes, count: count))
    }

    @inline(__always)
    func isText(_ index: Int32) -> Bool { sqlite3_column_type(handle, index) == SQLITE_TEXT }

    /// Calls `body` with the column's text bytes (no copy; valid only inside `body`).
    @inline(__always)
    func withTextBytes<R>(_ index: Int32, _ body: (UnsafeBufferPointer<UInt8>) throws -> R) rethrows -> R {
        // _text first, then _bytes: the documented order for the length of the text.
        let text = sqlite3_column_text(handle, index)
        let count = Int(sqlite3_column_bytes(handle, index))
        return try body(UnsafeBufferPointer(start: text, count: text == nil ? 0 : count))
    }

    public func value(_ index: Int32) -> SQLiteValue {
        switch sqlite3_column_type(handle, index) {
        case SQLITE_NULL: return .null
        case SQLITE_INTEGER: return .integer(sqlite3_column_int64(handle, index))
        case SQLITE_FLOAT: return .real(sqlite3_column_double(handle, index))
        case SQLITE_TEXT: return .text(text(index))
        default:
            return .blob(blob(index))
        }
    }

    /// True if the statement cannot change the database (`sqlite3_stmt_readonly`).
    /// `polltrace query` checks this before it runs a user's SQL.
    public var isReadOnly: Bool { sqlite3_stmt_readonly(handle) != 0 }
}
