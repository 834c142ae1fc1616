import PollTraceCore
import PollTraceStore

/// The thread and strace log line of each record of an imported trace, read from
/// the import's `strace_line_runs` table (docs/strace.md) in sequence order. A
/// timeline of an imported trace has one track per traced thread.
struct ImportedThreads {
    static let runsTable = "strace_line_runs"

    private let statement: SQLiteStatement
    private var run: (seq: SequenceNumber, count: UInt64, line: UInt32, tid: Int32)?
    private var exhausted = false

    /// nil when the trace was not imported with line runs.
    init?(_ reader: TraceReader) throws {
        guard try Self.isImported(reader) else { return nil }
        statement = try reader.connection.makeStatement(sql: "SELECT seq, count, line, tid FROM \(Self.runsTable) ORDER BY seq")
    }

    static func isImported(_ reader: TraceReader) throws -> Bool {
        try reader.connection.scalarInt(sql: "SELECT count(*) FROM sqlite_schema WHERE type = 'table' AND name = '\(runsTable)'") == 1
    }

    /// The thread and line of record `seq`; nil when no run covers it. Calls come in increasing `seq`.
    mutating func origin(of seq: SequenceNumber) throws -> (tid: Int32, line: UInt32)? {
        while true {
            if let run, seq >= run.seq, seq < run.seq + run.count {
                return (run.tid, run.line + UInt32(truncatingIfNeeded: seq - run.seq))
            }
            if let run, run.seq > seq { return nil }
            guard !exhausted, try statement.step() else { exhausted = true; return nil }
            run = (UInt64(bitPattern: statement.int64(0)), UInt64(bitPattern: statement.int64(1)),
                   UInt32(truncatingIfNeeded: statement.int64(2)), Int32(truncatingIfNeeded: statement.int64(3)))
        }
    }

    /// The seq of the first record made from log line `line`; nil when none was.
    static func seq(ofLine line: UInt32, in reader: TraceReader) throws -> SequenceNumber? {
        let s = try reader.connection.makeStatement(sql: "SELECT seq + (?1 - line) FROM \(runsTable) WHERE line <= ?1 AND line + count > ?1 ORDER BY seq LIMIT 1")
        s.bind(Int64(line), at: 1)
        guard try s.step() else { return nil }
        return UInt64(bitPattern: s.int64(0))
    }
}

/// A hazard found in an imported trace, placed by its strace log lines (the
/// foreign analysis reports lines, not records): the timeline marks the access
/// (or the reuse) as the stale dispatch, with arrows from the close and the reuse.
public struct LineMark: Hashable, Sendable {
    public var kind: String
    public var sentence: String
    public var fd: Int32
    public var waitLine: UInt32
    public var closeLine: UInt32?
    public var reuseLine: UInt32?
    public var accessLine: UInt32?

    public init(kind: String, sentence: String, fd: Int32, waitLine: UInt32, closeLine: UInt32?, reuseLine: UInt32?, accessLine: UInt32?) {
        self.kind = kind; self.sentence = sentence; self.fd = fd; self.waitLine = waitLine
        self.closeLine = closeLine; self.reuseLine = reuseLine; self.accessLine = accessLine
    }

    /// The line the mark is drawn at.
    public var targetLine: UInt32 { accessLine ?? reuseLine ?? waitLine }
}
