import PollTraceCore

/// The baseline the store's benchmark compares the writer against: plain
/// SQLite inserting the *same rows* into the same tables, with one prepared
/// single-row INSERT reused, 10k-row transactions, WAL and synchronous=NORMAL.
///
/// The rows are encoded before the clock starts, so the baseline measures SQLite
/// alone; the writer is timed with its encoding included.
public struct PlainSQLiteBaseline {
    private var recordRows: [RecordRow] = []
    private var batchRows: [BatchRow] = []
    private var fdRows: [FDRow] = []
    private var syscallRows: [SyscallRow] = []

    /// Rows prepared (records, batch rows with their packed events and dispatches, syscalls).
    public var rowCount: Int { recordRows.count + batchRows.count + fdRows.count + syscallRows.count }

    /// Encodes the rows the writer would write for `records` (as one commit, so every
    /// dispatch that can be packed into its batch's row is).
    public init(records: [TraceRecord], startMonotonicNs start: UInt64) {
        var packing = RowPacking(start: start)
        // The baseline has no `strings` rows: every label and name is id 1.
        packing.rows(for: records, stringID: { _ in 1 }) { row in
            switch row {
            case .record(let r): recordRows.append(r)
            case .batch(let r): batchRows.append(r)
            case .fd(let r): fdRows.append(r)
            case .syscall(let r): syscallRows.append(r)
            }
        }
    }

    /// Inserts every row into a new file at `path`; returns the seconds it took
    /// (open, schema, inserts and the final commit; not closing the connection).
    public func run(path: String, rowsPerTransaction: Int = 10_000) throws -> Double {
        let began = MonotonicClock.nowNs()
        let db = try SQLiteConnection(path: path, readOnly: false)
        try db.execute(sql: "PRAGMA page_size = \(CompactSchema.pageSize); PRAGMA journal_mode = WAL; PRAGMA synchronous = NORMAL;")
        try db.execute(sql: CompactSchema.createTables)
        // The same column lists the writer binds, checked against each row's count.
        func insertStatement<Row: BindableRow>(_ table: String, _ columns: [String], for _: Row.Type) throws -> SQLiteStatement {
            try db.makeStatement(sql: "INSERT INTO \(table)(\(columns.joined(separator: ", "))) VALUES ("
                                    + Array(repeating: "?", count: columns.count).joined(separator: ",") + ")",
                                 parameters: columns.count)
        }
        let insertRecord = try insertStatement("records", RecordRow.columns, for: RecordRow.self)
        let insertBatch = try insertStatement("records", BatchRow.columns, for: BatchRow.self)
        let insertFD = try insertStatement("fd_records", FDRow.columns, for: FDRow.self)
        let insertSyscall = try insertStatement("syscall_rows", SyscallRow.columns, for: SyscallRow.self)
        var inTransaction = 0
        func insert<Row: BindableRow>(_ row: Row, with statement: SQLiteStatement) throws {
            if inTransaction == 0 { try db.execute(sql: "BEGIN") }
            row.bind(to: statement, at: 1)
            try statement.run()
            statement.reset()
            inTransaction += 1
            if inTransaction == rowsPerTransaction {
                try db.execute(sql: "COMMIT")
                inTransaction = 0
            }
        }
        func insert<Row: BindableRow>(_ rows: [Row], with statement: SQLiteStatement) throws {
            for row in rows { try insert(row, with: statement) }
        }
        // Batch rows and the other `records` rows in seq order, as the writer appends them.
        var next = 0
        for row in recordRows {
            while next < batchRows.count && batchRows[next].seq < row.seq { try insert(batchRows[next], with: insertBatch); next += 1 }
            try insert(row, with: insertRecord)
        }
        try insert(Array(batchRows[next...]), with: insertBatch)
        try insert(fdRows, with: insertFD)
        try insert(syscallRows, with: insertSyscall)
        if inTransaction > 0 { try db.execute(sql: "COMMIT") }
        return Double(MonotonicClock.nowNs() - began) / 1e9
    }
}

import CSQLite

extension PlainSQLiteBaseline {
    /// The linked SQLite's version, for benchmark reports.
    public static var sqliteVersion: String { String(cString: sqlite3_libversion()) }
}
