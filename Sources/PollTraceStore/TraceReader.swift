import CSQLite
import Glibc
import PollTraceCore

/// Opens a trace read-only and streams its records in sequence order.
///
/// Never writes to the trace: the file is opened with `SQLITE_OPEN_READONLY`. (A
/// trace whose writer crashed still has its `-wal` file; SQLite reads it, and may
/// need the `-shm` file beside it, which is the only file it touches. A trace in
/// WAL mode without its `-wal` has nothing for SQLite to recover, so it is opened
/// `immutable`: SQLite then creates no `-wal` or `-shm` beside it, and reads it on
/// a read-only file system too.)
public final class TraceReader {
    public let path: String
    public let metadata: TraceMetadata
    /// The connection, for `polltrace query` and the analyzer's SQL.
    public let connection: SQLiteConnection
    /// True when the writer's `close()` finished; false for a trace whose writer
    /// crashed or is still running (and for a v7 trace finalized from one).
    public let closedCleanly: Bool
    /// False for traces from before the fd kinds moved to their own table.
    let hasFDRecords: Bool
    /// True for a recording form that keeps its records in chunks (`record_chunks`),
    /// as recordings do today; false for the row layout of earlier recordings and of
    /// versions 1 to 6. A closed one was kept in that form on purpose.
    public let hasRecordChunks: Bool
    /// True for a v7 trace (plain tables); false for the compact form: a trace still
    /// being recorded, one whose writer never closed it, or a file of versions 1 to 6.
    public let isPlain: Bool
    /// How the trace ended, from a v7 trace's `meta.ended` (`closed`, `not_closed`,
    /// `write_failed`); for the compact form, `closed` or `not_closed`.
    public let ending: String
    /// The trace is in WAL mode (its writer never closed it) and its `-wal` file is
    /// not beside it: every record committed since the last checkpoint is missing.
    public let writeAheadLogMissing: Bool

    public init(path: String) throws {
        self.path = path
        writeAheadLogMissing = try TraceFileCheck.check(path: path) && TraceFileCheck.writeAheadLogIsMissing(path: path)
        do {
            connection = try SQLiteConnection(path: path, readOnly: true, immutable: writeAheadLogMissing)
        } catch let error as SQLiteError {
            throw Self.map(error, path: path)
        }
        do {
            let loaded = try Self.loadMetadata(connection, path: path)
            (metadata, closedCleanly, isPlain, hasRecordChunks) = (loaded.metadata, loaded.closed, loaded.plain, loaded.chunks)
            ending = loaded.ending ?? (closedCleanly ? TraceFinalizer.Ending.closed.rawValue : TraceFinalizer.Ending.notClosed.rawValue)
            hasFDRecords = try connection.scalarInt(sql: "SELECT count(*) FROM sqlite_schema WHERE type = 'table' AND name = 'fd_records'") == 1
        } catch let error as SQLiteError {
            throw Self.map(error, path: path)
        }
    }

    /// Every record, in sequence order, one at a time (constant memory), on the
    /// calling thread.
    public func records() throws -> TraceRecordCursor {
        do {
            if isPlain {
                return TraceRecordCursor(source: .plain(try PlainRecordCursor(connection: connection, path: path,
                                                                               start: metadata.startMonotonicNs)))
            }
            if hasRecordChunks {
                return TraceRecordCursor(source: .chunks(try ChunkRecordCursor(connection: connection, path: path,
                                                                               start: metadata.startMonotonicNs)))
            }
            return TraceRecordCursor(source: .compact(try CursorState(connection: connection, path: path, start: metadata.startMonotonicNs,
                                                                      hasFDRecords: hasFDRecords, version: metadata.schemaVersion)))
        } catch let error as SQLiteError {
            throw Self.map(error, path: path)
        }
    }

    /// Threads that read a large v7 trace's ranges: two where there are two cores.
    /// More would only compete with the caller's replay on this kind of machine.
    public static let readingThreads = min(2, max(1, Int(sysconf(Int32(_SC_NPROCESSORS_ONLN)))))
    /// Seqs per range a reading thread takes at a time: large enough that seeking
    /// each table to the range is a small part of reading it, small enough that the
    /// ranges in flight (two per thread) are a few MiB.
    public static let parallelRangeSize: UInt64 = 8192
    /// Below this many records a trace is read on one thread: starting threads and
    /// connections would cost more than they save.
    public static let parallelMinimumRecords: Int64 = 100_000
    /// Fewer bytes than any v7 record's row takes on disk (a SQLite cell with its key).
    static let minimumBytesPerRecord: Int64 = 8

    /// A large v7 trace's records a range at a time, the ranges read on
    /// `readingThreads` threads (`TraceRecordRanges`); nil for any other trace, which
    /// `records()` reads. The analyzer's pipeline reads this way; the defaults are
    /// its settings, and tests make small traces count as large.
    public func recordRanges(minimumRecords: Int64 = TraceReader.parallelMinimumRecords,
                             rangeSize: UInt64 = TraceReader.parallelRangeSize) throws -> TraceRecordRanges? {
        try recordRanges(minimumRecords: minimumRecords, rangeSize: rangeSize, threads: Self.readingThreads)
    }

    func recordRanges(minimumRecords: Int64, rangeSize: UInt64, threads: Int) throws -> TraceRecordRanges? {
        do {
            guard isPlain, threads > 1, let bounds = try parallelBounds(minimumRecords: minimumRecords) else { return nil }
            return try TraceRecordRanges(path: path, start: metadata.startMonotonicNs, bounds: bounds,
                                         workers: threads, rangeSize: rangeSize, immutable: writeAheadLogMissing)
        } catch let error as SQLiteError {
            throw Self.map(error, path: path)
        }
    }

    /// The seq span to cut into ranges, when the trace is large and its seqs dense
    /// enough for that (`TraceRecordRanges.maxSeqsPerRecord`); nil otherwise.
    ///
    /// The record count comes from `meta`, which a damaged file may overstate; the
    /// span, and so the number of ranges, is bounded by it. A count the file is too
    /// small to hold (every record is a row of at least `minimumBytesPerRecord`) is
    /// not believed: such a file is read on one thread, which reads only the rows
    /// there are and then names the mismatch.
    private func parallelBounds(minimumRecords: Int64) throws -> ClosedRange<SequenceNumber>? {
        var info = stat()
        guard stat(path, &info) == 0,
              let records = try connection.scalarInt(sql: "SELECT value FROM meta WHERE key = 'records'"),
              records >= max(1, minimumRecords), records <= Int64(info.st_size) / Self.minimumBytesPerRecord,
              let bounds = try PlainRecordCursor.seqBounds(connection: connection) else { return nil }
        let span = bounds.upperBound - bounds.lowerBound
        guard span / TraceRecordRanges.maxSeqsPerRecord < UInt64(records) else { return nil }
        return bounds
    }

    /// The records whose seq is in `range`, in sequence order, read with one range
    /// query per table: for a window of a large trace. Only a v7 trace has tables
    /// keyed by seq; for the recording form (and versions 1 to 6) this throws, and
    /// `records()` streams from the start.
    public func records(in range: ClosedRange<SequenceNumber>) throws -> TraceRecordCursor {
        guard isPlain else {
            throw TraceStoreError.readFailed(path: path, detail: "a seq range is read from the v7 tables, which this trace does not have")
        }
        do {
            return TraceRecordCursor(source: .plain(try PlainRecordCursor(connection: connection, path: path,
                                                                           start: metadata.startMonotonicNs, range: range)))
        } catch let error as SQLiteError {
            throw Self.map(error, path: path)
        }
    }

    /// Records in the trace (a batch counts once), for progress bars; never negative,
    /// whatever damage the counts hold (the cursor names the damage).
    public func recordCount() throws -> Int {
        do {
            if isPlain { return Int(try connection.scalarInt(sql: "SELECT count(*) FROM timeline") ?? 0) }
            // Damage can make a count negative; the reader names it when it reaches that chunk.
            if hasRecordChunks { return Int(try connection.scalarInt(sql: "SELECT coalesce(sum(max(record_count, 0)), 0) FROM record_chunks") ?? 0) }
            let rows = try tableRowCount()
            let events = try connection.scalarInt(sql: "SELECT count(*) FROM batch_event_rows") ?? 0
            return max(0, rows - Int(events) + (try packedRecordCount()))
        } catch let error as SQLiteError {
            throw Self.map(error, path: path)
        }
    }

    /// SQL giving every record's seq in a v7 trace, for views that must cover every record.
    public static let everyRecordSeqSQL = PlainSchema.everyRecordSeq

    /// Rows in the trace's tables: records, fd records, syscalls and (v1/v2) batch
    /// events; record chunks in a chunked recording. The unit the store's benchmark counts.
    public func rowCount() throws -> Int {
        do {
            return try tableRowCount()
        } catch let error as SQLiteError {
            throw Self.map(error, path: path)
        }
    }

    private func tableRowCount() throws -> Int {
        if isPlain {
            return Int(try connection.scalarInt(sql: "SELECT (SELECT count(*) FROM timeline) + (SELECT count(*) FROM batch_events)") ?? 0)
        }
        if hasRecordChunks { return Int(try connection.scalarInt(sql: "SELECT count(*) FROM record_chunks") ?? 0) }
        let records = try connection.scalarInt(sql: hasFDRecords
            ? "SELECT (SELECT count(*) FROM records) + (SELECT count(*) FROM fd_records)" : "SELECT count(*) FROM records") ?? 0
        let syscalls = try connection.scalarInt(sql: "SELECT count(*) FROM syscall_rows") ?? 0
        let events = try connection.scalarInt(sql: "SELECT count(*) FROM batch_event_rows") ?? 0
        return Int(records + syscalls + events)
    }

    /// Records packed into another record's row: dispatches in batch rows and the
    /// first of an fd pair (v3), syscalls after the first of their row (v4). From
    /// the meta table when the writer closed cleanly, else counted.
    private func packedRecordCount() throws -> Int {
        guard metadata.schemaVersion >= 3 else { return 0 }
        let calls = metadata.schemaVersion >= 4 ? try packedSyscallCount() : 0
        if closedCleanly, let dispatches = try connection.scalarInt(sql: "SELECT value FROM meta WHERE key = 'packed_dispatches'"),
           let pairs = try connection.scalarInt(sql: "SELECT value FROM meta WHERE key = 'packed_fd_records'") {
            return Int(dispatches + pairs) + calls
        }
        let dispatches = try connection.scalarInt(sql: "SELECT coalesce(sum(f), 0) FROM records WHERE tag & 15 = 6") ?? 0
        let pairs = try connection.scalarInt(sql: """
            SELECT count(*) FROM fd_records WHERE (tag & 15 = 2 AND g IS NOT NULL) OR (tag & 15 = 5 AND b IS NOT NULL)
            """) ?? 0
        // v6: a registration row with its end packed in holds two more records.
        let ends = metadata.schemaVersion >= 6
            ? try connection.scalarInt(sql: "SELECT 2 * count(*) FROM fd_records WHERE tag & 15 = 2 AND i IS NOT NULL") ?? 0 : 0
        return Int(dispatches + pairs + ends) + calls
    }

    /// Syscalls packed after the first of their row (v4, `SyscallPacking`).
    private func packedSyscallCount() throws -> Int {
        if closedCleanly, let calls = try connection.scalarInt(sql: "SELECT value FROM meta WHERE key = 'packed_syscalls'") {
            return Int(calls)
        }
        return Int(try connection.scalarInt(sql: "SELECT coalesce(sum(json_array_length(more)), 0) FROM syscall_rows WHERE more IS NOT NULL") ?? 0)
    }

    static func map(_ error: SQLiteError, path: String) -> TraceStoreError {
        if error.isCorruption { return .corrupted(path: path, detail: error.description) }
        return .readFailed(path: path, detail: error.description)
    }

    /// `fd_records` is not required: traces written before it existed (by this
    /// repository's first store, same version) keep the fd kinds in `records`.
    private static let requiredTables = ["meta", "pollers", "strings", "records", "batch_event_rows", "syscall_rows"]
    private static let chunkedRequiredTables = ["meta", "pollers", "strings", "record_chunks"]

    private static func loadMetadata(_ db: SQLiteConnection, path: String) throws
        -> (metadata: TraceMetadata, closed: Bool, plain: Bool, chunks: Bool, ending: String?) {
        let applicationID = try db.scalarInt(sql: "PRAGMA application_id") ?? 0
        let userVersion = Int(try db.scalarInt(sql: "PRAGMA user_version") ?? 0)
        var tables: Set<String> = []
        let list = try db.makeStatement(sql: "SELECT name FROM sqlite_schema WHERE type = 'table'")
        while try list.step() { tables.insert(list.text(0)) }

        guard applicationID == Int64(PlainSchema.applicationID) || tables.contains("meta") && tables.contains("records")
                || tables.contains("meta") && tables.contains("dispatches") else {
            let found = tables.isEmpty ? "it has no tables" : "its tables are " + tables.sorted().joined(separator: ", ")
            throw TraceStoreError.notATrace(path: path, detail: "\(found); a trace has meta, pollers, batches, dispatches, …")
        }
        if userVersion > PlainSchema.version {
            throw TraceStoreError.newerSchema(path: path, found: userVersion, supported: PlainSchema.version)
        }
        guard tables.contains("meta") else {
            throw TraceStoreError.missingMetadata(path: path, what: "the meta table does not exist")
        }
        var meta: [String: SQLiteValue] = [:]
        let rows = try db.makeStatement(sql: "SELECT key, value FROM meta")
        while try rows.step() { meta[rows.text(0)] = rows.value(1) }
        if case .integer(let version)? = meta["schema_version"], version > PlainSchema.version {
            throw TraceStoreError.newerSchema(path: path, found: Int(version), supported: PlainSchema.version)
        }
        func integer(_ key: String) throws -> Int64 {
            guard case .integer(let value)? = meta[key] else {
                throw TraceStoreError.missingMetadata(path: path, what: meta[key] == nil ? "no '\(key)' in the meta table" : "'\(key)' in the meta table is not an integer")
            }
            return value
        }
        func text(_ key: String) throws -> String {
            guard case .text(let value)? = meta[key] else {
                throw TraceStoreError.missingMetadata(path: path, what: meta[key] == nil ? "no '\(key)' in the meta table" : "'\(key)' in the meta table is not text")
            }
            return value
        }
        guard case .text(PlainSchema.formatName)? = meta["format"] else {
            throw TraceStoreError.missingMetadata(path: path, what: "the meta table has no format = '\(PlainSchema.formatName)' entry")
        }
        let version = Int(try integer("schema_version"))
        if userVersion == 0 || userVersion != version {
            throw TraceStoreError.corrupted(path: path, detail: "PRAGMA user_version is \(userVersion) but meta.schema_version is \(version)")
        }
        let plain = version >= PlainSchema.version
        // Files of versions 1 and 2 may keep the fd kinds in `records`; a later file
        // without `fd_records` has lost it, and reading it as the old layout would
        // silently miss every fd record.
        let chunks = !plain && tables.contains("record_chunks")
        let needed = plain ? PlainSchema.requiredTables : chunks ? chunkedRequiredTables
            : requiredTables + (version >= 3 ? ["fd_records"] : [])
        if !plain && !chunks && !tables.contains("records") {
            // Neither layout a recording has had: damage, or a layout of a later build.
            throw TraceStoreError.corrupted(path: path, detail: "a recording form with neither record_chunks nor records "
                + "(its tables are \(tables.sorted().joined(separator: ", "))); a later PollTrace may have written it")
        }
        for table in needed where !tables.contains(table) {
            throw TraceStoreError.corrupted(path: path, detail: "the \(table) table is missing")
        }
        var pollers: [PollerInfo] = []
        let pollerRows = try db.makeStatement(sql: "SELECT poller, backend, \(plain ? "policy_code" : "policy"), epoll_fd, label FROM pollers ORDER BY poller")
        while try pollerRows.step() {
            let code = Int(pollerRows.int64(2))
            let backend = pollerRows.text(1)
            guard code == PlainSchema.unknownPolicyCode || DispatchPolicy(code: code) != nil,
                  let poller = PollerID(exactly: pollerRows.int64(0)) else {
                throw TraceStoreError.corrupted(path: path, detail: "poller row \(pollerRows.int64(0)) has an unknown policy code \(pollerRows.int64(2))")
            }
            // Importers before the unknown code stored naive as a placeholder.
            let placeholder = backend == PollerInfo.straceBackend && code == DispatchPolicy.naive.code
            let policy = placeholder ? nil : DispatchPolicy(code: code)
            pollers.append(PollerInfo(poller: poller, backend: backend, policy: policy,
                                      epollFD: Int32(truncatingIfNeeded: pollerRows.int64(3)), label: pollerRows.text(4)))
        }
        let metadata = TraceMetadata(schemaVersion: version, pid: Int32(truncatingIfNeeded: try integer("pid")),
                                     program: try text("program"), host: try text("host"),
                                     startWallClockNs: unstored(try integer("start_wall_clock_ns")),
                                     startMonotonicNs: unstored(try integer("start_monotonic_ns")), pollers: pollers)
        let closed: Bool
        if case .integer(1)? = meta["closed_cleanly"] { closed = true } else { closed = false }
        var ending: String?
        if case .text(let value)? = meta["ended"] { ending = value }
        return (metadata, closed, plain, chunks, ending)
    }
}
