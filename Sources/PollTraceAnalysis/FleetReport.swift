import PollTraceCore

/// The fleet report (`polltrace analyze` with several traces) in text and JSON:
/// a line per trace, in the order the traces were given, then the summary. Pure
/// functions of the entries, so the bytes do not depend on `--jobs` or on which
/// trace finished first.
public enum FleetReport {
    public static let formatVersion: Int64 = 1
    /// The text lists the most frequent pairs; JSON lists them all.
    static let pairsListed = 20

    // MARK: Text

    public static func text(_ entries: [FleetEntry]) -> String {
        var out = ""
        for entry in entries { out += line(entry) + "\n" }
        let summary = FleetSummary(entries)
        out += "\nfleet: \(summary.traces) traces: \(summary.clean) clean, \(summary.withFindings) with findings"
        if summary.inconsistent > 0 { out += ", \(summary.inconsistent) inconsistent" }
        if summary.badInput > 0 { out += ", \(summary.badInput) bad input" }
        out += "; \(summary.records) records replayed\n"

        out += "\nfindings by kind (count, traces):\n"
        let kinds = FindingKind.allCases.filter(\.isProblem).map(\.rawValue)
        let foreign = summary.findingsByKind.keys.filter { !kinds.contains($0) }.sorted()
        for kind in kinds + foreign {
            out += "  " + ReportText.pad(kind, 22) + pad(String(summary.findingsByKind[kind] ?? 0), 8)
                + "in \(summary.tracesByKind[kind] ?? 0) traces\n"
        }

        out += "\nfindings by handler pair (harvested for -> ran):\n"
        let pairs = summary.rankedHandlerPairs
        if pairs.isEmpty { out += "  none\n" }
        for (pair, count, traces) in pairs.prefix(Self.pairsListed) {
            out += "  " + ReportText.pad(pair.kind, 18) + "\(pair.harvestedFor) -> \(pair.ran)  \(count) in \(traces) traces\n"
        }
        if pairs.count > Self.pairsListed { out += "  (\(pairs.count - Self.pairsListed) more pairs in --json)\n" }
        if !summary.handlerPairsComplete {
            out += "  (counted over the listed findings: some traces had more than --limit; --limit 0 counts them all)\n"
        }

        out += "\nverdict: "
        if summary.badInput + summary.inconsistent > 0 {
            let bad = entries.filter { $0.status == .badInput || $0.status == .inconsistent }.map(\.trace)
            out += "\(bad.count) traces are bad input: \(bad.joined(separator: ", ")) (exit 2)\n"
        } else if summary.tracesWithFindings > 0 {
            out += "\(summary.tracesWithFindings) of \(summary.traces) traces have findings (exit 1)\n"
        } else {
            out += "all \(summary.traces) traces clean\n"
        }
        return out
    }

    /// "FINDINGS  path  records, problems (kind n, ...), stale dispatches".
    static func line(_ entry: FleetEntry) -> String {
        let tag: String
        var detail: String
        switch entry.status {
        case .clean: tag = "CLEAN"
        case .findings: tag = "FINDINGS"
        case .inconsistent: tag = "INCONSISTENT"
        case .badInput: tag = "BAD"
        }
        if let error = entry.error {
            // Errors name their file first; the line already does.
            detail = error.hasPrefix(entry.trace + ": ") ? String(error.dropFirst(entry.trace.count + 2)) : error
        } else {
            detail = "\(entry.records) records" + (entry.imported ? " (imported from strace)" : "")
            if entry.problems > 0 {
                let kinds = entry.findingsByKind.sorted { $0.key < $1.key }.map { "\($0.key) \($0.value)" }
                detail += ", \(entry.problems) problems (\(kinds.joined(separator: ", ")))"
            }
            if entry.staleDispatches > 0 { detail += ", \(entry.staleDispatches) stale dispatches" }
            if entry.inconsistencies > 0 { detail += ", \(entry.inconsistencies) inconsistent records" }
        }
        return ReportText.pad(tag, 13) + entry.trace + "  " + detail
    }

    private static func pad(_ s: String, _ width: Int) -> String { ReportText.pad(s, width) }

    // MARK: JSON

    public static func json(_ entries: [FleetEntry]) -> JSONValue {
        let summary = FleetSummary(entries)
        return .object([
            ("format", .string("polltrace-analyze-fleet")),
            ("format_version", .int(formatVersion)),
            ("traces", .array(entries.map(entryJSON))),
            ("summary", .object([
                ("traces", .int(Int64(summary.traces))),
                ("clean", .int(Int64(summary.clean))),
                ("with_findings", .int(Int64(summary.tracesWithFindings))),
                ("inconsistent", .int(Int64(summary.inconsistent))),
                ("bad_input", .int(Int64(summary.badInput))),
                ("records", .uint(summary.records)),
                ("findings_by_kind", .object(summary.findingsByKind.sorted { $0.key < $1.key }.map { kind, count in
                    (kind, .object([("count", .uint(count)), ("traces", .int(Int64(summary.tracesByKind[kind] ?? 0)))]))
                })),
                ("handler_pairs", .array(summary.rankedHandlerPairs.map { pair, count, traces in
                    pairJSON(pair, count: count, traces: traces)
                })),
                ("handler_pairs_complete", .bool(summary.handlerPairsComplete)),
                ("exit_code", .int(Int64(summary.exitCode))),
            ])),
        ])
    }

    static func entryJSON(_ entry: FleetEntry) -> JSONValue {
        .object([
            ("trace", .string(entry.trace)),
            ("status", .string(entry.status.rawValue)),
            ("imported", .bool(entry.imported)),
            ("records", .uint(entry.records)),
            ("problems", .uint(entry.problems)),
            ("stale_dispatches", .uint(entry.staleDispatches)),
            ("inconsistencies", .uint(entry.inconsistencies)),
            ("findings_by_kind", .object(entry.findingsByKind.sorted { $0.key < $1.key }.map { ($0.key, .uint($0.value)) })),
            ("handler_pairs", .array(entry.handlerPairs.sorted { $0.value != $1.value ? $0.value > $1.value : $0.key < $1.key }
                .map { pairJSON($0.key, count: $0.value, traces: nil) })),
            ("handler_pairs_complete", .bool(entry.handlerPairsComplete)),
            ("error", entry.error.map(JSONValue.string) ?? .null),
        ])
    }

    static func pairJSON(_ pair: HandlerPair, count: UInt64, traces: Int?) -> JSONValue {
        var fields: [(String, JSONValue)] = [("kind", .string(pair.kind)), ("harvested_for", .string(pair.harvestedFor)),
                                             ("ran", .string(pair.ran)), ("count", .uint(count))]
        if let traces { fields.append(("traces", .int(Int64(traces)))) }
        return .object(fields)
    }
}
