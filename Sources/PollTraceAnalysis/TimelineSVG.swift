import PollTraceCore

/// Draws a small `Timeline` as inline SVG for the HTML report: one band per track,
/// batches as light bars with their dispatches on top (stale ones red, guard
/// suppressions amber), closes and opens as ticks, and the arrows from the close
/// and the reuse to each stale dispatch. Every shape has a tooltip (`<title>`).
enum TimelineSVG {
    static func svg(_ t: Timeline, title: String) -> String {
        guard !t.slices.isEmpty || !t.instants.isEmpty else { return "<p>(the window holds no records)</p>" }
        let width = 1000.0, left = 110.0, right = 10.0, bandHeight = 56.0, top = 24.0
        let starts = t.slices.map(\.startNs) + t.instants.map(\.timeNs)
        let ends = t.slices.map { $0.startNs + $0.durationNs } + t.instants.map(\.timeNs)
        let t0 = starts.min()!, t1 = max(ends.max()!, t0 + 1)
        let scale = (width - left - right) / Double(t1 - t0)
        func x(_ ns: UInt64) -> Double { left + Double(ns - min(ns, t0)) * scale }
        let tracks = t.tracks.sorted { $0.id < $1.id }
        var band: [Int64: Double] = [:]
        for (i, track) in tracks.enumerated() { band[track.id] = top + Double(i) * bandHeight }
        let height = top + Double(tracks.count) * bandHeight + 8
        func f(_ v: Double) -> String { String(Double(Int(v * 10)) / 10) }
        var out = "<svg class=\"timeline\" viewBox=\"0 0 \(Int(width)) \(Int(height))\" role=\"img\" aria-label=\"\(HTMLText.escape(title))\" xmlns=\"http://www.w3.org/2000/svg\">"
        out += "<title>\(HTMLText.escape(title))</title>"
        // Time axis: the window's start and end, relative to the trace's start.
        out += "<text class=\"axis\" x=\"\(f(left))\" y=\"14\">t+\(TraceWindow.seconds(t0 >= t.baseNs ? t0 - t.baseNs : 0)) s</text>"
        out += "<text class=\"axis\" x=\"\(f(width - right))\" y=\"14\" text-anchor=\"end\">t+\(TraceWindow.seconds(t1 >= t.baseNs ? t1 - t.baseNs : 0)) s (\(f(Double(t1 - t0) / 1000)) µs shown)</text>"
        for track in tracks {
            let y = band[track.id]!
            out += "<text class=\"track\" x=\"4\" y=\"\(f(y + 22))\">\(HTMLText.escape(HTMLText.clip(track.name, 17)))<title>\(HTMLText.escape(track.name))</title></text>"
            out += "<line class=\"band\" x1=\"\(f(left))\" y1=\"\(f(y + bandHeight - 4))\" x2=\"\(f(width - right))\" y2=\"\(f(y + bandHeight - 4))\"/>"
        }
        for s in t.slices {
            guard let y0 = band[s.track] else { continue }
            let y = y0 + Double(s.depth) * 16
            let w = max(1.5, Double(s.durationNs) * scale)
            let cls = s.category == "batch" ? "batch" : s.category.hasSuffix("stale") ? "dispatch stale" : s.category.hasSuffix("suppressed") ? "dispatch suppressed" : "dispatch"
            let tip = "\(s.name) — seq \(s.seq), \(s.durationNs) ns" + s.args.compactMap { k, v in
                guard ["fd", "mask", "verdict", "harvested_for"].contains(k) else { return nil }
                switch v { case .int(let n): return ", \(k) \(n)"; case .text(let text): return ", \(k) \(text)" }
            }.joined()
            out += "<rect class=\"\(cls)\" x=\"\(f(x(s.startNs)))\" y=\"\(f(y + 4))\" width=\"\(f(w))\" height=\"14\"><title>\(HTMLText.escape(tip))</title></rect>"
            if s.category.hasSuffix("stale") {
                let anchor = x(s.startNs) > width - 160 ? "end" : "start"
                out += "<text class=\"stale-label\" text-anchor=\"\(anchor)\" x=\"\(f(x(s.startNs)))\" y=\"\(f(y0 + bandHeight - 8))\">\(HTMLText.escape(HTMLText.clip(s.name, 24)))</text>"
            }
        }
        for e in t.instants where e.category == "fd" || e.category == "stale" || e.category == "suppression" || e.category == "gap" {
            guard let y0 = band[e.track] else { continue }
            let cls = e.category == "stale" ? "tick stale" : e.name.hasPrefix("close") ? "tick close" : e.name.hasPrefix("open") ? "tick open" : "tick"
            out += "<line class=\"\(cls)\" x1=\"\(f(x(e.timeNs)))\" y1=\"\(f(y0 + 36))\" x2=\"\(f(x(e.timeNs)))\" y2=\"\(f(y0 + 44))\"><title>\(HTMLText.escape("\(e.name) — seq \(e.seq)"))</title></line>"
        }
        for flow in t.flows {
            guard let a = band[flow.fromTrack], let b = band[flow.toTrack] else { continue }
            let x1 = x(flow.fromNs), x2 = x(flow.toNs), y1 = a + 40, y2 = b + 26
            out += "<path class=\"flow\" d=\"M\(f(x1)),\(f(y1)) C\(f(x1)),\(f(y1 + 14)) \(f(x2)),\(f(y2 + 14)) \(f(x2)),\(f(y2))\"><title>\(HTMLText.escape("\(flow.name): seq \(flow.fromSeq) → \(flow.toSeq)"))</title></path>"
        }
        out += "</svg>"
        return out
    }
}
