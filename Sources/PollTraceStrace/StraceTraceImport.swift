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
        /// and made the records' rows (up to the writer's close), in ns.
        public var parsingCPUNs: UInt64
        /// CPU time of the SQLite side: the writer thread's inserts, plus the close's
        /// indexes and commit (on the importing thread, after the last insert), in ns.
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
        let writer = try PlainTraceWriter(path: tracePath, metadata: metadata, verdicts: .none, overwrite: overwrite)
        let directory = URL(fileURLWithPath: tracePath).deletingLastPathComponent().path
        let spool = try LineSpool(directory: directory)
        let sink = TraceFileSink(writer: writer, spool: spool)
        let analyzer = ForeignHazardAnalyzer()
        let cpuBefore = ThreadCPU.nanoseconds()
        // A failed import leaves no trace file (the writer's deinit also would).
        defer { writer.abandon() }
        let outcome = try StraceImport.run(reader: reader, sequence: sequence, consumers: [sink, analyzer])
        if let failure = sink.failure { throw failure }
        analyzer.finish()
        let parsingCPUNs = ThreadCPU.nanoseconds() &- cpuBefore
        progress?(nil, reader.totalBytes)
        // The import's own tables go in the trace's one transaction, before its
        // indexes are built and the file is made durable.
        let meta: [(String, SQLiteValue)] = [
            ("writer_mode", .text(TraceMode.lossless.rawValue)),
            ("records_written", .integer(Int64(writer.records))),
            ("records_dropped", .integer(0)),
            ("gaps_recorded", .integer(Int64(writer.gaps))),
        ]
        let written = try writer.close(meta: meta) { db in
            try StraceLineTable.write(into: db, spool: spool, logPath: logPath, linesRead: outcome.linesRead,
                                      diagnostics: outcome.diagnostics)
            try ForeignFindingsTable.write(analyzer.findings, into: db)
        }
        return Summary(linesRead: outcome.linesRead, recordsWritten: spool.records,
                       report: ForeignReport(findings: analyzer.findings, statistics: analyzer.stats,
                                             diagnostics: outcome.diagnostics),
                       timestamps: outcome.timestamps, parsingCPUNs: parsingCPUNs,
                       writerCPUNs: written.writerCPUNs)
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

/// Sends imported records to the trace writer, which makes their rows on this
/// (the importing) thread, and their log lines to the spool. A write failure is
/// kept in `failure`, and later records are dropped: the import then stops with it.
final class TraceFileSink: ImportConsumer {
    let writer: PlainTraceWriter
    let spool: LineSpool
    private(set) var failure: (any Error)?

    init(writer: PlainTraceWriter, spool: LineSpool) {
        self.writer = writer
        self.spool = spool
    }

    func pollerStarted(_ info: PollerInfo) { writer.pollerStarted(info) }

    func consume(_ record: TraceRecord, origin: LineOrigin) {
        guard failure == nil else { return }
        spool.append(seq: record.seq, origin: origin)
        do {
            try writer.append(record)
        } catch {
            failure = error
        }
    }
}
