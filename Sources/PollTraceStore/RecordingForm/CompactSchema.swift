import PollTraceCore

/// The compact form a trace is recorded in: internal to the store, read back only
/// by `TraceRecordCursor`, and turned into the plain v7 tables (`PlainSchema`) by
/// `TraceFinalizer` when the trace is closed. Older PollTrace versions wrote this
/// form as the trace itself (schema versions 1 to 6), so the same reader also reads
/// those files, and `polltrace upgrade` converts them.
///
/// Write speed comes first: every record except syscalls is one row of one table
/// whose `INTEGER PRIMARY KEY` is the sequence number, so an insert is an append to
/// one B-tree and nothing else. Kind-specific fields go in the generic columns
/// `a`…`k`. docs/schema.md ("The recording form") describes the encodings.
enum CompactSchema {
    /// The version number this form carries in its header while it is being recorded
    /// (and in files of PollTrace versions before 7).
    static let version = 6
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

    static let createTables = """
        CREATE TABLE meta(key TEXT PRIMARY KEY NOT NULL, value) WITHOUT ROWID;
        CREATE TABLE pollers(
            poller INTEGER PRIMARY KEY,
            backend TEXT NOT NULL,
            policy INTEGER NOT NULL,
            epoll_fd INTEGER NOT NULL,
            label TEXT NOT NULL
        );
        CREATE TABLE strings(id INTEGER PRIMARY KEY, text TEXT NOT NULL);
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

    /// Built by `TraceWriter.close()` (or from the start, `indexWhileWriting`): the two lookups the views need, each a
    /// partial index over rare kinds only, so they cost little space and little
    /// time to build (each is one scan of `records`). Views repeat an index's
    /// `WHERE` term verbatim, which is what lets SQLite use a partial index.
    /// `syscall_rows` gets none: no view needs one, and building it was a fifth of
    /// an import's time (0.25 s for 550k syscalls, after parsing has finished).
    static var createIndexes: String {
        """
        CREATE INDEX IF NOT EXISTS closes_by_fd ON fd_records(a, \(closeSeq(nil))) WHERE \(closeTerm(nil));
        CREATE INDEX IF NOT EXISTS registrations_by_id ON fd_records(b, seq) WHERE \(registrationIndexTerm);
        """
    }

    /// Every record's seq, packed records included (`BatchPacking`, `FDRecordPairing`, `SyscallPacking`):
    /// for SQL outside the store that must cover every record, such as an import's
    /// `strace_lines` view, so that how rows are packed stays known in one place.
    static let everyRecordSeq = """
        SELECT seq FROM records UNION ALL SELECT seq FROM fd_records UNION ALL SELECT seq FROM syscall_rows
        UNION ALL SELECT seq - coalesce(h, 1) FROM fd_records WHERE tag & 15 = 2 AND g IS NOT NULL
        UNION ALL SELECT seq - 1 FROM fd_records WHERE tag & 15 = 5 AND b IS NOT NULL
        UNION ALL SELECT seq + i - 1 FROM fd_records WHERE tag & 15 = 2 AND i IS NOT NULL
        UNION ALL SELECT seq + i FROM fd_records WHERE tag & 15 = 2 AND i IS NOT NULL
        UNION ALL SELECT b.seq + (j.value ->> 3) FROM records b, json_each(b.e) j
                  WHERE b.tag & 15 = 6 AND b.f > 0 AND json_array_length(j.value) >= 6
        UNION ALL SELECT c.seq + (j.value ->> 0) FROM syscall_rows c, json_each(c.more) j WHERE c.more IS NOT NULL
        """

    /// The rows that hold an fd's close: a close's own row (tag 5) or, since v6, a
    /// registration row with its end packed in (`FDLifetimePacking`). The term of
    /// `closes_by_fd`, repeated verbatim by the views that look closes up by fd.
    static func closeTerm(_ alias: String?) -> String {
        let p = alias.map { "\($0)." } ?? ""
        return "(\(p)tag & 15 = 5 OR (\(p)tag & 15 = 2 AND \(p)i IS NOT NULL))"
    }

    /// A close's seq in either kind of row of `closeTerm`: `closes_by_fd`'s second
    /// column. The `CAST` gives the indexed expression integer affinity: without it
    /// SQLite would not use the index for a range against an integer column
    /// (`> r.seq`), only for the fd, and the README's query over `registrations`
    /// took six times as long on a demo trace (docs/benchmarks.md, session 12).
    static func closeSeq(_ alias: String?) -> String {
        let p = alias.map { "\($0)." } ?? ""
        return "CAST(\(p)seq + coalesce(\(p)i, 0) AS INTEGER)"
    }

    /// The `WHERE` term of `registrations_by_id`, for views that look registrations up
    /// by id (they repeat it with their own table alias, `registrationIndexTerm("u")`).
    /// ORs, not `IN (2, 4, 5)`: SQLite built the index from the `IN` form 2.5x slower
    /// (0.22 s instead of 0.09 s for 300k fd rows, a fifth of an import's time).
    static let registrationIndexTerm = registrationIndexTerm(nil)

    static func registrationIndexTerm(_ alias: String?) -> String {
        let tag = alias.map { "\($0).tag" } ?? "tag"
        return "(\(tag) & 15 = 2 OR \(tag) & 15 = 4 OR \(tag) & 15 = 5)"
    }

}
