import PollTraceCore

/// The one place each record kind becomes its v7 row, appended to a `PlainRows`
/// that `PlainTableFile` inserts (on this thread or another). Times are stored
/// relative to the trace start (`rel_ns`); the tables add the start back in their
/// generated `time_ns` columns.
struct PlainRowWriter {
    private let start: UInt64

    init(start: UInt64) { self.start = start }

    private func rel(_ timeNs: UInt64) -> Int64 { Int64(bitPattern: timeNs &- start) }

    func fdOpened(_ r: FDOpened, into rows: inout PlainRows) {
        rows.add(.fdOpens) {
            $0.int(r.seq); $0.int(r.poller); $0.int(rel(r.timeNs)); $0.int(r.fd); $0.int(r.origin.rawValue)
        }
    }

    func registration(_ r: RegistrationRow, into rows: inout PlainRows) {
        rows.add(.registrations) {
            $0.int(r.registered.seq); $0.int(r.registered.registrationID); $0.int(r.registered.poller)
            $0.int(r.registered.fd); $0.int(r.registered.interest.rawValue); $0.int(r.registered.data)
            $0.text(r.registered.handlerLabel); $0.int(rel(r.registered.timeNs)); $0.int(r.fdOpenedSeq)
            $0.int(r.unregisteredSeq); $0.int(r.closedSeq); $0.int(r.endedTimeNs.map { rel($0) })
        }
    }

    func modified(_ r: Modified, into rows: inout PlainRows) {
        rows.add(.modifications) {
            $0.int(r.seq); $0.int(r.poller); $0.int(rel(r.timeNs)); $0.int(r.fd); $0.int(r.registrationID)
            $0.int(r.interest.rawValue)
        }
    }

    func unregistered(_ r: Unregistered, into rows: inout PlainRows) {
        rows.add(.unregistrations) {
            $0.int(r.seq); $0.int(r.poller); $0.int(rel(r.timeNs)); $0.int(r.fd); $0.int(r.registrationID)
        }
    }

    func closed(_ r: Closed, into rows: inout PlainRows) {
        rows.add(.fdCloses) {
            $0.int(r.seq); $0.int(r.poller); $0.int(rel(r.timeNs)); $0.int(r.fd)
        }
    }

    /// The batch and one row per event, with the registration each event was
    /// harvested for (nil: an orphan, or not known).
    func batch(_ b: BatchHarvested, harvestedFor: [RegistrationID?], into rows: inout PlainRows) {
        rows.add(.batches) {
            $0.int(b.seq); $0.int(b.poller); $0.int(rel(b.timeNs)); $0.int(b.batchNumber); $0.int(b.timeoutMs)
            $0.int(b.waitedNs); $0.int(b.events.count)
        }
        for (i, e) in b.events.enumerated() {
            rows.add(.batchEvents) {
                $0.int(b.seq); $0.int(i); $0.int(b.poller); $0.int(b.batchNumber); $0.int(e.fd)
                $0.int(e.mask.rawValue); $0.int(e.data); $0.int(rel(b.timeNs)); $0.int(harvestedFor[i])
            }
        }
    }

    /// A dispatch with what the trace knows of its event (nil for timers, tasks and
    /// events of a batch that is not in the trace) and replay's verdict.
    func dispatch(_ d: Dispatch, event: HarvestedEvent?, harvestedFor: RegistrationID?, label: String?,
                  verdict: FindingKind?, into rows: inout PlainRows) {
        rows.add(.dispatches) {
            $0.int(d.seq); $0.int(d.poller); $0.int(rel(d.timeNs)); $0.int(d.source.rawValue)
            $0.int(d.batchSeq); $0.int(d.eventIndex); $0.int(event?.fd); $0.int(event?.mask.rawValue)
            $0.int(event?.data); $0.int(harvestedFor); $0.int(d.ranRegistrationID); $0.text(label)
            $0.int(d.deliveredMask.rawValue); $0.int(d.suppression?.rawValue ?? 0)
            $0.int(d.handlerThrew ? 1 : 0); $0.int(d.durationNs)
            $0.int(verdict.map { PlainSchema.verdictCode($0) })
        }
    }

    func gap(_ g: Gap, into rows: inout PlainRows) {
        rows.add(.gaps) {
            $0.int(g.seq); $0.int(rel(g.timeNs)); $0.int(g.firstLost); $0.int(g.lastLost); $0.int(g.lostCount)
            $0.int(rel(g.fromTimeNs)); $0.int(rel(g.toTimeNs))
        }
    }

    func callFailed(_ c: CallFailed, into rows: inout PlainRows) {
        rows.add(.failedCalls) {
            $0.int(c.seq); $0.int(c.poller); $0.int(rel(c.timeNs)); $0.int(c.fd); $0.int(c.call.rawValue)
            $0.int(c.errno)
        }
    }

    func syscall(_ c: SyscallRecord, into rows: inout PlainRows) {
        rows.add(.syscalls) {
            $0.int(c.seq); $0.int(c.poller); $0.int(rel(c.timeNs)); $0.int(c.tid); $0.int(c.fd)
            $0.text(c.name); $0.int(c.result); $0.int(c.errno); $0.int(c.isDataCall ? 1 : 0)
            $0.int(c.sourceLine)
        }
    }

    func finding(_ f: FindingRow, into rows: inout PlainRows) {
        rows.add(.findings) {
            $0.text(f.kind); $0.int(f.seq); $0.int(f.poller); $0.int(f.fd); $0.int(f.mask); $0.int(f.batchSeq)
            $0.int(f.eventIndex); $0.int(f.harvestedRegistrationID); $0.text(f.harvestedLabel)
            $0.int(f.ranRegistrationID); $0.text(f.ranLabel); $0.int(f.closedSeq); $0.text(f.closedByLabel)
            $0.int(f.reusedSeq); $0.text(f.reusedByLabel); $0.int(f.spinBatches); $0.text(f.detail)
        }
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
