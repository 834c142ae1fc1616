import PollTraceCore

/// Streams a v7 trace's records in sequence order from the same plain tables SQL
/// users query: one scan per table (each in `seq` order, its primary key), merged by
/// `seq`. Memory is one row per table. With a seq range, each scan is a range on
/// the table's key, so a window costs what it holds, not where it is.
final class PlainRecordCursor {
    let path: String
    private let start: UInt64
    private var streams: [PlainStream]
    /// `batch_events` in (batch_seq, event_index) order: read alongside `batches`.
    private let events: SQLiteStatement
    private var eventPending = false
    /// Whether the end's check for event rows no batch took has run.
    private var eventsChecked = false

    /// Each record kind's table, its key (the record's seq) and the columns `decode`
    /// reads, in its order: the one list the scans and `seqBounds` are made from.
    static let recordTables: [(kind: RecordKind, table: String, key: String, columns: String)] = [
        (.fdOpened, "fd_opens", "seq", "seq, poller, rel_ns, fd, origin_code"),
        (.registered, "registrations", "registered_seq",
         "registered_seq, poller, registered_rel_ns, registration_id, fd, interest, data, handler_label"),
        (.modified, "modifications", "seq", "seq, poller, rel_ns, registration_id, fd, interest"),
        (.unregistered, "unregistrations", "seq", "seq, poller, rel_ns, registration_id, fd"),
        (.closed, "fd_closes", "seq", "seq, poller, rel_ns, fd"),
        (.batch, "batches", "seq", "seq, poller, rel_ns, batch_number, timeout_ms, waited_ns, event_count"),
        (.dispatch, "dispatches", "seq", """
            seq, poller, rel_ns, source_code, batch_seq, event_index, ran_registration_id, delivered_mask,
            suppression_code, handler_threw, duration_ns
            """),
        (.gap, "gaps", "seq", "seq, 0, rel_ns, first_lost_seq, last_lost_seq, lost_count, from_rel_ns, to_rel_ns"),
        (.callFailed, "failed_calls", "seq", "seq, poller, rel_ns, fd, call_code, errno"),
        (.syscall, "syscalls", "seq", "seq, poller, rel_ns, tid, fd, name, result, errno, is_data_call, source_line"),
    ]

    init(connection db: SQLiteConnection, path: String, start: UInt64,
         range: ClosedRange<SequenceNumber> = 0...SequenceNumber(Int64.max)) throws {
        self.path = path
        self.start = start
        let lo = Int64(clamping: range.lowerBound), hi = Int64(clamping: range.upperBound)
        // Every query's key is the record's seq (`registered_seq`, `batch_seq`):
        // `?1` and `?2` bound it, on its index.
        func bound(_ statement: SQLiteStatement) -> SQLiteStatement {
            statement.bind(lo, at: 1)
            statement.bind(hi, at: 2)
            return statement
        }
        streams = try Self.recordTables.map { source in
            let sql = "SELECT \(source.columns) FROM \(source.table) WHERE \(source.key) BETWEEN ?1 AND ?2 ORDER BY \(source.key)"
            return PlainStream(kind: source.kind, statement: bound(try db.makeStatement(sql: sql, parameters: 2)))
        }
        events = bound(try db.makeStatement(sql: """
            SELECT batch_seq, event_index, fd, mask, data FROM batch_events
            WHERE batch_seq BETWEEN ?1 AND ?2 ORDER BY batch_seq, event_index
            """, parameters: 2))
        for i in streams.indices { try streams[i].advance() }
    }

    /// Starts over on `range`, with the statements already prepared: a reader that
    /// walks a trace range by range (`TraceRecordRanges`) pays a seek per table for
    /// each range, not a prepare.
    func reposition(to range: ClosedRange<SequenceNumber>) throws {
        let lo = Int64(clamping: range.lowerBound), hi = Int64(clamping: range.upperBound)
        for statement in streams.map(\.statement) + [events] {
            statement.reset()
            statement.bind(lo, at: 1)
            statement.bind(hi, at: 2)
        }
        eventPending = false
        eventsChecked = false
        do {
            for i in streams.indices { try streams[i].advance() }
        } catch let error as SQLiteError {
            throw TraceReader.map(error, path: path)
        }
    }

    /// The smallest and largest seq of any record in the trace (nil when it has
    /// none): one lookup at each end of each table's key.
    static func seqBounds(connection db: SQLiteConnection) throws -> ClosedRange<SequenceNumber>? {
        var lowest: Int64?, highest: Int64?
        for (_, table, key, _) in recordTables {
            // One min() or max() per query: SQLite answers each from the key's end.
            if let low = try db.scalarInt(sql: "SELECT min(\(key)) FROM \(table)") { lowest = min(lowest ?? low, low) }
            if let high = try db.scalarInt(sql: "SELECT max(\(key)) FROM \(table)") { highest = max(highest ?? high, high) }
        }
        guard let lowest, let highest, lowest >= 0, lowest <= highest else { return nil }
        return SequenceNumber(lowest)...SequenceNumber(highest)
    }

    func next() throws -> TraceRecord? {
        do {
            var best = -1
            var bestSeq = Int64.max
            for i in streams.indices where streams[i].hasRow && streams[i].seq < bestSeq {
                best = i
                bestSeq = streams[i].seq
            }
            guard best >= 0 else {
                try checkNoEventRowsLeft()
                return nil
            }
            let record = try decode(streams[best])
            try streams[best].advance()
            return record
        } catch let error as SQLiteError {
            throw TraceReader.map(error, path: path)
        }
    }

    /// Every batch took its own event rows, so a row left when the records end (in
    /// the whole trace, or in a range) belongs to no batch: damage, named as a read
    /// from the start would name it wherever the range ends. Checked once: stepping a
    /// finished statement would start it over.
    private func checkNoEventRowsLeft() throws {
        guard !eventsChecked else { return }
        eventsChecked = true
        let left = try eventPending || events.step()
        if left {
            throw bad("batch_events has a row for batch \(events.int64(0)) event \(events.int64(1)) that no batch's event count covers")
        }
    }

    private func time(_ s: SQLiteStatement, _ column: Int32) -> UInt64 { start &+ UInt64(bitPattern: s.int64(column)) }

    private func bad(_ detail: String) -> TraceStoreError { .corrupted(path: path, detail: detail) }

    private func int32(_ s: SQLiteStatement, _ column: Int32, _ what: String, seq: Int64) throws -> Int32 {
        guard let value = Int32(exactly: s.int64(column)) else { throw bad("record \(seq): \(what) \(s.int64(column)) is out of range") }
        return value
    }

    private func uint32(_ s: SQLiteStatement, _ column: Int32, _ what: String, seq: Int64) throws -> UInt32 {
        let raw = s.int64(column)
        guard let value = UInt32(exactly: raw) else { throw bad("record \(seq): \(what) \(raw) is out of range") }
        return value
    }

    private func poller(_ s: SQLiteStatement, seq: Int64) throws -> PollerID {
        guard let value = PollerID(exactly: s.int64(1)) else { throw bad("record \(seq): poller \(s.int64(1)) is out of range") }
        return value
    }

    private func decode(_ stream: PlainStream) throws -> TraceRecord {
        let s = stream.statement
        let seqValue = s.int64(0)
        let seq = SequenceNumber(bitPattern: seqValue)
        switch stream.kind {
        case .fdOpened:
            guard let origin = FDOrigin(rawValue: UInt8(truncatingIfNeeded: s.int64(4))), s.int64(4) >= 0, s.int64(4) < 256 else {
                throw bad("record \(seqValue): unknown fd origin code \(s.int64(4))")
            }
            return .fdOpened(FDOpened(seq: seq, timeNs: time(s, 2), poller: try poller(s, seq: seqValue),
                                      fd: try int32(s, 3, "fd", seq: seqValue), origin: origin))
        case .registered:
            return .registered(Registered(seq: seq, timeNs: time(s, 2), poller: try poller(s, seq: seqValue),
                                          registrationID: RegistrationID(truncatingIfNeeded: s.int64(3)),
                                          fd: try int32(s, 4, "fd", seq: seqValue),
                                          interest: IOEvents(rawValue: try uint32(s, 5, "interest", seq: seqValue)),
                                          data: UInt64(bitPattern: s.int64(6)), handlerLabel: s.text(7)))
        case .modified:
            return .modified(Modified(seq: seq, timeNs: time(s, 2), poller: try poller(s, seq: seqValue),
                                      registrationID: RegistrationID(truncatingIfNeeded: s.int64(3)), fd: try int32(s, 4, "fd", seq: seqValue),
                                      interest: IOEvents(rawValue: try uint32(s, 5, "interest", seq: seqValue))))
        case .unregistered:
            return .unregistered(Unregistered(seq: seq, timeNs: time(s, 2), poller: try poller(s, seq: seqValue),
                                              registrationID: RegistrationID(truncatingIfNeeded: s.int64(3)),
                                              fd: try int32(s, 4, "fd", seq: seqValue)))
        case .closed:
            return .closed(Closed(seq: seq, timeNs: time(s, 2), poller: try poller(s, seq: seqValue), fd: try int32(s, 3, "fd", seq: seqValue)))
        case .batch:
            let count = s.int64(6)
            guard count >= 0, count <= 1 << 24 else { throw bad("batch \(seqValue) claims \(count) events") }
            var events: [HarvestedEvent] = []
            events.reserveCapacity(Int(count))
            for index in 0..<count {
                if !eventPending {
                    guard try self.events.step() else { throw bad("batch \(seqValue) has \(count) events but batch_events ends after \(index)") }
                    eventPending = true
                }
                let e = self.events
                guard e.int64(0) == seqValue, e.int64(1) == index else {
                    throw bad("batch \(seqValue) event \(index) is missing from batch_events (found batch \(e.int64(0)) event \(e.int64(1)))")
                }
                eventPending = false
                events.append(HarvestedEvent(fd: try int32(e, 2, "event fd", seq: seqValue),
                                             mask: IOEvents(rawValue: try uint32(e, 3, "event mask", seq: seqValue)),
                                             data: UInt64(bitPattern: e.int64(4))))
            }
            return .batch(BatchHarvested(seq: seq, timeNs: time(s, 2), poller: try poller(s, seq: seqValue),
                                         batchNumber: UInt64(bitPattern: s.int64(3)), timeoutMs: try int32(s, 4, "timeout", seq: seqValue),
                                         waitedNs: UInt64(bitPattern: s.int64(5)), events: events))
        case .dispatch:
            guard let source = DispatchSource(rawValue: UInt8(truncatingIfNeeded: s.int64(3))), (1...3).contains(s.int64(3)) else {
                throw bad("record \(seqValue): unknown dispatch source code \(s.int64(3))")
            }
            let suppressionCode = s.int64(8)
            var suppression: SuppressionReason?
            if suppressionCode != 0 {
                guard suppressionCode > 0, suppressionCode < 256, let reason = SuppressionReason(rawValue: UInt8(suppressionCode)) else {
                    throw bad("record \(seqValue): unknown suppression code \(suppressionCode)")
                }
                suppression = reason
            }
            return .dispatch(Dispatch(seq: seq, timeNs: time(s, 2), poller: try poller(s, seq: seqValue), source: source,
                                      batchSeq: SequenceNumber(bitPattern: s.int64(4)),
                                      eventIndex: try uint32(s, 5, "event index", seq: seqValue),
                                      ranRegistrationID: RegistrationID(truncatingIfNeeded: s.int64(6)),
                                      deliveredMask: IOEvents(rawValue: try uint32(s, 7, "delivered mask", seq: seqValue)),
                                      suppression: suppression, handlerThrew: s.int64(9) != 0,
                                      durationNs: UInt64(bitPattern: s.int64(10))))
        case .gap:
            let first = SequenceNumber(bitPattern: s.int64(3)), last = SequenceNumber(bitPattern: s.int64(4))
            guard first <= last else { throw bad("gap \(seqValue): its first lost seq \(first) is after its last \(last)") }
            return .gap(Gap(seq: seq, timeNs: time(s, 2), firstLost: first, lastLost: last, lostCount: UInt64(bitPattern: s.int64(5)),
                            fromTimeNs: time(s, 6), toTimeNs: time(s, 7)))
        case .callFailed:
            guard let call = FDCall(rawValue: UInt8(truncatingIfNeeded: s.int64(4))), (1...255).contains(s.int64(4)) else {
                throw bad("record \(seqValue): unknown call code \(s.int64(4))")
            }
            return .callFailed(CallFailed(seq: seq, timeNs: time(s, 2), poller: try poller(s, seq: seqValue), call: call,
                                          fd: try int32(s, 3, "fd", seq: seqValue), errno: try int32(s, 5, "errno", seq: seqValue)))
        case .syscall:
            return .syscall(SyscallRecord(seq: seq, timeNs: time(s, 2), poller: try poller(s, seq: seqValue),
                                          tid: try int32(s, 3, "tid", seq: seqValue), fd: try int32(s, 4, "fd", seq: seqValue),
                                          name: s.text(5), result: s.int64(6), errno: try int32(s, 7, "errno", seq: seqValue),
                                          isDataCall: s.int64(8) != 0, sourceLine: try uint32(s, 9, "source line", seq: seqValue)))
        }
    }
}

/// One table's scan, positioned on its next row.
struct PlainStream {
    let kind: RecordKind
    let statement: SQLiteStatement
    private(set) var hasRow = false
    private(set) var seq: Int64 = .max

    init(kind: RecordKind, statement: SQLiteStatement) {
        self.kind = kind
        self.statement = statement
    }

    mutating func advance() throws {
        hasRow = try statement.step()
        seq = hasRow ? statement.int64(0) : .max
    }
}
