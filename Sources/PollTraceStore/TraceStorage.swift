import PollTraceCore

/// What the writer thread writes a trace into: the recording form (`TraceFile`),
/// finalized into the v7 tables at close, or the v7 tables directly
/// (`PlainTraceFile`, for one in-order producer).
protocol TraceStorage: AnyObject {
    var path: String { get }
    /// Writes one chunk (sorting it by seq) and the pollers that started with it.
    /// Returns the rows written and how many of the records were gaps.
    func write(_ chunk: inout [TraceRecord], pollers: [PollerInfo]) throws -> (rows: Int, gaps: Int)
    /// Marks the trace complete after the last chunk.
    func finish(statistics: TraceWriterStatistics) throws
    /// After a failed write, before the writer stops: what the file keeps.
    func discard()
}

extension TraceFile: TraceStorage {
    /// The recording form keeps every chunk committed before the failure.
    func discard() {}
}
