import PollTraceCore

/// How schema v3 stores a batch's events, and the dispatches of those events, inside
/// the batch's own `records` row: column `e` holds a JSON array with one array per
/// event, so SQL users unpack it with `json_each` (the `batch_events` and
/// `dispatches` views do) and the writer inserts one row instead of
/// `1 + events + dispatches`. Row count is what SQLite's cost follows, on both the
/// recording side and the analyzer's.
///
/// One event is, by its length:
/// - 3: `[fd, mask, data_hi]`: no dispatch packed, the low half of `epoll_data` is the fd;
/// - 4: `[fd, mask, data_hi, data_lo]`;
/// - 6 (schema v5): `[fd, mask, data_hi, seq_offset, t_offset, duration_ns]`: the
///   common dispatch, written short: the handler of the event's own registration
///   (`data_hi`) ran with the harvested mask, nothing suppressed or thrown, and the
///   low half of `epoll_data` is the fd. A guarded dispatch that runs with the
///   whole harvested mask is one; it is a third fewer numbers to format and a
///   quarter fewer bytes to store;
/// - 9: `[fd, mask, data_hi, seq_offset, t_offset, ran_offset, delivered_mask, flags, duration_ns]`;
/// - 10: the 9 and then `data_lo`.
///
/// A packed dispatch is stored relative to its batch, which keeps the numbers short:
/// `seq = batch seq + seq_offset`, `t = batch t + t_offset`, and the registration
/// that ran `= data_hi + ran_offset` (0 when the guarded policy ran the event's own
/// registration). `flags` has the bits of a dispatch row's `f` (`source |
/// suppression << 2 | threw << 5`). Only dispatches of source `event` whose batch
/// is in the same commit are packed, and at most one per event; every other
/// dispatch is its own row, as before.
enum BatchPacking {
    // MARK: Writing

    /// The JSON for `batch`. `dispatches[i]` is the dispatch packed with event `i`,
    /// if any (same count as the events).
    static func encode(_ batch: BatchHarvested, dispatches: [Dispatch?]) -> PackedTextBytes {
        // At most 10 numbers of at most 20 characters and a separator each, plus brackets.
        var out = PackedTextWriter(capacity: batch.events.count * (10 * PackedTextWriter.bytesPerNumber + 3) + 2)
        out.byte(UInt8(ascii: "["))
        let packed = min(dispatches.count, batch.events.count)
        for index in batch.events.indices {
            let event = batch.events[index]
            if index > 0 { out.byte(UInt8(ascii: ",")) }
            out.byte(UInt8(ascii: "["))
            let dataHigh = Int64(event.data >> 32)
            out.decimal(Int64(event.fd))
            out.comma(Int64(event.mask.rawValue))
            out.comma(dataHigh)
            let low = RowEncoding.dataLow(event.data, fd: event.fd)
            if index < packed, let d = dispatches[index] {
                out.comma(stored(d.seq &- batch.seq))
                out.comma(stored(d.timeNs &- batch.timeNs))
                let ranOffset = Int64(d.ranRegistrationID) - dataHigh
                let flags = flags(of: d)
                if ranOffset != 0 || d.deliveredMask != event.mask || flags != plainFlags || low != nil {
                    out.comma(ranOffset)
                    out.comma(Int64(d.deliveredMask.rawValue))
                    out.comma(flags)
                }
                out.comma(stored(d.durationNs))
            }
            if let low { out.comma(low) }
            out.byte(UInt8(ascii: "]"))
        }
        out.byte(UInt8(ascii: "]"))
        return PackedTextBytes(out)
    }

    /// Whether `dispatch` can be packed with event `eventIndex` of `batch` and read
    /// back exactly: only then does the writer pack it.
    @inline(__always)
    static func canPack(_ dispatch: Dispatch, into batch: BatchHarvested) -> Bool {
        dispatch.source == .event && dispatch.poller == batch.poller && dispatch.batchSeq == batch.seq
            && dispatch.seq > batch.seq && Int(dispatch.eventIndex) < batch.events.count
    }

    /// The flags of a dispatch of an event that ran, nothing suppressed or thrown.
    static let plainFlags = Int64(DispatchSource.event.rawValue)

    @inline(__always)
    static func flags(of d: Dispatch) -> Int64 {
        Int64(d.source.rawValue)
            | Int64(d.suppression?.rawValue ?? 0) << CompactSchema.dispatchSuppressionShift
            | (d.handlerThrew ? 1 << CompactSchema.dispatchThrewShift : 0)
    }

    // MARK: Reading

    typealias DecodeError = PackedTextError

    /// Reads the JSON of batch `batch` (whose `events` are empty on entry) into its
    /// events, and appends the packed dispatches to `dispatches`. Throws on anything
    /// the writer does not produce, including an event count other than `count`,
    /// and the short 6-number dispatch in a file older than v5 (`allowsShortDispatch`).
    static func decode(_ bytes: UnsafeBufferPointer<UInt8>, count: Int, into batch: inout BatchHarvested,
                       dispatches: inout [Dispatch], allowsShortDispatch: Bool = true) throws {
        var scanner = PackedTextScanner(bytes: bytes, row: .batch(batch.seq))
        var events: [HarvestedEvent] = []
        events.reserveCapacity(count)
        var fields: (Int64, Int64, Int64, Int64, Int64, Int64, Int64, Int64, Int64, Int64) = (0, 0, 0, 0, 0, 0, 0, 0, 0, 0)
        try scanner.expect(UInt8(ascii: "["))
        if try !scanner.take(UInt8(ascii: "]")) {
            repeat {
                try scanner.expect(UInt8(ascii: "["))
                var n = 0
                try withUnsafeMutableBytes(of: &fields) { raw in
                    let slots = raw.bindMemory(to: Int64.self)
                    repeat {
                        guard n < 10 else { throw scanner.failure("an event has more than 10 numbers") }
                        slots[n] = try scanner.integer()
                        n += 1
                    } while try scanner.take(UInt8(ascii: ","))
                }
                try scanner.expect(UInt8(ascii: "]"))
                let index = events.count
                guard n == 3 || n == 4 || n == 9 || n == 10 || (n == 6 && allowsShortDispatch) else {
                    throw scanner.failure("event \(index) has \(n) numbers")
                }
                guard let fd = Int32(exactly: fields.0), let mask = UInt32(exactly: fields.1),
                      let high = UInt32(exactly: fields.2) else {
                    throw scanner.failure("event \(index) has an out-of-range fd, mask or data_hi")
                }
                var low = UInt32(bitPattern: fd)
                if n == 4 || n == 10 {
                    guard let value = UInt32(exactly: n == 4 ? fields.3 : fields.9) else { throw scanner.failure("event \(index) has an out-of-range data_lo") }
                    low = value
                }
                events.append(HarvestedEvent(fd: fd, mask: IOEvents(rawValue: mask), data: UInt64(high) << 32 | UInt64(low)))
                if n == 6 {
                    // The short form: own registration, harvested mask, plain flags.
                    let (f0, f1, f2, f3, f4, f5, _, _, _, _) = fields
                    dispatches.append(try dispatch((f0, f1, f2, f3, f4, 0, f1, plainFlags, f5, 0), event: index,
                                                   dataHigh: Int64(high), batch: batch, scanner: scanner))
                } else if n >= 9 {
                    dispatches.append(try dispatch(fields, event: index, dataHigh: Int64(high), batch: batch, scanner: scanner))
                }
            } while try scanner.take(UInt8(ascii: ","))
            try scanner.expect(UInt8(ascii: "]"))
        }
        guard scanner.atEnd else { throw scanner.failure("text after the event list") }
        guard events.count == count else { throw scanner.failure("\(events.count) events packed, event_count says \(count)") }
        batch.events = events
    }

    private static func dispatch(_ f: (Int64, Int64, Int64, Int64, Int64, Int64, Int64, Int64, Int64, Int64), event: Int,
                                 dataHigh: Int64, batch: BatchHarvested, scanner: PackedTextScanner) throws -> Dispatch {
        let flags = f.7
        guard f.3 > 0, flags >= 0, flags < 1 << 6, let source = DispatchSource(rawValue: UInt8(flags & 3)), source == .event else {
            throw scanner.failure("event \(event) has a packed dispatch with a bad seq offset or flags")
        }
        let code = UInt8((flags >> CompactSchema.dispatchSuppressionShift) & 7)
        var suppression: SuppressionReason?
        if code != 0 {
            guard let reason = SuppressionReason(rawValue: code) else { throw scanner.failure("event \(event) has an unknown suppression \(code)") }
            suppression = reason
        }
        let (ranSum, overflow) = dataHigh.addingReportingOverflow(f.5)
        guard !overflow, let ran = UInt32(exactly: ranSum), let delivered = UInt32(exactly: f.6) else {
            throw scanner.failure("event \(event) has a packed dispatch with an out-of-range registration or mask")
        }
        return Dispatch(seq: batch.seq &+ unstored(f.3), timeNs: batch.timeNs &+ unstored(f.4), poller: batch.poller,
                        source: .event, batchSeq: batch.seq, eventIndex: UInt32(event), ranRegistrationID: ran,
                        deliveredMask: IOEvents(rawValue: delivered), suppression: suppression,
                        handlerThrew: (flags >> CompactSchema.dispatchThrewShift) & 1 == 1, durationNs: unstored(f.8))
    }
}
