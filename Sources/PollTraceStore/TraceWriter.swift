import CLinux
import PollTraceCore
import Synchronization
#if canImport(Glibc)
import Glibc
#endif

/// Records a trace to an SQLite file without making the traced loop wait on SQLite.
///
/// `record` (on any poller thread) appends to an in-memory buffer under a lock; a
/// background thread swaps the buffer out and commits it in one transaction every
/// `flushInterval`, or as soon as it is half full. What happens when the buffer is
/// full is `options.mode`. `close()` writes everything left, makes the v7 tables and
/// returns when the file is on disk; it throws if any write failed.
///
/// A write error (disk full, size limit, I/O error) stops the writing: what was
/// committed before stays readable, later records are counted as dropped, and
/// `statistics.lastError` and `close()` report it.
public final class TraceWriter: TraceRecorder, Sendable {
    public let path: String
    public let sequence: SequenceCounter
    public let metadata: TraceMetadata
    public let options: TraceWriterOptions

    private let buffer: RecordBuffer
    private let stats = StatisticsBox()
    /// Under `.adaptive` (when this process may take a thread out of SCHED_IDLE).
    private let scheduling: WriterScheduling?
    private let thread: NamedThread
    /// Set by the first `close()`, which holds this lock until the file is
    /// finished, so a concurrent second `close()` waits for the same result.
    private let closeResult = Mutex<Result<Void, TraceStoreError>?>(nil)

    public init(path: String, metadata: TraceMetadata, options: TraceWriterOptions = .init(),
                sequence: SequenceCounter = SequenceCounter()) throws {
        self.path = path
        self.metadata = metadata
        self.options = options
        self.sequence = sequence
        var scheduling: WriterScheduling?
        if options.writerPriority == .adaptive {
            if let refused = WriterScheduling.returnFromIdleRefused {
                stats.withLock {
                    $0.priorityRefused = "adaptive needs to move the writer thread out of SCHED_IDLE, which the kernel refused (\(refused); it needs CAP_SYS_NICE or an RLIMIT_NICE of 20); the writer stays normal"
                }
            } else {
                scheduling = WriterScheduling()
            }
        }
        self.scheduling = scheduling
        buffer = RecordBuffer(mode: options.mode, capacity: options.bufferCapacity, sequence: sequence, scheduling: scheduling)
        // The file is not Sendable: it is created here and from then on used only
        // by the writer thread, which the box hands it to.
        let file = try TraceFile(path: path, metadata: metadata, options: options)
        let handoff = UncheckedBox(file)
        do {
            thread = try NamedThread(name: "trace-writer") { [buffer, stats, options, scheduling] in
                Self.writerLoop(file: handoff.value, buffer: buffer, stats: stats, options: options, scheduling: scheduling)
            }
        } catch {
            throw TraceStoreError.writeFailed(path: path, detail: "\(error)")
        }
    }

    deinit {
        // A writer dropped without close(): still finish the file rather than leave
        // a thread writing to it.
        try? close()
    }

    public func pollerStarted(_ info: PollerInfo) { buffer.addPoller(info) }

    @inline(__always)
    public func record(_ record: consuming TraceRecord) { buffer.append(record) }

    /// Records several records, in order, taking the buffer's lock once rather than
    /// once per record. Same rules as `record` for a full buffer and after `close()`.
    public func record(contentsOf records: [TraceRecord]) { buffer.append(contentsOf: records) }

    /// Writes everything buffered, makes the v7 tables (`TraceFinalizer`), and returns when the trace is
    /// on disk. Idempotent: later calls return (or throw) the first call's result.
    public func close() throws {
        let result = closeResult.withLock { result -> Result<Void, TraceStoreError> in
            if let result { return result }
            buffer.close()
            thread.join()
            let failure = stats.withLock { $0.lastError }
            let outcome: Result<Void, TraceStoreError> = failure.map { .failure(.writeFailed(path: path, detail: $0)) } ?? .success(())
            result = outcome
            return outcome
        }
        try result.get()
    }

    public var statistics: TraceWriterStatistics {
        var snapshot = stats.withLock { $0 }
        snapshot.recordsDropped += buffer.refused
        snapshot.writerPromotions = scheduling?.promotions ?? 0
        return snapshot
    }

    // MARK: The writer thread

    private static func writerLoop(file: TraceFile, buffer: RecordBuffer, stats: StatisticsBox,
                                   options: TraceWriterOptions, scheduling: WriterScheduling?) {
        let intervalNs = UInt64(max(0, options.flushInterval.components.seconds)) * 1_000_000_000
            + UInt64(max(0, options.flushInterval.components.attoseconds / 1_000_000_000))
        // Both classes start in SCHED_IDLE (`.adaptive` only with a `scheduling`,
        // that is where the process may leave it again).
        if options.writerPriority == .idle || scheduling != nil {
            let refused: String?
            if let scheduling {
                refused = scheduling.writerStarted()
            } else {
                let code = clinux_set_thread_idle_priority(0, 1)
                refused = code == 0 ? nil : String(cString: strerror(code))
            }
            stats.withLock {
                if let refused {
                    $0.priorityRefused = "the kernel refused SCHED_IDLE for the writer thread: \(refused)"
                } else {
                    $0.writerPriority = options.writerPriority
                }
            }
        }
        var spare: [TraceRecord] = []
        spare.reserveCapacity(options.bufferCapacity)
        var failed = false
        while true {
            var chunk = buffer.take(spare: spare, waitUntilMonotonicNs: MonotonicClock.nowNs() + max(intervalNs, 1_000_000))
            scheduling?.writerTook(largestShard: chunk.largestShard, capacity: options.bufferCapacity)
            if !failed && (!chunk.records.isEmpty || !chunk.pollers.isEmpty) {
                do {
                    let (rows, gaps) = try file.write(&chunk.records, pollers: chunk.pollers)
                    let highest = chunk.records.last?.seq ?? 0  // in seq order now
                    let cpu = threadCPUNs()
                    let written = threadBytesWritten()
                    stats.withLock {
                        $0.recordsWritten += chunk.records.count
                        $0.rowsWritten += rows
                        $0.gapsRecorded += gaps
                        $0.flushes += 1
                        $0.highestSeqWritten = max($0.highestSeqWritten, highest)
                        $0.writerCPUNs = cpu
                        $0.writerBytesWritten = written
                    }
                } catch {
                    // What was committed before the failure stays readable.
                    failed = true
                    let count = chunk.records.count
                    stats.withLock {
                        $0.lastError = Self.describe(error)
                        $0.recordsDropped += count
                    }
                    buffer.writerFailed()
                }
            } else if failed {
                let count = chunk.records.count
                stats.withLock { $0.recordsDropped += count }
            }
            let isLast = chunk.isLast
            chunk.records.removeAll(keepingCapacity: true)
            spare = chunk.records
            if isLast { break }
        }
        if !failed {
            do {
                try file.finish(statistics: stats.withLock { $0 })
            } catch {
                failed = true
                stats.withLock { $0.lastError = "finishing the trace: " + Self.describe(error) }
            }
        }
        if failed { file.leaveWALModeAfterFailure() }
        var insertThread: (cpuNs: UInt64, bytesWritten: UInt64) = (0, 0)
        if !failed, let verdicts = options.finalization {
            // Off the traced loop: every record is written, and the loop is no longer
            // recording into this file.
            let began = MonotonicClock.nowNs()
            do {
                let summary = try TraceFinalizer.finalize(source: file.path, destination: file.path, verdicts: verdicts, ending: .closed)
                let elapsed = MonotonicClock.nowNs() - began
                insertThread = (summary.insertThreadCPUNs, summary.insertThreadBytesWritten)
                stats.withLock {
                    $0.finalizedRecords = summary.records
                    $0.finalizedFindings = summary.findings
                    $0.finalizeNs = elapsed
                }
            } catch {
                stats.withLock {
                    $0.lastError = "making the v7 tables (the trace is complete in its recording form; `polltrace finalize` retries): "
                        + Self.describe(error)
                }
            }
        }
        let cpu = threadCPUNs()
        let written = threadBytesWritten()
        stats.withLock {  // with close()'s index build and checkpoint, and its inserting thread
            $0.writerCPUNs = cpu + insertThread.cpuNs
            $0.writerBytesWritten = written + insertThread.bytesWritten
        }
    }

    private static func describe(_ error: Error) -> String {
        if let error = error as? SQLiteError {
            if error.isFull { return "the disk or the trace's size limit is full (\(error))" }
            return error.description
        }
        return String(describing: error)
    }
}

/// The statistics, shared by the writer thread (which updates them) and callers.
final class StatisticsBox: Sendable {
    private let state = Mutex(TraceWriterStatistics())
    func withLock<R>(_ body: (inout TraceWriterStatistics) -> R) -> R { state.withLock { body(&$0) } }
}

/// Moves a non-Sendable value to the one thread that will use it from then on.
final class UncheckedBox<Value>: @unchecked Sendable {
    let value: Value
    init(_ value: Value) { self.value = value }
}
