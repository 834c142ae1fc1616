import PollTraceCore
import PollTraceStore

/// Runs the foreign-trace analysis on a trace file made by `polltrace import`.
///
/// `polltrace analyze` calls this for traces whose pollers have backend "strace"
/// (`isImported(_:)`): such traces have no dispatch records to replay, so this is
/// the analysis they get. It streams the records and their line runs side by side
/// in sequence order, so memory stays independent of the trace's length.
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

    /// `largeFrom` and `rangeSize` say when the trace is read in ranges: `.max` never,
    /// as a fleet's jobs read (each job is a thread already); small values in tests.
    public static func analyze(reader: TraceReader, largeFrom minimumRecords: Int64 = TraceReader.parallelMinimumRecords,
                               rangeSize: UInt64 = TraceReader.parallelRangeSize) throws -> ForeignReport {
        guard isImported(reader), (try? reader.connection.scalarInt(
            sql: "SELECT count(*) FROM sqlite_schema WHERE name = '\(StraceLineTable.linesTable)'")) == 1 else {
            throw Failure.notImported(path: reader.path)
        }
        let analyzer = ForeignHazardAnalyzer()
        for poller in reader.metadata.pollers { analyzer.pollerStarted(poller) }
        var origins = try OriginCursor(reader.connection)
        func consume(_ record: TraceRecord) throws {
            guard let origin = try origins.origin(of: record.seq) else {
                throw Failure.missingLine(path: reader.path, seq: record.seq)
            }
            analyzer.consume(record, origin: origin)
        }
        // A large import is read in seq ranges on the reading threads, as analyze
        // reads a native trace; the hazard rules run here, in sequence order.
        // Reading threads that cannot start (a pids limit) leave the one-thread read.
        if let ranges = (try? reader.recordRanges(minimumRecords: minimumRecords, rangeSize: rangeSize)) ?? nil {
            while var range = try ranges.next() {
                for i in range.indices { try consume(range[i]) }
                ranges.recycle(&range)
            }
        } else {
            var records = try reader.records()
            while let record = try records.next() { try consume(record) }
        }
        analyzer.finish()
        let diagnostics = try? StraceLineTable.readDiagnostics(reader.connection)
        return ForeignReport(findings: analyzer.findings, statistics: analyzer.stats, diagnostics: diagnostics)
    }
}

/// The origins of a trace's records, read in sequence order: from the
/// `strace_line_runs` table, or, in traces imported before the runs existed, from
/// `strace_lines` when it was a table with one row per record.
private struct OriginCursor {
    private let statement: SQLiteStatement
    private let readsRuns: Bool
    private var run: LineRun?
    private var exhausted = false

    init(_ db: SQLiteConnection) throws {
        readsRuns = try db.scalarInt(
            sql: "SELECT count(*) FROM sqlite_schema WHERE name = '\(StraceLineTable.runsTable)'") == 1
        statement = try db.makeStatement(sql: readsRuns
            ? "SELECT seq, count, line, tid, fd_table FROM \(StraceLineTable.runsTable) ORDER BY seq"
            : "SELECT seq, 1, line, tid, fd_table FROM \(StraceLineTable.linesTable) ORDER BY seq")
    }

    /// The origin of record `seq`; nil when no run covers it. Calls must come in increasing `seq`.
    mutating func origin(of seq: UInt64) throws -> LineOrigin? {
        while true {
            if let run, run.contains(seq) { return run.origin(of: seq) }
            if let run, run.seq > seq { return nil }
            guard !exhausted, try statement.step() else { exhausted = true; return nil }
            run = LineRun(seq: UInt64(bitPattern: statement.int64(0)), count: UInt32(truncatingIfNeeded: statement.int64(1)),
                          line: UInt32(truncatingIfNeeded: statement.int64(2)),
                          tid: Int32(truncatingIfNeeded: statement.int64(3)),
                          fdTable: UInt32(truncatingIfNeeded: statement.int64(4)))
        }
    }
}
