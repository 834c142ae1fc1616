import PollTraceStore

/// The tables an import adds to a trace (schema v2, see docs/strace.md), written
/// through the store's SQLite layer after the trace writer has closed the file.
///
/// - `strace_lines(seq, line, tid, fd_table)`: for every record, the strace log line
///   it came from, the thread, and the process fd table. Findings cite these lines;
///   the foreign-trace analysis needs `tid` and `fd_table` to tell threads and
///   processes apart.
/// - `strace_import(key, value)`: the log's path, lines read, and what could not be
///   read (`unreadable.<kind>` = count, `unreadable.<kind>.lines` = first lines).
public enum StraceLineTable {
    public static let linesTable = "strace_lines"
    public static let importTable = "strace_import"

    static func write(tracePath: String, spool: LineSpool, logPath: String, linesRead: UInt32,
                      diagnostics: ImportDiagnostics) throws {
        let db = try SQLiteConnection(path: tracePath, readOnly: false)
        try db.execute(sql: "BEGIN")
        try db.execute(sql: """
            CREATE TABLE \(linesTable)(seq INTEGER PRIMARY KEY, line INTEGER NOT NULL, tid INTEGER NOT NULL,
                                       fd_table INTEGER NOT NULL);
            CREATE TABLE \(importTable)(key TEXT PRIMARY KEY NOT NULL, value) WITHOUT ROWID;
            """)
        let insert = try db.makeStatement(sql: "INSERT INTO \(linesTable) VALUES (?, ?, ?, ?)")
        try spool.forEachRow { seq, origin in
            insert.bind(Int64(bitPattern: seq), at: 1)
            insert.bind(Int64(origin.line), at: 2)
            insert.bind(Int64(origin.tid), at: 3)
            insert.bind(Int64(origin.fdTable), at: 4)
            try insert.run()
            insert.reset()
        }
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
        try db.execute(sql: "COMMIT")
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
