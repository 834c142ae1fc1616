import PollTraceStore

/// The tables an import adds to a trace (schema v2, see docs/strace.md), written
/// through the store's SQLite layer in the trace's own transaction, as its writer
/// closes it (`PlainTraceWriter.close(addingTables:)`).
///
/// - `strace_lines(seq, line, tid, fd_table)`: for every record, the strace log line
///   it came from, the thread, and the process fd table. Findings cite these lines;
///   the foreign-trace analysis needs `tid` and `fd_table` to tell threads and
///   processes apart. A view over `strace_line_runs`.
/// - `strace_line_runs(seq, count, line, tid, fd_table)`: the same, one row per run
///   of records on consecutive lines (`LineRun`). One row per record would be about a
///   row per log line, copied after the writer closed.
/// - `strace_import(key, value)`: the log's path, lines read, and what could not be
///   read (`unreadable.<kind>` = count, `unreadable.<kind>.lines` = first lines).
public enum StraceLineTable {
    public static let linesTable = "strace_lines"
    public static let runsTable = "strace_line_runs"
    public static let importTable = "strace_import"

    /// Record `s` lies in the run with the greatest first `seq` not above it (runs
    /// never overlap), and `count` says whether the run reaches it. The store gives
    /// the set of sequence numbers (`TraceReader.everyRecordSeqSQL`); SQLite flattens this compound into a join
    /// against it, so `JOIN strace_lines USING (seq)` costs one lookup per row.
    static let createView = """
        CREATE VIEW \(linesTable) AS
            SELECT s.seq AS seq, r.line + (s.seq - r.seq) AS line, r.tid AS tid, r.fd_table AS fd_table
            FROM (\(TraceReader.everyRecordSeqSQL)) s
            JOIN \(runsTable) r ON r.seq = (SELECT max(x.seq) FROM \(runsTable) x WHERE x.seq <= s.seq)
            WHERE s.seq < r.seq + r.count;
        """

    /// Runs per `INSERT` statement: one VM run for many rows (see the store's `MultiRowInsert`).
    static let runsPerStatement = 32

    /// Writes the tables into `db`, inside the caller's transaction.
    static func write(into db: SQLiteConnection, spool: LineSpool, logPath: String, linesRead: UInt32,
                      diagnostics: ImportDiagnostics) throws {
        try db.execute(sql: """
            CREATE TABLE \(runsTable)(seq INTEGER PRIMARY KEY, count INTEGER NOT NULL, line INTEGER NOT NULL,
                                       tid INTEGER NOT NULL, fd_table INTEGER NOT NULL);
            \(createView)
            CREATE TABLE \(importTable)(key TEXT PRIMARY KEY NOT NULL, value) WITHOUT ROWID;
            """)
        let head = "INSERT INTO \(runsTable)(seq, count, line, tid, fd_table) VALUES "
        let tuple = "(?, ?, ?, ?, ?)"
        let many = try db.makeStatement(sql: head + Array(repeating: tuple, count: runsPerStatement).joined(separator: ","))
        let one = try db.makeStatement(sql: head + tuple)
        var pending: [LineRun] = []
        pending.reserveCapacity(runsPerStatement)
        func insert(_ runs: [LineRun], with statement: SQLiteStatement) throws {
            var parameter: Int32 = 1
            for run in runs {
                statement.bind(Int64(bitPattern: run.seq), at: parameter)
                statement.bind(Int64(run.count), at: parameter + 1)
                statement.bind(Int64(run.line), at: parameter + 2)
                statement.bind(Int64(run.tid), at: parameter + 3)
                statement.bind(Int64(run.fdTable), at: parameter + 4)
                parameter += 5
            }
            defer { statement.reset() }
            try statement.run()
        }
        try spool.forEachRun { run in
            pending.append(run)
            if pending.count == runsPerStatement {
                try insert(pending, with: many)
                pending.removeAll(keepingCapacity: true)
            }
        }
        for run in pending { try insert([run], with: one) }
        let meta = try db.makeStatement(sql: "INSERT INTO \(importTable) VALUES (?, ?)")
        func put(_ key: String, _ value: String) throws {
            meta.bind(key, at: 1); meta.bind(value, at: 2); try meta.run(); meta.reset()
        }
        func put(_ key: String, _ value: Int64) throws {
            meta.bind(key, at: 1); meta.bind(value, at: 2); try meta.run(); meta.reset()
        }
        try put("log_path", logPath)
        try put("lines_read", Int64(linesRead))
        try put("stitched_calls", Int64(diagnostics.stitchedCalls))
        for kind in diagnostics.counts.keys.sorted() {
            try put("unreadable.\(kind.rawValue)", Int64(diagnostics.counts[kind]!))
            try put("unreadable.\(kind.rawValue).lines", (diagnostics.lines[kind] ?? []).map(String.init).joined(separator: ","))
        }
    }

    /// Reads back what `write` stored about unreadable input.
    static func readDiagnostics(_ db: SQLiteConnection) throws -> ImportDiagnostics {
        var diagnostics = ImportDiagnostics()
        let rows = try db.makeStatement(sql: "SELECT key, value FROM \(importTable) WHERE key LIKE 'unreadable.%' ORDER BY key")
        var counts: [ImportDiagnostics.Kind: Int] = [:]
        var lines: [ImportDiagnostics.Kind: [UInt32]] = [:]
        while try rows.step() {
            let key = rows.text(0).dropFirst("unreadable.".count)
            if key.hasSuffix(".lines"), let kind = ImportDiagnostics.Kind(rawValue: String(key.dropLast(6))) {
                lines[kind] = rows.text(1).split(separator: ",").compactMap { UInt32($0) }
            } else if let kind = ImportDiagnostics.Kind(rawValue: String(key)) {
                counts[kind] = Int(rows.int64(1))
            }
        }
        for (kind, count) in counts { diagnostics.restore(kind, count: count, lines: lines[kind] ?? []) }
        return diagnostics
    }
}

extension StraceLineTable {
    /// After `polltrace upgrade` of an imported trace: its line runs were copied as a
    /// table; the `strace_lines` view over them is made anew for the v7 tables, and
    /// the foreign analysis fills `findings` (the finalizer's replay does not apply
    /// to a log's syscalls).
    public static func finishUpgrade(tracePath: String) throws {
        let db = try SQLiteConnection(path: tracePath, readOnly: false)
        let hasRuns = try db.scalarInt(sql: "SELECT count(*) FROM sqlite_schema WHERE type = 'table' AND name = '\(runsTable)'") == 1
        let hasLines = try db.scalarInt(sql: "SELECT count(*) FROM sqlite_schema WHERE name = '\(linesTable)'") == 1
        if hasRuns && !hasLines { try db.execute(sql: createView) }
        let report = try ForeignTraceAnalysis.analyze(reader: TraceReader(path: tracePath))
        try db.execute(sql: "BEGIN")
        try ForeignFindingsTable.write(report.findings, into: db)
        try db.execute(sql: "COMMIT")
    }
}

/// An import's findings as rows of the trace's `findings` table, so that SQL tells
/// what `polltrace analyze` prints. A foreign finding names log lines; its `seq` is
/// the record of the `epoll_wait` that harvested the event.
public enum ForeignFindingsTable {
    /// Writes `findings` into `db`, inside the caller's transaction.
    public static func write(_ findings: [ForeignFinding], into db: SQLiteConnection) throws {
        guard !findings.isEmpty else { return }
        // Each finding names up to three log lines, each looked up among the runs
        // by line: without this index every lookup read every run (seconds for a
        // few thousand findings on a 1M-line log).
        try db.execute(sql: "CREATE INDEX IF NOT EXISTS \(StraceLineTable.runsTable)_by_line ON \(StraceLineTable.runsTable)(line)")
        let insert = try db.makeStatement(sql: """
            INSERT INTO findings(kind, seq, poller, fd, detail, closed_seq, reused_seq)
            VALUES (?1, coalesce((SELECT r.seq + (?2 - r.line) FROM \(StraceLineTable.runsTable) r
                                  WHERE r.line <= ?2 AND ?2 < r.line + r.count ORDER BY r.line DESC LIMIT 1), 0),
                    coalesce((SELECT p.poller FROM pollers p WHERE p.epoll_fd = ?3 LIMIT 1), 0), ?4, ?5,
                    (SELECT r.seq + (?6 - r.line) FROM \(StraceLineTable.runsTable) r
                     WHERE r.line <= ?6 AND ?6 < r.line + r.count ORDER BY r.line DESC LIMIT 1),
                    (SELECT r.seq + (?7 - r.line) FROM \(StraceLineTable.runsTable) r
                     WHERE r.line <= ?7 AND ?7 < r.line + r.count ORDER BY r.line DESC LIMIT 1))
            """, parameters: 7)
        for f in findings {
            insert.bind(f.kind.rawValue, at: 1)
            insert.bind(Int64(f.waitLine), at: 2)
            insert.bind(Int64(f.epollFD), at: 3)
            insert.bind(Int64(f.fd), at: 4)
            insert.bind(f.sentence, at: 5)
            insert.bind(f.closeLine.map { Int64($0) }, at: 6)
            insert.bind(f.reuseLine.map { Int64($0) }, at: 7)
            try insert.run()
            insert.reset()
        }
    }
}
