import PollTraceCore

/// Schema v3 of a trace file: tables, views and the indexes built at close.
/// docs/schema.md documents every name here; keep the two in step.
///
/// Write speed comes first (issue 2): every record except syscalls is one row of one
/// table whose `INTEGER PRIMARY KEY` is the sequence number, so an insert is an
/// append to one B-tree and nothing else. Kind-specific fields go in the generic
/// columns `a`…`f`; the views give them names. Secondary indexes are built by
/// `close()`, when the cost no longer lands on the recording.
enum Schema {
    // v2 (issue 6, additive): `polltrace import` adds the `strace_lines` and
    // `strace_import` tables after the writer closes (docs/strace.md). v1 files read as before.
    // v3: a batch row carries its events, and the dispatch of each event when it is
    // in the same commit, as JSON text in `e` (`BatchPacking`), instead of one
    // `batch_event_rows` row per event and one `records` row per dispatch. Rows per
    // record fall from ~1.7 to ~1, which is most of the writer's and the reader's
    // cost. v1 and v2 files read as before (their `e` is an integer row id).
    // v4: a `syscall_rows` row carries up to 63 later calls of its thread in `more`
    // (`SyscallPacking`): an import writes a tenth of the syscall rows. v3 files
    // read as before (no `more` column). Also v4: an fd open packs into its
    // registration's row with syscalls between them (column `h`, `FDRecordPairing`).
    // v6: a registration whose unregistration and close come in the same commit
    // carries them in its row (columns `i`, `j`, `k`, `FDLifetimePacking`); a short
    // connection is one `fd_records` row instead of two. `closes_by_fd` indexes
    // those packed closes too. v5 files read as before (no such columns).
    static let version = TraceMetadata.currentSchemaVersion
    /// `PRAGMA application_id`: "PlTr". Marks the file as a PollTrace trace.
    static let applicationID: Int32 = 0x506C_5472
    /// The page size traces are written with. 16 KiB rather than SQLite's 4 KiB: a
    /// quarter of the WAL frames, pwrite calls and checkpoint copies for the same
    /// bytes, which took the writer thread's CPU per record about 13% lower in the
    /// store benchmark (interleaved runs; most of it kernel time). Readers take any
    /// page size, so older traces are unaffected.
    static let pageSize = 16_384
    /// The `meta` table's `format` value.
    static let formatName = "polltrace-trace"

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

    // MARK: Views

    private static func caseOf(_ expression: String, _ names: [(Int, String)]) -> String {
        "CASE \(expression) " + names.map { "WHEN \($0.0) THEN '\($0.1)'" }.joined(separator: " ") + " END"
    }

    /// `IN|OUT|ET` for a mask column, in SQL (same spelling as `IOEvents.description`).
    private static func maskText(_ column: String) -> String {
        let bits: [(UInt32, String)] = [
            (0x001, "IN"), (0x002, "PRI"), (0x004, "OUT"), (0x008, "ERR"), (0x010, "HUP"),
            (0x2000, "RDHUP"), (1 << 28, "EXCLUSIVE"), (1 << 30, "ONESHOT"), (1 << 31, "ET"),
        ]
        let parts = bits.map { "CASE WHEN \(column) & \($0.0) THEN '\($0.1)|' ELSE '' END" }.joined(separator: " || ")
        return "coalesce(nullif(rtrim(\(parts), '|'), ''), '0')"
    }

    /// A `records` row's time since start, resolving dispatches stored relative to their batch.
    private static let timelineRel = """
        CASE WHEN tag & 15 = 7 AND f & 64 THEN t + (SELECT b.t FROM records b WHERE b.seq = records.seq - records.d) ELSE t END
        """
    private static let start = "(SELECT value FROM meta WHERE key = 'start_monotonic_ns')"
    private static let kindNames = caseOf("tag & 15", RecordKind.allCases.map { (Int($0.rawValue), $0.description) })
    private static let suppressionNames = caseOf("(flags >> 2) & 7", SuppressionReason.allCases.map { (Int($0.rawValue), $0.description) })
    private static let sourceNames = caseOf("flags & 3", [(1, "event"), (2, "timer"), (3, "task")])
    private static func originNames(_ code: String) -> String { caseOf(code, FDOrigin.allCases.map { (Int($0.rawValue), $0.description) }) }
    private static let callNames = caseOf("b", FDCall.allCases.map { (Int($0.rawValue), $0.description) })
    private static let policyNames = caseOf("policy", [(unknownPolicyCode, "unknown")] + DispatchPolicy.allCases.map { ($0.code, $0.rawValue) })
    /// `pollers.policy` of a loop whose dispatch policy nobody knows (an imported log).
    static let unknownPolicyCode = 0
    /// The 64-bit `epoll_data` word from its stored halves (low half NULL = the fd).
    private static func data(_ hi: String, _ lo: String, _ fd: String) -> String {
        "((\(hi) << 32) | coalesce(\(lo), \(fd) & 4294967295))"
    }

    /// The low half of an event's `epoll_data` from its packed JSON array (`BatchPacking`):
    /// element 3 of a 4-element event, 9 of a 10-element one, else NULL (= the fd).
    private static func dataLow(_ event: String) -> String {
        "CASE json_array_length(\(event)) WHEN 4 THEN \(event) ->> 3 WHEN 10 THEN \(event) ->> 9 END"
    }

    static var createViews: String {
        """
        CREATE VIEW poller_info AS
            SELECT poller, backend, policy AS policy_code, \(policyNames) AS policy, epoll_fd, label FROM pollers;
        CREATE VIEW timeline AS
            SELECT seq, tag >> 4 AS poller, tag & 15 AS kind_code, \(kindNames) AS kind,
                   \(timelineRel) AS rel_ns, \(timelineRel) + \(start) AS time_ns,
                   CASE WHEN tag & 15 = 9 THEN a END AS fd, NULL AS registration_id
            FROM records
            UNION ALL
            SELECT b.seq + (j.value ->> 3), b.tag >> 4, 7, 'dispatch', b.t + (j.value ->> 4), b.t + (j.value ->> 4) + \(start), NULL, NULL
            FROM records b, json_each(b.e) j WHERE b.tag & 15 = 6 AND b.f > 0 AND json_array_length(j.value) >= 6
            UNION ALL
            SELECT seq, tag >> 4, tag & 15, \(kindNames), t, t + \(start), a, CASE WHEN tag & 15 IN (2, 3, 4) THEN b END
            FROM fd_records
            UNION ALL
            SELECT seq - coalesce(h, 1), tag >> 4, 1, 'fd_opened', t - (g >> 8), t - (g >> 8) + \(start), a, NULL
            FROM fd_records WHERE tag & 15 = 2 AND g IS NOT NULL
            UNION ALL
            SELECT seq - 1, tag >> 4, 4, 'unregistered', t - c, t - c + \(start), a, b
            FROM fd_records WHERE tag & 15 = 5 AND b IS NOT NULL
            UNION ALL
            SELECT seq + i - 1, tag >> 4, 4, 'unregistered', t + j - k, t + j - k + \(start), a, b
            FROM fd_records WHERE tag & 15 = 2 AND i IS NOT NULL
            UNION ALL
            SELECT seq + i, tag >> 4, 5, 'closed', t + j, t + j + \(start), a, NULL
            FROM fd_records WHERE tag & 15 = 2 AND i IS NOT NULL
            UNION ALL
            SELECT seq, poller, 10, 'syscall', t, t + \(start), fd, NULL FROM syscall_rows
            UNION ALL
            SELECT c.seq + (j.value ->> 0), c.poller, 10, 'syscall', c.t + (j.value ->> 1), c.t + (j.value ->> 1) + \(start),
                   j.value ->> 2, NULL
            FROM syscall_rows c, json_each(c.more) j WHERE c.more IS NOT NULL;
        CREATE VIEW fd_opens AS
            SELECT seq, tag >> 4 AS poller, t AS rel_ns, t + \(start) AS time_ns, a AS fd,
                   b AS origin_code, \(originNames("b")) AS origin
            FROM fd_records WHERE tag & 15 = 1
            UNION ALL
            -- An fd opened shortly before its registration, packed into the registration's row.
            SELECT seq - coalesce(h, 1), tag >> 4, t - (g >> 8), t - (g >> 8) + \(start), a, g & 255, \(originNames("g & 255"))
            FROM fd_records WHERE tag & 15 = 2 AND g IS NOT NULL;
        CREATE VIEW fd_closes AS
            -- A close's own row, or one packed into its registration's row (i, j).
            SELECT \(closeSeq(nil)) AS seq, tag >> 4 AS poller, t + coalesce(j, 0) AS rel_ns,
                   t + coalesce(j, 0) + \(start) AS time_ns, a AS fd
            FROM fd_records WHERE \(closeTerm(nil));
        CREATE VIEW modifications AS
            SELECT seq, tag >> 4 AS poller, t AS rel_ns, t + \(start) AS time_ns, a AS fd, b AS registration_id,
                   c AS interest, \(maskText("c")) AS interest_text
            FROM fd_records WHERE tag & 15 = 3;
        CREATE VIEW unregistrations AS
            SELECT seq, tag >> 4 AS poller, t AS rel_ns, t + \(start) AS time_ns, a AS fd, b AS registration_id
            FROM fd_records WHERE tag & 15 = 4
            UNION ALL
            -- An unregistration right before its fd's close, packed into the close's row.
            SELECT seq - 1, tag >> 4, t - c, t - c + \(start), a, b
            FROM fd_records WHERE tag & 15 = 5 AND b IS NOT NULL
            UNION ALL
            -- An unregistration packed, with the close after it, into its registration's row.
            SELECT seq + i - 1, tag >> 4, t + j - k, t + j - k + \(start), a, b
            FROM fd_records WHERE tag & 15 = 2 AND i IS NOT NULL;
        CREATE VIEW registrations AS
            SELECT *, CASE WHEN unregistered_seq IS NULL THEN closed_seq
                           WHEN closed_seq IS NULL THEN unregistered_seq
                           ELSE min(unregistered_seq, closed_seq) END AS ended_seq
            FROM (
                SELECT r.b AS registration_id, r.tag >> 4 AS poller, r.a AS fd, r.c AS interest,
                       \(maskText("r.c")) AS interest_text, \(data("r.d", "r.e", "r.a")) AS data,
                       s.text AS handler_label, r.seq AS registered_seq, r.t AS registered_rel_ns,
                       r.t + \(start) AS registered_time_ns,
                       -- An unregistration's own row (4), one packed into its close's (5) or,
                       -- with the close, into its registration's (2, v6).
                       (SELECT min(CASE u.tag & 15 WHEN 4 THEN u.seq WHEN 5 THEN u.seq - 1 ELSE u.seq + u.i - 1 END)
                        FROM fd_records u
                        WHERE \(registrationIndexTerm("u")) AND (u.tag & 15 <> 2 OR u.i IS NOT NULL) AND u.b = r.b) AS unregistered_seq,
                       (SELECT min(\(closeSeq("c"))) FROM fd_records c
                        WHERE \(closeTerm("c")) AND c.a = r.a AND \(closeSeq("c")) > r.seq) AS closed_seq
                FROM fd_records r LEFT JOIN strings s ON s.id = r.f
                WHERE r.tag & 15 = 2
            );
        CREATE VIEW batches AS
            SELECT seq, tag >> 4 AS poller, t AS rel_ns, t + \(start) AS time_ns, a AS batch_number,
                   b AS timeout_ms, c AS waited_ns, d AS event_count, e AS events
            FROM records WHERE tag & 15 = 6;
        CREATE VIEW batch_events AS
            SELECT batch_seq, poller, batch_number, event_index, fd, mask, \(maskText("mask")) AS mask_text,
                   \(data("data_high", "data_low", "fd")) AS data, data_high, harvest_rel_ns, harvest_rel_ns + \(start) AS harvest_time_ns
            FROM (
                SELECT b.seq AS batch_seq, b.tag >> 4 AS poller, b.a AS batch_number, j.key AS event_index,
                       j.value ->> 0 AS fd, j.value ->> 1 AS mask, j.value ->> 2 AS data_high,
                       \(dataLow("j.value")) AS data_low, b.t AS harvest_rel_ns
                FROM records b, json_each(b.e) j
                WHERE b.tag & 15 = 6
            );
        CREATE VIEW dispatches AS
            SELECT seq, poller, rel_ns, rel_ns + \(start) AS time_ns, \(sourceNames) AS source,
                   batch_seq, event_index, fd, harvested_mask,
                   CASE WHEN fd IS NOT NULL THEN \(data("data_high", "data_low", "fd")) END AS harvested_data,
                   ran_registration_id, delivered_mask, \(maskText("delivered_mask")) AS delivered_mask_text,
                   CASE WHEN (flags >> 2) & 7 = 0 THEN NULL ELSE \(suppressionNames) END AS suppression,
                   (flags >> 5) & 1 AS handler_threw, duration_ns,
                   CASE WHEN flags & 3 = 1 AND (flags >> 2) & 7 = 0 THEN
                        (SELECT s.text FROM fd_records r JOIN strings s ON s.id = r.f WHERE \(registrationIndexTerm("r")) AND r.tag & 15 = 2
                              AND r.b = ran_registration_id)
                   END AS handler_label
            FROM (
                -- A dispatch stored as its own row (a timer, a task, or an event whose batch
                -- was committed earlier): its event is element `e` of its batch's JSON.
                SELECT seq, poller, CASE WHEN flags & 64 THEN bt + rt ELSE rt END AS rel_ns, batch_seq, event_index,
                       ev ->> 0 AS fd, ev ->> 1 AS harvested_mask, ev ->> 2 AS data_high, \(dataLow("ev")) AS data_low,
                       CASE WHEN flags & 64 THEN (ev ->> 2) + ran ELSE ran END AS ran_registration_id,
                       delivered_mask, flags, duration_ns
                FROM (
                    SELECT d.seq AS seq, d.tag >> 4 AS poller, d.t AS rt, b.t AS bt,
                           CASE WHEN d.d IS NULL THEN 0 ELSE d.seq - d.d END AS batch_seq, d.e AS event_index,
                           b.e -> ('$[' || d.e || ']') AS ev, d.a AS ran, d.b AS delivered_mask, d.f AS flags, d.c AS duration_ns
                    FROM records d LEFT JOIN records b ON b.seq = d.seq - d.d AND b.tag & 15 = 6
                    WHERE d.tag & 15 = 7
                )
                UNION ALL
                -- A dispatch packed into its batch's row: elements [3…8] of its event, or
                -- in the short form (6 numbers, v5) [3], [4] and [5] = duration, with the
                -- event's own registration, the harvested mask and plain flags.
                SELECT bs + (v ->> 3), p, bt + (v ->> 4), bs, k, v ->> 0, v ->> 1, v ->> 2, \(dataLow("v")),
                       CASE WHEN n = 6 THEN v ->> 2 ELSE (v ->> 2) + (v ->> 5) END,
                       CASE WHEN n = 6 THEN v ->> 1 ELSE v ->> 6 END,
                       CASE WHEN n = 6 THEN \(BatchPacking.plainFlags) ELSE v ->> 7 END,
                       CASE WHEN n = 6 THEN v ->> 5 ELSE v ->> 8 END
                FROM (
                    SELECT b.seq AS bs, b.tag >> 4 AS p, b.t AS bt, j.key AS k, j.value AS v, json_array_length(j.value) AS n
                    FROM records b, json_each(b.e) j
                    WHERE b.tag & 15 = 6 AND b.f > 0
                )
                WHERE n >= 6
            );
        CREATE VIEW handler_time AS
            SELECT coalesce(handler_label, source || ' ' || ran_registration_id) AS handler,
                   count(*) AS dispatches, sum(duration_ns) AS total_duration_ns, max(duration_ns) AS max_duration_ns
            FROM dispatches WHERE suppression IS NULL
            GROUP BY 1;
        CREATE VIEW gaps AS
            SELECT seq, t AS rel_ns, t + \(start) AS time_ns, a AS first_lost_seq, b AS last_lost_seq,
                   c AS lost_count, d AS from_rel_ns, e AS to_rel_ns
            FROM records WHERE tag & 15 = 8;
        CREATE VIEW failed_calls AS
            SELECT seq, tag >> 4 AS poller, t AS rel_ns, t + \(start) AS time_ns, a AS fd,
                   b AS call_code, \(callNames) AS call, c AS errno
            FROM records WHERE tag & 15 = 9;
        CREATE VIEW syscalls AS
            SELECT c.seq AS seq, c.poller AS poller, c.t AS rel_ns, c.t + \(start) AS time_ns, c.tid AS tid, c.fd AS fd,
                   s.text AS name, c.result AS result, c.errno AS errno, c.is_data AS is_data_call,
                   c.source_line AS source_line
            FROM syscall_rows c LEFT JOIN strings s ON s.id = c.name_id
            UNION ALL
            -- A call packed after the row's first (`more`): [seq, t, fd, name_id, result, errno, is_data, line], relative.
            SELECT c.seq + (j.value ->> 0), c.poller, c.t + (j.value ->> 1), c.t + (j.value ->> 1) + \(start), c.tid,
                   j.value ->> 2, s.text, j.value ->> 4, j.value ->> 5, j.value ->> 6, c.source_line + (j.value ->> 7)
            FROM syscall_rows c JOIN json_each(c.more) j LEFT JOIN strings s ON s.id = j.value ->> 3
            WHERE c.more IS NOT NULL;
        """
    }
}
