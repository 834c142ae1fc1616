import PollTraceCore
import PollTraceStore

/// What replay concluded about a dispatch, read from a v7 trace's tables instead of
/// replaying up to it: the finalizer ran the same `Replayer` and stored each
/// dispatch's verdict and harvested-for registration, and `registrations` holds
/// every registration's label, fd open and end. Each answer is a lookup by key, so
/// annotating a window costs what the window holds. The rules are
/// `DispatchAnnotator`'s, with "known at the dispatch" read as "seq before it".
final class PlainDispatchAnnotator {
    private struct RegistrationRow {
        var label: String
        var poller: Int64
        var fd: Int64
        var fdOpenedSeq: SequenceNumber?
        var registeredSeq: SequenceNumber
        var closedSeq: SequenceNumber?
        var endedSeq: SequenceNumber?
    }

    private let path: String
    private let dispatch: SQLiteStatement
    private let registration: SQLiteStatement
    private let current: SQLiteStatement

    init(reader: TraceReader) throws {
        path = reader.path
        do {
            dispatch = try reader.connection.makeStatement(sql: "SELECT verdict_code, harvested_registration_id FROM dispatches WHERE seq = ?1")
            let columns = "handler_label, poller, fd, fd_opened_seq, registered_seq, closed_seq, ended_seq"
            registration = try reader.connection.makeStatement(sql: """
                SELECT \(columns) FROM registrations WHERE registration_id = ?1 AND registered_seq < ?2
                ORDER BY registered_seq DESC LIMIT 1
                """)
            current = try reader.connection.makeStatement(sql: """
                SELECT \(columns) FROM registrations
                WHERE poller = ?1 AND fd = ?2 AND registered_seq < ?3 AND (ended_seq IS NULL OR ended_seq > ?3)
                ORDER BY registered_seq DESC LIMIT 1
                """)
        } catch let error as SQLiteError {
            throw TraceStoreError.readFailed(path: path, detail: error.description)
        }
    }

    func annotate(_ record: TraceRecord) throws -> DispatchAnnotation? {
        guard case .dispatch(let d) = record else { return nil }
        do {
            return try annotate(d)
        } catch let error as SQLiteError {
            throw TraceStoreError.readFailed(path: path, detail: error.description)
        }
    }

    private func annotate(_ d: Dispatch) throws -> DispatchAnnotation {
        let seq = Int64(clamping: d.seq)
        dispatch.reset()
        dispatch.bind(seq, at: 1)
        var verdict: FindingKind?
        var harvested: RegistrationID?
        if try dispatch.step() {
            if !dispatch.isNull(0) {
                let code = Int(dispatch.int64(0))
                guard FindingKind.allCases.indices.contains(code) else {
                    throw TraceStoreError.corrupted(path: path, detail: "dispatch \(d.seq): unknown verdict code \(code)")
                }
                verdict = FindingKind.allCases[code]
            }
            if d.source == .event, !dispatch.isNull(1) { harvested = RegistrationID(truncatingIfNeeded: dispatch.int64(1)) }
        }
        let ran = d.suppression == nil ? try lookup(d.ranRegistrationID, before: seq) : nil
        let label: String
        switch d.source {
        case .event:
            if let reason = d.suppression { label = "suppressed (\(reason))" } else { label = ran?.label ?? "registration #\(d.ranRegistrationID)" }
        case .timer: label = "timer #\(d.ranRegistrationID)"
        case .task: label = "task #\(d.ranRegistrationID)"
        }
        var annotation = DispatchAnnotation(verdict: verdict, ranLabel: label, harvestedFor: harvested ?? 0)
        func ending(_ r: RegistrationRow) -> SequenceNumber? {
            if let c = r.closedSeq, c < d.seq { return c }
            if let e = r.endedSeq, e < d.seq { return e }
            return nil
        }
        let harvestedRow = try harvested.flatMap { try lookup($0, before: seq) }
        if let h = harvestedRow {
            annotation.harvestedLabel = h.label
            if verdict?.isStaleDispatch == true || verdict == .justifiedSuppression { annotation.closeSeq = ending(h) }
        }
        if annotation.closeSeq == nil, verdict == .deadRegistration, let ran { annotation.closeSeq = ending(ran) }
        if verdict == .misrouted, let ran { annotation.reuseSeq = ran.fdOpenedSeq ?? ran.registeredSeq }
        if verdict == .justifiedSuppression, d.suppression == .registrationReplaced, let h = harvestedRow {
            current.reset()
            current.bind(Int64(d.poller), at: 1)
            current.bind(h.fd, at: 2)
            current.bind(seq, at: 3)
            if try current.step() {
                let newer = row(current)
                annotation.reuseSeq = newer.fdOpenedSeq ?? newer.registeredSeq
            }
        }
        return annotation
    }

    private func lookup(_ id: RegistrationID, before seq: Int64) throws -> RegistrationRow? {
        registration.reset()
        registration.bind(Int64(truncatingIfNeeded: id), at: 1)
        registration.bind(seq, at: 2)
        return try registration.step() ? row(registration) : nil
    }

    private func row(_ s: SQLiteStatement) -> RegistrationRow {
        func seq(_ column: Int32) -> SequenceNumber? {
            s.isNull(column) || s.int64(column) <= 0 ? nil : SequenceNumber(bitPattern: s.int64(column))
        }
        return RegistrationRow(label: s.text(0), poller: s.int64(1), fd: s.int64(2), fdOpenedSeq: seq(3),
                               registeredSeq: SequenceNumber(bitPattern: s.int64(4)), closedSeq: seq(5), endedSeq: seq(6))
    }
}
