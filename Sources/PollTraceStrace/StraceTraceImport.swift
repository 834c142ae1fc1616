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
    }

    public static func importLog(logPath: String, tracePath: String, overwrite: Bool = false) throws -> Summary {
        guard FileManager.default.fileExists(atPath: logPath) else {
            throw StraceLogError(path: logPath, reason: "no such file")
        }
        let head = peekFirstCall(logPath)
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
        do {
            outcome = try StraceImport.run(path: logPath, sequence: sequence, consumers: [sink, analyzer])
        } catch {
            try? writer.close()
            throw error
        }
        analyzer.finish()
        sink.flush()
        try writer.close()
        try StraceLineTable.write(tracePath: tracePath, spool: spool, logPath: logPath, linesRead: outcome.linesRead,
                                  diagnostics: outcome.diagnostics)
        try ForeignFindingsTable.write(analyzer.findings, into: SQLiteConnection(path: tracePath, readOnly: false))
        return Summary(linesRead: outcome.linesRead, recordsWritten: spool.records,
                       report: ForeignReport(findings: analyzer.findings, statistics: analyzer.stats,
                                             diagnostics: outcome.diagnostics))
    }

    /// Records an import hands the writer at a time (one lock round trip each).
    public static let handOver = 1024

    /// How an import writes its trace: lossless, and indexed while writing (its
    /// writer thread has time to spare; `TraceWriterOptions.indexWhileWriting`).
    public static func writerOptions(overwrite: Bool) -> TraceWriterOptions {
        // The v7 tables without replay's verdicts: a log has syscalls, not dispatches;
        // its findings come from the foreign analysis (`ForeignFindingsTable`).
        TraceWriterOptions(mode: .lossless, overwrite: overwrite, indexWhileWriting: true, finalization: TraceFinalizer.Verdicts.none)
    }

    /// The pid and `-ttt` time of the log's first line, for the trace's metadata.
    static func peekFirstCall(_ path: String) -> (pid: Int32?, epochNs: UInt64?) {
        var found: (Int32?, UInt64?) = (nil, nil)
        struct Stop: Error {}
        try? LogReader.forEachLine(path: path) { line, _ in
            let framed = LineFraming.frame(line)
            guard !framed.body.isEmpty else { return }
            found = (framed.pid, framed.timeIsEpoch ? framed.timeNs : nil)
            throw Stop()
        }
        return found
    }
}

/// Sends imported records to the trace writer, `handOver` at a time (one lock round
/// trip for many records), and their log lines to the spool. `flush()` before the
/// writer closes.
final class TraceFileSink: ImportConsumer {
    let writer: TraceWriter
    let spool: LineSpool
    private var pending: [TraceRecord] = []

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

    func consume(_ record: TraceRecord, origin: LineOrigin) {
        pending.append(record)
        if pending.count == StraceTraceImport.handOver { flush() }
        spool.append(seq: record.seq, origin: origin)
    }

    func flush() {
        guard !pending.isEmpty else { return }
        writer.record(contentsOf: pending)
        pending.removeAll(keepingCapacity: true)
    }
}
