import CSQLite
import PollTraceCore
#if canImport(Glibc)
import Glibc
#endif

/// What a recording's writer does to its file whatever the layout of its records:
/// the header and metadata, interned strings, pollers, one transaction per commit,
/// and the end (`finish`). `TraceFile` writes record chunks through it; the tests'
/// writer of the earlier row layout uses it too.
final class RecordingFile {
    let path: String
    let connection: SQLiteConnection
    private let insertString: SQLiteStatement
    private let insertPoller: SQLiteStatement
    private let begin: SQLiteStatement
    private let commit: SQLiteStatement
    /// Interned strings (handler labels, syscall names) already in `strings`.
    private var stringIDs: [String: Int64] = [:]

    /// SQLite's page cache while the rows are appended, in KiB. Appending in seq
    /// order touches only the right edge of each B-tree, a few pages, so a bigger
    /// cache only keeps pages that are never read again: with 16 MiB the writer
    /// cycled through 16 MiB of memory, pushing the traced loop's data out of the
    /// shared CPU cache (5-20% more writer CPU per record in the store benchmark).
    static let appendingCacheKiB = 1024

    /// Creates the file with `tables` (the layout's own and `CompactSchema.sharedTables`)
    /// and writes the metadata and pollers, durably.
    init(path: String, metadata: TraceMetadata, options: TraceWriterOptions, tables: String) throws {
        self.path = path
        connection = try Self.create(path: path, metadata: metadata, options: options, tables: tables)
        do {
            insertString = try connection.makeStatement(sql: "INSERT INTO strings(id, text) VALUES (?, ?)")
            insertPoller = try connection.makeStatement(sql: "INSERT OR REPLACE INTO pollers(poller, backend, policy, epoll_fd, label) VALUES (?, ?, ?, ?, ?)")
            begin = try connection.makeStatement(sql: "BEGIN")
            commit = try connection.makeStatement(sql: "COMMIT")
            for poller in metadata.pollers { try write(poller) }
            try connection.execute(sql: "COMMIT")
        } catch let error as SQLiteError {
            throw TraceStoreError.writeFailed(path: path, detail: error.description)
        }
    }

    /// Makes the file: the header, `tables`, and the meta rows, inside a transaction
    /// that `init` commits after the pollers. A file already at `path` is replaced
    /// only with `options.overwrite`.
    private static func create(path: String, metadata: TraceMetadata, options: TraceWriterOptions, tables: String) throws -> SQLiteConnection {
        var info = stat()
        if stat(path, &info) == 0 && info.st_size > 0 {
            guard options.overwrite else {
                throw TraceStoreError.writeFailed(path: path, detail: "the file already exists and is not empty; remove it or choose another path")
            }
            for suffix in ["", "-wal", "-shm", "-journal"] { unlink(path + suffix) }
        }
        do {
            let connection = try SQLiteConnection(path: path, readOnly: false)
            // WAL: a commit is an append to the log, and readers can open the trace
            // while it is being written. synchronous=NORMAL: a commit survives the
            // traced process crashing (the crash test checks this), not the machine
            // losing power mid-trace; close() checkpoints with a full sync.
            try connection.execute(sql: """
                PRAGMA page_size = \(CompactSchema.pageSize);
                PRAGMA journal_mode = WAL;
                PRAGMA synchronous = NORMAL;
                PRAGMA cache_size = -\(Self.appendingCacheKiB);
                PRAGMA application_id = \(PlainSchema.applicationID);
                PRAGMA user_version = \(CompactSchema.version);
                """)
            if let limit = options.maxFileBytes {
                // A size cap behaves exactly like a full disk: SQLITE_FULL.
                try connection.execute(sql: "PRAGMA max_page_count = \(max(1, limit / CompactSchema.pageSize))")
            }
            try connection.execute(sql: "BEGIN")
            try connection.execute(sql: tables)
            let meta = try connection.makeStatement(sql: "INSERT INTO meta(key, value) VALUES (?, ?)")
            let values: [(String, SQLiteValue)] = [
                ("format", .text(PlainSchema.formatName)),
                ("schema_version", .integer(Int64(CompactSchema.version))),
                ("pid", .integer(Int64(metadata.pid))),
                ("program", .text(metadata.program)),
                ("host", .text(metadata.host)),
                ("start_wall_clock_ns", .integer(stored(metadata.startWallClockNs))),
                ("start_monotonic_ns", .integer(stored(metadata.startMonotonicNs))),
                ("writer_mode", .text(options.mode.rawValue)),
            ]
            for (key, value) in values {
                meta.bind(.text(key), at: 1); meta.bind(value, at: 2)
                try meta.run(); meta.reset()
            }
            return connection
        } catch let error as SQLiteError {
            throw TraceStoreError.writeFailed(path: path, detail: error.description)
        }
    }

    func write(_ poller: PollerInfo) throws {
        insertPoller.bindPollerRow(poller)
        defer { insertPoller.reset() }
        try insertPoller.run()
    }

    /// The id of `text` in `strings`, inserting it the first time.
    func intern(_ text: String) throws -> Int64 {
        if let id = stringIDs[text] { return id }
        let id = Int64(stringIDs.count + 1)
        insertString.bind(id, at: 1)
        insertString.bind(text, at: 2)
        defer { insertString.reset() }
        try insertString.run()
        stringIDs[text] = id
        return id
    }

    /// Runs `body` in one transaction, after writing `pollers`. On failure the
    /// transaction is rolled back, the strings it interned are forgotten, `undo`
    /// puts the caller's own state back, and the error is rethrown: the file keeps
    /// every earlier commit.
    func transaction<T>(pollers: [PollerInfo], undo: () -> Void, _ body: () throws -> T) throws -> T {
        let savedStrings = stringIDs
        do {
            defer { begin.reset() }
            try begin.run()
        }
        do {
            for poller in pollers { try write(poller) }
            let result = try body()
            defer { commit.reset() }
            try commit.run()
            return result
        } catch {
            undo()
            try? connection.execute(sql: "ROLLBACK")
            stringIDs = savedStrings
            throw error
        }
    }

    static func isSorted(_ chunk: [TraceRecord]) -> Bool {
        guard var previous = chunk.first?.seq else { return true }
        for record in chunk.dropFirst() {
            let seq = record.seq
            if seq < previous { return false }
            previous = seq
        }
        return true
    }

    /// After a failed write: tries to leave WAL mode (SQLite checkpoints the WAL into
    /// the file first), so that a reader does not take the missing `-wal` for one
    /// lost in a copy. Where that fails too (the disk is full), the `-wal` stays.
    func leaveWALModeAfterFailure() {
        try? connection.execute(sql: "PRAGMA journal_mode = DELETE")
    }

    /// Marks the trace complete, and leaves one self-contained
    /// file: the WAL is checkpointed into it (with a full sync) and removed, so a
    /// read-only reader never needs to create `-wal` or `-shm` files.
    func finish(statistics: TraceWriterStatistics, extraMeta: [(String, Int64)] = []) throws {
        // FULL: this last commit fsyncs the WAL, which makes every earlier frame
        // durable too, so close() returns with the whole trace on disk.
        try connection.execute(sql: "PRAGMA synchronous = FULL")
        try connection.execute(sql: "BEGIN")
        let meta = try connection.makeStatement(sql: "INSERT OR REPLACE INTO meta(key, value) VALUES (?, ?)")
        let values: [(String, Int64)] = [
            ("closed_cleanly", 1),
            ("records_written", Int64(statistics.recordsWritten)),
            ("records_dropped", Int64(statistics.recordsDropped)),
            ("gaps_recorded", Int64(statistics.gapsRecorded)),
        ] + extraMeta
        for (key, value) in values {
            meta.bind(.text(key), at: 1); meta.bind(value, at: 2)
            try meta.run(); meta.reset()
        }
        try connection.execute(sql: "COMMIT")
        do {
            try connection.execute(sql: "PRAGMA journal_mode = DELETE")
        } catch let error as SQLiteError where error.primaryCode == SQLITE_BUSY || error.primaryCode == SQLITE_LOCKED {
            // Someone has the trace open (a reader of the live trace). Leaving WAL
            // mode needs the file to ourselves; the trace is complete and durable
            // as it is, and stays in WAL mode with its -wal file until the last
            // connection closes.
        }
    }
}
