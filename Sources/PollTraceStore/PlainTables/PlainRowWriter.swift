import PollTraceCore

/// One prepared `INSERT` per v7 table, and the one place each record kind becomes
/// its row. Times are stored relative to the trace start (`rel_ns`); the tables
/// add the start back in their generated `time_ns` columns.
final class PlainRowWriter {
    private let start: UInt64
    private var fdOpens: MultiRowInsert<PlainRow>
    private var registrations: MultiRowInsert<PlainRow>
    private var modifications: MultiRowInsert<PlainRow>
    private var unregistrations: MultiRowInsert<PlainRow>
    private var fdCloses: MultiRowInsert<PlainRow>
    private var batches: MultiRowInsert<PlainRow>
    private var batchEvents: MultiRowInsert<PlainRow>
    private var dispatches: MultiRowInsert<PlainRow>
    private var gaps: MultiRowInsert<PlainRow>
    private var failedCalls: MultiRowInsert<PlainRow>
    private var syscalls: MultiRowInsert<PlainRow>
    private var findings: MultiRowInsert<PlainRow>
    private let setUnregisteredSeq: SQLiteStatement
    private(set) var rows = 0

    init(connection: SQLiteConnection, start: UInt64) throws {
        self.start = start
        func insert(_ table: String, _ columns: [String]) throws -> MultiRowInsert<PlainRow> {
            try MultiRowInsert(connection: connection, table: table, columns: columns, rowsPerStatement: Self.rowsPerStatement)
        }
        fdOpens = try insert("fd_opens", ["seq", "poller", "rel_ns", "fd", "origin_code"])
        registrations = try insert("registrations", [
            "registered_seq", "registration_id", "poller", "fd", "interest", "data", "handler_label",
            "registered_rel_ns", "fd_opened_seq", "unregistered_seq", "closed_seq", "ended_rel_ns"])
        modifications = try insert("modifications", ["seq", "poller", "rel_ns", "fd", "registration_id", "interest"])
        unregistrations = try insert("unregistrations", ["seq", "poller", "rel_ns", "fd", "registration_id"])
        fdCloses = try insert("fd_closes", ["seq", "poller", "rel_ns", "fd"])
        batches = try insert("batches", ["seq", "poller", "rel_ns", "batch_number", "timeout_ms", "waited_ns", "event_count"])
        batchEvents = try insert("batch_events", [
            "batch_seq", "event_index", "poller", "batch_number", "fd", "mask", "data", "harvest_rel_ns", "harvested_registration_id"])
        dispatches = try insert("dispatches", [
            "seq", "poller", "rel_ns", "source_code", "batch_seq", "event_index", "fd", "harvested_mask", "harvested_data",
            "harvested_registration_id", "ran_registration_id", "handler_label", "delivered_mask", "suppression_code",
            "handler_threw", "duration_ns", "verdict_code"])
        gaps = try insert("gaps", ["seq", "rel_ns", "first_lost_seq", "last_lost_seq", "lost_count", "from_rel_ns", "to_rel_ns"])
        failedCalls = try insert("failed_calls", ["seq", "poller", "rel_ns", "fd", "call_code", "errno"])
        syscalls = try insert("syscalls", [
            "seq", "poller", "rel_ns", "tid", "fd", "name", "result", "errno", "is_data_call", "source_line"])
        setUnregisteredSeq = try connection.makeStatement(
            sql: "UPDATE registrations SET unregistered_seq = ? WHERE registered_seq = ? AND unregistered_seq IS NULL", parameters: 2)
        findings = try insert("findings", [
            "kind", "seq", "poller", "fd", "mask", "batch_seq", "event_index", "harvested_registration_id",
            "harvested_label", "ran_registration_id", "ran_label", "closed_seq", "closed_by_label", "reused_seq",
            "reused_by_label", "spin_batches", "detail"])
    }

    private func rel(_ timeNs: UInt64) -> Int64 { Int64(bitPattern: timeNs &- start) }

    /// Rows per multi-row `INSERT`: SQLite's cost per statement is then paid once
    /// per group of rows, not once per row (as in the recording form's writer).
    static let rowsPerStatement = 32

    /// Adds one row to `table`'s insert.
    private func run(_ table: inout MultiRowInsert<PlainRow>, _ values: Value...) throws {
        precondition(values.count == Int(table.columnCount), "a row of \(values.count) values for \(table.columnCount) columns")
        try table.add(PlainRow(values: values))
        rows += 1
    }

    /// Inserts the rows still waiting for a full group. Call before reading the tables.
    func finish() throws {
        try fdOpens.finish(); try registrations.finish(); try modifications.finish(); try unregistrations.finish()
        try fdCloses.finish(); try batches.finish(); try batchEvents.finish(); try dispatches.finish()
        try gaps.finish(); try failedCalls.finish(); try syscalls.finish(); try findings.finish()
    }

    enum Value {
        case int(Int64?)
        case text(String?)
    }

    private static func int<T: BinaryInteger>(_ value: T) -> Value { .int(Int64(truncatingIfNeeded: value)) }
    private static func int<T: BinaryInteger>(_ value: T?) -> Value { .int(value.map { Int64(truncatingIfNeeded: $0) }) }
    private static func text(_ value: String?) -> Value { .text(value) }

    func fdOpened(_ r: FDOpened) throws {
        try run(&fdOpens, Self.int(r.seq), Self.int(r.poller), .int(rel(r.timeNs)), Self.int(r.fd), Self.int(r.origin.rawValue))
    }

    func registration(_ r: RegistrationRow) throws {
        try run(&registrations,
            Self.int(r.registered.seq), Self.int(r.registered.registrationID), Self.int(r.registered.poller),
            Self.int(r.registered.fd), Self.int(r.registered.interest.rawValue), Self.int(r.registered.data),
            .text(r.registered.handlerLabel), .int(rel(r.registered.timeNs)), Self.int(r.fdOpenedSeq),
            Self.int(r.unregisteredSeq), Self.int(r.closedSeq), .int(r.endedTimeNs.map { rel($0) }))
    }

    /// An unregistration that came after the registration's row was written.
    func setUnregistered(registeredSeq: SequenceNumber, seq: SequenceNumber) throws {
        try registrations.finish()  // the row may still be waiting for its group
        setUnregisteredSeq.bind(Int64(bitPattern: seq), at: 1)
        setUnregisteredSeq.bind(Int64(bitPattern: registeredSeq), at: 2)
        defer { setUnregisteredSeq.reset() }
        try setUnregisteredSeq.run()
    }

    func modified(_ r: Modified) throws {
        try run(&modifications, Self.int(r.seq), Self.int(r.poller), .int(rel(r.timeNs)), Self.int(r.fd),
                                Self.int(r.registrationID), Self.int(r.interest.rawValue))
    }

    func unregistered(_ r: Unregistered) throws {
        try run(&unregistrations, Self.int(r.seq), Self.int(r.poller), .int(rel(r.timeNs)), Self.int(r.fd),
                                  Self.int(r.registrationID))
    }

    func closed(_ r: Closed) throws {
        try run(&fdCloses, Self.int(r.seq), Self.int(r.poller), .int(rel(r.timeNs)), Self.int(r.fd))
    }

    /// The batch and one row per event, with the registration each event was
    /// harvested for (nil: an orphan, or not known).
    func batch(_ b: BatchHarvested, harvestedFor: [RegistrationID?]) throws {
        try run(&batches, Self.int(b.seq), Self.int(b.poller), .int(rel(b.timeNs)), Self.int(b.batchNumber),
                          Self.int(b.timeoutMs), Self.int(b.waitedNs), Self.int(b.events.count))
        for (i, e) in b.events.enumerated() {
            try run(&batchEvents, Self.int(b.seq), Self.int(i), Self.int(b.poller), Self.int(b.batchNumber), Self.int(e.fd), Self.int(e.mask.rawValue),
                                  Self.int(e.data), .int(rel(b.timeNs)), Self.int(harvestedFor[i]))
        }
    }

    /// A dispatch with what the trace knows of its event (nil for timers, tasks and
    /// events of a batch that is not in the trace) and replay's verdict.
    func dispatch(_ d: Dispatch, event: HarvestedEvent?, harvestedFor: RegistrationID?, label: String?,
                  verdict: FindingKind?) throws {
        try run(&dispatches,
            Self.int(d.seq), Self.int(d.poller), .int(rel(d.timeNs)), Self.int(d.source.rawValue),
            Self.int(d.batchSeq), Self.int(d.eventIndex), Self.int(event?.fd), Self.int(event?.mask.rawValue),
            Self.int(event?.data), Self.int(harvestedFor), Self.int(d.ranRegistrationID), Self.text(label),
            Self.int(d.deliveredMask.rawValue), Self.int(d.suppression?.rawValue ?? 0), .int(d.handlerThrew ? 1 : 0),
            Self.int(d.durationNs), .int(verdict.map { PlainSchema.verdictCode($0) }))
    }

    func gap(_ g: Gap) throws {
        try run(&gaps, Self.int(g.seq), .int(rel(g.timeNs)), Self.int(g.firstLost), Self.int(g.lastLost),
                       Self.int(g.lostCount), .int(rel(g.fromTimeNs)), .int(rel(g.toTimeNs)))
    }

    func callFailed(_ c: CallFailed) throws {
        try run(&failedCalls, Self.int(c.seq), Self.int(c.poller), .int(rel(c.timeNs)), Self.int(c.fd),
                              Self.int(c.call.rawValue), Self.int(c.errno))
    }

    func syscall(_ c: SyscallRecord) throws {
        try run(&syscalls, Self.int(c.seq), Self.int(c.poller), .int(rel(c.timeNs)), Self.int(c.tid), Self.int(c.fd),
                           .text(c.name), .int(c.result), Self.int(c.errno), .int(c.isDataCall ? 1 : 0),
                           Self.int(c.sourceLine))
    }

    func finding(_ f: FindingRow) throws {
        try run(&findings,
            .text(f.kind), Self.int(f.seq), Self.int(f.poller), Self.int(f.fd), Self.int(f.mask), Self.int(f.batchSeq),
            Self.int(f.eventIndex), Self.int(f.harvestedRegistrationID), Self.text(f.harvestedLabel),
            Self.int(f.ranRegistrationID), Self.text(f.ranLabel), Self.int(f.closedSeq), Self.text(f.closedByLabel),
            Self.int(f.reusedSeq), Self.text(f.reusedByLabel), Self.int(f.spinBatches), .text(f.detail))
    }
}

/// A registration with its lifetime, written once its fd is closed (or at the end).
struct RegistrationRow {
    var registered: Registered
    var fdOpenedSeq: SequenceNumber?
    var unregisteredSeq: SequenceNumber?
    var closedSeq: SequenceNumber?
    /// When the earlier of the unregistration and the close happened.
    var endedTimeNs: UInt64?
}

/// One row of `findings`: what replay (or an import's analysis) concluded, with the
/// records that tell the story. Public so that an importer can write its own.
public struct FindingRow: Sendable {
    public var kind: String
    public var seq: SequenceNumber
    public var poller: PollerID
    public var fd: Int32?
    public var mask: UInt32?
    public var batchSeq: SequenceNumber?
    public var eventIndex: UInt32?
    public var harvestedRegistrationID: RegistrationID?
    public var harvestedLabel: String?
    public var ranRegistrationID: RegistrationID?
    public var ranLabel: String?
    public var closedSeq: SequenceNumber?
    public var closedByLabel: String?
    public var reusedSeq: SequenceNumber?
    public var reusedByLabel: String?
    public var spinBatches: Int?
    public var detail: String

    public init(kind: String, seq: SequenceNumber, poller: PollerID, fd: Int32? = nil, mask: UInt32? = nil,
                batchSeq: SequenceNumber? = nil, eventIndex: UInt32? = nil, harvestedRegistrationID: RegistrationID? = nil,
                harvestedLabel: String? = nil, ranRegistrationID: RegistrationID? = nil, ranLabel: String? = nil,
                closedSeq: SequenceNumber? = nil, closedByLabel: String? = nil, reusedSeq: SequenceNumber? = nil,
                reusedByLabel: String? = nil, spinBatches: Int? = nil, detail: String) {
        self.kind = kind; self.seq = seq; self.poller = poller; self.fd = fd; self.mask = mask; self.batchSeq = batchSeq
        self.eventIndex = eventIndex; self.harvestedRegistrationID = harvestedRegistrationID
        self.harvestedLabel = harvestedLabel; self.ranRegistrationID = ranRegistrationID; self.ranLabel = ranLabel
        self.closedSeq = closedSeq; self.closedByLabel = closedByLabel; self.reusedSeq = reusedSeq
        self.reusedByLabel = reusedByLabel; self.spinBatches = spinBatches; self.detail = detail
    }

    /// The row for one replay finding.
    public init(_ f: Finding) {
        let harvested = f.harvestedFor
        let ran = f.ran
        let closing = harvested.flatMap { $0.fdClose ?? $0.end }
        // The number changed hands when the registration that ran is not the one
        // harvested for: its fd's open (or, for an fd opened before the batch, its
        // registration) is the reuse.
        var reusedSeq: SequenceNumber?
        var reusedBy: String?
        if let ran, ran.registrationID != harvested?.registrationID {
            if ran.fdOpenedSeq > f.batch.seq {
                reusedSeq = ran.fdOpenedSeq
                reusedBy = ran.fdOpenedBy?.handlerLabel
            } else {
                reusedSeq = ran.registeredSeq
                reusedBy = ran.registeredBy?.handlerLabel
            }
        }
        var detail = "\(f.kind.rawValue): fd \(f.event.fd) [\(f.event.mask)] of batch \(f.batch.seq) event \(f.eventIndex)"
        if let harvested { detail += ", harvested for #\(harvested.registrationID) (\(harvested.handlerLabel))" }
        if let closing { detail += ", which ended at seq \(closing.seq)" + (closing.by.map { " in \($0.handlerLabel)" } ?? "") }
        if let reusedSeq { detail += ", number reused at seq \(reusedSeq)" + (reusedBy.map { " in \($0)" } ?? "") }
        if let ran { detail += ", ran #\(ran.registrationID) (\(ran.handlerLabel))" } else if f.dispatch != nil { detail += ", suppressed" }
        if f.kind == .spin { detail += ", \(f.spinLength) batches in a row" }
        self.init(kind: f.kind.rawValue, seq: f.seq, poller: f.poller, fd: f.event.fd, mask: f.event.mask.rawValue,
                  batchSeq: f.batch.seq, eventIndex: f.eventIndex, harvestedRegistrationID: harvested?.registrationID,
                  harvestedLabel: harvested?.handlerLabel, ranRegistrationID: ran?.registrationID, ranLabel: ran?.handlerLabel,
                  closedSeq: closing?.seq, closedByLabel: closing?.by?.handlerLabel, reusedSeq: reusedSeq,
                  reusedByLabel: reusedBy, spinBatches: f.kind == .spin ? f.spinLength : nil, detail: detail)
    }
}

/// One row of a v7 table: its values in column order.
struct PlainRow: BindableRow {
    var values: [PlainRowWriter.Value]

    func bind(to statement: SQLiteStatement, at first: Int32) {
        var index = first
        for value in values {
            switch value {
            case .int(let v): statement.bind(v, at: index)
            case .text(let v): statement.bind(v, at: index)
            }
            index += 1
        }
    }
}
