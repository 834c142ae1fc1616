import PollTraceCore
import PollTraceStore
import PollTraceStrace

/// The `store` mode of `polltrace-bench import`: the trace writer's share of an
/// import, measured alone. The log is parsed first (untimed) into memory; then the
/// same records go through `PlainTraceWriter` as `polltrace import` sends them (row
/// making on this thread, inserts on the writer's), and `close()` finishes the file.
/// Import's wall time cannot go below this, however fast the parser gets.
enum StoreOnly {
    struct Parsed {
        var pollers: [PollerInfo]
        var records: [TraceRecord]
        /// The log's first `-ttt` time: the trace's start, as `polltrace import` sets it.
        var startNs: UInt64
    }

    static func collect(_ log: String) throws -> Parsed {
        let collector = OriginCollector()
        let outcome = try StraceImport.run(path: log, sequence: SequenceCounter(), consumers: [collector])
        return Parsed(pollers: collector.pollers, records: collector.records.map(\.0), startNs: outcome.firstEpochTimeNs ?? 0)
    }

    static func write(_ parsed: Parsed, to trace: String) throws {
        let metadata = TraceMetadata(pid: 1, program: "polltrace-bench store", host: "bench",
                                     startWallClockNs: parsed.startNs, startMonotonicNs: parsed.startNs)
        let writer = try PlainTraceWriter(path: trace, metadata: metadata, verdicts: .none, overwrite: true)
        for poller in parsed.pollers { writer.pollerStarted(poller) }
        try writer.append(contentsOf: parsed.records)
        try writer.close()
    }
}
