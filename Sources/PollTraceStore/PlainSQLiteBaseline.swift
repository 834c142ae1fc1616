import PollTraceCore

/// The baseline the store's benchmark compares the writer against (issue 2): plain
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
        var batches = BatchMemory()
        var open = OpenBatches()
        func add(_ entry: OpenBatches.Entry) {
            let text = BatchPacking.encode(entry.batch, dispatches: entry.dispatches)
            let b = entry.batch
            batchRows.append(BatchRow(seq: stored(b.seq), tag: RowEncoding.tag(.batch, b.poller), t: stored(b.timeNs &- start),
                                      batchNumber: stored(b.batchNumber), timeout: Int64(b.timeoutMs), waited: stored(b.waitedNs),
                                      eventCount: Int64(b.events.count), events: b.events.isEmpty ? nil : text,
                                      packedDispatches: entry.packed > 0 ? Int64(entry.packed) : nil))
        }
        var heldFD: TraceRecord? = nil
        for (index, record) in records.enumerated() {
            switch record {
            case .syscall(let r):
                syscallRows.append(SyscallRow(seq: stored(r.seq), poller: Int64(r.poller), t: stored(r.timeNs &- start),
                                              tid: Int64(r.tid), fd: Int64(r.fd), nameID: 1, result: r.result,
                                              errno: Int64(r.errno), isData: r.isDataCall ? 1 : 0, sourceLine: Int64(r.sourceLine)))
            case .batch(let b):
                if let previous = open.open(b) { add(previous) }
                batches.remember(b, t: stored(b.timeNs &- start))
            case .dispatch(let d):
                if open.pack(d) { continue }
                recordRows.append(RowEncoding.row(for: record, start: start, firstEventID: 0, labelID: 0, batch: batches.base(for: d)))
            case .fdOpened, .registered, .modified, .unregistered, .closed:
                if index + 1 < records.count && FDRecordPairing.packs(record, into: records[index + 1]) {
                    heldFD = record
                    continue
                }
                fdRows.append(FDRecordPairing.row(for: record, packed: heldFD, start: start, labelID: 1))
                heldFD = nil
            default:
                recordRows.append(RowEncoding.row(for: record, start: start, firstEventID: 0, labelID: 1))
            }
        }
        for entry in open.drain() { add(entry) }
    }

    /// Inserts every row into a new file at `path`; returns the seconds it took
    /// (open, schema, inserts and the final commit; not closing the connection).
    public func run(path: String, rowsPerTransaction: Int = 10_000) throws -> Double {
        let clock = ContinuousClock()
        let began = clock.now
        let db = try SQLiteConnection(path: path, readOnly: false)
        try db.execute(sql: "PRAGMA journal_mode = WAL; PRAGMA synchronous = NORMAL;")
        try db.execute(sql: Schema.createTables)
        let insertRecord = try db.makeStatement(sql: "INSERT INTO records(seq, tag, t, a, b, c, d, e, f) VALUES (?,?,?,?,?,?,?,?,?)")
        let insertFD = try db.makeStatement(sql: "INSERT INTO fd_records(seq, tag, t, a, b, c, d, e, f, g) VALUES (?,?,?,?,?,?,?,?,?,?)")
        let insertSyscall = try db.makeStatement(sql: """
            INSERT INTO syscall_rows(seq, poller, t, tid, fd, name_id, result, errno, is_data, source_line) VALUES (?,?,?,?,?,?,?,?,?,?)
            """)
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
            while next < batchRows.count && batchRows[next].seq < row.seq { try insert(batchRows[next], with: insertRecord); next += 1 }
            try insert(row, with: insertRecord)
        }
        try insert(Array(batchRows[next...]), with: insertRecord)
        try insert(fdRows, with: insertFD)
        try insert(syscallRows, with: insertSyscall)
        if inTransaction > 0 { try db.execute(sql: "COMMIT") }
        let elapsed = clock.now - began
        return Double(elapsed.components.seconds) + Double(elapsed.components.attoseconds) / 1e18
    }
}

import CSQLite

extension PlainSQLiteBaseline {
    /// The linked SQLite's version, for benchmark reports.
    public static var sqliteVersion: String { String(cString: sqlite3_libversion()) }
}
