import PollTraceCore
@testable import PollTraceStore

/// The recording form's row layout (`CompactSchema.createTables`, `RowPacking`), as
/// recordings made before record chunks wrote it, one commit per `write`. Recordings
/// of those builds that were never closed are still read (`TraceRecordCursor`) and
/// finalized, so the tests write this layout to check that reader on random
/// schedules and on damage.
final class RowLayoutFile {
    let file: RecordingFile
    private var records: MultiRowInsert<RecordRow>
    private var batchRows: MultiRowInsert<BatchRow>
    private var fdRecords: MultiRowInsert<FDRow>
    private var syscalls: MultiRowInsert<SyscallRow>
    /// How records become rows; kept across commits (a dispatch may be stored
    /// relative to a batch of an earlier commit).
    private var packing: RowPacking

    static let rowsPerStatement = 32

    init(path: String, metadata: TraceMetadata, options: TraceWriterOptions) throws {
        packing = RowPacking(start: metadata.startMonotonicNs)
        file = try RecordingFile(path: path, metadata: metadata, options: options, tables: CompactSchema.createTables)
        let connection = file.connection
        records = try MultiRowInsert(connection: connection, table: "records", columns: RecordRow.columns, rowsPerStatement: Self.rowsPerStatement)
        batchRows = try MultiRowInsert(connection: connection, table: "records", columns: BatchRow.columns, rowsPerStatement: Self.rowsPerStatement)
        fdRecords = try MultiRowInsert(connection: connection, table: "fd_records", columns: FDRow.columns, rowsPerStatement: Self.rowsPerStatement)
        syscalls = try MultiRowInsert(connection: connection, table: "syscall_rows", columns: SyscallRow.columns, rowsPerStatement: Self.rowsPerStatement)
    }

    /// Commits `chunk` and `pollers` in one transaction, as rows. Returns the rows
    /// written and how many of the records were gaps.
    func write(_ chunk: inout [TraceRecord], pollers: [PollerInfo]) throws -> (rows: Int, gaps: Int) {
        if !RecordingFile.isSorted(chunk) { chunk.sort { $0.seq < $1.seq } }
        let sorted = chunk
        let savedPacking = packing
        let gapsBefore = packing.gaps
        return try file.transaction(pollers: pollers, undo: {
            records.discard(); batchRows.discard(); fdRecords.discard(); syscalls.discard()
            packing = savedPacking
        }) {
            var rows = 0
            try packing.rows(for: sorted, stringID: file.intern) { row in
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
            return (rows, packing.gaps - gapsBefore)
        }
    }

    /// Marks the file complete as the row layout's writer did, with its `packed_*` counts.
    func finish(statistics: TraceWriterStatistics) throws {
        try file.finish(statistics: statistics, extraMeta: [
            ("packed_dispatches", Int64(packing.packedDispatches)),
            ("packed_fd_records", Int64(packing.packedFDRecords)),
            ("packed_syscalls", Int64(packing.packedSyscalls)),
        ])
    }
}
