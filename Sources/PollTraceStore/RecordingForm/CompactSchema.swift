import PollTraceCore

/// The compact form a trace is recorded in: internal to the store, read back only
/// by `TraceRecordCursor`, and turned into the plain v7 tables (`PlainSchema`) by
/// `TraceFinalizer` when the trace is closed.
///
/// A recording keeps its records in `record_chunks` (`createRecordingTables`).
/// Recordings made before that, and files of versions 1 to 6 (which were this form
/// as the trace itself), use the row layout of `createTables`: every record except
/// syscalls one row of one table keyed by its seq, kind-specific fields in the
/// generic columns `a`…`k`, and several records packed into one row
/// (docs/schema.md, "The recording form"). The reader still reads it, `polltrace
/// upgrade` converts it, and the store benchmark's plain-SQLite baseline inserts it.
enum CompactSchema {
    /// The version number this form carries in its header while it is being recorded
    /// (and in files of PollTrace versions before 7).
    static let version = 6
    /// The page size the recording form is written with. 16 KiB rather than SQLite's
    /// 4 KiB: a quarter of the WAL frames, pwrite calls and checkpoint copies for the
    /// same bytes, which took the writer thread's CPU per record about 13% lower in
    /// the store benchmark (interleaved runs; most of it kernel time). Readers take
    /// any page size.
    static let pageSize = 16_384

    /// `tag = kind | poller << 4`: one small integer instead of two columns.
    static let kindBits = 4
    static let kindMask = 15

    /// Bits of a dispatch's `f` column: `source | suppression << 2 | threw << 5`.
    static let dispatchSuppressionShift = 2
    static let dispatchThrewShift = 5
    /// Set when a dispatch's `t` and `a` are relative to its batch: `t` to the
    /// batch row's `t`, `a` (the registration that ran) to the harvested event's
    /// `data_hi`. Under the guarded policy that makes `a` zero and `t` a few µs:
    /// about 6 bytes less per dispatch. Clear means plain values, which is also how
    /// traces written before this packing existed read correctly.
    static let dispatchRelativeBit: Int64 = 1 << 6

    /// The tables both layouts have: metadata, pollers, and interned strings.
    static let sharedTables = """
        CREATE TABLE meta(key TEXT PRIMARY KEY NOT NULL, value) WITHOUT ROWID;
        CREATE TABLE pollers(
            poller INTEGER PRIMARY KEY,
            backend TEXT NOT NULL,
            policy INTEGER NOT NULL,
            epoll_fd INTEGER NOT NULL,
            label TEXT NOT NULL
        );
        CREATE TABLE strings(id INTEGER PRIMARY KEY, text TEXT NOT NULL);
        """

    /// What a recording writes today: each commit's records as bytes
    /// (`RecordChunkEncoder`), keyed by the lowest seq they hold. The row tables
    /// below are the layout of recordings made by earlier builds and of files of
    /// versions 1 to 6, which `TraceRecordCursor` still reads.
    static let createRecordingTables = sharedTables + "\n" + """
        CREATE TABLE record_chunks(
            first_seq INTEGER PRIMARY KEY,
            last_seq INTEGER NOT NULL,
            record_count INTEGER NOT NULL,
            bytes BLOB NOT NULL
        );
        """

    static let createTables = sharedTables + "\n" + """
        CREATE TABLE records(
            seq INTEGER PRIMARY KEY,
            tag INTEGER NOT NULL,
            t INTEGER NOT NULL,
            a, b, c, d, e, f
        );
        CREATE TABLE fd_records(
            seq INTEGER PRIMARY KEY,
            tag INTEGER NOT NULL,
            t INTEGER NOT NULL,
            a, b, c, d, e, f, g, h, i, j, k
        );
        CREATE TABLE batch_event_rows(
            id INTEGER PRIMARY KEY,
            fd INTEGER NOT NULL,
            mask INTEGER NOT NULL,
            data_hi INTEGER NOT NULL,
            data_lo INTEGER
        );
        CREATE TABLE syscall_rows(
            seq INTEGER PRIMARY KEY,
            poller INTEGER NOT NULL,
            t INTEGER NOT NULL,
            tid INTEGER NOT NULL,
            fd INTEGER NOT NULL,
            name_id INTEGER NOT NULL,
            result INTEGER NOT NULL,
            errno INTEGER NOT NULL,
            is_data INTEGER NOT NULL,
            source_line INTEGER NOT NULL,
            more
        );
        """
}
