import CSQLite
import PollTraceCore
@testable import PollTraceStore
#if canImport(Glibc)
import Glibc
#endif

/// The recording form's row layout (`CompactSchema.createTables`, `RowPacking`), as
/// recordings made before record chunks wrote it, one commit per `write`. Recordings
/// of those builds that were never closed are still read (`TraceRecordCursor`) and
/// finalized, so the tests write this layout to check that reader on random
/// schedules and on damage.
final class RowLayoutFile {
    let path: String
    let connection: SQLiteConnection
    private var records: MultiRowInsert<RecordRow>
    private var batchRows: MultiRowInsert<BatchRow>
    private var fdRecords: MultiRowInsert<FDRow>
    private var syscalls: MultiRowInsert<SyscallRow>
    private let insertString: SQLiteStatement
    private let insertPoller: SQLiteStatement
    private let begin: SQLiteStatement
    private let commit: SQLiteStatement
    /// Interned strings (handler labels, syscall names) already in `strings`.
    private var stringIDs: [String: Int64] = [:]
    /// How records become rows; kept across commits (a dispatch may be stored
    /// relative to a batch of an earlier commit).
    private var packing: RowPacking

    static let rowsPerStatement = 32

    /// Creates the file and its schema and writes the metadata, durably.
    init(path: String, metadata: TraceMetadata, options: TraceWriterOptions) throws {
        self.path = path
        packing = RowPacking(start: metadata.startMonotonicNs)
        connection = try TraceFile.create(path: path, metadata: metadata, options: options, tables: CompactSchema.createTables)
        do {
            records = try MultiRowInsert(connection: connection, table: "records", columns: RecordRow.columns, rowsPerStatement: Self.rowsPerStatement)
            batchRows = try MultiRowInsert(connection: connection, table: "records", columns: BatchRow.columns, rowsPerStatement: Self.rowsPerStatement)
            fdRecords = try MultiRowInsert(connection: connection, table: "fd_records", columns: FDRow.columns, rowsPerStatement: Self.rowsPerStatement)
            syscalls = try MultiRowInsert(connection: connection, table: "syscall_rows", columns: SyscallRow.columns, rowsPerStatement: Self.rowsPerStatement)
            insertString = try connection.makeStatement(sql: "INSERT INTO strings(id, text) VALUES (?, ?)")
            insertPoller = try connection.makeStatement(sql: "INSERT OR REPLACE INTO pollers(poller, backend, policy, epoll_fd, label) VALUES (?, ?, ?, ?, ?)")
            begin = try connection.makeStatement(sql: "BEGIN")
            commit = try connection.makeStatement(sql: "COMMIT")
            for poller in metadata.pollers { try write(poller) }
            try connection.execute(sql: "COMMIT")
        } catch let error as SQLiteError {
            throw TraceStoreError.writeFailed(path: path, detail: error.description)
        }
    }

    private func write(_ poller: PollerInfo) throws {
        insertPoller.bindPollerRow(poller)
        defer { insertPoller.reset() }
        try insertPoller.run()
    }

    private func intern(_ text: String) throws -> Int64 {
        if let id = stringIDs[text] { return id }
        let id = Int64(stringIDs.count + 1)
        insertString.bind(id, at: 1)
        insertString.bind(text, at: 2)
        defer { insertString.reset() }
        try insertString.run()
        stringIDs[text] = id
        return id
    }

    /// Commits `chunk` and `pollers` in one transaction, and leaves `chunk` in seq
    /// order. Returns the rows written and how many of the records were gaps. On
    /// failure the transaction is rolled back: the file keeps every earlier chunk.
    func write(_ chunk: inout [TraceRecord], pollers: [PollerInfo]) throws -> (rows: Int, gaps: Int) {
        // In seq order, rows append to the end of the B-tree and pages fill up. A
        // chunk from `RecordBuffer` is one sorted run per poller
        // (`NearlySortedRecords`), which Swift's sort (a merge of runs) joins in
        // one pass per run.
        if !TraceFile.isSorted(chunk) { chunk.sort { $0.seq < $1.seq } }
        let savedStrings = stringIDs
        let savedPacking = packing
        var rows = 0
        let gapsBefore = packing.gaps
        do {
            defer { begin.reset() }
            try begin.run()
        }
        do {
            for poller in pollers { try write(poller) }
            try packing.rows(for: chunk, stringID: intern) { row in
                switch row {
                case .record(let r): try records.add(r)
                case .batch(let r): try batchRows.add(r)
                case .fd(let r): try fdRecords.add(r)
                case .syscall(let r): try syscalls.add(r)
                }
                rows += 1
            }
            try records.finish()
            try batchRows.finish()
            try fdRecords.finish()
            try syscalls.finish()
            defer { commit.reset() }
            try commit.run()
            return (rows, packing.gaps - gapsBefore)
        } catch {
            records.discard(); batchRows.discard(); fdRecords.discard(); syscalls.discard()
            try? connection.execute(sql: "ROLLBACK")
            stringIDs = savedStrings
            packing = savedPacking
            throw error
        }
    }

    /// Marks the file complete as the row layout's writer did, with its `packed_*` counts.
    func finish(statistics: TraceWriterStatistics) throws {
        try TraceFile.finish(connection, statistics: statistics, extraMeta: [
            ("packed_dispatches", Int64(packing.packedDispatches)),
            ("packed_fd_records", Int64(packing.packedFDRecords)),
            ("packed_syscalls", Int64(packing.packedSyscalls)),
        ])
    }
}
