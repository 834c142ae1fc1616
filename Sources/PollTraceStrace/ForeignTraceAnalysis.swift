import PollTraceCore
import PollTraceStore

/// Runs the foreign-trace analysis on a trace file made by `polltrace import`.
///
/// `polltrace analyze` calls this for traces whose pollers have backend "strace"
/// (`isImported(_:)`): such traces have no dispatch records to replay, so this is
/// the analysis they get. It streams the records and the `strace_lines` table side
/// by side in sequence order, so memory stays independent of the trace's length.
public enum ForeignTraceAnalysis {
    public enum Failure: Error, CustomStringConvertible {
        case notImported(path: String)
        case missingLine(path: String, seq: UInt64)
        public var description: String {
            switch self {
            case .notImported(let path):
                "\(path): not an imported strace trace (it has no \(StraceLineTable.linesTable) table)"
            case .missingLine(let path, let seq):
                "\(path): record \(seq) has no row in \(StraceLineTable.linesTable); the import was cut short"
            }
        }
    }

    /// True when the trace was imported from strace (its pollers say so, or it has
    /// the line table).
    public static func isImported(_ reader: TraceReader) -> Bool {
        if reader.metadata.pollers.contains(where: { $0.backend == StraceBackend.name }) { return true }
        return (try? reader.connection.scalarInt(
            sql: "SELECT count(*) FROM sqlite_schema WHERE name = '\(StraceLineTable.linesTable)'")) == 1
    }

    public static func analyze(reader: TraceReader) throws -> ForeignReport {
        guard isImported(reader), (try? reader.connection.scalarInt(
            sql: "SELECT count(*) FROM sqlite_schema WHERE name = '\(StraceLineTable.linesTable)'")) == 1 else {
            throw Failure.notImported(path: reader.path)
        }
        let analyzer = ForeignHazardAnalyzer()
        for poller in reader.metadata.pollers { analyzer.pollerStarted(poller) }
        let lines = try reader.connection.makeStatement(
            sql: "SELECT seq, line, tid, fd_table FROM \(StraceLineTable.linesTable) ORDER BY seq")
        var records = try reader.records()
        while let record = try records.next() {
            var origin: LineOrigin?
            while try lines.step() {
                let seq = UInt64(bitPattern: lines.int64(0))
                if seq < record.seq { continue }
                if seq == record.seq {
                    origin = LineOrigin(line: UInt32(truncatingIfNeeded: lines.int64(1)),
                                        tid: Int32(truncatingIfNeeded: lines.int64(2)),
                                        fdTable: UInt32(truncatingIfNeeded: lines.int64(3)))
                }
                break
            }
            guard let origin else { throw Failure.missingLine(path: reader.path, seq: record.seq) }
            analyzer.consume(record, origin: origin)
        }
        analyzer.finish()
        let diagnostics = try? StraceLineTable.readDiagnostics(reader.connection)
        return ForeignReport(findings: analyzer.findings, statistics: analyzer.stats, diagnostics: diagnostics)
    }
}
