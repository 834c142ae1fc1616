import PollTraceAnalysis
import PollTraceCore
import PollTraceStore

/// The `--json` document of an imported trace: the same top-level shape as a
/// native trace's (`ReportJSON.analysis`, docs/cli.md), so one reader handles both.
/// What only a log can say (statistics, unreadable lines) is under `strace`.
public enum ForeignReportJSON {
    public static func analysis(_ report: ForeignReport, trace: String, metadata: TraceMetadata?,
                                end: TraceEnd?) -> JSONValue {
        let problems = UInt64(report.findings.count)
        return .object([
            ("format", .string("polltrace-analyze")),
            ("format_version", .int(ReportJSON.formatVersion)),
            ("schema_version", metadata.map { .int(Int64($0.schemaVersion)) } ?? .null),
            ("trace", .string(trace)),
            ("source", .string("strace")),
            ("metadata", metadata.map(ReportJSON.metadata) ?? .null),
            ("records", .null),
            ("ended", ReportJSON.ended(end)),
            ("spin_threshold", .null),
            ("summary", .object(ForeignFinding.Kind.allCases.map { ($0.rawValue, .uint(UInt64(report.count($0)))) } + [
                ("problems", .uint(problems)),
                ("stale_dispatches", .uint(UInt64(report.count(.likelyStaleDispatch)))),
            ])),
            ("findings", .array(report.findings.map(finding))),
            ("findings_truncated", .bool(false)),
            ("gaps", .object([("count", .uint(0)), ("listed", .array([])), ("records_applied_despite_gap", .uint(0)),
                              ("undispatched_events", .uint(0))])),
            ("inconsistencies", .object([("count", .uint(0)), ("listed", .array([]))])),
            ("clean", .bool(problems == 0)),
            ("strace", strace(report)),
        ])
    }

    /// One finding of an imported trace: log lines instead of sequence numbers.
    public static func finding(_ f: ForeignFinding) -> JSONValue {
        func line(_ value: UInt32?) -> JSONValue { value.map { .uint(UInt64($0)) } ?? .null }
        func text(_ value: String?) -> JSONValue { value.map { .string($0) } ?? .null }
        let accessed = f.accessLine != nil
        return .object([
            ("kind", .string(f.kind.rawValue)),
            ("tid", .int(Int64(f.tid))), ("fd_table", .uint(UInt64(f.fdTable))), ("epoll_fd", .int(Int64(f.epollFD))),
            ("event", .object([("fd", .int(Int64(f.fd))), ("mask", .string(f.mask)), ("data", .uint(f.data))])),
            ("handler", text(f.handler)),
            ("follows", .string(f.followsWord ? "data" : "fd")),
            ("wait_line", line(f.waitLine)), ("close_line", line(f.closeLine)), ("reuse_line", line(f.reuseLine)),
            ("reuse_fd", f.reuseFD.map { .int(Int64($0)) } ?? .null),
            ("access", accessed ? .object([
                ("line", line(f.accessLine)), ("call", text(f.accessCall)),
                ("result", f.accessResult.map { .int($0) } ?? .null),
                ("errno", f.accessErrno.map { .int(Int64($0)) } ?? .null),
                ("handler", text(f.accessHandler)),
            ]) : .null),
            ("registered_line", line(f.registeredLine)),
        ])
    }

    static func strace(_ report: ForeignReport) -> JSONValue {
        let s = report.statistics
        var fields: [(String, JSONValue)] = [
            ("pollers", .int(Int64(s.pollers))), ("batches", .int(Int64(s.batches))), ("events", .int(Int64(s.events))),
            ("events_handled", .int(Int64(s.eventsHandled))),
            ("events_after_unregister", .int(Int64(s.eventsAfterUnregister))),
            ("events_with_unknown_registration", .int(Int64(s.eventsWithUnknownRegistration))),
            ("duplicate_events", .int(Int64(s.duplicateEvents))),
        ]
        if let diagnostics = report.diagnostics {
            fields.append(("unreadable_input", .object(diagnostics.counts.keys.sorted().map { kind in
                (kind.rawValue, .object([("count", .int(Int64(diagnostics.counts[kind]!))),
                                         ("lines", .array((diagnostics.lines[kind] ?? []).map { .uint(UInt64($0)) }))]))
            })))
        } else {
            fields.append(("unreadable_input", .null))
        }
        return .object([("statistics", .object(fields))])
    }
}
