import PollTraceCore

/// One analysis in progress: records go in (one at a time or a chunk at a time, in
/// sequence order), an `AnalysisReport` comes out. `TraceAnalysis.analyze` runs one;
/// the benchmark runs one to time replay apart from decoding.
public struct ReplaySession: Sendable {
    public let name: String
    public let metadata: TraceMetadata?
    private var replayer: Replayer

    public init(name: String, metadata: TraceMetadata?, options: ReplayOptions = ReplayOptions()) {
        self.name = name
        self.metadata = metadata
        replayer = Replayer(options: options)
    }

    /// Records consumed so far (skipped duplicates included).
    public var recordCount: UInt64 { replayer.recordCount }

    public mutating func consume(_ record: TraceRecord) { replayer.consume(record) }

    /// Consumes a chunk, in order.
    public mutating func consume(_ records: [TraceRecord]) {
        for record in records { replayer.consume(record) }
    }

    /// Closes open batches and settles gaps; the session is done.
    public mutating func finish() -> AnalysisReport {
        replayer.finish()
        return AnalysisReport(trace: name, metadata: metadata, replayer: replayer)
    }
}
