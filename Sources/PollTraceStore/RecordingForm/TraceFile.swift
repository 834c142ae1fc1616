import PollTraceCore

/// The writing side of one trace file, used only by the writer's background
/// thread (after `init` ran on the caller's): creates the schema, commits one
/// chunk of records per transaction, marks the file complete at the end.
///
/// Each commit's records are stored as bytes (`RecordChunkEncoder`), a
/// `record_chunks` row per `chunkBytes` or less: an append of a few varints per
/// record instead of a SQLite row, which is what the writer thread, sharing the
/// traced loop's cores, spends its time on.
final class TraceFile {
    let file: RecordingFile
    var path: String { file.path }
    private let encoder: RecordChunkEncoder
    private let insertChunk: SQLiteStatement

    /// A chunk row is closed at this size: a reader holds one chunk's bytes (or a
    /// few, where commits interleave) in memory at a time. Tests make it small.
    var chunkBytes = 256 << 10

    /// Creates the file and its schema and writes the metadata, durably.
    init(path: String, metadata: TraceMetadata, options: TraceWriterOptions) throws {
        encoder = RecordChunkEncoder(start: metadata.startMonotonicNs)
        file = try RecordingFile(path: path, metadata: metadata, options: options, tables: CompactSchema.createRecordingTables)
        do {
            insertChunk = try file.connection.makeStatement(
                sql: "INSERT INTO record_chunks(first_seq, last_seq, record_count, bytes) VALUES (?, ?, ?, ?)", parameters: 4)
        } catch let error as SQLiteError {
            throw TraceStoreError.writeFailed(path: path, detail: error.description)
        }
    }

    /// Commits `chunk` and `pollers` in one transaction, and leaves `chunk` in seq
    /// order. Returns the chunk rows written and how many of the records were gaps.
    /// On failure the transaction is rolled back: the file keeps every earlier chunk.
    func write(_ chunk: inout [TraceRecord], pollers: [PollerInfo]) throws -> (rows: Int, gaps: Int) {
        // A chunk from `RecordBuffer` is one sorted run per poller
        // (`NearlySortedRecords`), which Swift's sort (a merge of runs) joins in
        // one pass per run.
        if !RecordingFile.isSorted(chunk) { chunk.sort { $0.seq < $1.seq } }
        let records = chunk
        return try file.transaction(pollers: pollers, undo: { encoder.reset() }) {
            var rows = 0
            var gaps = 0
            encoder.reset()
            for record in records {
                if case .gap = record { gaps += 1 }
                try encoder.append(record, stringID: file.intern)
                if encoder.byteCount >= chunkBytes {
                    try writeEncodedChunk()
                    rows += 1
                }
            }
            if encoder.count > 0 {
                try writeEncodedChunk()
                rows += 1
            }
            return (rows, gaps)
        }
    }

    /// A seq past `Int64.max`: SQLite's integers are signed, so its chunk's key would
    /// read back negative, out of order. Only a `SequenceCounter` started near the
    /// top of the range reaches it; the commit is refused rather than stored wrong.
    struct SeqOutOfRange: Error, CustomStringConvertible {
        let seq: SequenceNumber
        var description: String { "record \(seq): its seq is past \(Int64.max), the largest a trace stores (SQLite integers are signed)" }
    }

    private func writeEncodedChunk() throws {
        // The records are in seq order, so the last one is the largest.
        guard let first = Int64(exactly: encoder.firstSeq), let last = Int64(exactly: encoder.lastSeq) else {
            throw SeqOutOfRange(seq: encoder.lastSeq)
        }
        insertChunk.bind(first, at: 1)
        insertChunk.bind(last, at: 2)
        insertChunk.bind(Int64(encoder.count), at: 3)
        insertChunk.bindBlob(encoder.bytes, at: 4)
        defer { insertChunk.reset() }
        try insertChunk.run()
        encoder.reset()
    }

    func leaveWALModeAfterFailure() { file.leaveWALModeAfterFailure() }

    func finish(statistics: TraceWriterStatistics) throws { try file.finish(statistics: statistics) }
}
