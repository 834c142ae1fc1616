import PollTraceCore

/// Writes a `Timeline` in the Chrome trace-event JSON format, which the Perfetto
/// UI (ui.perfetto.dev) and chrome://tracing open: complete events (`X`) for
/// batches and dispatches, instant events (`i`) for fd and registration changes and
/// marks, flow events (`s`/`f`, paired by id) for the arrows to stale dispatches,
/// and metadata events (`M`) naming the process and each track.
///
/// Each track's events are written in time order (a slice before the slices it
/// holds), with times in microseconds since the trace's start, to the nanosecond.
public enum TraceEventExport {
    /// Calls `write` with the JSON document in pieces of about `chunk` bytes, so a
    /// large window never sits in memory twice.
    public static func write(_ timeline: Timeline, chunk: Int = 1 << 20, to write: (String) throws -> Void) rethrows {
        var out = ""
        out.reserveCapacity(chunk + 4096)
        out += "{\"displayTimeUnit\":\"ns\",\"otherData\":{\"window\":"
        JSONValue.writeString(timeline.windowDescription, into: &out)
        out += ",\"first_seq\":\(timeline.firstSeq),\"last_seq\":\(timeline.lastSeq)},\n\"traceEvents\":[\n"
        let pid = timeline.processID
        out += "{\"ph\":\"M\",\"name\":\"process_name\",\"pid\":\(pid),\"tid\":0,\"ts\":0,\"args\":{\"name\":"
        JSONValue.writeString(timeline.processName, into: &out)
        out += "}}"
        for (i, track) in timeline.tracks.sorted(by: { $0.id < $1.id }).enumerated() {
            out += ",\n{\"ph\":\"M\",\"name\":\"thread_name\",\"pid\":\(pid),\"tid\":\(track.id),\"ts\":0,\"args\":{\"name\":"
            JSONValue.writeString(track.name, into: &out)
            out += "}},\n{\"ph\":\"M\",\"name\":\"thread_sort_index\",\"pid\":\(pid),\"tid\":\(track.id),\"ts\":0,\"args\":{\"sort_index\":\(i)}}"
        }
        for entry in orderedEntries(timeline) {
            out += ",\n"
            render(entry, timeline, into: &out)
            if out.utf8.count >= chunk {
                try write(out)
                out.removeAll(keepingCapacity: true)
            }
        }
        out += "\n]}\n"
        try write(out)
    }

    /// The whole document as one string (for small windows and tests).
    public static func render(_ timeline: Timeline) -> String {
        var all = ""
        write(timeline) { all += $0 }
        return all
    }

    private enum Entry {
        case slice(Int), instant(Int), flowStart(Int), flowEnd(Int)
    }

    /// Every event, by track and then by time; at one time a longer slice comes
    /// before a shorter one (so the shorter nests in it), then instants, then flows.
    private static func orderedEntries(_ t: Timeline) -> [Entry] {
        var keyed: [(track: Int64, ts: UInt64, rank: Int, tie: UInt64, entry: Entry)] = []
        keyed.reserveCapacity(t.eventCount)
        for (i, s) in t.slices.enumerated() { keyed.append((s.track, s.startNs, 0, UInt64.max - s.durationNs, .slice(i))) }
        for (i, e) in t.instants.enumerated() { keyed.append((e.track, e.timeNs, 1, e.seq, .instant(i))) }
        for (i, f) in t.flows.enumerated() {
            keyed.append((f.fromTrack, f.fromNs, 2, UInt64(f.id), .flowStart(i)))
            keyed.append((f.toTrack, f.toNs, 2, UInt64(f.id), .flowEnd(i)))
        }
        keyed.sort { a, b in
            if a.track != b.track { return a.track < b.track }
            if a.ts != b.ts { return a.ts < b.ts }
            if a.rank != b.rank { return a.rank < b.rank }
            return a.tie < b.tie
        }
        return keyed.map(\.entry)
    }

    private static func render(_ entry: Entry, _ t: Timeline, into out: inout String) {
        let pid = t.processID
        switch entry {
        case .slice(let i):
            let s = t.slices[i]
            out += "{\"ph\":\"X\",\"pid\":\(pid),\"tid\":\(s.track),\"ts\":"
            time(s.startNs, t.baseNs, into: &out)
            out += ",\"dur\":"
            time(s.durationNs, 0, into: &out)
            common(s.name, s.category, s.args, into: &out)
            if s.category.hasSuffix("stale") { out += ",\"cname\":\"terrible\"" } else if s.category.hasSuffix("suppressed") { out += ",\"cname\":\"bad\"" }
            out += "}"
        case .instant(let i):
            let e = t.instants[i]
            out += "{\"ph\":\"i\",\"s\":\"\(e.global ? "g" : "t")\",\"pid\":\(pid),\"tid\":\(e.track),\"ts\":"
            time(e.timeNs, t.baseNs, into: &out)
            common(e.name, e.category, e.args, into: &out)
            if e.category == "stale" { out += ",\"cname\":\"terrible\"" }
            out += "}"
        case .flowStart(let i), .flowEnd(let i):
            let f = t.flows[i]
            var isStart = false
            if case .flowStart = entry { isStart = true }
            out += "{\"ph\":\"\(isStart ? "s" : "f")\",\(isStart ? "" : "\"bp\":\"e\",")\"id\":\(f.id),\"pid\":\(pid),\"tid\":\(isStart ? f.fromTrack : f.toTrack),\"ts\":"
            time(isStart ? f.fromNs : f.toNs, t.baseNs, into: &out)
            common(f.name, "stale", [("from_seq", .int(Int64(f.fromSeq))), ("to_seq", .int(Int64(f.toSeq)))], into: &out)
            out += "}"
        }
    }

    private static func common(_ name: String, _ category: String, _ args: [(String, Timeline.Value)], into out: inout String) {
        out += ",\"name\":"
        JSONValue.writeString(name, into: &out)
        out += ",\"cat\":\"\(category)\",\"args\":{"
        for (i, (key, value)) in args.enumerated() {
            if i > 0 { out += "," }
            out += "\"\(key)\":"
            switch value {
            case .int(let n): out += String(n)
            case .text(let s): JSONValue.writeString(s, into: &out)
            }
        }
        out += "}"
    }

    /// Microseconds since `base`, with three decimals: exact to the nanosecond.
    private static func time(_ ns: UInt64, _ base: UInt64, into out: inout String) {
        let rel = ns >= base ? ns - base : 0
        let frac = rel % 1000
        out += String(rel / 1000)
        out += frac < 10 ? ".00" : frac < 100 ? ".0" : "."
        out += String(frac)
    }
}
