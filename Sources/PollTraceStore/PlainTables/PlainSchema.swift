import PollTraceCore

/// Schema v7: the trace as people query it. One plain table per record kind, with
/// named, typed columns, one row per record (a batch's events are rows of their
/// own), the replay's verdicts beside the dispatches, and a `findings` table.
/// docs/schema.md documents every name here; keep the two in step.
///
/// The recording writer does not write these tables: it appends the compact form
/// (`CompactSchema`), which keeps the traced loop fast, and `TraceFinalizer` turns
/// that into these tables when the trace is closed, off the loop. Derived columns
/// (`*_text`, `time_ns`, `handler_kind`, lifetimes) are virtual generated columns:
/// they cost no bytes on disk and read like any other column.
enum PlainSchema {
    static let version = TraceMetadata.currentSchemaVersion
    /// `PRAGMA application_id`: "PlTr". Marks the file as a PollTrace trace.
    static let applicationID: Int32 = 0x506C_5472
    /// The page size a v7 trace is written with: SQLite's default, 4 KiB. Queries
    /// jump between a table and an index (example b looks up each dispatch's closes),
    /// and a reader's page cache is counted in bytes (2 MiB in `sqlite3`), so
    /// smaller pages keep four times as many of the pages a query touches: with
    /// 16 KiB pages example (b) took 3x the CPU, most of it in reads, on a
    /// 10M-record trace (docs/benchmarks.md).
    static let pageSize = 4096
    /// The `meta` table's `format` value.
    static let formatName = "polltrace-trace"


    /// The tables with their stored columns. The derived columns that cost nothing on
    /// disk (`derivedColumns`) are added once the rows are in: SQLite 3.40 computes
    /// every generated column of a row as it inserts it, VIRTUAL ones too, and the
    /// mask and name texts made inserting a dispatch row four times as expensive
    /// (3.1 s instead of 0.8 s of CPU for 1.4M rows).
    static func createTables(start: UInt64) -> String {
        let s = String(Int64(bitPattern: start))
        // `registrations` is small (a row per registration, not per event) and its
        // derived columns are what its queries filter on (`ended_seq`): stored.
        func storedTime(_ rel: String) -> String { "INTEGER GENERATED ALWAYS AS (\(rel) + \(s)) STORED" }
        return """
        CREATE TABLE meta(key TEXT PRIMARY KEY NOT NULL, value) WITHOUT ROWID;
        CREATE TABLE pollers(
            poller INTEGER PRIMARY KEY,
            backend TEXT NOT NULL,
            policy_code INTEGER NOT NULL,
            epoll_fd INTEGER NOT NULL,
            label TEXT NOT NULL
        );
        CREATE TABLE fd_opens(
            seq INTEGER PRIMARY KEY,
            poller INTEGER NOT NULL,
            rel_ns INTEGER NOT NULL,
            fd INTEGER NOT NULL,
            origin_code INTEGER NOT NULL
        );
        CREATE TABLE registrations(
            registered_seq INTEGER PRIMARY KEY,
            registration_id INTEGER NOT NULL,
            poller INTEGER NOT NULL,
            fd INTEGER NOT NULL,
            interest INTEGER NOT NULL,
            interest_text TEXT GENERATED ALWAYS AS (\(maskText("interest"))) STORED,
            data INTEGER NOT NULL,
            handler_label TEXT NOT NULL,
            handler_kind TEXT GENERATED ALWAYS AS (\(kindOf("handler_label"))) STORED,
            registered_rel_ns INTEGER NOT NULL,
            registered_time_ns \(storedTime("registered_rel_ns")),
            fd_opened_seq INTEGER,
            unregistered_seq INTEGER,
            closed_seq INTEGER,
            ended_seq INTEGER GENERATED ALWAYS AS (\(minOf("unregistered_seq", "closed_seq"))) STORED,
            ended_rel_ns INTEGER,
            ended_time_ns \(storedTime("ended_rel_ns")),
            lifetime_ns INTEGER GENERATED ALWAYS AS (ended_rel_ns - registered_rel_ns) STORED
        );
        CREATE TABLE modifications(
            seq INTEGER PRIMARY KEY,
            poller INTEGER NOT NULL,
            rel_ns INTEGER NOT NULL,
            fd INTEGER NOT NULL,
            registration_id INTEGER NOT NULL,
            interest INTEGER NOT NULL
        );
        CREATE TABLE unregistrations(
            seq INTEGER PRIMARY KEY,
            poller INTEGER NOT NULL,
            rel_ns INTEGER NOT NULL,
            fd INTEGER NOT NULL,
            registration_id INTEGER NOT NULL
        );
        CREATE TABLE fd_closes(
            seq INTEGER PRIMARY KEY,
            poller INTEGER NOT NULL,
            rel_ns INTEGER NOT NULL,
            fd INTEGER NOT NULL
        );
        CREATE TABLE batches(
            seq INTEGER PRIMARY KEY,
            poller INTEGER NOT NULL,
            rel_ns INTEGER NOT NULL,
            batch_number INTEGER NOT NULL,
            timeout_ms INTEGER NOT NULL,
            waited_ns INTEGER NOT NULL,
            event_count INTEGER NOT NULL
        );
        CREATE TABLE batch_events(
            batch_seq INTEGER NOT NULL,
            event_index INTEGER NOT NULL,
            poller INTEGER NOT NULL,
            batch_number INTEGER NOT NULL,
            fd INTEGER NOT NULL,
            mask INTEGER NOT NULL,
            data INTEGER NOT NULL,
            harvest_rel_ns INTEGER NOT NULL,
            harvested_registration_id INTEGER,
            PRIMARY KEY (batch_seq, event_index)
        ) WITHOUT ROWID;
        CREATE TABLE dispatches(
            seq INTEGER PRIMARY KEY,
            poller INTEGER NOT NULL,
            rel_ns INTEGER NOT NULL,
            source_code INTEGER NOT NULL,
            batch_seq INTEGER NOT NULL,
            event_index INTEGER NOT NULL,
            fd INTEGER,
            harvested_mask INTEGER,
            harvested_data INTEGER,
            harvested_registration_id INTEGER,
            ran_registration_id INTEGER NOT NULL,
            handler_label TEXT,
            delivered_mask INTEGER NOT NULL,
            suppression_code INTEGER NOT NULL,
            handler_threw INTEGER NOT NULL,
            duration_ns INTEGER NOT NULL,
            verdict_code INTEGER
        );
        CREATE TABLE gaps(
            seq INTEGER PRIMARY KEY,
            rel_ns INTEGER NOT NULL,
            first_lost_seq INTEGER NOT NULL,
            last_lost_seq INTEGER NOT NULL,
            lost_count INTEGER NOT NULL,
            from_rel_ns INTEGER NOT NULL,
            to_rel_ns INTEGER NOT NULL
        );
        CREATE TABLE failed_calls(
            seq INTEGER PRIMARY KEY,
            poller INTEGER NOT NULL,
            rel_ns INTEGER NOT NULL,
            fd INTEGER NOT NULL,
            call_code INTEGER NOT NULL,
            errno INTEGER NOT NULL
        );
        CREATE TABLE syscalls(
            seq INTEGER PRIMARY KEY,
            poller INTEGER NOT NULL,
            rel_ns INTEGER NOT NULL,
            tid INTEGER NOT NULL,
            fd INTEGER NOT NULL,
            name TEXT NOT NULL,
            result INTEGER NOT NULL,
            errno INTEGER NOT NULL,
            is_data_call INTEGER NOT NULL,
            source_line INTEGER NOT NULL
        );
        CREATE TABLE findings(
            id INTEGER PRIMARY KEY,
            kind TEXT NOT NULL,
            seq INTEGER NOT NULL,
            poller INTEGER NOT NULL,
            fd INTEGER,
            mask INTEGER,
            batch_seq INTEGER,
            event_index INTEGER,
            harvested_registration_id INTEGER,
            harvested_label TEXT,
            ran_registration_id INTEGER,
            ran_label TEXT,
            closed_seq INTEGER,
            closed_by_label TEXT,
            reused_seq INTEGER,
            reused_by_label TEXT,
            spin_batches INTEGER,
            detail TEXT NOT NULL
        );
        """
    }

    /// The derived columns of each table, added by `addDerivedColumns` after the rows
    /// are in. `start` is the trace's `start_monotonic_ns`: `time_ns` columns add it to
    /// `rel_ns` (a generated column cannot read `meta`).
    static func derivedColumns(start: UInt64) -> [(table: String, definition: String)] {
        let s = String(Int64(bitPattern: start))
        func virtual(_ column: String, _ type: String, _ expression: String) -> String {
            "\(column) \(type) GENERATED ALWAYS AS (\(expression)) VIRTUAL"
        }
        func time(_ column: String, _ rel: String) -> String { virtual(column, "INTEGER", "\(rel) + \(s)") }
        func text(_ column: String, _ expression: String) -> String { virtual(column, "TEXT", expression) }
        return [
            ("pollers", text("policy", policyNames("policy_code"))),
            ("fd_opens", time("time_ns", "rel_ns")),
            ("fd_opens", text("origin", originNames("origin_code"))),
            ("modifications", time("time_ns", "rel_ns")),
            ("modifications", text("interest_text", maskText("interest"))),
            ("unregistrations", time("time_ns", "rel_ns")),
            ("fd_closes", time("time_ns", "rel_ns")),
            ("batches", time("time_ns", "rel_ns")),
            ("batch_events", text("mask_text", maskText("mask"))),
            ("batch_events", virtual("data_high", "INTEGER", "(data >> 32) & 4294967295")),
            ("batch_events", time("harvest_time_ns", "harvest_rel_ns")),
            ("dispatches", time("time_ns", "rel_ns")),
            ("dispatches", text("source", caseOf("source_code", [(1, "event"), (2, "timer"), (3, "task")]))),
            ("dispatches", text("harvested_mask_text", maskText("harvested_mask"))),
            ("dispatches", text("handler_kind", kindOf("handler_label"))),
            ("dispatches", text("delivered_mask_text", maskText("delivered_mask"))),
            ("dispatches", text("suppression", suppressionNames("suppression_code"))),
            ("dispatches", virtual("end_rel_ns", "INTEGER", "rel_ns + duration_ns")),
            ("dispatches", text("verdict", verdictNames("verdict_code"))),
            ("gaps", time("time_ns", "rel_ns")),
            ("failed_calls", time("time_ns", "rel_ns")),
            ("failed_calls", text("call", callNames("call_code"))),
            ("failed_calls", text("errno_name", errnoNames("errno"))),
            ("syscalls", time("time_ns", "rel_ns")),
            ("syscalls", text("errno_name", errnoNames("errno"))),
            ("findings", text("mask_text", maskText("mask"))),
        ]
    }

    static func addDerivedColumns(start: UInt64) -> String {
        derivedColumns(start: start).map { "ALTER TABLE \($0.table) ADD COLUMN \($0.definition);" }.joined(separator: "\n")
    }

    /// Built after the rows are in (an index built over a full table is a sort,
    /// several times faster than one kept up row by row). Every table is keyed by
    /// `seq`; these add the other lookups people make: by time, by `(poller, fd)`,
    /// by registration.
    ///
    /// SQLite ends every index entry with the row's rowid, which is `seq` in every
    /// table here, so an index on `(fd)` is already ordered by `(fd, seq)` and serves
    /// `WHERE fd = ? AND seq > ? ORDER BY seq`. Naming `seq` as a key column would
    /// store it twice in each entry (about 4 bytes per row) and make the sort that
    /// builds the index compare one more field.
    ///
    /// `syscalls` (imports only) has no index on `fd`. Its rows are most of an
    /// import (0.55 per log line), and building that index was 13% of an import's
    /// wall time, on a path that holds 1M lines/s. The question it served, one fd's
    /// calls, is asked around a finding or within one incarnation of the number (from
    /// its `fd_opens` row to its `fd_closes` row): a `seq` range, which the key serves.
    /// Over a whole trace the same question is one scan of `syscalls` (docs/schema.md).
    static let createIndexes = """
        CREATE INDEX fd_opens_by_fd ON fd_opens(fd);
        CREATE INDEX fd_closes_by_fd ON fd_closes(fd);
        CREATE INDEX registrations_by_id ON registrations(registration_id);
        CREATE INDEX registrations_by_fd ON registrations(poller, fd);
        CREATE INDEX modifications_by_registration ON modifications(registration_id);
        CREATE INDEX unregistrations_by_registration ON unregistrations(registration_id);
        CREATE INDEX batches_by_time ON batches(rel_ns);
        CREATE INDEX dispatches_by_fd ON dispatches(poller, fd);
        CREATE INDEX dispatches_by_registration ON dispatches(ran_registration_id);
        CREATE INDEX dispatches_by_time ON dispatches(rel_ns);
        CREATE INDEX findings_by_seq ON findings(seq);
        """

    /// Views only where a question needs a union or a grouping.
    static let createViews = """
        CREATE VIEW poller_info AS
            SELECT poller, backend, policy_code, policy, epoll_fd, label FROM pollers;
        CREATE VIEW timeline AS
            SELECT seq, poller, 1 AS kind_code, 'fd_opened' AS kind, rel_ns, time_ns, fd, NULL AS registration_id,
                   origin AS detail, NULL AS handler_label, NULL AS duration_ns FROM fd_opens
            UNION ALL SELECT registered_seq, poller, 2, 'registered', registered_rel_ns, registered_time_ns, fd, registration_id,
                   interest_text, handler_label, NULL FROM registrations
            UNION ALL SELECT seq, poller, 3, 'modified', rel_ns, time_ns, fd, registration_id, interest_text, NULL, NULL FROM modifications
            UNION ALL SELECT seq, poller, 4, 'unregistered', rel_ns, time_ns, fd, registration_id, NULL, NULL, NULL FROM unregistrations
            UNION ALL SELECT seq, poller, 5, 'closed', rel_ns, time_ns, fd, NULL, NULL, NULL, NULL FROM fd_closes
            UNION ALL SELECT seq, poller, 6, 'batch', rel_ns, time_ns, NULL, NULL, event_count || ' events', NULL, waited_ns FROM batches
            UNION ALL SELECT seq, poller, 7, 'dispatch', rel_ns, time_ns, fd, ran_registration_id,
                   coalesce(suppression, verdict, source), handler_label, duration_ns FROM dispatches
            UNION ALL SELECT seq, 0, 8, 'gap', rel_ns, time_ns, NULL, NULL, lost_count || ' lost', NULL, NULL FROM gaps
            UNION ALL SELECT seq, poller, 9, 'call_failed', rel_ns, time_ns, fd, NULL, call || ' ' || errno_name, NULL, NULL FROM failed_calls
            UNION ALL SELECT seq, poller, 10, 'syscall', rel_ns, time_ns, fd, NULL, name, NULL, NULL FROM syscalls;
        CREATE VIEW handler_time AS
            SELECT coalesce(handler_label, source || ' ' || ran_registration_id) AS handler, handler_kind,
                   count(*) AS dispatches, sum(duration_ns) AS total_duration_ns, max(duration_ns) AS max_duration_ns
            FROM dispatches WHERE suppression_code = 0 GROUP BY 1;
        """

    /// Every record's seq: for SQL outside the store that must cover every record
    /// (an import's `strace_lines` view).
    static let everyRecordSeq = "SELECT seq FROM timeline"

    /// The tables a v7 trace must have.
    static let requiredTables = ["meta", "pollers", "fd_opens", "registrations", "modifications", "unregistrations",
                                 "fd_closes", "batches", "batch_events", "dispatches", "gaps", "failed_calls",
                                 "syscalls", "findings"]

    // MARK: Generated-column expressions

    static func caseOf(_ expression: String, _ names: [(Int, String)]) -> String {
        "CASE \(expression) " + names.map { "WHEN \($0.0) THEN '\($0.1)'" }.joined(separator: " ") + " END"
    }

    /// `IN|OUT|ET` for a mask column (the spelling of `IOEvents.description`); NULL stays NULL.
    static func maskText(_ column: String) -> String {
        let bits: [(UInt32, String)] = [
            (0x001, "IN"), (0x002, "PRI"), (0x004, "OUT"), (0x008, "ERR"), (0x010, "HUP"),
            (0x2000, "RDHUP"), (1 << 28, "EXCLUSIVE"), (1 << 30, "ONESHOT"), (1 << 31, "ET"),
        ]
        let parts = bits.map { "CASE WHEN \(column) & \($0.0) THEN '\($0.1)|' ELSE '' END" }.joined(separator: " || ")
        return "CASE WHEN \(column) IS NULL THEN NULL ELSE coalesce(nullif(rtrim(\(parts), '|'), ''), '0') END"
    }

    /// A handler label's kind: the part before its first `:` ("rtp-tcp:40000" -> "rtp-tcp").
    static func kindOf(_ label: String) -> String {
        "CASE WHEN instr(\(label), ':') > 0 THEN substr(\(label), 1, instr(\(label), ':') - 1) ELSE \(label) END"
    }

    static func minOf(_ a: String, _ b: String) -> String {
        "CASE WHEN \(a) IS NULL THEN \(b) WHEN \(b) IS NULL THEN \(a) WHEN \(a) < \(b) THEN \(a) ELSE \(b) END"
    }

    static func policyNames(_ code: String) -> String {
        caseOf(code, [(unknownPolicyCode, "unknown")] + DispatchPolicy.allCases.map { ($0.code, $0.rawValue) })
    }
    static func originNames(_ code: String) -> String { caseOf(code, FDOrigin.allCases.map { (Int($0.rawValue), $0.description) }) }
    static func callNames(_ code: String) -> String { caseOf(code, FDCall.allCases.map { (Int($0.rawValue), $0.description) }) }
    static func suppressionNames(_ code: String) -> String {
        caseOf(code, SuppressionReason.allCases.map { (Int($0.rawValue), $0.description) })
    }
    static func verdictNames(_ code: String) -> String {
        caseOf(code, FindingKind.allCases.enumerated().map { ($0.offset, $0.element.rawValue) })
    }
    static func errnoNames(_ column: String) -> String {
        caseOf(column, ErrnoNames.all.map { (Int($0.number), $0.name) })
    }

    /// `pollers.policy_code` of a loop whose dispatch policy nobody knows (an imported log).
    static let unknownPolicyCode = 0

    /// `verdict_code` of a dispatch: its `FindingKind`'s place in `allCases`.
    static func verdictCode(_ kind: FindingKind) -> Int64 {
        Int64(FindingKind.allCases.firstIndex(of: kind)!)
    }
}

extension SQLiteStatement {
    /// Binds one row of `pollers`: the recording form and v7 have the same five
    /// columns, in this order (`poller`, `backend`, the policy's code, `epoll_fd`, `label`).
    func bindPollerRow(_ poller: PollerInfo) {
        bind(Int64(poller.poller), at: 1)
        bind(poller.backend, at: 2)
        bind(Int64(poller.policy?.code ?? PlainSchema.unknownPolicyCode), at: 3)
        bind(Int64(poller.epollFD), at: 4)
        bind(poller.label, at: 5)
    }
}
