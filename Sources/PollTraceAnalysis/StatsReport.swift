import PollTraceCore
import PollTraceStore

/// Text and `--json` renderings of `TraceStatistics`.
public enum StatsReport {
    static let percentiles: [(String, Double)] = [("p50", 50), ("p90", 90), ("p99", 99), ("p99_9", 99.9)]

    public static func text(_ s: TraceStatistics) -> String {
        var out = "trace \(s.trace)\n"
        if let m = s.metadata { out += "  program \(m.program.escapingControlCharacters) (pid \(m.pid)) on \(m.host.escapingControlCharacters), \(ReportText.schemaPhrase(m))\n" }
        if let end = s.end { out += "  the trace was \(end.sentence)\n" }
        out += "\nrecords: \(s.recordCount) (seq \(s.firstSeq)...\(s.lastSeq))\n"
        for kind in RecordKind.allCases where (s.byKind[kind] ?? 0) > 0 {
            out += "  " + ReportText.pad(kind.description, 14) + String(s.byKind[kind]!) + "\n"
        }
        out += "\npollers:\n"
        for id in pollerIDs(s) {
            let info = s.metadata?.pollers.first { $0.poller == id }
            out += "  poller \(id): " + (info.map { "\($0.backend), policy \($0.policyName)" } ?? "not in metadata")
            out += ", \(s.batchesByPoller[id] ?? 0) batches, \(s.dispatchesByPoller[id] ?? 0) dispatches\n"
        }
        let batches = s.batchesByPoller.values.reduce(0, +)
        out += "\nbatches: \(batches), \(s.eventCount) events, largest \(s.largestBatch)\n"
        for (label, n) in zip(TraceStatistics.batchBucketLabels, s.batchSizeBuckets) where n > 0 {
            out += "  " + ReportText.pad("\(label) events", 14) + String(n) + "\n"
        }
        let h = s.dispatchDurations
        out += "\ndispatch time (ns, each percentile within 6.25% above): \(h.count) dispatches\n"
        if h.count > 0 {
            out += "  " + percentiles.map { "\($0.0)=\(h.percentile($0.1))" }.joined(separator: " ") + " max=\(h.max)\n"
        }
        if !s.suppressions.isEmpty {
            out += "  suppressed: " + SuppressionReason.allCases.compactMap { r in s.suppressions[r].map { "\(r)=\($0)" } }.joined(separator: " ") + "\n"
        }
        out += "\nfd reuse: \(s.totalReuses) reopens of a closed number across \(s.reuseByFD.count) numbers\n"
        for (fd, n) in s.mostReused() { out += "  fd \(fd): \(n)\n" }
        out += "\ntime span: "
        if let first = s.firstTimeNs {
            out += "\(formatNs(s.lastTimeNs - first)) (monotonic \(first)...\(s.lastTimeNs) ns)\n"
        } else {
            out += "empty\n"
        }
        out += "gaps: \(s.gapRecordCount) gap records, \(s.lostRecords) records lost; \(s.holeCount) holes in the sequence\n"
        for g in s.gaps { out += "  gap seq \(g.seq): lost \(g.lostCount) in seq \(g.firstLost)...\(g.lastLost)\n" }
        for hole in s.holes { out += "  missing seq \(hole.lowerBound)...\(hole.upperBound)\n" }
        return out
    }

    public static func json(_ s: TraceStatistics) -> JSONValue {
        let h = s.dispatchDurations
        let byKind: [(String, JSONValue)] = RecordKind.allCases.map { ($0.description, JSONValue.uint(s.byKind[$0] ?? 0)) }
        let records: JSONValue = .object([("total", .uint(s.recordCount)), ("first_seq", .uint(s.firstSeq)),
                                          ("last_seq", .uint(s.lastSeq)), ("by_kind", .object(byKind))])
        let pollers: [JSONValue] = pollerIDs(s).map { id in pollerJSON(s, id) }
        let sizes: [(String, JSONValue)] = zip(TraceStatistics.batchBucketLabels, s.batchSizeBuckets).map { ($0, JSONValue.uint($1)) }
        let batches: JSONValue = .object([("count", .uint(s.batchesByPoller.values.reduce(0, +))), ("events", .uint(s.eventCount)),
                                          ("largest", .int(Int64(s.largestBatch))), ("size_distribution", .object(sizes))])
        var timing: [(String, JSONValue)] = [("count", .uint(h.count))]
        for (name, p) in percentiles { timing.append((name, .uint(h.percentile(p)))) }
        timing.append(("max", .uint(h.max)))
        let suppressions: [(String, JSONValue)] = SuppressionReason.allCases.map { ($0.description, JSONValue.uint(s.suppressions[$0] ?? 0)) }
        let reused: [JSONValue] = s.mostReused().map { JSONValue.object([("fd", .int(Int64($0.fd))), ("reopens", .uint($0.count))]) }
        let reuse: JSONValue = .object([("total", .uint(s.totalReuses)), ("numbers", .int(Int64(s.reuseByFD.count))),
                                        ("most_reused", .array(reused))])
        let span: JSONValue = .object([("first_ns", s.firstTimeNs.map { JSONValue.uint($0) } ?? .null), ("last_ns", .uint(s.lastTimeNs)),
                                       ("duration_ns", .uint(s.firstTimeNs.map { s.lastTimeNs - $0 } ?? 0))])
        let gapList: [JSONValue] = s.gaps.map { g in
            JSONValue.object([("seq", .uint(g.seq)), ("first_lost", .uint(g.firstLost)), ("last_lost", .uint(g.lastLost)),
                              ("lost_count", .uint(g.lostCount))])
        }
        let holeList: [JSONValue] = s.holes.map { JSONValue.object([("first", .uint($0.lowerBound)), ("last", .uint($0.upperBound))]) }
        let gaps: JSONValue = .object([("gap_records", .uint(s.gapRecordCount)), ("lost_records", .uint(s.lostRecords)),
                                       ("listed", .array(gapList)), ("sequence_holes", .uint(s.holeCount)),
                                       ("holes_listed", .array(holeList))])
        return .object([
            ("format", .string("polltrace-stats")),
            ("format_version", .int(ReportJSON.formatVersion)),
            ("trace", .string(s.trace)),
            ("metadata", s.metadata.map(ReportJSON.metadata) ?? .null),
            ("ended", ReportJSON.ended(s.end)),
            ("records", records),
            ("pollers", .array(pollers)),
            ("batches", batches),
            ("dispatch_time_ns", .object(timing)),
            ("suppressions", .object(suppressions)),
            ("fd_reuse", reuse),
            ("time_span", span),
            ("gaps", gaps),
        ])
    }

    static func pollerJSON(_ s: TraceStatistics, _ id: PollerID) -> JSONValue {
        let info = s.metadata?.pollers.first { $0.poller == id }
        return .object([("poller", .uint(UInt64(id))), ("backend", info.map { JSONValue.string($0.backend) } ?? .null),
                        ("policy", info.map { JSONValue.string($0.policyName) } ?? .null),
                        ("batches", .uint(s.batchesByPoller[id] ?? 0)), ("dispatches", .uint(s.dispatchesByPoller[id] ?? 0))])
    }

    static func pollerIDs(_ s: TraceStatistics) -> [PollerID] {
        Array(Set(s.batchesByPoller.keys).union(s.dispatchesByPoller.keys).union((s.metadata?.pollers ?? []).map(\.poller))).sorted()
    }

    static func formatNs(_ ns: UInt64) -> String {
        let micros = ns / 1000
        let frac = String(micros % 1_000_000)
        return "\(micros / 1_000_000).\(String(repeating: "0", count: 6 - frac.count))\(frac) s"
    }
}
