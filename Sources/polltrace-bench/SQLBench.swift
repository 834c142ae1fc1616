import ArgumentParser
import Foundation
import PollTraceCore
import PollTraceStore

/// The SQL a trace reader runs, timed on a v7 trace and on a flat copy of it: every
/// table and view copied into an ordinary table with the same indexes. The v7 tables
/// are meant to be as fast to query as plain SQLite tables; the ratio says how close.
struct SQLBench: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "sql",
        abstract: "Time the documented queries and common questions on a v7 trace against a flat copy with the same indexes.")

    @Option(help: "Records to generate (the goal is stated for at least 10,000,000).")
    var records = 10_000_000

    @Option(help: "Runs of each query on each file (the median is reported).")
    var runs = 3

    @Option(help: "Use this trace (generated there first if it does not exist).")
    var trace: String?

    @Flag(help: "Keep the generated trace and its flat copy.")
    var keep = false

    func validate() throws {
        guard records > 0, records <= 100_000_000 else { throw ValidationError("--records must be in 1...100000000.") }
        guard runs >= 1, runs <= 20 else { throw ValidationError("--runs must be in 1...20.") }
    }

    /// The queries: docs/schema.md's examples and the questions people ask.
    static func queries(misroutedSeq: Int64, middleSeq: Int64, middleNs: Int64) -> [(name: String, sql: String)] {
        [
            ("(a) batches with events, first 1000", "SELECT * FROM (" + ExampleQueries.batchesWithEvents.replacingOccurrences(of: ";", with: "") + ") LIMIT 1000"),
            ("(b) dispatches after a close, count", "SELECT count(*) FROM (" + ExampleQueries.dispatchesAfterClose.replacingOccurrences(of: ";", with: "") + ")"),
            ("(c) registrations alive at a seq", ExampleQueries.registrationsAliveAt.replacingOccurrences(of: ":n", with: "\(middleSeq)")),
            ("(d) top handlers by time", ExampleQueries.topHandlersByTime),
            ("(e) misrouted, whole story", ExampleQueries.misrouted),
            ("(f) findings by kind", ExampleQueries.findingsByKind),
            ("count of dispatches", "SELECT count(*) FROM dispatches"),
            ("dispatches and latency per handler kind", "SELECT handler_kind, count(*), avg(duration_ns), max(duration_ns) FROM dispatches GROUP BY handler_kind"),
            ("slowest dispatches", "SELECT seq, handler_label, duration_ns FROM dispatches ORDER BY duration_ns DESC LIMIT 10"),
            ("events per batch", "SELECT event_count, count(*) FROM batches GROUP BY event_count ORDER BY event_count"),
            ("misrouted by harvested-for and ran kind", """
                SELECT h.handler_kind, d.handler_kind, count(*) FROM dispatches d
                JOIN registrations h ON h.registration_id = d.harvested_registration_id
                WHERE d.verdict = 'misrouted' GROUP BY 1, 2
                """),
            ("timeline around a finding", "SELECT * FROM timeline WHERE seq BETWEEN \(misroutedSeq - 13) AND \(misroutedSeq + 13) ORDER BY seq"),
            ("registrations alive at a moment (time)", """
                SELECT count(*) FROM registrations WHERE registered_rel_ns <= \(middleNs) AND (ended_rel_ns IS NULL OR ended_rel_ns > \(middleNs))
                """),
            ("fds closed while registered", """
                SELECT count(*) FROM registrations WHERE closed_seq IS NOT NULL AND (unregistered_seq IS NULL OR unregistered_seq > closed_seq)
                """),
            ("dispatches per second", "SELECT rel_ns / 1000000000, count(*) FROM dispatches GROUP BY 1"),
            ("dispatch by seq", "SELECT * FROM dispatches WHERE seq = \(misroutedSeq)"),
            ("timeline row by seq", "SELECT * FROM timeline WHERE seq = \(middleSeq)"),
            ("an fd's dispatches", "SELECT count(*) FROM dispatches WHERE poller = 1 AND fd = 7"),
            ("a registration's dispatches", "SELECT count(*) FROM dispatches WHERE ran_registration_id = 12345"),
        ]
    }

    func run() throws {
        print("machine: \(BenchMachine.describe())")
        print("command: swift run -c release polltrace-bench sql --records \(records) --runs \(runs)")
        let path = trace ?? FileManager.default.temporaryDirectory.appendingPathComponent("polltrace-sql-bench-\(getpid()).trace").path
        let flat = path + ".flat"
        defer {
            if !keep {
                for file in (trace == nil ? [path, flat] : [flat]) { for s in ["", "-wal", "-shm", "-journal"] { try? FileManager.default.removeItem(atPath: file + s) } }
            }
        }
        if !FileManager.default.fileExists(atPath: path) {
            let start = ContinuousClock.now
            let written = try BenchWorkload.generate(path: path, records: records)
            print("generated \(written) records (\(fileBytes(path) / 1_048_576) MiB, \(fileBytes(path) / max(1, written)) bytes/record) in \(start.duration(to: .now)), finalize included")
        }
        let reader = try TraceReader(path: path)
        guard reader.isPlain else { throw ValidationError("\(path) is not a v7 trace; run polltrace upgrade first") }
        if !FileManager.default.fileExists(atPath: flat) {
            let start = ContinuousClock.now
            try makeFlatCopy(of: reader.connection, at: flat)
            print("flat copy with the same indexes made in \(start.duration(to: .now))")
        }
        let db = reader.connection
        let misroutedSeq = try db.scalarInt(sql: "SELECT min(seq) FROM findings WHERE kind = 'misrouted'") ?? 1
        let maxSeq = try db.scalarInt(sql: "SELECT max(seq) FROM dispatches") ?? 1
        let maxNs = try db.scalarInt(sql: "SELECT max(rel_ns) FROM dispatches") ?? 1
        let flatDB = try SQLiteConnection(path: flat, readOnly: true)
        print("records: \(try db.scalarInt(sql: "SELECT value FROM meta WHERE key = 'records'") ?? 0)")
        print("")
        print("Each query runs on both files in turn, \(runs) times; the figures are medians of the CPU")
        print("time for the query (user + system), which a loaded machine does not inflate, and wall time beside it.")
        print("")
        print("query | v7 CPU s | flat CPU s | v7/flat (CPU) | v7 wall s | flat wall s")
        print("--- | --- | --- | --- | --- | ---")
        var worst = 0.0
        var misroutedSeconds = 0.0, lookupSeconds = 0.0
        for (name, sql) in Self.queries(misroutedSeq: misroutedSeq, middleSeq: maxSeq / 2, middleNs: maxNs / 2) {
            var v7CPU: [Double] = [], flatCPU: [Double] = [], v7Wall: [Double] = [], flatWall: [Double] = []
            for _ in 0..<runs {
                let a = try time(sql, on: db)
                v7CPU.append(a.cpu); v7Wall.append(a.wall)
                let b = try time(sql, on: flatDB)
                flatCPU.append(b.cpu); flatWall.append(b.wall)
            }
            let v7 = median(v7CPU), plain = median(flatCPU)
            let ratio = v7 / max(plain, 1e-6)
            // Below 10 ms of CPU the clock's resolution and noise dominate: not a ratio to judge.
            if max(v7, plain) > 0.01 { worst = max(worst, ratio) }
            if name.hasPrefix("(e)") { misroutedSeconds = median(v7Wall) }
            if name == "dispatch by seq" { lookupSeconds = median(v7Wall) }
            print(String(format: "%@ | %.4f | %.4f | %.2f | %.4f | %.4f", name, v7, plain, ratio, median(v7Wall), median(flatWall)))
        }
        print("")
        print(String(format: "worst CPU ratio (queries over 10 ms of CPU): %.2f (goal <= 2: %@)", worst, worst <= 2 ? "met" : "NOT met"))
        print(String(format: "misrouted question: %.4f s wall (goal < 2 s: %@)", misroutedSeconds, misroutedSeconds < 2 ? "met" : "NOT met"))
        print(String(format: "lookup by seq: %.2f ms wall (goal < 10 ms: %@)", lookupSeconds * 1000, lookupSeconds < 0.01 ? "met" : "NOT met"))
    }

    /// Seconds of CPU (this thread, user + system) and of wall clock to step `sql` to its end.
    private func time(_ sql: String, on db: SQLiteConnection) throws -> (cpu: Double, wall: Double) {
        let clock = ContinuousClock()
        let cpuBefore = ProcessCPU.threadSeconds()
        let began = clock.now
        let statement = try db.makeStatement(sql: sql)
        while try statement.step() {}
        let elapsed = clock.now - began
        return (ProcessCPU.threadSeconds() - cpuBefore, Double(elapsed.components.seconds) + Double(elapsed.components.attoseconds) / 1e18)
    }

    /// Every table and view of the trace as an ordinary table (generated columns
    /// stored), with the trace's own indexes made again on it.
    private func makeFlatCopy(of source: SQLiteConnection, at path: String) throws {
        for s in ["", "-journal"] { unlink(path + s) }
        let db = try SQLiteConnection(path: path, readOnly: false)
        try db.execute(sql: "PRAGMA journal_mode = OFF; PRAGMA synchronous = OFF; PRAGMA cache_size = -65536;")
        try db.execute(sql: "ATTACH '\(source.path)' AS v7")
        // Tables and the union view `timeline` become ordinary tables; views that
        // group (`handler_time`) or rename (`poller_info`) stay views over the copies,
        // so the same query does the same work on both files.
        let objects = try source.makeStatement(sql: """
            SELECT name, type, sql FROM sqlite_schema WHERE type IN ('table', 'view') AND name NOT LIKE 'sqlite_%'
            """)
        var names: [String] = []
        var views: [String] = []
        while try objects.step() {
            if objects.text(1) == "view" && objects.text(0) != "timeline" { views.append(objects.text(2)) } else { names.append(objects.text(0)) }
        }
        try db.execute(sql: "BEGIN")
        for name in names {
            try db.execute(sql: "CREATE TABLE \"\(name)\" AS SELECT * FROM v7.\"\(name)\"")
        }
        for view in views { try db.execute(sql: view) }
        // The same lookups by seq the v7 tables have through their keys.
        for name in names where !["meta", "pollers", "findings", "batch_events", "registrations"].contains(name) {
            try db.execute(sql: "CREATE UNIQUE INDEX \"flat_\(name)_seq\" ON \"\(name)\"(seq)")
        }
        try db.execute(sql: "CREATE UNIQUE INDEX flat_batch_events_key ON batch_events(batch_seq, event_index)")
        try db.execute(sql: "CREATE UNIQUE INDEX flat_registrations_key ON registrations(registered_seq)")
        // A v7 index's entries end with the rowid, which is the table's seq; the flat
        // copy's rowid is not, so its copy of the index names that column as its last key.
        let indexes = try source.makeStatement(sql: """
            SELECT i.sql, (SELECT name FROM pragma_table_info(i.tbl_name) AS c WHERE c.pk = 1 AND upper(c.type) = 'INTEGER'
                           AND (SELECT count(*) FROM pragma_table_info(i.tbl_name) WHERE pk > 0) = 1)
            FROM sqlite_schema AS i WHERE i.type = 'index' AND i.sql IS NOT NULL
            """)
        while try indexes.step() {
            var sql = indexes.text(0)
            let rowidColumn = indexes.text(1)
            if !rowidColumn.isEmpty, sql.hasSuffix(")"), !sql.hasSuffix("(\(rowidColumn))"), !sql.hasSuffix(", \(rowidColumn))") {
                sql = String(sql.dropLast()) + ", \(rowidColumn))"
            }
            try db.execute(sql: sql)
        }
        try db.execute(sql: "COMMIT")
        try db.execute(sql: "DETACH v7")
    }

    private func fileBytes(_ path: String) -> Int {
        (try? FileManager.default.attributesOfItem(atPath: path)[.size] as? Int) ?? 0
    }
}
