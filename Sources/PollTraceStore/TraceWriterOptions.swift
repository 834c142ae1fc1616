/// What the recording thread does when the writer has fallen behind and the buffer is full.
public enum TraceMode: String, Sendable, CaseIterable {
    /// The recording thread waits for room. Nothing is lost; the traced loop slows
    /// down. The default, for reproducing a bug.
    case lossless
    /// The record is dropped, and one gap record says exactly which sequence numbers
    /// and how many were lost. The traced loop never waits. For production.
    case drop
}

/// How the writer thread competes for the CPU with the threads it records.
public enum WriterPriority: String, Sendable, CaseIterable {
    /// Like any other thread of the process. The default.
    case normal
    /// Linux's SCHED_IDLE class: the writer runs on CPU that no normal thread
    /// wants, and a normal thread that wakes up takes the core from it at once.
    /// For live recording on a busy machine: the writer's work moves into the
    /// moments the traced loop and its clients are waiting, instead of holding
    /// a core while a loop thread waits to be woken (in polltraced's flood the
    /// machine's idle share fell from about 5.8% to 3%; docs/benchmarks.md). The
    /// price: if other programs keep every core busy, the writer gets almost
    /// nothing, so a `lossless` trace slows the loop down to what the writer
    /// keeps up with (a third of the throughput with two CPU-bound programs
    /// beside polltraced's flood), and a `drop` trace drops (72% of its records
    /// there). Not for `polltrace import`, whose writer is half the work.
    case idle
    /// SCHED_IDLE while the writer keeps up, the normal class from the moment a
    /// recording thread finds its buffer half full until the writer has caught up
    /// (`WriterScheduling`): `idle` while there is idle CPU, without `idle`'s
    /// stall on a machine that other programs keep busy. It did not raise
    /// polltraced's flood throughput over `.normal`, and beside two CPU-bound
    /// programs it cost about 6% against `.normal` (`tools/bench-daemon.sh busy`)
    /// (the writer catches up in bursts of half a buffer). Moving a thread out of SCHED_IDLE needs
    /// CAP_SYS_NICE (or an RLIMIT_NICE of 20); without it the writer stays
    /// `normal` and `TraceWriterStatistics.priorityRefused` says why.
    case adaptive
}

public struct TraceWriterOptions: Sendable {
    public var mode: TraceMode
    /// How many records the in-memory buffer holds for one poller (records are
    /// buffered per poller id, in 8 shards) before the recording thread waits
    /// (`lossless`) or drops (`drop`). The writer thread also flushes as soon as a
    /// poller's buffer is half full, without waiting for `flushInterval`.
    public var bufferCapacity: Int
    /// The longest a record waits in memory before it is written (and survives a
    /// crash of the traced process).
    public var flushInterval: Duration
    /// Replace an existing file at the path. Without it, `TraceWriter` refuses to
    /// overwrite a non-empty file.
    public var overwrite: Bool
    /// Stop writing (and report `writeFailed`) once the file would grow past this
    /// many bytes; nil for no limit beyond the disk's. The trace written so far stays
    /// readable.
    public var maxFileBytes: Int?
    /// The writer thread's scheduling class (see `WriterPriority`).
    public var writerPriority: WriterPriority
    /// What `close()` makes of the recorded file: `.replay` (the default) turns it
    /// into a v7 trace with replay's verdicts and findings (`TraceFinalizer`), on the
    /// writer's thread, after the last record; `.none` makes the v7 tables without
    /// verdicts (an import writes its own findings); nil leaves the compact
    /// recording form, which `TraceReader` (so analyze, verify, stats, timeline and
    /// report) and `polltrace finalize` read: about a fifth of the v7 file's bytes and
    /// nothing to build at close, for recordings kept in bulk and queried rarely
    /// (`polltraced --trace-form recording`), and for benchmarks of the recording path.
    public var finalization: TraceFinalizer.Verdicts?

    public static let defaultBufferCapacity = 1 << 16

    public init(mode: TraceMode = .lossless, bufferCapacity: Int = TraceWriterOptions.defaultBufferCapacity,
                flushInterval: Duration = .milliseconds(100), overwrite: Bool = false, maxFileBytes: Int? = nil,
                writerPriority: WriterPriority = .normal,
                finalization: TraceFinalizer.Verdicts? = .replay) {
        self.mode = mode
        self.bufferCapacity = max(2, bufferCapacity)
        self.flushInterval = flushInterval
        self.overwrite = overwrite
        self.maxFileBytes = maxFileBytes
        self.writerPriority = writerPriority
        self.finalization = finalization
    }
}

/// What a writer has done so far. A record here is one `TraceRecord` (a batch with
/// its events counts once); see `TraceWriterStatistics.rowsWritten` for rows.
public struct TraceWriterStatistics: Sendable, Hashable {
    /// Records committed to the file.
    public var recordsWritten: Int = 0
    /// Rows committed: `record_chunks` rows, one per commit (or per 256 KiB of it).
    public var rowsWritten: Int = 0
    /// Records lost: dropped in `drop` mode, or discarded after a write failed, or
    /// recorded after `close()`.
    public var recordsDropped: Int = 0
    /// Gap records written (each accounts for one run of dropped records).
    public var gapsRecorded: Int = 0
    /// Committed transactions.
    public var flushes: Int = 0
    /// The highest sequence number committed so far (0 before the first flush).
    public var highestSeqWritten: UInt64 = 0
    /// CPU time (user + system) the writer thread has used so far, in ns, read after
    /// each commit: what recording costs beyond the record calls on the traced
    /// threads. It is CPU the traced program cannot use on a busy machine. After
    /// `close()`, with the thread the close started to insert the v7 tables' rows.
    public var writerCPUNs: UInt64 = 0
    /// Bytes the writer thread has handed to the kernel so far (`wchar` of
    /// `/proc/thread-self/io`: the WAL, the checkpoints into the database, any
    /// temporary file SQLite makes), read after each commit. Against the file's
    /// size it is the store's write amplification: about 2 (each page once in
    /// the WAL, once in the checkpoint) plus the pages a commit rewrites. 0 where
    /// the kernel does not report it. After `close()`, with the bytes of the
    /// thread the close started.
    public var writerBytesWritten: UInt64 = 0
    /// Records and findings of the v7 trace `close()` made, and how long that took
    /// (0 until then, or when the trace was left in its recording form).
    public var finalizedRecords: UInt64 = 0
    public var finalizedFindings: UInt64 = 0
    public var finalizeNs: UInt64 = 0
    /// The first write error, if any; once set, nothing more is written.
    public var lastError: String?
    /// The class the writer thread runs in: `.normal` also when `.idle` was asked
    /// for and the kernel refused it (then `priorityRefused` says why).
    public var writerPriority: WriterPriority = .normal
    public var priorityRefused: String?
    /// Under `.adaptive`: how many times a recording thread found its buffer half
    /// full and moved the idle writer back to the normal class.
    public var writerPromotions: Int = 0
    public init() {}

    /// Adds another writer's figures to these (a daemon that rotates its trace
    /// reports all its files as one). The newer error wins.
    public mutating func add(_ other: TraceWriterStatistics) {
        recordsWritten += other.recordsWritten
        rowsWritten += other.rowsWritten
        recordsDropped += other.recordsDropped
        gapsRecorded += other.gapsRecorded
        flushes += other.flushes
        highestSeqWritten = max(highestSeqWritten, other.highestSeqWritten)
        writerCPUNs += other.writerCPUNs
        writerBytesWritten += other.writerBytesWritten
        lastError = other.lastError ?? lastError
        writerPriority = other.writerPriority
        priorityRefused = other.priorityRefused ?? priorityRefused
        writerPromotions += other.writerPromotions
    }
}
