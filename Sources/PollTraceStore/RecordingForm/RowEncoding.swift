import PollTraceCore

/// How each record kind maps onto a `records` row, in both directions. The one
/// place that knows the meaning of the generic columns `a`…`f` (docs/schema.md
/// has the same table for SQL users).
///
/// Unsigned 64-bit values are stored as their `Int64` bit pattern. Times are stored
/// relative to the trace's start (`t = timeNs - startMonotonicNs`), which keeps them
/// short enough for SQLite's 4- and 6-byte integer encodings.
struct RecordRow {
    var seq: Int64 = 0
    var tag: Int64 = 0
    var t: Int64 = 0
    var a: Int64? = nil
    var b: Int64? = nil
    var c: Int64? = nil
    var d: Int64? = nil
    var e: Int64? = nil
    var f: Int64? = nil
}

@inline(__always) func stored(_ value: UInt64) -> Int64 { Int64(bitPattern: value) }
@inline(__always) func unstored(_ value: Int64) -> UInt64 { UInt64(bitPattern: value) }

enum RowEncoding {
    @inline(__always)
    static func tag(_ kind: RecordKind, _ poller: PollerID) -> Int64 {
        Int64(kind.rawValue) | (Int64(poller) << CompactSchema.kindBits)
    }

    /// The low half of an `epoll_data` word, or nil when it is just the fd (the
    /// common case, which then costs no bytes).
    @inline(__always)
    static func dataLow(_ data: UInt64, fd: Int32) -> Int64? {
        let low = UInt32(truncatingIfNeeded: data)
        return low == UInt32(bitPattern: fd) ? nil : Int64(low)
    }

    @inline(__always)
    static func data(high: Int64, low: Int64?, fd: Int32) -> UInt64 {
        (UInt64(UInt32(truncatingIfNeeded: high)) << 32) | UInt64(low.map { UInt32(truncatingIfNeeded: $0) } ?? UInt32(bitPattern: fd))
    }

    /// What a dispatch is stored relative to: its batch row's `t` and the `data_hi`
    /// of the event it was for. Known to the writer when it wrote that batch, and to
    /// the reader when it reads the dispatch (the batch comes first in seq order).
    struct DispatchBase {
        var t: Int64
        var dataHigh: Int64
    }

    /// The row for every kind but `.syscall` (own table) . `firstEventID` is where
    /// a batch's events start in `batch_event_rows`; `labelID` is the interned label
    /// of a registration; `batch` is given for a dispatch whose batch the writer
    /// has written (nil stores it with absolute values).
    @inline(__always)
    static func row(for record: TraceRecord, start: UInt64, firstEventID: Int64, labelID: Int64,
                    batch: DispatchBase? = nil) -> RecordRow {
        var row = RecordRow()
        row.seq = stored(record.seq)
        switch record {
        case .fdOpened(let r):
            row.tag = tag(.fdOpened, r.poller); row.t = stored(r.timeNs &- start)
            row.a = Int64(r.fd); row.b = Int64(r.origin.rawValue)
        case .registered(let r):
            row.tag = tag(.registered, r.poller); row.t = stored(r.timeNs &- start)
            row.a = Int64(r.fd); row.b = Int64(r.registrationID); row.c = Int64(r.interest.rawValue)
            row.d = Int64(r.data >> 32); row.e = dataLow(r.data, fd: r.fd); row.f = labelID
        case .modified(let r):
            row.tag = tag(.modified, r.poller); row.t = stored(r.timeNs &- start)
            row.a = Int64(r.fd); row.b = Int64(r.registrationID); row.c = Int64(r.interest.rawValue)
        case .unregistered(let r):
            row.tag = tag(.unregistered, r.poller); row.t = stored(r.timeNs &- start)
            row.a = Int64(r.fd); row.b = Int64(r.registrationID)
        case .closed(let r):
            row.tag = tag(.closed, r.poller); row.t = stored(r.timeNs &- start)
            row.a = Int64(r.fd)
        case .batch(let r):
            row.tag = tag(.batch, r.poller); row.t = stored(r.timeNs &- start)
            row.a = stored(r.batchNumber); row.b = Int64(r.timeoutMs); row.c = stored(r.waitedNs)
            row.d = Int64(r.events.count); row.e = firstEventID
        case .dispatch(let r):
            row.tag = tag(.dispatch, r.poller)
            row.b = Int64(r.deliveredMask.rawValue); row.c = stored(r.durationNs)
            if let batch {
                row.t = stored(r.timeNs &- start) &- batch.t
                row.a = Int64(r.ranRegistrationID) - batch.dataHigh
            } else {
                row.t = stored(r.timeNs &- start)
                row.a = Int64(r.ranRegistrationID)
            }
            // The batch as a distance back from the dispatch: one byte instead of four.
            row.d = r.batchSeq == 0 ? nil : stored(r.seq &- r.batchSeq)
            row.e = Int64(r.eventIndex)
            row.f = Int64(r.source.rawValue)
                | Int64(r.suppression?.rawValue ?? 0) << CompactSchema.dispatchSuppressionShift
                | (r.handlerThrew ? 1 << CompactSchema.dispatchThrewShift : 0)
                | (batch == nil ? 0 : CompactSchema.dispatchRelativeBit)
        case .gap(let r):
            row.tag = tag(.gap, 0); row.t = stored(r.timeNs &- start)
            row.a = stored(r.firstLost); row.b = stored(r.lastLost); row.c = stored(r.lostCount)
            row.d = stored(r.fromTimeNs &- start); row.e = stored(r.toTimeNs &- start)
        case .callFailed(let r):
            row.tag = tag(.callFailed, r.poller); row.t = stored(r.timeNs &- start)
            row.a = Int64(r.fd); row.b = Int64(r.call.rawValue); row.c = Int64(r.errno)
        case .syscall:
            preconditionFailure("syscall records go to syscall_rows")
        }
        return row
    }

    enum DecodeError: Error { case bad(String) }

    @inline(never)
    private static func badField(_ seq: Int64, _ kind: RecordKind, _ name: StaticString, _ value: Int64?) -> DecodeError {
        .bad("record \(seq) (\(kind)): \(name) is \(value.map(String.init) ?? "NULL")")
    }

    /// The record a `records` row holds. `events` and `label` are fetched by the
    /// caller (for batches and registrations). Throws on values no writer produces.
    static func record(from row: RecordRow, start: UInt64, events: [HarvestedEvent], label: String,
                       batch: DispatchBase? = nil) throws -> TraceRecord {
        let seq = unstored(row.seq)
        let time = start &+ unstored(row.t)
        guard row.tag >= 0, let kind = RecordKind(rawValue: UInt8(row.tag & Int64(CompactSchema.kindMask))) else {
            throw DecodeError.bad("record \(row.seq) has an unknown kind tag \(row.tag)")
        }
        guard let poller = PollerID(exactly: row.tag >> CompactSchema.kindBits) else {
            throw DecodeError.bad("record \(row.seq) names poller \(row.tag >> CompactSchema.kindBits), out of range")
        }
        // Fast paths inline; the message is built only on failure, out of line.
        @inline(__always) func int32(_ v: Int64?, _ name: StaticString) throws -> Int32 {
            if let v, let x = Int32(exactly: v) { return x }
            throw badField(row.seq, kind, name, v)
        }
        @inline(__always) func uint32(_ v: Int64?, _ name: StaticString) throws -> UInt32 {
            if let v, let x = UInt32(exactly: v) { return x }
            throw badField(row.seq, kind, name, v)
        }
        @inline(__always) func uint8(_ v: Int64?, _ name: StaticString) throws -> UInt8 {
            if let v, let x = UInt8(exactly: v) { return x }
            throw badField(row.seq, kind, name, v)
        }
        @inline(__always) func u64(_ v: Int64?, _ name: StaticString) throws -> UInt64 {
            if let v { return unstored(v) }
            throw badField(row.seq, kind, name, v)
        }
        switch kind {
        case .fdOpened:
            guard let origin = FDOrigin(rawValue: try uint8(row.b, "origin")) else { throw DecodeError.bad("record \(row.seq): unknown fd origin \(row.b!)") }
            return .fdOpened(FDOpened(seq: seq, timeNs: time, poller: poller, fd: try int32(row.a, "fd"), origin: origin))
        case .registered:
            let fd = try int32(row.a, "fd")
            return .registered(Registered(seq: seq, timeNs: time, poller: poller, registrationID: try uint32(row.b, "registration id"),
                                          fd: fd, interest: IOEvents(rawValue: try uint32(row.c, "interest")),
                                          data: data(high: Int64(try uint32(row.d, "data_hi")), low: row.e, fd: fd),
                                          handlerLabel: label))
        case .modified:
            return .modified(Modified(seq: seq, timeNs: time, poller: poller, registrationID: try uint32(row.b, "registration id"),
                                      fd: try int32(row.a, "fd"), interest: IOEvents(rawValue: try uint32(row.c, "interest"))))
        case .unregistered:
            return .unregistered(Unregistered(seq: seq, timeNs: time, poller: poller,
                                              registrationID: try uint32(row.b, "registration id"), fd: try int32(row.a, "fd")))
        case .closed:
            return .closed(Closed(seq: seq, timeNs: time, poller: poller, fd: try int32(row.a, "fd")))
        case .batch:
            return .batch(BatchHarvested(seq: seq, timeNs: time, poller: poller, batchNumber: try u64(row.a, "batch number"),
                                         timeoutMs: try int32(row.b, "timeout"), waitedNs: try u64(row.c, "waited"), events: events))
        case .dispatch:
            let flags = row.f ?? 0
            guard let source = DispatchSource(rawValue: UInt8(flags & 3)) else { throw DecodeError.bad("record \(row.seq): unknown dispatch source in flags \(flags)") }
            let suppressionCode = UInt8((flags >> CompactSchema.dispatchSuppressionShift) & 7)
            var suppression: SuppressionReason?
            if suppressionCode != 0 {
                guard let reason = SuppressionReason(rawValue: suppressionCode) else { throw DecodeError.bad("record \(row.seq): unknown suppression \(suppressionCode)") }
                suppression = reason
            }
            var dispatchTime = time
            var ran = row.a
            if flags & CompactSchema.dispatchRelativeBit != 0 {
                guard let batch else { throw DecodeError.bad("record \(row.seq): a relative dispatch without its batch") }
                dispatchTime = start &+ unstored(row.t &+ batch.t)
                ran = row.a.map { $0 + batch.dataHigh }
            }
            return .dispatch(Dispatch(seq: seq, timeNs: dispatchTime, poller: poller, source: source,
                                      batchSeq: row.d.map { seq &- unstored($0) } ?? 0, eventIndex: try uint32(row.e, "event index"),
                                      ranRegistrationID: try uint32(ran, "registration id"),
                                      deliveredMask: IOEvents(rawValue: try uint32(row.b, "mask")), suppression: suppression,
                                      handlerThrew: (flags >> CompactSchema.dispatchThrewShift) & 1 == 1, durationNs: try u64(row.c, "duration")))
        case .gap:
            let first = try u64(row.a, "first lost"), last = try u64(row.b, "last lost")
            guard first <= last else { throw DecodeError.bad("gap \(row.seq): its first lost seq \(first) is after its last \(last)") }
            return .gap(Gap(seq: seq, timeNs: time, firstLost: first, lastLost: last,
                            lostCount: try u64(row.c, "lost count"), fromTimeNs: start &+ (try u64(row.d, "from")),
                            toTimeNs: start &+ (try u64(row.e, "to"))))
        case .callFailed:
            guard let call = FDCall(rawValue: try uint8(row.b, "call")) else { throw DecodeError.bad("record \(row.seq): unknown call \(row.b!)") }
            return .callFailed(CallFailed(seq: seq, timeNs: time, poller: poller, call: call, fd: try int32(row.a, "fd"),
                                          errno: try int32(row.c, "errno")))
        case .syscall:
            throw DecodeError.bad("record \(row.seq): a syscall kind in the records table")
        }
    }
}
