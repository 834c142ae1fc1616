import PollTraceCore

/// The HTML of the report, section by section (`HTMLReport` gathers the data).
struct ReportPage {
    let path: String
    let metadata: TraceMetadata
    private var out = ""

    init(path: String, metadata: TraceMetadata) {
        self.path = path; self.metadata = metadata
    }

    private func e(_ s: String) -> String { HTMLText.escape(s) }

    mutating func render(analysis: AnalysisReport, tally: ReportTally, timeline: Timeline?, imported: HTMLReport.ImportedFindings?,
                         limit: Int) -> String {
        out = "<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">"
        out += "<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">"
        out += "<title>PollTrace report: \(e(path))</title><style>\(Self.css)</style></head><body>\n"
        header(analysis)
        verdict(analysis, imported: imported)
        ending(analysis)
        if let imported { importedFindings(imported, limit: limit) } else { findings(analysis, limit: limit) }
        timelineSection(timeline)
        histograms(tally)
        out += "<footer>Made by <code>polltrace report</code>. The trace was opened read-only. Every finding's number is the one "
            + "<code>polltrace analyze</code> lists; <code>polltrace timeline \(e(path)) --finding N -o finding.json</code> exports its "
            + "timeline for the Perfetto UI.</footer>\n</body></html>\n"
        return out
    }

    private mutating func header(_ a: AnalysisReport) {
        out += "<header><h1>PollTrace report</h1><p class=\"path\"><code>\(e(path))</code></p>"
        out += "<p>\(e(metadata.program)) (pid \(metadata.pid)) on \(e(metadata.host)), \(e(ReportText.schemaPhrase(metadata))), "
            + "\(a.recordCount) records.</p><table class=\"pollers\"><tr><th>poller</th><th>backend</th><th>policy</th><th>label</th></tr>"
        for p in metadata.pollers.sorted(by: { $0.poller < $1.poller }) {
            out += "<tr><td>\(p.poller)</td><td>\(e(p.backend))</td><td>\(e(p.policyName))</td><td>\(e(p.label))</td></tr>"
        }
        out += "</table></header>\n"
    }

    private mutating func verdict(_ a: AnalysisReport, imported: HTMLReport.ImportedFindings?) {
        out += "<section id=\"verdict\"><h2>Verdict</h2>"
        if let imported {
            let bad = !imported.marks.isEmpty
            out += "<p class=\"verdict \(bad ? "bad" : "good")\">\(bad ? "\(imported.marks.count) hazards found in the imported strace log" : "no hazard found in the imported strace log")</p>"
            out += "<pre>\(e(imported.summary))</pre></section>\n"
            return
        }
        let text: String
        let cls: String
        if a.inconsistencyCount > 0 {
            text = "\(a.inconsistencyCount) inconsistent records: the trace contradicts itself"; cls = "bad"
        } else if a.problemCount > 0 {
            text = "\(a.staleDispatchCount) stale dispatches (\(a.count(.misrouted)) misrouted, \(a.count(.deadRegistration)) to a dead registration); \(a.problemCount) problems in all"
            cls = "bad"
        } else {
            text = "clean: no stale dispatch, no lost or orphan event, no spin"; cls = "good"
        }
        out += "<p class=\"verdict \(cls)\">\(e(text))</p><table class=\"counts\"><tr><th>verdict</th><th>dispatches</th></tr>"
        for kind in FindingKind.allCases {
            out += "<tr class=\"\(kind.isProblem && a.count(kind) > 0 ? "problem" : "")\"><td>\(kind.rawValue)\(kind.isProblem ? "" : " <small>(not a problem)</small>")</td><td class=\"n\">\(a.count(kind))</td></tr>"
        }
        out += "</table></section>\n"
    }

    private mutating func ending(_ a: AnalysisReport) {
        out += "<section id=\"ending\"><h2>How the trace ended</h2><ul>"
        if let end = a.end {
            let clean = end.kind == .closed && end.recordsDropped == 0
            let written = end.recordsWritten.map { " (\($0) records written, all of them read)" } ?? ""
            out += "<li class=\"\(clean ? "good" : "bad")\">\(end.kind == .closed ? "Closed cleanly" : "Not closed cleanly"): "
                + "\(e(end.sentence))\(written).</li>"
        }
        let lost = a.gaps.filter { !($0.unannounced && $0.firstLost == 1) }.reduce(UInt64(0)) { $0 + $1.lostCount }
        if a.gapCount == 0 {
            out += "<li class=\"good\">No records dropped: no gap record, no hole in the sequence numbers.</li>"
        } else {
            out += "<li class=\"bad\">\(a.gapCount) gaps, \(lost) records lost in the listed ones; findings near a gap may miss what the lost records did.</li>"
        }
        if a.undispatchedEvents > 0 { out += "<li>\(a.undispatchedEvents) harvested events were never dispatched.</li>" }
        if a.inconsistencyCount > 0 { out += "<li class=\"bad\">\(a.inconsistencyCount) inconsistent records.</li>" }
        out += "</ul>"
        if a.gapCount > 0 { out += "<pre>\(e(ReportText.gapsSection(a, clock: TraceClock(metadata: metadata))))</pre>" }
        out += "</section>\n"
    }

    private mutating func findings(_ a: AnalysisReport, limit: Int) {
        let numbered = a.findings.enumerated().map { ($0.offset + 1, $0.element) }
        let problems = numbered.filter { $0.1.kind.isProblem }
        let shown = (problems.isEmpty ? numbered : problems).prefix(limit)
        out += "<section id=\"findings\"><h2>Findings</h2>"
        if shown.isEmpty {
            out += "<p>No findings.</p></section>\n"
            return
        }
        let total = problems.isEmpty ? a.findings.count : problems.count
        out += "<p>\(shown.count) of \(total)\(a.findingsTruncated ? "+" : "") \(problems.isEmpty ? "findings (none is a problem)" : "problems") drawn, in sequence order. "
            + "Each diagram reads top to bottom: the harvest, the handler that closed the fd, the one that reused its number, and the dispatch.</p>"
        let clock = TraceClock(metadata: metadata)
        for (number, f) in shown {
            let title = "Finding \(number): \(f.kind.rawValue) at seq \(f.seq), fd \(f.event.fd)"
            out += "<figure class=\"finding \(f.kind.isStaleDispatch ? "stale" : "")\" id=\"finding-\(number)\"><figcaption><h3>\(e(title))</h3></figcaption>"
            out += "<div class=\"scroll\">" + SequenceDiagram(finding: f).svg(title: title) + "</div>"
            out += "<pre>\(e(ReportText.describe(f, clock: clock)))</pre></figure>"
        }
        out += "</section>\n"
    }

    private mutating func importedFindings(_ imported: HTMLReport.ImportedFindings, limit: Int) {
        out += "<section id=\"findings\"><h2>Findings</h2>"
        if imported.marks.isEmpty { out += "<p>No findings.</p>" }
        for (i, mark) in imported.marks.prefix(limit).enumerated() {
            let title = "Finding \(i + 1): \(mark.kind), fd \(mark.fd), wait at line \(mark.waitLine)"
            out += "<figure class=\"finding stale\" id=\"finding-\(i + 1)\"><figcaption><h3>\(e(title))</h3></figcaption>"
            out += "<div class=\"scroll\">" + SequenceDiagram(mark: mark).svg(title: title) + "</div><pre>\(e(mark.sentence))</pre></figure>"
        }
        out += "</section>\n"
    }

    private mutating func timelineSection(_ timeline: Timeline?) {
        out += "<section id=\"timeline\"><h2>Timeline around the first findings</h2>"
        guard let t = timeline else {
            out += "<p>(the window around the first findings was too large to draw)</p></section>\n"
            return
        }
        out += "<p>\(e(t.windowDescription)): \(t.slices.count) slices on \(t.tracks.count) track(s). Batches are grey, dispatches blue, "
            + "<span class=\"key stale\">stale dispatches red</span>, <span class=\"key suppressed\">guard suppressions amber</span>; "
            + "ticks mark closes (black) and opens (green); red curves run from the close and the reuse to the stale dispatch. "
            + "Hover a shape for its record.</p><div class=\"scroll\">"
        out += TimelineSVG.svg(t, title: "timeline of \(t.windowDescription)") + "</div></section>\n"
    }

    private mutating func histograms(_ tally: ReportTally) {
        out += "<section id=\"histograms\"><h2>Histograms</h2><h3>Events per batch</h3>"
        out += "<p>\(tally.batches) batches.</p>"
        out += bars(Array(zip(TraceStatistics.batchBucketLabels.map { "\($0) events" }, tally.batchSizes)))
        out += "<h3>Dispatch durations per handler kind</h3><p>The handler's label up to its first ':'. Bucket bounds are powers of two.</p><div class=\"kinds\">"
        let order = tally.kinds.indices.sorted { tally.dispatches[$0] != tally.dispatches[$1] ? tally.dispatches[$0] > tally.dispatches[$1] : tally.kinds[$0] < tally.kinds[$1] }
        for k in order {
            let counts = tally.durations[k]
            guard let lo = counts.firstIndex(where: { $0 > 0 }), let hi = counts.lastIndex(where: { $0 > 0 }) else { continue }
            out += "<div class=\"kind\"><h4>\(e(tally.kinds[k])) <small>\(tally.dispatches[k]) dispatches</small></h4>"
            out += bars((lo...hi).map { ("< " + Self.duration(1 << UInt64($0)), counts[$0]) })
            out += "</div>"
        }
        out += "</div></section>\n"
    }

    private func bars(_ rows: [(String, UInt64)]) -> String {
        let top = max(1, rows.map(\.1).max() ?? 1)
        var html = "<table class=\"bars\">"
        for (label, n) in rows {
            let pct = Double(n) / Double(top) * 100
            html += "<tr><th>\(e(label))</th><td class=\"n\">\(n)</td><td class=\"bar\"><span style=\"width:\(String(format: "%.1f", pct))%\"></span></td></tr>"
        }
        return html + "</table>"
    }

    static func duration(_ ns: UInt64) -> String {
        if ns < 1000 { return "\(ns) ns" }
        if ns < 1_000_000 { return "\(ns / 1000) µs" }
        if ns < 1_000_000_000 { return "\(ns / 1_000_000) ms" }
        return "\(ns / 1_000_000_000) s"
    }

    static let css = """
    :root{--fg:#1b1f23;--muted:#57606a;--bad:#c62828;--good:#2e7d32;--amber:#e69500;--line:#d0d7de}
    *{box-sizing:border-box}
    body{font:15px/1.45 system-ui,-apple-system,"Segoe UI",sans-serif;color:var(--fg);margin:0 auto;padding:1rem;max-width:70rem}
    h1{font-size:1.6rem;margin:.2rem 0}h2{border-bottom:1px solid var(--line);padding-bottom:.2rem;margin-top:2rem}
    h3{font-size:1.05rem;margin:.4rem 0}h4{margin:.3rem 0;font-size:.95rem}
    code,pre{font:13px/1.4 ui-monospace,"DejaVu Sans Mono",monospace}
    pre{background:#f6f8fa;padding:.6rem;overflow-x:auto;white-space:pre-wrap;word-break:break-word}
    .path code{word-break:break-all}
    table{border-collapse:collapse;margin:.5rem 0}td,th{padding:.15rem .6rem;text-align:left;border-bottom:1px solid var(--line)}
    td.n{text-align:right;font-variant-numeric:tabular-nums}
    tr.problem td{color:var(--bad);font-weight:600}
    .verdict{font-size:1.2rem;font-weight:700;padding:.6rem .8rem;border-left:6px solid}
    .verdict.bad,li.bad{color:var(--bad)}.verdict.good,li.good{color:var(--good)}
    .verdict.bad{border-color:var(--bad);background:#fdecea}.verdict.good{border-color:var(--good);background:#e8f5e9}
    figure{margin:1rem 0;padding:.5rem;border:1px solid var(--line);border-radius:6px;break-inside:avoid}
    figure.stale{border-left:5px solid var(--bad)}
    svg{width:100%;height:auto;display:block}
    svg.seq{max-width:60rem}svg text{font:11px system-ui,sans-serif;fill:var(--fg)}
    .actor{fill:#eef2f7;stroke:#8c959f}svg text.actor-name{font-weight:700}
    .lifeline{stroke:#8c959f;stroke-dasharray:4 3}
    .msg{stroke:#0969da;stroke-width:1.6}.msg.stale{stroke:var(--bad);stroke-width:2.2}
    svg text.label.stale{fill:var(--bad);font-weight:700}svg text.at{fill:var(--muted);font-size:10px}
    .scroll{overflow-x:auto}svg.timeline{min-width:40rem}
    .batch{fill:#d8dee4;stroke:#fff;stroke-width:1}.dispatch{fill:#54aeff;stroke:#fff;stroke-width:.6}.dispatch.stale{fill:var(--bad)}.dispatch.suppressed{fill:var(--amber)}
    .tick{stroke:#8c959f;stroke-width:1}.tick.close{stroke:#000}.tick.open{stroke:var(--good)}.tick.stale{stroke:var(--bad);stroke-width:2}
    .flow{fill:none;stroke:var(--bad);stroke-width:1.4;stroke-dasharray:3 2}
    svg text.axis,svg text.track{fill:var(--muted)}svg text.stale-label{fill:var(--bad);font-weight:700}
    .key.stale{color:var(--bad);font-weight:600}.key.suppressed{color:var(--amber);font-weight:600}
    table.bars{width:100%;max-width:36rem}table.bars th{font-weight:400;white-space:nowrap;width:7rem}
    table.bars td.bar{width:100%}table.bars td.bar span{display:block;height:.8rem;background:#54aeff;min-width:1px}
    .kinds{display:grid;grid-template-columns:repeat(auto-fill,minmax(20rem,1fr));gap:1rem}
    footer{margin-top:2rem;color:var(--muted);font-size:.85rem}
    @media (max-width:40rem){body{padding:.5rem;font-size:14px}svg.seq{min-width:36rem}.kinds{grid-template-columns:1fr}table.pollers td,table.pollers th{padding:.1rem .3rem}}
    @media print{body{max-width:none;font-size:11pt}*{-webkit-print-color-adjust:exact;print-color-adjust:exact}
    .scroll{overflow:visible}svg.timeline,svg.seq{min-width:0}h2{break-after:avoid}section{break-inside:auto}pre{white-space:pre-wrap}}
    """
}
