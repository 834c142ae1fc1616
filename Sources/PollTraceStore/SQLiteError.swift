import CSQLite
#if canImport(Glibc)
import Glibc
#endif

/// A failed `sqlite3_*` call: SQLite's result code, its message, and the SQL that
/// was running, so the description reads like a sentence a user can act on.
public struct SQLiteError: Error, CustomStringConvertible, Sendable {
    /// The extended result code (`SQLITE_FULL`, `SQLITE_CORRUPT`, ...).
    public let resultCode: Int32
    public let message: String
    public let sql: String?

    public init(resultCode: Int32, message: String, sql: String? = nil) {
        self.resultCode = resultCode; self.message = message; self.sql = sql
    }

    /// The primary result code (the low byte of the extended one).
    public var primaryCode: Int32 { resultCode & 0xff }

    /// True for the codes that mean "this file is damaged or is not a database".
    public var isCorruption: Bool { primaryCode == SQLITE_CORRUPT || primaryCode == SQLITE_NOTADB }

    /// True for the codes that mean "the disk (or a size limit) is full".
    public var isFull: Bool { primaryCode == SQLITE_FULL }

    public var description: String {
        let name = String(cString: sqlite3_errstr(resultCode))
        var text = "SQLite error \(resultCode) (\(name)): \(message)"
        if let sql { text += " [while running: \(sql.count > 200 ? String(sql.prefix(200)) + "…" : sql)]" }
        return text
    }

    /// The error SQLite holds for `db` after a call returned `code`.
    static func from(_ db: OpaquePointer?, code: Int32, sql: String? = nil) -> SQLiteError {
        let extended = db.map { sqlite3_extended_errcode($0) } ?? code
        var message = db.flatMap { sqlite3_errmsg($0) }.map { String(cString: $0) } ?? String(cString: sqlite3_errstr(code))
        // For I/O failures the OS's errno says what really happened (ENOSPC, EFBIG, EACCES...).
        let primary = code & 0xff
        if let db, primary == SQLITE_IOERR || primary == SQLITE_FULL || primary == SQLITE_CANTOPEN {
            let osError = sqlite3_system_errno(db)
            if osError != 0 { message += " (OS error \(osError): \(String(cString: strerror(osError))))" }
        }
        // The connection's extended code can belong to an earlier call; trust it only
        // when its primary part agrees with what this call returned.
        return SQLiteError(resultCode: (extended & 0xff) == (code & 0xff) ? extended : code, message: message, sql: sql)
    }
}

/// One value of a result column, as SQLite typed it.
public enum SQLiteValue: Hashable, Sendable, CustomStringConvertible {
    case null
    case integer(Int64)
    case real(Double)
    case text(String)
    case blob([UInt8])

    public var description: String {
        switch self {
        case .null: "NULL"
        case .integer(let v): String(v)
        case .real(let v): String(v)
        case .text(let v): v
        case .blob(let v): "x'" + v.map { String($0, radix: 16).leftPadded(to: 2) }.joined() + "'"
        }
    }
}

extension String {
    fileprivate func leftPadded(to width: Int) -> String {
        count >= width ? self : String(repeating: "0", count: width - count) + self
    }
}
