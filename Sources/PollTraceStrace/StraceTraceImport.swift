import Foundation
import PollTraceCore
import PollTraceStore

/// `polltrace import`: an strace log in, a trace file out, and the foreign-trace
/// findings computed on the way (the same analyzer `ForeignTraceAnalysis` runs on the
/// finished file).
public enum StraceTraceImport {
    public struct Summary {
        public var linesRead: UInt32
        public var recordsWritten: Int
        public var report: ForeignReport
        public var timestamps: LogTimestamps
        /// CPU time of the importing thread while it read, parsed and analysed the log
        /// and handed the records over (up to the writer's close), in ns.
        public var parsingCPUNs: UInt64
        /// CPU time of the writer thread, close included, in ns.
        public var writerCPUNs: UInt64
    }

    /// `progress`, if given, is called as the log is read (bytes read, the log's
    /// size if it is a regular file) and once more with `nil` when the reading is done
    /// and the trace is being finished (the writer's last rows and the indexes).
    public static func importLog(logPath: String, tracePath: String, overwrite: Bool = false,
                                 progress: ((_ bytesRead: UInt64?, _ totalBytes: UInt64?) -> Void)? = nil) throws -> Summary {
        guard FileManager.default.fileExists(atPath: logPath) else {
            throw StraceLogError(path: logPath, reason: "no such file")
        }
        // One reader for the whole import: a pipe can be read only once.
        let reader = try LogReader(path: logPath)
        if let progress { reader.onRead = { progress($0, $1) } }
        let head = try peekFirstCall(reader)
        let metadata = TraceMetadata(pid: head.pid ?? 0, program: "strace log \(logPath)", host: "unknown (imported)",
                                     startWallClockNs: head.epochNs ?? 0, startMonotonicNs: head.epochNs ?? 0)
        let sequence = SequenceCounter()
        let writer = try TraceWriter(path: tracePath, metadata: metadata,
                                     options: writerOptions(overwrite: overwrite),
                                     sequence: sequence)
        let directory = URL(fileURLWithPath: tracePath).deletingLastPathComponent().path
        let spool = try LineSpool(directory: directory)
        let sink = TraceFileSink(writer: writer, spool: spool)
        let analyzer = ForeignHazardAnalyzer()
        let outcome: StraceImport.Outcome
        let cpuBefore = ThreadCPU.nanoseconds()
        do {
            outcome = try StraceImport.run(reader: reader, sequence: sequence, consumers: [sink, analyzer])
        } catch {
            try? writer.close()
            throw error
        }
        analyzer.finish()
        sink.flush()
        let parsingCPUNs = ThreadCPU.nanoseconds() &- cpuBefore
        progress?(nil, reader.totalBytes)
        try writer.close()
        try StraceLineTable.write(tracePath: tracePath, spool: spool, logPath: logPath, linesRead: outcome.linesRead,
                                  diagnostics: outcome.diagnostics)
        try ForeignFindingsTable.write(analyzer.findings, into: SQLiteConnection(path: tracePath, readOnly: false))
        return Summary(linesRead: outcome.linesRead, recordsWritten: spool.records,
                       report: ForeignReport(findings: analyzer.findings, statistics: analyzer.stats,
                                             diagnostics: outcome.diagnostics),
                       timestamps: outcome.timestamps, parsingCPUNs: parsingCPUNs,
                       writerCPUNs: writer.statistics.writerCPUNs)
    }

    /// Records an import hands the writer at a time: half the writer's buffer, the
    /// size at which the writer is woken, so that a hand-over usually finds the
    /// writer's buffer empty and is a swap of arrays (`TraceWriter.record(moving:)`),
    /// not a copy of each record.
    public static let handOver = TraceWriterOptions.defaultBufferCapacity / 2

    /// How an import writes its trace: lossless, straight into the v7 tables (an
    /// import is one producer, in seq order).
    public static func writerOptions(overwrite: Bool) -> TraceWriterOptions {
        // The v7 tables without replay's verdicts: a log has syscalls, not dispatches;
        // its findings come from the foreign analysis (`ForeignFindingsTable`).
        TraceWriterOptions(mode: .lossless, overwrite: overwrite, finalization: TraceFinalizer.Verdicts.none,
                           writesTablesDirectly: true)
    }

    /// The pid and `-ttt` time of the log's first line, for the trace's metadata,
    /// read without consuming it.
    static func peekFirstCall(_ reader: LogReader) throws -> (pid: Int32?, epochNs: UInt64?) {
        try reader.withFirstLine { line in
            let framed = LineFraming.frame(line)
            return (framed.pid, framed.timeIsEpoch ? framed.timeNs : nil)
        } ?? (nil, nil)
    }
}

/// Sends imported records to the trace writer, `handOver` at a time (one lock round
/// trip for many records), and their log lines to the spool. `flush()` before the
/// writer closes.
final class TraceFileSink: ImportConsumer {
    let writer: TraceWriter
    let spool: LineSpool
    /// Unchecked: the sink is used on the importing thread only, and `consume` and
    /// `flush` call nothing that could reach it again (the run-time check would cost
    /// one per record). Debug builds assert the thread instead.
    private var pending: [TraceRecord] {
        @inline(__always) _read { ownership.assertOwned(); yield uncheckedPending }
        @inline(__always) _modify { ownership.assertOwned(); yield &uncheckedPending }
    }
    @exclusivity(unchecked) private var uncheckedPending: [TraceRecord] = []
    private let ownership = ThreadOwnership()

    init(writer: TraceWriter, spool: LineSpool) {
        self.writer = writer
        self.spool = spool
        pending.reserveCapacity(StraceTraceImport.handOver)
    }

    func pollerStarted(_ info: PollerInfo) {
        // A poller must reach the writer no later than its records.
        flush()
        writer.pollerStarted(info)
    }

    func consume(_ record: TraceRecord, origin: LineOrigin) { take(record, origin: origin) }

    /// `consume`, keeping `record` itself rather than a copy of it.
    func take(_ record: consuming TraceRecord, origin: LineOrigin) {
        spool.append(seq: record.seq, origin: origin)
        pending.append(consume record)
        if pending.count == StraceTraceImport.handOver { flush() }
    }

    func flush() {
        guard !pending.isEmpty else { return }
        writer.record(moving: &pending)
        if pending.capacity < StraceTraceImport.handOver { pending.reserveCapacity(StraceTraceImport.handOver) }
    }
}
