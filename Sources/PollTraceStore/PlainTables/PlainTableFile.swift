import PollTraceCore
#if canImport(Glibc)
import Glibc
#endif

/// The SQLite side of making a v7 trace: the file, its tables, one `PlainInsert` per
/// table, and at `finish` the meta, the derived columns, the views and the indexes,
/// all in one transaction with no journal. Until `finish` has returned the file is
/// not a trace: `PlainTraceWriter` builds it under a temporary name and renames it
/// into place.
final class PlainTableFile {
    let connection: SQLiteConnection
    private let start: UInt64
    private let inserts: [PlainInsert]
    private let insertPoller: SQLiteStatement

    init(path: String, metadata: TraceMetadata) throws {
        start = metadata.startMonotonicNs
        connection = try SQLiteConnection(path: path, readOnly: false)
        try connection.execute(sql: """
            PRAGMA page_size = \(PlainSchema.pageSize);
            PRAGMA journal_mode = OFF;
            PRAGMA synchronous = OFF;
            PRAGMA cache_size = -16384;
            PRAGMA application_id = \(PlainSchema.applicationID);
            PRAGMA user_version = \(PlainSchema.version);
            BEGIN;
            """)
        try connection.execute(sql: PlainSchema.createTables(start: metadata.startMonotonicNs))
        insertPoller = try connection.makeStatement(
            sql: "INSERT OR REPLACE INTO pollers(poller, backend, policy_code, epoll_fd, label) VALUES (?, ?, ?, ?, ?)", parameters: 5)
        let connection = connection
        inserts = try PlainTable.allCases.map { try PlainInsert(connection: connection, table: $0) }
        for poller in metadata.pollers { try add(poller) }
    }

    func add(_ poller: PollerInfo) throws {
        insertPoller.bindPollerRow(poller)
        defer { insertPoller.reset() }
        try insertPoller.run()
    }

    func insert(_ rows: PlainRows) throws {
        guard !rows.isEmpty else { return }
        for insert in inserts { try insert.insert(rows.tables[insert.table.rawValue]) }
    }

    /// Writes `meta`, the derived columns and views, then whatever `addingTables`
    /// adds (an import's own tables, or those the finalizer copies from its source,
    /// in the same transaction), the indexes; commits, and makes the file durable.
    func finish(meta: [(String, SQLiteValue)], addingTables: ((SQLiteConnection) throws -> Void)? = nil) throws {
        let insertMeta = try connection.makeStatement(sql: "INSERT OR REPLACE INTO meta(key, value) VALUES (?, ?)", parameters: 2)
        for (key, value) in meta {
            insertMeta.bind(.text(key), at: 1)
            insertMeta.bind(value, at: 2)
            try insertMeta.run()
            insertMeta.reset()
        }
        try connection.execute(sql: PlainSchema.addDerivedColumns(start: start))
        try connection.execute(sql: PlainSchema.createViews)
        try addingTables?(connection)
        // SQLite sorts an index's entries in chunks as large as the page cache, then
        // merges them. Chunks of 2 MiB fit the CPU's caches: building the three
        // dispatch indexes of a 1.2M-record trace took 0.75 s of CPU instead of 1.3 s
        // with the 16 MiB cache the inserts use (docs/benchmarks.md).
        try connection.execute(sql: "PRAGMA cache_size = -\(Self.indexSortChunkKiB)")
        try connection.execute(sql: PlainSchema.createIndexes)
        try connection.execute(sql: "COMMIT")
        // Durable before it is renamed over anything.
        try connection.execute(sql: "PRAGMA journal_mode = DELETE")
        guard Self.fsyncPath(connection.path) else {
            throw TraceStoreError.writeFailed(path: connection.path, detail: "fsync: \(String(cString: strerror(errno)))")
        }
    }

    /// The page cache while indexes are built, in KiB: the size of the runs SQLite's
    /// sorter sorts in memory before merging them.
    static let indexSortChunkKiB = 2048

    /// The meta keys every v7 trace has.
    static func standardMeta(_ metadata: TraceMetadata, records: UInt64, ending: TraceFinalizer.Ending,
                             verdicts: TraceFinalizer.Verdicts) -> [(String, SQLiteValue)] {
        [
            ("format", .text(PlainSchema.formatName)),
            ("schema_version", .integer(Int64(PlainSchema.version))),
            ("pid", .integer(Int64(metadata.pid))),
            ("program", .text(metadata.program)),
            ("host", .text(metadata.host)),
            ("start_wall_clock_ns", .integer(Int64(bitPattern: metadata.startWallClockNs))),
            ("start_monotonic_ns", .integer(Int64(bitPattern: metadata.startMonotonicNs))),
            ("records", .integer(Int64(records))),
            ("ended", .text(ending.rawValue)),
            ("closed_cleanly", .integer(ending == .closed ? 1 : 0)),
            ("verdicts", .text(verdicts == .replay ? "replay" : "none")),
        ]
    }

    private static func fsyncPath(_ path: String) -> Bool {
        let fd = open(path, O_RDONLY | O_CLOEXEC)
        guard fd >= 0 else { return false }
        defer { close(fd) }
        return fsync(fd) == 0
    }
}
