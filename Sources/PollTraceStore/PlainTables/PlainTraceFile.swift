import PollTraceCore
#if canImport(Glibc)
import Glibc
#endif

/// The writer's file when its records come from one producer in seq order (an
/// import): each commit's records go straight into the v7 tables, with no
/// recording form to read back at the end. The file is built under a temporary
/// name and renamed into place by `finish`, so a write that fails, or an import
/// that stops, leaves no file that looks like a trace.
///
/// Why not for the traced loop: the recording form commits each chunk durably as
/// it comes (a killed process keeps what was committed) and accepts records of
/// several pollers that arrive out of order; this file has neither property.
final class PlainTraceFile: TraceStorage {
    let path: String
    private let temporary: String
    private let metadata: TraceMetadata
    private let verdicts: TraceFinalizer.Verdicts
    private let mode: TraceMode
    private let builder: PlainTraceBuilder
    private var gaps = 0
    private(set) var findings: UInt64 = 0

    init(path: String, metadata: TraceMetadata, options: TraceWriterOptions, verdicts: TraceFinalizer.Verdicts) throws {
        self.path = path
        self.metadata = metadata
        self.verdicts = verdicts
        mode = options.mode
        temporary = path + ".writing"
        var info = stat()
        if stat(path, &info) == 0 && info.st_size > 0 && !options.overwrite {
            throw TraceStoreError.writeFailed(path: path, detail: "the file already exists and is not empty; remove it or choose another path")
        }
        Self.remove(temporary)
        do {
            builder = try PlainTraceBuilder(path: temporary, metadata: metadata, verdicts: verdicts)
            if let limit = options.maxFileBytes {
                try builder.connection.execute(sql: "PRAGMA max_page_count = \(max(1, limit / PlainSchema.pageSize))")
            }
        } catch let error as SQLiteError {
            Self.remove(temporary)
            throw TraceStoreError.writeFailed(path: path, detail: error.description)
        }
    }

    func write(_ chunk: inout [TraceRecord], pollers: [PollerInfo]) throws -> (rows: Int, gaps: Int) {
        // Compared by index: zipping the chunk with itself would copy every record.
        if chunk.indices.dropFirst().contains(where: { chunk[$0 - 1].seq > chunk[$0].seq }) { chunk.sort { $0.seq < $1.seq } }
        let rowsBefore = builder.rowCount
        var chunkGaps = 0
        for poller in pollers { try builder.add(poller) }
        for record in chunk {
            if case .gap = record { chunkGaps += 1 }
            try builder.consume(record)
        }
        gaps += chunkGaps
        return (builder.rowCount - rowsBefore, chunkGaps)
    }

    func finish(statistics: TraceWriterStatistics) throws {
        var meta = PlainTraceBuilder.standardMeta(metadata, records: builder.records, ending: .closed, verdicts: verdicts)
        meta += [
            ("writer_mode", .text(mode.rawValue)),
            ("records_written", .integer(Int64(statistics.recordsWritten))),
            ("records_dropped", .integer(Int64(statistics.recordsDropped))),
            ("gaps_recorded", .integer(Int64(gaps))),
        ]
        findings = try builder.finish(meta: meta)
        guard rename(temporary, path) == 0 else {
            throw TraceStoreError.writeFailed(path: path, detail: "renaming the finished trace into place: \(String(cString: strerror(errno)))")
        }
        for suffix in ["-wal", "-shm", "-journal"] { unlink(path + suffix) }
    }

    /// After a failed write: nothing is left under either name.
    func discard() { Self.remove(temporary) }

    private static func remove(_ path: String) {
        for suffix in ["", "-journal", "-wal", "-shm"] { unlink(path + suffix) }
    }
}
