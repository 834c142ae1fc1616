import PollTraceCore
import PollTraceStore

/// Reads the records of a seq range of a v7 trace with one indexed range query per
/// table (`WHERE seq BETWEEN ? AND ?`, each table's key), merged by seq: the cost
/// follows the window's size, not its place in the trace. The decoding mirrors the
/// store's own cursor over the same tables (docs/schema.md).
final class PlainWindowRecords {
    private let path: String
    private let start: UInt64
    private var streams: [(kind: RecordKind, statement: SQLiteStatement, hasRow: Bool, seq: Int64)] = []
    private let events: SQLiteStatement
    private var eventPending = false

    init(reader: TraceReader, range: ClosedRange<SequenceNumber>) throws {
        path = reader.path
        start = reader.metadata.startMonotonicNs
        let db = reader.connection
        let lo = Int64(clamping: range.lowerBound), hi = Int64(clamping: range.upperBound)
        let queries: [(RecordKind, String)] = [
            (.fdOpened, "SELECT seq, poller, rel_ns, fd, origin_code FROM fd_opens WHERE seq BETWEEN ?1 AND ?2 ORDER BY seq"),
            (.registered, """
                SELECT registered_seq, poller, registered_rel_ns, registration_id, fd, interest, data, handler_label
                FROM registrations WHERE registered_seq BETWEEN ?1 AND ?2 ORDER BY registered_seq
                """),
            (.modified, "SELECT seq, poller, rel_ns, registration_id, fd, interest FROM modifications WHERE seq BETWEEN ?1 AND ?2 ORDER BY seq"),
            (.unregistered, "SELECT seq, poller, rel_ns, registration_id, fd FROM unregistrations WHERE seq BETWEEN ?1 AND ?2 ORDER BY seq"),
            (.closed, "SELECT seq, poller, rel_ns, fd FROM fd_closes WHERE seq BETWEEN ?1 AND ?2 ORDER BY seq"),
            (.batch, "SELECT seq, poller, rel_ns, batch_number, timeout_ms, waited_ns, event_count FROM batches WHERE seq BETWEEN ?1 AND ?2 ORDER BY seq"),
            (.dispatch, """
                SELECT seq, poller, rel_ns, source_code, batch_seq, event_index, ran_registration_id, delivered_mask,
                       suppression_code, handler_threw, duration_ns
                FROM dispatches WHERE seq BETWEEN ?1 AND ?2 ORDER BY seq
                """),
            (.gap, "SELECT seq, 0, rel_ns, first_lost_seq, last_lost_seq, lost_count, from_rel_ns, to_rel_ns FROM gaps WHERE seq BETWEEN ?1 AND ?2 ORDER BY seq"),
            (.callFailed, "SELECT seq, poller, rel_ns, fd, call_code, errno FROM failed_calls WHERE seq BETWEEN ?1 AND ?2 ORDER BY seq"),
            (.syscall, """
                SELECT seq, poller, rel_ns, tid, fd, name, result, errno, is_data_call, source_line
                FROM syscalls WHERE seq BETWEEN ?1 AND ?2 ORDER BY seq
                """),
        ]
        do {
            for (kind, sql) in queries {
                let s = try db.makeStatement(sql: sql)
                s.bind(lo, at: 1)
                s.bind(hi, at: 2)
                let row = try s.step()
                streams.append((kind, s, row, row ? s.int64(0) : .max))
            }
            events = try db.makeStatement(sql: """
                SELECT batch_seq, event_index, fd, mask, data FROM batch_events
                WHERE batch_seq BETWEEN ?1 AND ?2 ORDER BY batch_seq, event_index
                """)
            events.bind(lo, at: 1)
            events.bind(hi, at: 2)
        } catch let error as SQLiteError {
            throw TraceStoreError.readFailed(path: path, detail: error.description)
        }
    }

    /// The next record of the range, in seq order; nil after the last.
    func next() throws -> TraceRecord? {
        do {
            var best = -1
            var bestSeq = Int64.max
            for i in streams.indices where streams[i].hasRow && streams[i].seq < bestSeq {
                best = i
                bestSeq = streams[i].seq
            }
            guard best >= 0 else { return nil }
            let record = try decode(streams[best].kind, streams[best].statement)
            streams[best].hasRow = try streams[best].statement.step()
            streams[best].seq = streams[best].hasRow ? streams[best].statement.int64(0) : .max
            return record
        } catch let error as SQLiteError {
            throw TraceStoreError.readFailed(path: path, detail: error.description)
        }
    }

    private func time(_ s: SQLiteStatement, _ column: Int32) -> UInt64 { start &+ UInt64(bitPattern: s.int64(column)) }

    private func bad(_ detail: String) -> TraceStoreError { .corrupted(path: path, detail: detail) }

    private func int32(_ s: SQLiteStatement, _ column: Int32, _ what: String) throws -> Int32 {
        guard let value = Int32(exactly: s.int64(column)) else { throw bad("record \(s.int64(0)): \(what) \(s.int64(column)) is out of range") }
        return value
    }

    private func uint32(_ s: SQLiteStatement, _ column: Int32, _ what: String) throws -> UInt32 {
        guard let value = UInt32(exactly: s.int64(column)) else { throw bad("record \(s.int64(0)): \(what) \(s.int64(column)) is out of range") }
        return value
    }

    private func poller(_ s: SQLiteStatement) throws -> PollerID {
        guard let value = PollerID(exactly: s.int64(1)) else { throw bad("record \(s.int64(0)): poller \(s.int64(1)) is out of range") }
        return value
    }

    private func decode(_ kind: RecordKind, _ s: SQLiteStatement) throws -> TraceRecord {
        let seqValue = s.int64(0)
        let seq = SequenceNumber(bitPattern: seqValue)
        switch kind {
        case .fdOpened:
            guard s.int64(4) >= 0, s.int64(4) < 256, let origin = FDOrigin(rawValue: UInt8(s.int64(4))) else {
                throw bad("record \(seqValue): unknown fd origin code \(s.int64(4))")
            }
            return .fdOpened(FDOpened(seq: seq, timeNs: time(s, 2), poller: try poller(s), fd: try int32(s, 3, "fd"), origin: origin))
        case .registered:
            return .registered(Registered(seq: seq, timeNs: time(s, 2), poller: try poller(s),
                                          registrationID: RegistrationID(truncatingIfNeeded: s.int64(3)), fd: try int32(s, 4, "fd"),
                                          interest: IOEvents(rawValue: try uint32(s, 5, "interest")),
                                          data: UInt64(bitPattern: s.int64(6)), handlerLabel: s.text(7)))
        case .modified:
            return .modified(Modified(seq: seq, timeNs: time(s, 2), poller: try poller(s),
                                      registrationID: RegistrationID(truncatingIfNeeded: s.int64(3)), fd: try int32(s, 4, "fd"),
                                      interest: IOEvents(rawValue: try uint32(s, 5, "interest"))))
        case .unregistered:
            return .unregistered(Unregistered(seq: seq, timeNs: time(s, 2), poller: try poller(s),
                                              registrationID: RegistrationID(truncatingIfNeeded: s.int64(3)), fd: try int32(s, 4, "fd")))
        case .closed:
            return .closed(Closed(seq: seq, timeNs: time(s, 2), poller: try poller(s), fd: try int32(s, 3, "fd")))
        case .batch:
            let count = s.int64(6)
            guard count >= 0, count <= 1 << 24 else { throw bad("batch \(seqValue) claims \(count) events") }
            var list: [HarvestedEvent] = []
            list.reserveCapacity(Int(count))
            for index in 0..<count {
                if !eventPending {
                    guard try events.step() else { throw bad("batch \(seqValue) has \(count) events but batch_events ends after \(index)") }
                    eventPending = true
                }
                guard events.int64(0) == seqValue, events.int64(1) == index else {
                    throw bad("batch \(seqValue) event \(index) is missing from batch_events")
                }
                eventPending = false
                list.append(HarvestedEvent(fd: try int32(events, 2, "event fd"), mask: IOEvents(rawValue: try uint32(events, 3, "event mask")),
                                           data: UInt64(bitPattern: events.int64(4))))
            }
            return .batch(BatchHarvested(seq: seq, timeNs: time(s, 2), poller: try poller(s), batchNumber: UInt64(bitPattern: s.int64(3)),
                                         timeoutMs: try int32(s, 4, "timeout"), waitedNs: UInt64(bitPattern: s.int64(5)), events: list))
        case .dispatch:
            guard (1...3).contains(s.int64(3)), let source = DispatchSource(rawValue: UInt8(s.int64(3))) else {
                throw bad("record \(seqValue): unknown dispatch source code \(s.int64(3))")
            }
            var suppression: SuppressionReason?
            let code = s.int64(8)
            if code != 0 {
                guard code > 0, code < 256, let reason = SuppressionReason(rawValue: UInt8(code)) else {
                    throw bad("record \(seqValue): unknown suppression code \(code)")
                }
                suppression = reason
            }
            return .dispatch(Dispatch(seq: seq, timeNs: time(s, 2), poller: try poller(s), source: source,
                                      batchSeq: SequenceNumber(bitPattern: s.int64(4)), eventIndex: try uint32(s, 5, "event index"),
                                      ranRegistrationID: RegistrationID(truncatingIfNeeded: s.int64(6)),
                                      deliveredMask: IOEvents(rawValue: try uint32(s, 7, "delivered mask")),
                                      suppression: suppression, handlerThrew: s.int64(9) != 0, durationNs: UInt64(bitPattern: s.int64(10))))
        case .gap:
            let first = SequenceNumber(bitPattern: s.int64(3)), last = SequenceNumber(bitPattern: s.int64(4))
            guard first <= last else { throw bad("gap \(seqValue): its first lost seq \(first) is after its last \(last)") }
            return .gap(Gap(seq: seq, timeNs: time(s, 2), firstLost: first, lastLost: last, lostCount: UInt64(bitPattern: s.int64(5)),
                            fromTimeNs: time(s, 6), toTimeNs: time(s, 7)))
        case .callFailed:
            guard (1...255).contains(s.int64(4)), let call = FDCall(rawValue: UInt8(s.int64(4))) else {
                throw bad("record \(seqValue): unknown call code \(s.int64(4))")
            }
            return .callFailed(CallFailed(seq: seq, timeNs: time(s, 2), poller: try poller(s), call: call,
                                          fd: try int32(s, 3, "fd"), errno: try int32(s, 5, "errno")))
        case .syscall:
            return .syscall(SyscallRecord(seq: seq, timeNs: time(s, 2), poller: try poller(s), tid: try int32(s, 3, "tid"),
                                          fd: try int32(s, 4, "fd"), name: s.text(5), result: s.int64(6),
                                          errno: try int32(s, 7, "errno"), isDataCall: s.int64(8) != 0,
                                          sourceLine: try uint32(s, 9, "source line")))
        }
    }
}
