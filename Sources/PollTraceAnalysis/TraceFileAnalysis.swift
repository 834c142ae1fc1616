import PollTraceCore
import PollTraceStore

/// Progress of a pass over a trace file: records done, and the total when known.
public typealias ProgressCallback = (_ done: UInt64, _ total: UInt64?) -> Void

extension TraceAnalysis {
    /// Opens the trace read-only, replays it and classifies every dispatch. Records
    /// are decoded on a second thread while replay runs (`RecordPipeline`).
    /// Throws `TraceStoreError` (naming the file and what is wrong) for bad input.
    /// `pipelined: false` reads and replays on the calling thread only (for the
    /// benchmark's comparison; results are identical).
    public static func analyze(path: String, options: ReplayOptions = ReplayOptions(),
                               progress: ProgressCallback? = nil, pipelined: Bool = true) throws -> AnalysisReport {
        let reader = try TraceReader(path: path)
        let total = try progress.map { _ in UInt64(try reader.recordCount()) }
        var report: AnalysisReport
        if !pipelined {
            var cursor = try reader.records()
            report = try analyze(name: path, metadata: reader.metadata, options: options,
                                 progress: progress.map { callback in { callback($0, total) } }) { try cursor.next() }
        } else {
            let pipeline = RecordPipeline(path: path)
            defer { pipeline.cancel() }
            var session = ReplaySession(name: path, metadata: reader.metadata, options: options)
            var done: UInt64 = 0
            try pipeline.forEachChunk { chunk in
                session.consume(chunk)
                done = Self.reportProgress(progress, done: done, adding: chunk.count, total: total)
            }
            report = session.finish()
        }
        report.end = try checkedEnd(of: reader, recordsRead: report.recordCount)
        return report
    }

    /// How the trace ended; and a trace that holds fewer (or more) records than its
    /// writer said it wrote has been changed or damaged since: an analysis of it
    /// would be a silent wrong answer, so it is bad input.
    static func checkedEnd(of reader: TraceReader, recordsRead: UInt64) throws -> TraceEnd {
        let end = reader.end
        if let written = end.recordsWritten, written != recordsRead {
            throw TraceStoreError.corrupted(path: reader.path, detail:
                "its writer recorded \(written) records but \(recordsRead) are in the file: records were removed or added after it was written")
        }
        return end
    }

    /// Calls `progress` when the count crosses a multiple of 65,536 records (as the
    /// record-at-a-time loop does), and returns the new count.
    static func reportProgress(_ progress: ProgressCallback?, done: UInt64, adding count: Int, total: UInt64?) -> UInt64 {
        let now = done + UInt64(count)
        if let progress, now >> 16 != done >> 16 { progress(now, total) }
        return now
    }
}

extension FixVerification {
    /// Opens the trace read-only and replays it through the guarded dispatcher.
    public static func verify(path: String, options: ReplayOptions = ReplayOptions(),
                              progress: ProgressCallback? = nil) throws -> VerificationReport {
        let reader = try TraceReader(path: path)
        let total = try progress.map { _ in UInt64(try reader.recordCount()) }
        let pipeline = RecordPipeline(path: path)
        defer { pipeline.cancel() }
        let policies = reader.metadata.knownPolicies
        var verifier = FixVerifier(recordedPolicies: policies, options: options)
        var done: UInt64 = 0
        try pipeline.forEachChunk { chunk in
            for i in chunk.indices { verifier.consume(chunk[i]) }
            done = TraceAnalysis.reportProgress(progress, done: done, adding: chunk.count, total: total)
        }
        verifier.finish()
        var report = VerificationReport(trace: path, metadata: reader.metadata, verifier: verifier)
        report.analysis.end = try TraceAnalysis.checkedEnd(of: reader, recordsRead: report.analysis.recordCount)
        return report
    }
}

extension TraceStatistics {
    /// One pass over the trace file, the records read beside it as analyze reads
    /// them (`RecordPipeline`).
    public static func collect(path: String, progress: ProgressCallback? = nil) throws -> TraceStatistics {
        let reader = try TraceReader(path: path)
        let total = try progress.map { _ in UInt64(try reader.recordCount()) }
        let pipeline = RecordPipeline(path: path)
        defer { pipeline.cancel() }
        var stats = TraceStatistics(trace: path, metadata: reader.metadata)
        var n: UInt64 = 0
        try pipeline.forEachChunk { chunk in
            for i in chunk.indices { stats.consume(chunk[i]) }
            n = TraceAnalysis.reportProgress(progress, done: n, adding: chunk.count, total: total)
        }
        stats.end = try TraceAnalysis.checkedEnd(of: reader, recordsRead: n)
        return stats
    }
}
