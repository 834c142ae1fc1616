import PollTraceCore
import PollTraceStore

/// The `--json` structures (documented in docs/cli.md). Keys keep their order, so
/// the output is byte-identical across runs.
public enum ReportJSON {
    public static let formatVersion: Int64 = 1

    public static func analysis(_ report: AnalysisReport) -> JSONValue {
        .object([
            ("format", .string("polltrace-analyze")),
            ("format_version", .int(formatVersion)),
            ("schema_version", report.metadata.map { .int(Int64($0.schemaVersion)) } ?? .null),
            ("trace", .string(report.trace)),
            ("source", .string("native")),
            ("metadata", report.metadata.map(metadata) ?? .null),
            ("records", .uint(report.recordCount)),
            ("ended", ended(report.end)),
            ("spin_threshold", .int(Int64(report.options.spinThreshold))),
            ("summary", summary(report)),
            ("findings", .array(report.findings.map(finding))),
            ("findings_truncated", .bool(report.findingsTruncated)),
            ("gaps", gaps(report)),
            ("inconsistencies", inconsistencies(report)),
            ("clean", .bool(report.isClean)),
            ("strace", .null),
        ])
    }

    /// One line of `analyze --json-lines`: a finding with the trace it came from.
    public static func findingLine(trace: String, source: String, finding: JSONValue) -> JSONValue {
        .object([("format", .string("polltrace-finding")), ("format_version", .int(formatVersion)),
                 ("trace", .string(trace)), ("source", .string(source)), ("finding", finding)])
    }

    public static func verification(_ report: VerificationReport) -> JSONValue {
        let a = report.analysis
        return .object([
            ("format", .string("polltrace-verify")),
            ("format_version", .int(formatVersion)),
            ("trace", .string(a.trace)),
            ("metadata", a.metadata.map(metadata) ?? .null),
            ("records", .uint(a.recordCount)),
            ("analysis_summary", summary(a)),
            ("stale_dispatches_found", .uint(a.staleDispatchCount)),
            ("stale_dispatches_suppressed", .uint(report.staleSuppressed)),
            ("correct_dispatches_kept", .uint(report.correctKept)),
            ("correct_dispatches_narrowed_by_interest", .uint(report.narrowedByInterest)),
            ("recorded_suppressions_reproduced", .uint(report.suppressionsKept)),
            ("lost_events_delivered", .uint(report.lostEventsDelivered)),
            ("suppressed_handlers_with_effects", .uint(report.suppressedWithEffects)),
            ("skipped_effect_records", .uint(report.skippedEffectRecords)),
            ("divergent_dispatches", .uint(report.divergentDispatches)),
            ("failure_count", .uint(report.failureCount)),
            ("failures", .array(report.failures.map { f in
                .object([
                    ("kind", .string(f.kind.rawValue)), ("seq", .uint(f.seq)), ("poller", .uint(UInt64(f.poller))),
                    ("verdict", .string(f.verdict.rawValue)), ("recorded", .string(f.recorded)), ("replayed", .string(f.replayed)),
                ])
            })),
            ("gaps", gaps(a)),
            ("inconsistencies", inconsistencies(a)),
            ("passed", .bool(report.passed)),
        ])
    }

    /// How the trace ended (docs/cli.md): `how` is `closed`, `not_closed` or `write_failed`.
    public static func ended(_ end: TraceEnd?) -> JSONValue {
        guard let end else { return .null }
        return .object([
            ("how", .string(end.kind.rawValue)),
            ("records_written", end.recordsWritten.map { .uint($0) } ?? .null),
            ("records_dropped", .uint(end.recordsDropped)),
            ("wal_missing", .bool(end.writeAheadLogMissing)),
            ("note", .string(end.sentence)),
        ])
    }

    public static func metadata(_ m: TraceMetadata) -> JSONValue {
        .object([
            ("schema_version", .int(Int64(m.schemaVersion))), ("pid", .int(Int64(m.pid))), ("program", .string(m.program)),
            ("host", .string(m.host)), ("start_wall_clock_ns", .uint(m.startWallClockNs)),
            ("start_monotonic_ns", .uint(m.startMonotonicNs)),
            ("pollers", .array(m.pollers.sorted { $0.poller < $1.poller }.map { p in
                .object([("poller", .uint(UInt64(p.poller))), ("backend", .string(p.backend)), ("policy", .string(p.policyName)),
                         ("epoll_fd", .int(Int64(p.epollFD))), ("label", .string(p.label))])
            })),
        ])
    }

    static func summary(_ report: AnalysisReport) -> JSONValue {
        .object(FindingKind.allCases.map { ($0.rawValue, .uint(report.count($0))) } + [
            ("problems", .uint(report.problemCount)),
            ("stale_dispatches", .uint(report.staleDispatchCount)),
        ])
    }

    public static func finding(_ f: Finding) -> JSONValue {
        .object([
            ("kind", .string(f.kind.rawValue)),
            ("seq", .uint(f.seq)),
            ("poller", .uint(UInt64(f.poller))),
            ("batch", batch(f.batch)),
            ("event", .object([("index", .uint(UInt64(f.eventIndex))), ("fd", .int(Int64(f.event.fd))),
                               ("mask", .string(f.event.mask.description)), ("data", .uint(f.event.data))])),
            ("harvested_for", f.harvestedFor.map(registration) ?? .null),
            ("ran", f.ran.map(registration) ?? .null),
            ("dispatch", f.dispatch.map { d in
                .object([("seq", .uint(d.seq)), ("time_ns", .uint(d.timeNs)),
                         ("ran_registration_id", .uint(UInt64(d.ranRegistrationID))),
                         ("delivered_mask", .string(d.deliveredMask.description)),
                         ("suppression", d.suppression.map { .string($0.description) } ?? .null),
                         ("handler_threw", .bool(d.handlerThrew)), ("duration_ns", .uint(d.durationNs))])
            } ?? .null),
            ("spin", f.kind == .spin ? .object([("first_batch", f.spinFirstBatch.map(batch) ?? .null),
                                                ("batches", .int(Int64(f.spinLength)))]) : .null),
        ])
    }

    static func batch(_ b: BatchRef) -> JSONValue {
        .object([("seq", .uint(b.seq)), ("time_ns", .uint(b.timeNs)), ("poller", .uint(UInt64(b.poller))),
                 ("number", .uint(b.batchNumber))])
    }

    static func registration(_ r: RegistrationRecord) -> JSONValue {
        .object([
            ("id", .uint(UInt64(r.registrationID))), ("poller", .uint(UInt64(r.poller))), ("fd", .int(Int64(r.fd))),
            ("handler", .string(r.handlerLabel)), ("interest", .string(r.interest.description)), ("data", .uint(r.data)),
            ("registered_seq", .uint(r.registeredSeq)), ("registered_by", dispatchRef(r.registeredBy)),
            ("fd_opened_seq", .uint(r.fdOpenedSeq)), ("fd_origin", r.fdOrigin.map { .string($0.description) } ?? .null),
            ("fd_opened_by", dispatchRef(r.fdOpenedBy)),
            ("end", r.end.map(end) ?? .null),
            ("fd_close", r.fdClose.map(end) ?? .null),
        ])
    }

    static func end(_ e: RegistrationEnd) -> JSONValue {
        .object([("seq", .uint(e.seq)), ("time_ns", .uint(e.timeNs)), ("reason", .string(e.reason.rawValue)),
                 ("by", dispatchRef(e.by))])
    }

    static func dispatchRef(_ ref: DispatchRef?) -> JSONValue {
        guard let ref else { return .null }
        return .object([("dispatch_seq", .uint(ref.seq)), ("time_ns", .uint(ref.timeNs)), ("poller", .uint(UInt64(ref.poller))),
                        ("registration_id", .uint(UInt64(ref.registrationID))), ("handler", .string(ref.handlerLabel))])
    }

    static func gaps(_ report: AnalysisReport) -> JSONValue {
        .object([
            ("count", .uint(report.gapCount)),
            ("listed", .array(report.gaps.map { g in
                .object([("gap_record_seq", g.unannounced ? .null : .uint(g.seq)), ("first_lost", .uint(g.firstLost)),
                         ("last_lost", .uint(g.lastLost)), ("lost_count", .uint(g.lostCount)),
                         ("from_time_ns", .uint(g.fromTimeNs)), ("to_time_ns", .uint(g.toTimeNs)),
                         ("unannounced", .bool(g.unannounced))])
            })),
            ("records_applied_despite_gap", .uint(report.gapAffectedRecords)),
            ("undispatched_events", .uint(report.undispatchedEvents)),
        ])
    }

    static func inconsistencies(_ report: AnalysisReport) -> JSONValue {
        .object([
            ("count", .uint(report.inconsistencyCount)),
            ("listed", .array(report.inconsistencies.map { i in
                .object([("seq", .uint(i.seq)), ("kind", .string(i.kind.rawValue)), ("message", .string(i.message))])
            })),
        ])
    }
}
