import PollTraceCore

/// Schema v3 stores two fd-lifecycle records that always come as a pair in one
/// `fd_records` row, when they are adjacent in sequence (nothing in between, same
/// poller, same fd, in the same commit):
/// - an fd opened (accept, socket, …) right before its registration: the
///   `registered` row's `g = origin | (t_registered - t_opened) << 8`;
/// - an unregistration right before the fd's close: the `closed` row's `b` is the
///   registration id and `c = t_closed - t_unregistered`.
/// The first record's seq is the row's `seq - 1`; since v4 an open may also be
/// separated from its registration by syscalls (`accept4`, `setsockopt`, `ADD` in an
/// imported log), and since v5 by any records that are not fd records (another
/// poller's batches and dispatches, which a multi-poller daemon interleaves with
/// every accept), at most `maxOpenGap` apart; `h` says how far back it is
/// (NULL: 1). A short connection is then two
/// rows instead of four, and those rows were most of what tracing a short-connection
/// server cost (the writer thread's SQLite inserts). The views and the reader undo it.
enum FDRecordPairing {
    /// How far (in seq) an fd open may lie before the registration it packs into.
    /// No fd record may lie in between (`RowPacking` stops at the first), so that
    /// `fd_records`, read in seq order, stays in order of where its rows sort
    /// (`seq - h`) too, which is what the reader's merge of the tables relies on.
    static let maxOpenGap: UInt64 = 8

    /// Whether `first` is stored inside `second`'s row.
    @inline(__always)
    static func packs(_ first: TraceRecord, into second: TraceRecord) -> Bool {
        switch (first, second) {
        case (.fdOpened(let o), .registered(let r)):
            return r.seq > o.seq && r.seq - o.seq <= maxOpenGap && r.poller == o.poller && r.fd == o.fd
                && r.timeNs >= o.timeNs && (r.timeNs - o.timeNs) < 1 << 50
        case (.unregistered(let u), .closed(let c)):
            return c.seq == u.seq &+ 1 && c.poller == u.poller && c.fd == u.fd && c.timeNs >= u.timeNs
                && (c.timeNs - u.timeNs) < 1 << 62
        default:
            return false
        }
    }

    /// The `fd_records` row for `record`, carrying `packed` (a record for which
    /// `packs(packed, into: record)` holds) if given.
    @inline(__always)
    static func row(for record: TraceRecord, packed: TraceRecord?, start: UInt64, labelID: Int64) -> FDRow {
        var row = FDRow(row: RowEncoding.row(for: record, start: start, firstEventID: 0, labelID: labelID))
        switch (packed, record) {
        case (.fdOpened(let o)?, .registered(let r)):
            row.g = Int64(o.origin.rawValue) | Int64(r.timeNs - o.timeNs) << 8
            if r.seq - o.seq != 1 { row.h = Int64(r.seq - o.seq) }
        case (.unregistered(let u)?, .closed(let c)):
            row.row.b = Int64(u.registrationID)
            row.row.c = Int64(c.timeNs - u.timeNs)
        default:
            break
        }
        return row
    }

    /// The record packed into a `registered` or `closed` row read back, if any.
    /// `row` is the row as read, `record` what `RowEncoding` decoded from it.
    static func packedRecord(_ row: RecordRow, g: Int64?, h: Int64?, record: TraceRecord) throws -> TraceRecord? {
        switch record {
        case .registered(let r):
            guard let g else { return nil }
            guard g >= 0, let origin = FDOrigin(rawValue: UInt8(g & 255)) else {
                throw RowEncoding.DecodeError.bad("record \(row.seq): a packed fd open with an unknown origin or time in g = \(g)")
            }
            let gap = h ?? 1
            guard gap >= 1, UInt64(gap) <= maxOpenGap, UInt64(gap) < r.seq else {
                throw RowEncoding.DecodeError.bad("record \(row.seq): a packed fd open \(gap) records back (h), not 1...\(maxOpenGap)")
            }
            return .fdOpened(FDOpened(seq: r.seq &- UInt64(gap), timeNs: r.timeNs &- UInt64(g >> 8), poller: r.poller, fd: r.fd, origin: origin))
        case .closed(let c):
            guard let id = row.b else { return nil }
            guard let registration = RegistrationID(exactly: id), let delta = row.c, delta >= 0 else {
                throw RowEncoding.DecodeError.bad("record \(row.seq): a packed unregistration with a bad registration id or time")
            }
            return .unregistered(Unregistered(seq: c.seq &- 1, timeNs: c.timeNs &- UInt64(delta), poller: c.poller,
                                              registrationID: registration, fd: c.fd))
        default:
            return nil
        }
    }
}

/// One row of `fd_records` (v3): the generic columns, `g`, (v4) `h` and (v6) a
/// registration's packed end, `i`, `j`, `k` (`FDLifetimePacking`).
struct FDRow: BindableRow {
    var row: RecordRow
    var g: Int64? = nil
    var h: Int64? = nil
    var i: Int64? = nil
    var j: Int64? = nil
    var k: Int64? = nil
    static let columns = RecordRow.columns + ["g", "h", "i", "j", "k"]

    @inline(__always)
    func bind(to statement: SQLiteStatement, at p: Int32) {
        row.bind(to: statement, at: p)
        statement.bind(g, at: p + 9)
        statement.bind(h, at: p + 10)
        statement.bind(i, at: p + 11)
        statement.bind(j, at: p + 12)
        statement.bind(k, at: p + 13)
    }
}
