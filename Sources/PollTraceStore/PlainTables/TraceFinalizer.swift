import PollTraceCore
#if canImport(Glibc)
import Glibc
#endif

/// Turns a trace in its recording form (or a file of an older schema version) into
/// a v7 trace: the plain tables of `PlainSchema`, with replay's verdicts beside the
/// dispatches and its findings in `findings`.
///
/// The verdicts come from the same `Replayer` that `polltrace analyze` runs, fed
/// the same records in the same order, so the tables and the analyzer cannot
/// disagree. The source is only read; the result is written to a temporary file
/// beside the destination and renamed into place when complete, so a failure (a
/// full disk) leaves no half-written trace behind. `TraceWriter.close()` runs it on
/// the writer's thread, off the traced loop; `polltrace finalize` and
/// `polltrace upgrade` run it on files that were not closed, or are older.
public enum TraceFinalizer {
    /// What the finalizer computes besides the records' own rows.
    public enum Verdicts: Sendable {
        /// Replay every dispatch and write verdicts and findings (native traces).
        case replay
        /// Records only: `findings` stays empty and `verdict` NULL, for a caller that
        /// writes its own findings (an strace import, whose analysis differs).
        case none
    }

    public struct Summary: Sendable {
        public var records: UInt64
        public var rows: Int
        public var findings: UInt64
        /// CPU time of the thread that inserted the rows (not the calling one), in ns.
        public var insertThreadCPUNs: UInt64
        /// Bytes that thread handed to the kernel.
        public var insertThreadBytesWritten: UInt64
    }

    /// How the trace being finalized ended, for `meta.ended`.
    public enum Ending: String, Sendable {
        /// Its writer closed it.
        case closed
        /// Its writer never closed it (the process was killed, the machine lost power):
        /// records from the last ~100 ms before the end may be missing.
        case notClosed = "not_closed"
        /// A write failed (disk full, size limit): records after the failure are missing.
        case writeFailed = "write_failed"
    }

    /// Reads `source` (any version) and writes the v7 trace to `destination`, which
    /// may be the same path (the file is replaced only when the new one is complete).
    /// `progress` is called every 65,536 records with the count so far.
    ///
    /// Two threads, as an import: this one reads the records, replays them and
    /// makes their rows; `PlainTraceWriter`'s thread inserts them.
    @discardableResult
    public static func finalize(source: String, destination: String, verdicts: Verdicts = .replay,
                                ending: Ending? = nil, extraMeta: [(String, SQLiteValue)] = [],
                                progress: ((UInt64) -> Void)? = nil) throws -> Summary {
        let reader = try TraceReader(path: source)
        let metadata = reader.metadata
        let writer = try PlainTraceWriter(path: destination, metadata: metadata, verdicts: verdicts, overwrite: true)
        // A failure leaves no file under the destination's name (nor a temporary one).
        defer { writer.abandon() }
        var cursor = try reader.records()
        while let record = try cursor.next() {
            try writer.append(record)
            if writer.records & 0xFFFF == 0 { progress?(writer.records) }
        }
        var meta: [(String, SQLiteValue)] = [("converted_from_version", .integer(Int64(metadata.schemaVersion)))] + extraMeta
        if reader.writeAheadLogMissing { meta.append(("wal_missing", .integer(1))) }
        // What the recording form's own meta says (writer mode, counts), unless set above.
        let known = Set(meta.map(\.0))
        let sourceMeta = try reader.connection.makeStatement(sql: "SELECT key, value FROM meta")
        while try sourceMeta.step() {
            let key = sourceMeta.text(0)
            if !known.contains(key) && !key.hasPrefix("packed_") { meta.append((key, sourceMeta.value(1))) }
        }
        let summary = try writer.close(meta: meta, ending: ending ?? (reader.closedCleanly ? .closed : .notClosed)) { db in
            try copyExtraTables(from: reader, to: db)
        }
        return Summary(records: summary.records, rows: summary.rows, findings: summary.findings,
                       insertThreadCPUNs: summary.insertThreadCPUNs, insertThreadBytesWritten: summary.insertThreadBytesWritten)
    }

    /// Tables that are not part of the recording form (an import's `strace_*`
    /// tables) are copied as they are; views over them are for their owner to make.
    private static func copyExtraTables(from reader: TraceReader, to db: SQLiteConnection) throws {
        let compact = Set(["strings", "records", "fd_records", "batch_event_rows", "syscall_rows", "syscall_names", "record_chunks"]
                          + PlainSchema.requiredTables)
        let list = try reader.connection.makeStatement(sql: "SELECT name, sql FROM sqlite_schema WHERE type = 'table' AND name NOT LIKE 'sqlite_%'")
        var tables: [(String, String)] = []
        while try list.step() {
            if !compact.contains(list.text(0)) { tables.append((list.text(0), list.text(1))) }
        }
        for (name, sql) in tables {
            try db.execute(sql: sql)
            let select = try reader.connection.makeStatement(sql: "SELECT * FROM \"\(name)\"")
            let columns = Int(select.columnCount)
            let insert = try db.makeStatement(sql: "INSERT INTO \"\(name)\" VALUES (" + Array(repeating: "?", count: columns).joined(separator: ", ") + ")",
                                              parameters: columns)
            while try select.step() {
                for i in 0..<Int32(columns) { insert.bind(select.value(i), at: i + 1) }
                try insert.run()
                insert.reset()
            }
        }
    }
}
