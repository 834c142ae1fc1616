import PollTraceCore

/// How a trace ended, and so what it may be missing: every report says it, because
/// an analysis of a trace cut short is an analysis of part of what the loop did.
public struct TraceEnd: Hashable, Sendable {
    public enum Kind: String, Sendable {
        /// The writer closed it: nothing is missing (except what `drop` mode dropped,
        /// which gap records name).
        case closed
        /// The writer never closed it (the process was killed, the machine lost
        /// power): the records of the last flush interval (~100 ms) may be missing.
        case notClosed = "not_closed"
        /// A write failed (disk full, a size limit): every record after the failure
        /// is missing.
        case writeFailed = "write_failed"
    }

    public var kind: Kind
    /// How many records the writer says it wrote (nil when it did not finish).
    public var recordsWritten: UInt64?
    /// Records the writer dropped (`drop` mode, or after a write failure).
    public var recordsDropped: UInt64
    /// The trace's `-wal` file is not beside it (`TraceReader.writeAheadLogMissing`),
    /// or was not beside the trace it was finalized from (`meta.wal_missing`).
    public var writeAheadLogMissing = false

    /// One sentence for a report.
    public var sentence: String {
        let dropped = recordsDropped > 0 ? "; \(recordsDropped) records were dropped while recording (gap records say which)" : ""
        switch kind {
        case .closed:
            return "closed by its writer" + dropped
        case .notClosed where writeAheadLogMissing:
            return "not closed by its writer, and read without its -wal file: every record after the writer's last checkpoint is missing (copy a trace together with its -wal file)" + dropped
        case .notClosed:
            return "not closed by its writer (killed, out of disk, or still recording): records after its last commit (~100 ms) may be missing" + dropped
        case .writeFailed:
            return "writing stopped at a write error (disk full or a size limit): every record after it is missing" + dropped
        }
    }
}

extension TraceReader {
    /// How this trace ended, from its `meta` table.
    public var end: TraceEnd {
        func meta(_ key: String) -> Int64? { try? connection.scalarInt(sql: "SELECT value FROM meta WHERE key = '\(key)'") }
        let kind = TraceEnd.Kind(rawValue: ending) ?? (closedCleanly ? .closed : .notClosed)
        let written = isPlain ? meta("records") : (closedCleanly ? meta("records_written") : nil)
        return TraceEnd(kind: kind, recordsWritten: written.map { UInt64(max(0, $0)) },
                        recordsDropped: UInt64(max(0, meta("records_dropped") ?? 0)),
                        writeAheadLogMissing: writeAheadLogMissing || meta("wal_missing") == 1)
    }
}
