import PollTraceCore

/// Builds one v7 trace file from records in seq order on the calling thread: each
/// record's rows (`RecordConversion`), inserted a few thousand at a time
/// (`PlainTableFile`). `TraceFinalizer` uses it; an import, which makes the rows
/// as it parses and has another thread insert them, uses `PlainTraceWriter`.
final class PlainTraceBuilder {
    private let file: PlainTableFile
    private var conversion: RecordConversion
    private var taken = PlainRows()

    init(path: String, metadata: TraceMetadata, verdicts: TraceFinalizer.Verdicts) throws {
        file = try PlainTableFile(path: path, metadata: metadata)
        conversion = RecordConversion(start: metadata.startMonotonicNs, verdicts: verdicts, path: path)
    }

    var connection: SQLiteConnection { file.connection }
    var records: UInt64 { conversion.records }
    /// Rows made so far (a batch's events are rows of their own).
    var rowCount: Int { conversion.rowCount + conversion.rows.count }

    func consume(_ record: TraceRecord) throws {
        try conversion.consume(record)
        if conversion.rows.count >= Self.rowsPerInsert { try insertPending() }
    }

    /// Rows made before they are inserted: enough that the few rows of each table
    /// left over from whole multi-row statements are a small share.
    static let rowsPerInsert = 16_384

    private func insertPending() throws {
        conversion.takeRows(into: &taken)
        try file.insert(taken)
    }

    /// Inserts the rows still held back (open registrations, replay's last
    /// findings), then finishes the file (`PlainTableFile.finish`). Returns how many
    /// findings were written.
    func finish(meta: [(String, SQLiteValue)]) throws -> UInt64 {
        conversion.finish()
        try insertPending()
        try file.finish(meta: meta)
        return conversion.findingCount
    }
}
