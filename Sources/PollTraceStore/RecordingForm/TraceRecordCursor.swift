import PollTraceCore

/// Streams a trace's records in sequence order. For a v7 trace, `PlainRecordCursor`
/// reads the plain tables. The rest of this file reads the compact form (a trace
/// being recorded, one whose writer never closed it, and files of versions 1 to 6),
/// holding one row of each table at a time: `records`, `fd_records` and `syscall_rows` are merged by `seq`, together
/// with the records unpacked from rows (`PendingRecords`). A v3 batch
/// row carries its events (`BatchPacking`), a v4 syscall row later calls of its
/// thread (`SyscallPacking`); in v1/v2 files they are read from
/// `batch_event_rows` by a second cursor that normally just walks on (the writer
/// stored each batch's events contiguously, in commit order).
public struct TraceRecordCursor {
    enum Source {
        /// A v7 trace: its plain tables.
        case plain(PlainRecordCursor)
        /// A recording: its record chunks.
        case chunks(ChunkRecordCursor)
        /// The row layout of earlier recordings and of files of schema versions 1 to 6.
        case compact(CursorState)
    }
    let source: Source

    /// The next record, or nil at the end. Throws `TraceStoreError.corrupted` when
    /// the file is damaged or holds values no writer produces.
    public mutating func next() throws -> TraceRecord? {
        switch source {
        case .plain(let cursor): try cursor.next()
        case .chunks(let cursor): try cursor.next()
        case .compact(let state): try state.next()
        }
    }
}

final class CursorState {
    let path: String
    let start: UInt64
    let connection: SQLiteConnection
    private let records: RowStream
    private let fdRecords: RowStream
    private let syscalls: RowStream
    private let events: SQLiteStatement
    private let strings: InternedStrings
    private let batchLookup: SQLiteStatement
    private var batches = BatchMemory()
    private var packed = PendingRecords()
    private var unpacked: [Dispatch] = []
    private var unpackedCalls: [SyscallRecord] = []
    /// v5 packs the common dispatch in 6 numbers (`BatchPacking`); older files never do.
    private let allowsShortDispatch: Bool

    /// The id of the event row `events` is positioned on, if any.
    private var eventsAt: Int64? = nil
    private var eventsDone = true

    init(connection: SQLiteConnection, path: String, start: UInt64, hasFDRecords: Bool, version: Int) throws {
        self.connection = connection
        self.path = path
        self.start = start
        allowsShortDispatch = version >= 5
        records = RowStream(try connection.makeStatement(sql: "SELECT seq, tag, t, a, b, c, d, e, f FROM records ORDER BY seq"))
        // Traces written before the fd kinds had their own table keep them in `records`.
        // From v3 the columns are the same for every version: `g`, `h` (v4; NULL
        // before) and where the row sorts (column 11): a registration row that
        // carries an fd open `h` records back sorts at the open, so that the
        // syscalls between them come after it.
        // From v6 also `i`, `j`, `k` (columns 12-14): a registration's packed end.
        fdRecords = RowStream(hasFDRecords
            ? try connection.makeStatement(sql: version >= 6
                ? "SELECT seq, tag, t, a, b, c, d, e, f, g, h, seq - coalesce(h, 0), i, j, k FROM fd_records ORDER BY seq"
                : version >= 4
                ? "SELECT seq, tag, t, a, b, c, d, e, f, g, h, seq - coalesce(h, 0) FROM fd_records ORDER BY seq"
                : version >= 3
                ? "SELECT seq, tag, t, a, b, c, d, e, f, g, NULL, seq FROM fd_records ORDER BY seq"
                : "SELECT seq, tag, t, a, b, c, d, e, f FROM fd_records ORDER BY seq") : nil,
                              hasPackedPairs: version >= 3, headColumn: version >= 3 ? 11 : 0, hasPackedEnds: version >= 6)
        syscalls = RowStream(try connection.makeStatement(sql: """
            SELECT seq, poller, t, tid, fd, name_id, result, errno, is_data, source_line, \(version >= 4 ? "more" : "NULL")
            FROM syscall_rows ORDER BY seq
            """))
        events = try connection.makeStatement(sql: "SELECT id, fd, mask, data_hi, data_lo FROM batch_event_rows WHERE id >= ? ORDER BY id")
        strings = try InternedStrings(connection: connection)
        batchLookup = try connection.makeStatement(sql: version >= 3 ? """
            SELECT b.t, b.e ->> ('$[' || ?2 || '][2]') FROM records b
            WHERE b.seq = ?1 AND b.tag & 15 = 6 AND ?2 < b.d AND b.e ->> ('$[' || ?2 || '][2]') IS NOT NULL
            """ : """
            SELECT b.t, ev.data_hi FROM records b JOIN batch_event_rows ev ON ev.id = b.e + ?2
            WHERE b.seq = ?1 AND b.tag & 15 = 6 AND ?2 < b.d
            """)
    }

    func next() throws -> TraceRecord? {
        do {
            // Merge the three tables and the unpacked dispatches by seq (each already in seq order).
            let r = try records.head(), f = try fdRecords.head(), c = try syscalls.head()
            if let p = packed.headSeq, p < (r ?? .max), p < (f ?? .max), p < (c ?? .max) { return packed.pop()! }
            if let r, r < (f ?? .max), r < (c ?? .max) { return try takeRecord(records) }
            if let f, f < (c ?? .max) { return try takeRecord(fdRecords) }
            if c != nil { return try takeSyscall() }
            return nil
        } catch let error as SQLiteError {
            throw TraceReader.map(error, path: path)
        } catch let error as RowEncoding.DecodeError {
            guard case .bad(let detail) = error else { throw error }
            throw TraceStoreError.corrupted(path: path, detail: detail)
        }
    }

    /// NULL reads as 0 through `sqlite3_column_int64`, so only a 0 needs the
    /// second call that tells NULL from 0: half the SQLite calls of the scan.
    @inline(__always)
    private func optional(_ statement: SQLiteStatement, _ column: Int32) -> Int64? {
        let value = statement.int64(column)
        return value == 0 && statement.isNull(column) ? nil : value
    }

    private func takeRecord(_ stream: RowStream) throws -> TraceRecord {
        stream.pending = false
        let s = stream.statement
        var row = RecordRow(seq: s.int64(0), tag: s.int64(1), t: s.int64(2))
        let kind = row.tag & Int64(CompactSchema.kindMask)
        if kind == Int64(RecordKind.batch.rawValue) && s.isText(7) { return try takePackedBatch(row, s) }
        // Fetch only the columns this kind uses: most rows use two or three of six.
        let used = kind >= 0 && kind < Self.columnsUsed.count ? Self.columnsUsed[Int(kind)] : 6
        if used > 0 { row.a = optional(s, 3) }
        if used > 1 { row.b = optional(s, 4) }
        if used > 2 { row.c = optional(s, 5) }
        if used > 3 { row.d = optional(s, 6) }
        if used > 4 { row.e = optional(s, 7) }
        if used > 5 { row.f = optional(s, 8) }
        var batchEvents: [HarvestedEvent] = []
        var label = ""
        var base: RowEncoding.DispatchBase?
        if kind == Int64(RecordKind.dispatch.rawValue) {
            if let flags = row.f, flags & CompactSchema.dispatchRelativeBit != 0 {
                base = try dispatchBase(row)
            }
        } else if kind == Int64(RecordKind.batch.rawValue) {
            batchEvents = try readEvents(first: row.e ?? 0, count: row.d ?? 0, batchSeq: row.seq)
        } else if kind == Int64(RecordKind.registered.rawValue) {
            label = try string(row.f ?? 0, what: "handler label of record \(row.seq)")
        }
        let record = try RowEncoding.record(from: row, start: start, events: batchEvents, label: label, batch: base)
        if case .batch(let batch) = record { batches.remember(batch, t: row.t) }
        if stream.hasPackedEnds, case .registered(let r) = record,
           let (unregistered, closed) = try FDLifetimePacking.packedEnd(of: r, i: optional(s, 12), j: optional(s, 13), k: optional(s, 14)) {
            // Later records: they wait in `packed` for their turn in seq order.
            packed.push(unregistered, closed)
        }
        if stream.hasPackedPairs, kind == Int64(RecordKind.registered.rawValue) || kind == Int64(RecordKind.closed.rawValue),
           let first = try FDRecordPairing.packedRecord(row, g: optional(s, 9), h: optional(s, 10),
                                                        record: record) {
            packed.push(record)
            return first
        }
        return record
    }

    /// A v3 batch row: its events, and the dispatches packed with them, which wait in
    /// `packed` for their turn in seq order.
    private func takePackedBatch(_ row: RecordRow, _ s: SQLiteStatement) throws -> TraceRecord {
        var full = row
        full.a = optional(s, 3); full.b = optional(s, 4); full.c = optional(s, 5); full.d = optional(s, 6)
        let count = full.d ?? 0
        guard count > 0, count <= 1 << 24 else { throw RowEncoding.DecodeError.bad("batch \(row.seq) has packed events but claims \(count)") }
        guard case .batch(var batch) = try RowEncoding.record(from: full, start: start, events: [], label: "") else {
            throw RowEncoding.DecodeError.bad("record \(row.seq) is not a batch")
        }
        unpacked.removeAll(keepingCapacity: true)
        do {
            try s.withTextBytes(7) { try BatchPacking.decode($0, count: Int(count), into: &batch, dispatches: &unpacked,
                                                                  allowsShortDispatch: allowsShortDispatch) }
        } catch PackedTextError.bad(let detail) {
            throw RowEncoding.DecodeError.bad(detail)
        }
        let packedCount = optional(s, 8) ?? 0
        guard packedCount == Int64(unpacked.count) else {
            throw RowEncoding.DecodeError.bad("batch \(row.seq) packs \(unpacked.count) dispatches but its f column says \(packedCount)")
        }
        for dispatch in unpacked { packed.push(.dispatch(dispatch)) }
        batches.remember(batch, t: row.t)
        return .batch(batch)
    }

    /// The batch values a relative dispatch is stored against: from memory when it
    /// is its poller's latest batch (almost always), else looked up.
    private func dispatchBase(_ row: RecordRow) throws -> RowEncoding.DispatchBase {
        let seq = unstored(row.seq)
        guard let distance = row.d, let index = row.e.flatMap(UInt32.init(exactly:)) else {
            throw RowEncoding.DecodeError.bad("record \(row.seq): a relative dispatch without its batch")
        }
        let batchSeq = seq &- unstored(distance)
        let poller = PollerID(truncatingIfNeeded: row.tag >> CompactSchema.kindBits)
        if let base = batches.base(poller: poller, batchSeq: batchSeq, eventIndex: index) { return base }
        batchLookup.bind(stored(batchSeq), at: 1)
        batchLookup.bind(Int64(index), at: 2)
        defer { batchLookup.reset() }
        guard try batchLookup.step() else {
            throw RowEncoding.DecodeError.bad("record \(row.seq): dispatch for event \(index) of batch \(batchSeq), which is not in the trace")
        }
        return RowEncoding.DispatchBase(t: batchLookup.int64(0), dataHigh: batchLookup.int64(1))
    }

    /// How many of the columns a…f each kind uses (RowEncoding's table), by kind code.
    /// (A closed row uses b and c for a packed unregistration, `FDRecordPairing`.)
    private static let columnsUsed: [Int] = [6, 2, 6, 3, 2, 3, 5, 6, 5, 3, 6]

    private func takeSyscall() throws -> TraceRecord {
        syscalls.pending = false
        let s = syscalls.statement
        let seq = s.int64(0)
        func int32(_ column: Int32, _ name: String) throws -> Int32 {
            guard let value = Int32(exactly: s.int64(column)) else {
                throw RowEncoding.DecodeError.bad("syscall \(seq): \(name) \(s.int64(column)) is out of range")
            }
            return value
        }
        guard let poller = PollerID(exactly: s.int64(1)), let line = UInt32(exactly: s.int64(9)) else {
            throw RowEncoding.DecodeError.bad("syscall \(seq): poller or source line out of range")
        }
        let call = SyscallRecord(seq: unstored(seq), timeNs: start &+ unstored(s.int64(2)), poller: poller,
                                 tid: try int32(3, "tid"), fd: try int32(4, "fd"),
                                 name: try string(s.int64(5), what: "name of syscall \(seq)"),
                                 result: s.int64(6), errno: try int32(7, "errno"), isDataCall: s.int64(8) != 0,
                                 sourceLine: line)
        if s.isText(10) {
            // Later calls of the thread, which wait in `packed` for their turn in seq order.
            unpackedCalls.removeAll(keepingCapacity: true)
            do {
                try s.withTextBytes(10) { text in
                    try SyscallPacking.decode(text, after: call, name: { try self.string($0, what: "name of a call packed in syscall \(seq)") },
                                              into: &unpackedCalls)
                }
            } catch PackedTextError.bad(let detail) {
                throw RowEncoding.DecodeError.bad(detail)
            }
            for packedCall in unpackedCalls { packed.push(.syscall(packedCall)) }
        } else if !s.isNull(10) {
            throw RowEncoding.DecodeError.bad("syscall \(seq): column more is neither NULL nor packed calls")
        }
        return .syscall(call)
    }

    private func readEvents(first: Int64, count: Int64, batchSeq: Int64) throws -> [HarvestedEvent] {
        guard count > 0 else { return [] }
        guard count <= 1 << 24 else { throw RowEncoding.DecodeError.bad("batch \(batchSeq) claims \(count) events") }
        if eventsAt != first {
            // Not where the walk is (batches committed out of seq order): seek.
            events.reset()
            events.bind(first, at: 1)
            eventsDone = false
            eventsAt = nil
            try advanceEvents()
        }
        var result: [HarvestedEvent] = []
        result.reserveCapacity(Int(count))
        var index: Int64 = 0
        // A plain counter: `for in 0..<count` over Int64 did not specialize here.
        while index < count {
            guard let at = eventsAt, at == first + index else {
                throw RowEncoding.DecodeError.bad("batch \(batchSeq): event \(index) (row \(first + index)) is missing from batch_event_rows")
            }
            let fd = events.int64(1)
            let fd32 = Int32(truncatingIfNeeded: fd)
            guard Int64(fd32) == fd, let mask = UInt32(exactly: events.int64(2)) else {
                throw RowEncoding.DecodeError.bad("batch \(batchSeq): event row \(at) has an out-of-range fd or mask")
            }
            result.append(HarvestedEvent(fd: fd32, mask: IOEvents(rawValue: mask),
                                         data: RowEncoding.data(high: events.int64(3), low: optional(events, 4), fd: fd32)))
            try advanceEvents()
            index += 1
        }
        return result
    }

    private func advanceEvents() throws {
        guard !eventsDone else { eventsAt = nil; return }
        if try events.step() {
            eventsAt = events.int64(0)
        } else {
            eventsDone = true
            eventsAt = nil
        }
    }

    private func string(_ id: Int64, what: String) throws -> String {
        guard let text = try strings.text(id) else { throw RowEncoding.DecodeError.bad("\(what): string \(id) is missing") }
        return text
    }
}

/// One table read in seq order, with the row it is positioned on, if any.
final class RowStream {
    /// Only read after `head()` returned a seq, so never nil then.
    private let maybeStatement: SQLiteStatement?
    /// A row has been stepped to and not yet taken.
    var pending = false
    private var done: Bool

    /// Whether `registered` and `closed` rows may carry the fd record before them
    /// (`FDRecordPairing`; `fd_records` of v3 and later files, whose columns 9 and
    /// 10 are `g` and `h`).
    let hasPackedPairs: Bool

    /// The column `head()` reads: the seq (0), or where the row sorts when it
    /// carries an earlier record (`FDRecordPairing`).
    let headColumn: Int32

    /// Whether `registered` rows may carry their unregistration and close
    /// (`FDLifetimePacking`; `fd_records` of v6 and later files, columns 12-14).
    let hasPackedEnds: Bool

    /// A nil statement is an empty stream (a table the trace does not have).
    init(_ statement: SQLiteStatement?, hasPackedPairs: Bool = false, headColumn: Int32 = 0, hasPackedEnds: Bool = false) {
        maybeStatement = statement
        done = statement == nil
        self.hasPackedPairs = hasPackedPairs
        self.headColumn = headColumn
        self.hasPackedEnds = hasPackedEnds
    }

    var statement: SQLiteStatement { maybeStatement! }

    /// The seq of the next row (stepping to it if needed), or nil at the end.
    @inline(__always)
    func head() throws -> UInt64? {
        if !pending && !done {
            if try statement.step() { pending = true } else { done = true }
        }
        return pending ? UInt64(bitPattern: statement.int64(headColumn)) : nil
    }
}
