import PollTraceCore
#if canImport(Glibc)
import Glibc
#endif

/// Writes a v7 trace from one producer's records, in seq order (an import, or the
/// finalizer reading a recording form back), on two threads: the caller's makes
/// each record's rows (`RecordConversion`) as it appends it, and a writer thread
/// inserts them (`PlainTableFile`), so that parsing (or reading and replay) and row
/// making overlap SQLite's inserts rather than queue in front of them.
/// The file is built under a temporary name and renamed into place by `close`, so a
/// write that fails, or an import that stops, leaves no file that looks like a trace.
///
/// Why not for a traced loop: `TraceWriter`'s recording form commits each chunk
/// durably as it comes (a killed process keeps what was committed) and takes
/// records of several pollers that arrive out of order; this writer does neither.
///
/// One thread appends and closes: the row making's state is unlocked.
public final class PlainTraceWriter {
    public struct Summary: Sendable {
        public var records: UInt64
        /// Rows written (a batch's events are rows of their own).
        public var rows: Int
        /// Replay's findings (with `.replay`); an import writes its own through
        /// `addingTables`, which this does not count.
        public var findings: UInt64
        /// CPU time of the thread that inserted the rows, with `close`'s indexes and
        /// commit, in ns: the SQLite side's cost.
        public var writerCPUNs: UInt64
        /// The inserting thread's part of `writerCPUNs` (the rest ran on the thread
        /// that called `close`), in ns.
        public var insertThreadCPUNs: UInt64
        /// Bytes the inserting thread handed to the kernel (pages SQLite wrote out
        /// while inserting, when they outgrew its cache).
        public var insertThreadBytesWritten: UInt64
    }

    public let path: String
    private let temporary: String
    private let metadata: TraceMetadata
    private let verdicts: TraceFinalizer.Verdicts
    private var conversion: RecordConversion
    private var newPollers: [PollerInfo] = []
    /// Gap records appended so far.
    public private(set) var gaps = 0
    private let handOver = RowHandOver()
    private let file: PlainTableFile
    private let thread: NamedThread
    /// The inserting thread's CPU time (ns) and bytes written when it ended.
    private let insertThreadCost = Handoff<(cpuNs: UInt64, bytesWritten: UInt64)>()
    private var summary: Result<Summary, any Error>?
    /// The first append that failed: the trace is then incomplete, so `close`
    /// throws it and leaves no file.
    private var appendFailure: (any Error)?
    private let ownership = ThreadOwnership()

    /// Rows made before they are handed to the writer thread: enough that a
    /// hand-over (a lock, a wake-up) is rare, few enough to stay in the CPU's cache.
    public static let defaultRowsPerLot = 8_192
    private let rowsPerLot: Int

    /// `rowsPerLot` is for tests that need many hand-overs from few records.
    public init(path: String, metadata: TraceMetadata, verdicts: TraceFinalizer.Verdicts, overwrite: Bool = false,
                rowsPerLot: Int = PlainTraceWriter.defaultRowsPerLot) throws {
        self.path = path
        self.rowsPerLot = max(1, rowsPerLot)
        self.metadata = metadata
        self.verdicts = verdicts
        temporary = path + ".writing"
        var info = stat()
        if stat(path, &info) == 0 && info.st_size > 0 && !overwrite {
            throw TraceStoreError.writeFailed(path: path, detail: "the file already exists and is not empty; remove it or choose another path")
        }
        Self.remove(temporary)
        do {
            file = try PlainTableFile(path: temporary, metadata: metadata)
        } catch let error as SQLiteError {
            Self.remove(temporary)
            throw TraceStoreError.writeFailed(path: path, detail: error.description)
        }
        conversion = RecordConversion(start: metadata.startMonotonicNs, verdicts: verdicts, path: path)
        // The file is used by the writer thread until it ends, then by `close`.
        let box = UncheckedBox(file)
        do {
            thread = try NamedThread(name: "trace-inserts") { [handOver, insertThreadCost] in
                Self.insertLots(into: box.value, from: handOver)
                insertThreadCost.put((threadCPUNs(), threadBytesWritten()))
            }
        } catch {
            Self.remove(temporary)
            throw TraceStoreError.writeFailed(path: path, detail: "\(error)")
        }
    }

    deinit { abandon() }

    /// Gives the trace up (its producer failed): stops the writer thread and leaves
    /// no file. Does nothing after `close`, whose result stands.
    public func abandon() {
        guard summary == nil else { return }
        summary = .failure(TraceStoreError.writeFailed(path: path, detail: "the trace was abandoned before it was closed"))
        stopWriterThread()
        Self.remove(temporary)
    }

    /// Ends the writer thread without inserting the lots still waiting.
    private func stopWriterThread() {
        handOver.fail(TraceStoreError.writeFailed(path: path, detail: "the trace was given up"))
        handOver.close()
        thread.join()
    }

    /// A poller's row goes in before any row made after this call.
    public func pollerStarted(_ info: PollerInfo) {
        ownership.assertOwned()
        newPollers.append(info)
    }

    /// Makes `record`'s rows. Throws if it is out of seq order, if the writer thread
    /// failed (a full disk), or after `close`.
    public func append(_ record: TraceRecord) throws {
        ownership.assertOwned()
        guard summary == nil else {
            throw TraceStoreError.writeFailed(path: path, detail: "a record was appended after the trace was closed")
        }
        if let appendFailure { throw appendFailure }
        do {
            if case .gap = record { gaps += 1 }
            try conversion.consume(record)
            if conversion.rows.count >= rowsPerLot { try handOverRows() }
        } catch {
            appendFailure = error
            throw error
        }
    }

    /// Records appended so far.
    public var records: UInt64 { conversion.records }

    public func append(contentsOf records: [TraceRecord]) throws {
        for record in records { try append(record) }
    }

    private func handOverRows() throws {
        var rows = handOver.spare()
        conversion.takeRows(into: &rows)
        let pollers = newPollers
        newPollers.removeAll()
        do {
            try handOver.put(RowHandOver.Lot(rows: rows, pollers: pollers))
        } catch {
            throw Self.described(error, path: path)
        }
    }

    /// Inserts the last rows, then finishes the file: the standard meta keys and
    /// `meta` (the caller's own, which do not replace them), derived columns and
    /// views, `addingTables` (a caller's own tables, in the same transaction), the
    /// indexes, a commit and an fsync, and renames it into place. Idempotent: later
    /// calls return (or throw) the first call's result. After a failure no file is left.
    @discardableResult
    public func close(meta: [(String, SQLiteValue)] = [], ending: TraceFinalizer.Ending = .closed,
                      addingTables: ((SQLiteConnection) throws -> Void)? = nil) throws -> Summary {
        ownership.assertOwned()
        if let summary { return try summary.get() }
        let result = Result { try finish(meta: meta, ending: ending, addingTables: addingTables) }
        summary = result
        if case .failure = result { Self.remove(temporary) }
        return try result.get()
    }

    private func finish(meta extra: [(String, SQLiteValue)], ending: TraceFinalizer.Ending,
                        addingTables: ((SQLiteConnection) throws -> Void)?) throws -> Summary {
        if let appendFailure {
            stopWriterThread()
            throw appendFailure
        }
        conversion.finish()
        let lastRows: Result<Void, any Error> = Result { try handOverRows() }
        handOver.close()
        thread.join()
        let cpuBefore = threadCPUNs()
        if let error = handOver.error { throw Self.described(error, path: path) }
        try lastRows.get()
        do {
            let standard = PlainTableFile.standardMeta(metadata, records: conversion.records, ending: ending, verdicts: verdicts)
            let taken = Set(standard.map(\.0))
            try file.finish(meta: standard + extra.filter { !taken.contains($0.0) }, addingTables: addingTables)
        } catch {
            throw Self.described(error, path: path)
        }
        guard rename(temporary, path) == 0 else {
            throw TraceStoreError.writeFailed(path: path, detail: "renaming the finished trace into place: \(String(cString: strerror(errno)))")
        }
        for suffix in ["-wal", "-shm", "-journal"] { unlink(path + suffix) }
        let insertThread = insertThreadCost.take()
        return Summary(records: conversion.records, rows: conversion.rowCount, findings: conversion.findingCount,
                       writerCPUNs: insertThread.cpuNs + (threadCPUNs() &- cpuBefore), insertThreadCPUNs: insertThread.cpuNs,
                       insertThreadBytesWritten: insertThread.bytesWritten)
    }

    /// The writer thread: inserts each lot as it comes; after a failure, tells the
    /// maker (whose next hand-over throws) and drops the rest.
    private static func insertLots(into file: PlainTableFile, from handOver: RowHandOver) {
        var failed = false
        while let lot = handOver.take() {
            if !failed {
                do {
                    for poller in lot.pollers { try file.add(poller) }
                    try file.insert(lot.rows)
                } catch {
                    failed = true
                    handOver.fail(error)
                }
            }
            handOver.recycle(lot.rows)
        }
    }

    private static func described(_ error: any Error, path: String) -> any Error {
        guard let error = error as? SQLiteError else { return error }
        return TraceStoreError.writeFailed(path: path, detail: error.isFull
            ? "the disk is full (\(error))" : error.description)
    }

    private static func remove(_ path: String) {
        for suffix in ["", "-journal", "-wal", "-shm"] { unlink(path + suffix) }
    }
}
