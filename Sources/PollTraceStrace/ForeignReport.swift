/// What the foreign-trace analysis found, ready to print as text or JSON. The same
/// trace always renders byte for byte the same.
public struct ForeignReport: Sendable, Equatable {
    public var findings: [ForeignFinding]
    public var statistics: ForeignStatistics
    /// What the importer could not read (present when the report comes from an import).
    public var diagnostics: ImportDiagnostics?

    public init(findings: [ForeignFinding], statistics: ForeignStatistics, diagnostics: ImportDiagnostics? = nil) {
        self.findings = findings.sorted(); self.statistics = statistics; self.diagnostics = diagnostics
    }

    public func count(_ kind: ForeignFinding.Kind) -> Int { findings.filter { $0.kind == kind }.count }

    /// Hazards are reuse-within-batch and likely-stale-dispatch findings.
    public var hazardCount: Int { count(.reuseWithinBatch) + count(.likelyStaleDispatch) }

    public func renderText() -> String {
        var out: [String] = []
        let s = statistics
        out.append("foreign trace (strace): \(s.pollers) epoll fd(s), \(s.batches) batches, \(s.events) events, "
                   + "\(s.eventsHandled) handled before the next wait")
        out.append("likely stale dispatches: \(count(.likelyStaleDispatch))")
        out.append("reuse-within-batch hazards (no access seen): \(count(.reuseWithinBatch))")
        out.append("orphan events: \(count(.orphanEvent))")
        out.append("ghost events: \(count(.ghostEvent))")
        if s.eventsWithUnknownRegistration > 0 {
            out.append("events on epoll fds registered before the log began: \(s.eventsWithUnknownRegistration) "
                       + "(mapped by taking epoll_data as the fd)")
        }
        if s.eventsAfterUnregister > 0 {
            out.append("events printed after their registration ended (threads racing): \(s.eventsAfterUnregister)")
        }
        for finding in findings { out.append("  " + finding.sentence) }
        if let diagnostics, diagnostics.total > 0 {
            out.append("unreadable input: \(diagnostics.total) line(s)")
            for line in diagnostics.summary { out.append("  " + line) }
        }
        return out.joined(separator: "\n") + "\n"
    }

    public func renderJSON() -> String {
        func field(_ name: String, _ value: String) -> String { "\"\(name)\":\(value)" }
        func optional<T>(_ value: T?) -> String { value.map { "\($0)" } ?? "null" }
        var parts: [String] = []
        let s = statistics
        parts.append(field("statistics", "{" + [
            field("pollers", "\(s.pollers)"), field("batches", "\(s.batches)"), field("events", "\(s.events)"),
            field("events_handled", "\(s.eventsHandled)"),
            field("events_after_unregister", "\(s.eventsAfterUnregister)"),
            field("events_with_unknown_registration", "\(s.eventsWithUnknownRegistration)"),
        ].joined(separator: ",") + "}"))
        let counts = ForeignFinding.Kind.allCases.map { field($0.rawValue, "\(count($0))") }
        parts.append(field("counts", "{" + counts.joined(separator: ",") + "}"))
        let items = findings.map { f in
            "{" + [
                field("kind", "\"\(f.kind.rawValue)\""), field("tid", "\(f.tid)"), field("fd_table", "\(f.fdTable)"),
                field("epoll_fd", "\(f.epollFD)"), field("fd", "\(f.fd)"), field("mask", "\"\(f.mask)\""),
                field("data", "\(f.data)"), field("wait_line", "\(f.waitLine)"),
                field("close_line", optional(f.closeLine)), field("reuse_line", optional(f.reuseLine)),
                field("access_line", optional(f.accessLine)),
                field("access_call", f.accessCall.map { "\"\($0)\"" } ?? "null"),
                field("access_result", f.accessLine == nil ? "null" : optional(f.accessResult)),
                field("access_errno", f.accessLine == nil ? "null" : optional(f.accessErrno)),
                field("registered_line", optional(f.registeredLine)),
            ].joined(separator: ",") + "}"
        }
        parts.append(field("findings", "[" + items.joined(separator: ",") + "]"))
        if let diagnostics {
            let kinds = diagnostics.counts.keys.sorted().map { kind in
                field(kind.rawValue, "{" + field("count", "\(diagnostics.counts[kind]!)") + ","
                      + field("lines", "[" + (diagnostics.lines[kind] ?? []).map(String.init).joined(separator: ",") + "]")
                      + "}")
            }
            parts.append(field("unreadable_input", "{" + kinds.joined(separator: ",") + "}"))
        }
        return "{" + parts.joined(separator: ",") + "}\n"
    }
}
