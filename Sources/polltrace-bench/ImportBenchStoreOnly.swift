import PollTraceCore
import PollTraceStore
import PollTraceStrace

/// The `store` mode of `polltrace-bench import`: the trace writer's share of an
/// import, measured alone. The log is parsed first (untimed) into memory; then the
/// same records go through `TraceWriter` exactly as `polltrace import` sends them
/// (its options, its hand-over size), and `close()` finishes the file. Import's
/// wall time cannot go below this on its own thread, however fast the parser gets.
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
        let writer = try TraceWriter(path: trace, metadata: metadata, options: StraceTraceImport.writerOptions(overwrite: true))
        for poller in parsed.pollers { writer.pollerStarted(poller) }
        var start = 0
        while start < parsed.records.count {
            let end = min(start + StraceTraceImport.handOver, parsed.records.count)
            writer.record(contentsOf: Array(parsed.records[start..<end]))
            start = end
        }
        try writer.close()
    }
}
