import PollTraceCore

/// Human-readable reports. Pure functions of the report: the same trace gives the
/// same text, byte for byte.
public enum ReportText {
    /// "schema v7", or, for a file without the v7 tables (a recording form, kept or
    /// left by a killed writer, or an older version), what makes them: a reader who
    /// sees "schema v6" from this version would otherwise think it out of date.
    public static func schemaPhrase(_ m: TraceMetadata) -> String {
        m.schemaVersion >= TraceMetadata.currentSchemaVersion
            ? "schema v\(m.schemaVersion)"
            : "schema v\(m.schemaVersion), no SQL tables yet (`polltrace finalize` makes them)"
    }

    public static func render(_ report: AnalysisReport) -> String {
        var out = ""
        let clock = TraceClock(metadata: report.metadata)
        out += "trace \(report.trace)\n"
        if let m = report.metadata {
            out += "  program \(m.program.escapingControlCharacters) (pid \(m.pid)) on \(m.host.escapingControlCharacters), \(schemaPhrase(m))\n"
            for p in m.pollers.sorted(by: { $0.poller < $1.poller }) {
                out += "  poller \(p.poller): \(p.backend), policy \(p.policyName)\(p.label.isEmpty ? "" : ", \(p.label.escapingControlCharacters)")\n"
            }
        }
        out += "  \(report.recordCount) records replayed, spin threshold \(report.options.spinThreshold) batches\n"
        if let end = report.end { out += "  the trace was \(end.sentence)\n" }

        if !report.findings.isEmpty { out += "\nfindings (in sequence order):\n" }
        for finding in report.findings { out += "\n" + describe(finding, clock: clock) }
        if report.findingsTruncated {
            out += "\n(only the first \(report.findings.count) findings are listed; the summary counts them all)\n"
        }

        out += "\nsummary:\n"
        for kind in FindingKind.allCases {
            out += "  " + pad(kind.rawValue, 22) + String(report.count(kind)) + (kind.isProblem ? "" : "   (not a problem)") + "\n"
        }
        out += gapsSection(report, clock: clock)
        out += inconsistencySection(report)
        out += "\nverdict: "
        if report.inconsistencyCount > 0 {
            out += "\(report.inconsistencyCount) inconsistent records (exit 2)\n"
        } else if report.problemCount > 0 {
            out += "\(report.problemCount) problems: \(report.staleDispatchCount) stale dispatches (exit 1)\n"
        } else {
            out += "clean\n"
        }
        return out
    }

    public static func render(_ report: VerificationReport) -> String {
        let a = report.analysis
        var out = "verify \(a.trace): replayed \(a.recordCount) records through the guarded dispatcher\n"
        if let end = a.end { out += "  the trace was \(end.sentence)\n" }
        for p in (a.metadata?.pollers ?? []).sorted(by: { $0.poller < $1.poller }) {
            out += "  poller \(p.poller) was recorded under \(p.policy?.rawValue ?? "an unknown policy")\n"
        }
        out += "\n"
        out += "  stale dispatches found by analyze       \(a.staleDispatchCount) (misrouted \(a.count(.misrouted)), dead registration \(a.count(.deadRegistration)))\n"
        out += "  stale dispatches suppressed by the fix  \(report.staleSuppressed)\n"
        out += "  correct dispatches kept                 \(report.correctKept)\n"
        out += "  correct dispatches narrowed by interest \(report.narrowedByInterest) (a modify earlier in the batch dropped every ready bit)\n"
        out += "  recorded suppressions reproduced        \(report.suppressionsKept)\n"
        out += "  lost events the fix delivers            \(report.lostEventsDelivered)\n"
        out += "  suppressed handlers that had effects    \(report.suppressedWithEffects) (\(report.skippedEffectRecords) records skipped in replay)\n"
        out += "  dispatches on diverged fds (not judged) \(report.divergentDispatches)\n"
        if !report.failures.isEmpty {
            out += "\nfailures:\n"
            for f in report.failures {
                out += "  seq \(f.seq) poller \(f.poller): \(f.kind.rawValue): analysis says \(f.verdict), recorded \(f.recorded), guarded replay would \(f.replayed)\n"
            }
            if UInt64(report.failures.count) < report.failureCount {
                out += "  (only the first \(report.failures.count) of \(report.failureCount) failures are listed)\n"
            }
        }
        out += gapsSection(a, clock: TraceClock(metadata: a.metadata))
        out += inconsistencySection(a)
        out += "\nverdict: "
        if report.passed {
            out += "PASS: every stale dispatch is suppressed and no correct dispatch is\n"
        } else if report.failureCount > 0 {
            // Inconsistent records make the exit 2 whatever else failed.
            out += "FAIL: \(report.failureCount) dispatches where the fix does not hold (exit \(a.inconsistencyCount > 0 ? 2 : 1))\n"
        } else {
            out += "FAIL: \(a.inconsistencyCount) inconsistent records (exit 2)\n"
        }
        return out
    }

    // MARK: - One finding

    static func describe(_ f: Finding, clock: TraceClock) -> String {
        var out = "\(f.kind.rawValue.uppercased())  "
        if let d = f.dispatch {
            out += "dispatch seq \(d.seq) on poller \(f.poller) at \(clock.format(d.timeNs))\n"
        } else {
            out += "batch seq \(f.batch.seq) on poller \(f.poller)\n"
        }
        out += "  batch seq \(f.batch.seq) (#\(f.batch.batchNumber) of poller \(f.batch.poller), harvested \(clock.format(f.batch.timeNs))), "
        out += "event \(f.eventIndex): fd \(f.event.fd) \(f.event.mask) data \(hex(f.event.data))\n"
        if let h = f.harvestedFor {
            out += "  harvested for " + registration(h) + "\n"
            if let end = h.end {
                out += "  #\(h.registrationID) \(end.reason == .closed ? "ended by the close of fd \(h.fd)" : "unregistered") at seq \(end.seq) (\(clock.format(end.timeNs))) " + by(end.by) + "\n"
            }
            if let close = h.fdClose, close.seq != h.end?.seq {
                out += "  fd \(h.fd) closed at seq \(close.seq) (\(clock.format(close.timeNs))) " + by(close.by) + "\n"
            }
        } else {
            out += "  harvested for no live registration of fd \(f.event.fd) on poller \(f.poller)\n"
        }
        if let r = f.ran, r.registrationID != f.harvestedFor?.registrationID {
            out += "  new fd \(r.fd) opened at seq \(r.fdOpenedSeq) (\(r.fdOrigin.map { "\($0)" } ?? "origin unknown")) " + by(r.fdOpenedBy) + "\n"
            out += "  registered as #\(r.registrationID) \"\(r.handlerLabel.escapingControlCharacters)\" at seq \(r.registeredSeq) " + by(r.registeredBy) + "\n"
        }
        if let d = f.dispatch {
            if let reason = d.suppression {
                out += "  handler: none, suppressed (\(reason))\n"
            } else if let r = f.ran {
                out += "  handler that ran: #\(r.registrationID) \"\(r.handlerLabel.escapingControlCharacters)\" with \(d.deliveredMask), for \(d.durationNs) ns\(d.handlerThrew ? ", threw" : "")\n"
            }
        }
        if f.kind == .spin, let first = f.spinFirstBatch {
            out += "  ran in \(f.spinLength) consecutive batches (#\(first.batchNumber) at seq \(first.seq) to #\(f.batch.batchNumber)) with mask \(f.dispatch?.deliveredMask ?? f.event.mask)\n"
        }
        return out
    }

    static func registration(_ r: RegistrationRecord) -> String {
        "#\(r.registrationID) \"\(r.handlerLabel.escapingControlCharacters)\" (fd \(r.fd) opened at seq \(r.fdOpenedSeq) by \(r.fdOrigin.map { "\($0)" } ?? "unknown origin"), registered at seq \(r.registeredSeq) with \(r.interest))"
    }

    static func by(_ ref: DispatchRef?) -> String {
        guard let ref else { return "outside any handler" }
        return "by dispatch seq \(ref.seq) (handler \"\(ref.handlerLabel.escapingControlCharacters)\", poller \(ref.poller))"
    }

    // MARK: - Sections

    static func gapsSection(_ report: AnalysisReport, clock: TraceClock) -> String {
        var out = "\ngaps: \(report.gapCount)\n"
        for g in report.gaps {
            if g.unannounced && g.firstLost == 1 {
                // Not lost: made before this file began (the writer's counter is the
                // process's, so a rotated file or a late-attached recorder starts high).
                out += "  seq 1...\(g.lastLost) (\(g.lostCount) records): before the trace's first record; it starts mid-stream (a rotated file, or a recorder attached to a running loop)\n"
                continue
            }
            let what = g.unannounced ? "sequence numbers missing with no gap record" : "gap record seq \(g.seq)"
            out += "  seq \(g.firstLost)...\(g.lastLost) (\(g.lostCount) lost, \(clock.format(g.fromTimeNs)) to \(clock.format(g.toTimeNs))): \(what)\n"
        }
        if UInt64(report.gaps.count) < report.gapCount { out += "  (only the first \(report.gaps.count) are listed)\n" }
        if report.gapCount > 0 {
            out += "  treatment: after a gap, records naming fds, registrations or batches that lost records would have created are applied as if those records existed, and an event on an fd replay never saw is left unchecked and its registration adopted (\(report.gapAffectedRecords) such records); findings near a gap may miss what the lost records did\n"
        }
        if report.undispatchedEvents > 0 {
            out += "  \(report.undispatchedEvents) harvested events were never dispatched (the trace ended, or their dispatches were lost)\n"
        }
        return out
    }

    static func inconsistencySection(_ report: AnalysisReport) -> String {
        guard report.inconsistencyCount > 0 else { return "" }
        var out = "\ninconsistent records: \(report.inconsistencyCount) (replay reported each and went on)\n"
        for i in report.inconsistencies { out += "  seq \(i.seq): \(i.kind.rawValue): \(i.message)\n" }
        if UInt64(report.inconsistencies.count) < report.inconsistencyCount {
            out += "  (only the first \(report.inconsistencies.count) are listed)\n"
        }
        return out
    }

    static func pad(_ s: String, _ width: Int) -> String { s.count >= width ? s + " " : s + String(repeating: " ", count: width - s.count) }

    static func hex(_ v: UInt64) -> String {
        let digits = String(v, radix: 16)
        return "0x" + String(repeating: "0", count: max(0, 16 - digits.count)) + digits
    }
}

/// Formats monotonic timestamps relative to the trace's start.
struct TraceClock {
    let origin: UInt64?
    init(metadata: TraceMetadata?) { origin = metadata?.startMonotonicNs }

    func format(_ ns: UInt64) -> String {
        guard let origin, ns >= origin else { return "t=\(ns) ns" }
        let micros = (ns - origin) / 1000
        let frac = String(micros % 1_000_000)
        return "t+\(micros / 1_000_000).\(String(repeating: "0", count: 6 - frac.count))\(frac) s"
    }
}
