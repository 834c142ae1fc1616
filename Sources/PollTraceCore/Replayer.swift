/// Replays a trace's records, in sequence order, one at a time, against the state
/// they imply (a `PollerModel`: the fd table and each poller's interest list), and
/// classifies every event dispatch (see `FindingKind`).
///
/// Memory follows the live state (open fds, live registrations, one open batch per
/// poller, recently ended registrations an open batch may still name), not the
/// length of the trace. Deterministic: the same records give the same result.
///
/// The handlers for each kind of record are in `Replayer+Registrations.swift`,
/// `Replayer+Dispatches.swift` and `Replayer+Gaps.swift`; the state below is
/// internal rather than private so those files can reach it, and nothing else
/// in the module writes it.
public struct Replayer: Sendable {
    public let options: ReplayOptions

    // The simulated process.
    /// Which registrations are live and which fds open: the one model of them.
    var model = PollerModel()
    var pollers = PollerStates(empty: PollerReplayState())
    /// The details of live and recently ended registrations, for findings (who
    /// opened, registered, ended them). Read in place through `slot(of:)`, so the
    /// hot path never copies a record (with its strings) to look at it. A record
    /// here is live exactly when `model` holds its registration.
    var registrations = RegistrationMap<ReplayRegistration>()

    // What replay found.
    /// Per `FindingKind.ordinal`, `correct` included.
    var kindCounts = FindingKind.Counts()
    /// Exact counts of every kind found (kinds never found are absent).
    public var counts: [FindingKind: UInt64] { kindCounts.dictionary }
    public internal(set) var findings: [Finding] = []
    public internal(set) var inconsistencies: [Inconsistency] = []
    public internal(set) var inconsistencyCount: UInt64 = 0
    public internal(set) var gaps: [GapReport] = []
    public internal(set) var gapCount: UInt64 = 0
    /// Records after a gap that referred to fds, registrations or batches the lost
    /// records would have created. They are applied as if those records had been
    /// there, and counted here instead of as inconsistencies.
    public internal(set) var gapAffectedRecords: UInt64 = 0
    /// Events of closed batches that no dispatch ever named.
    public internal(set) var undispatchedEvents: UInt64 = 0
    public internal(set) var recordCount: UInt64 = 0
    public internal(set) var lastSeq: SequenceNumber = 0
    /// The verdict on the last record consumed, when it was an event dispatch.
    public internal(set) var lastDispatchVerdict: FindingKind?
    /// The registration the last consumed record made replay adopt (`adopt`), if any,
    /// so that a verifier beside it can add it to its own table.
    public internal(set) var lastAdopted: RegistrationState?
    var afterGap = false
    var pendingHoles: [GapReport] = []
    var pendingHoleCount: UInt64 = 0

    public init(options: ReplayOptions = ReplayOptions()) { self.options = options }

    public var fdTable: FDTable { model.fdTable }

    /// The interest list replay holds for `poller` now.
    public func interestList(_ poller: PollerID) -> InterestList { model.interestList(poller) }

    public func registration(_ id: RegistrationID) -> RegistrationRecord? { registrations[id]?.record }

    /// The registration event `eventIndex` of `poller`'s open batch was harvested
    /// for; nil for an orphan or when there is no such event.
    public func harvestedFor(poller: PollerID, eventIndex: Int) -> RegistrationID? {
        guard let i = pollers.index(poller), pollers[i].batch.isOpen, eventIndex >= 0,
              eventIndex < pollers[i].batch.slots.count else { return nil }
        let id = pollers[i].batch.slots[eventIndex].harvestedFor
        return id == 0 ? nil : id
    }

    /// Hands over the findings collected so far and forgets them, for a caller that
    /// streams them out (the trace finalizer): memory then stays flat however many
    /// there are. Counts are unaffected.
    public mutating func takeFindings() -> [Finding] {
        defer { findings = [] }
        return findings
    }

    /// Registrations held in memory (live plus recently ended). For memory tests.
    public var heldRegistrations: Int { registrations.count }

    // MARK: - Consuming records

    public mutating func consume(_ record: TraceRecord) {
        lastDispatchVerdict = nil
        lastAdopted = nil
        let seq = record.seq
        if recordCount > 0 || lastSeq > 0 {
            if seq == lastSeq {
                report(.duplicateSequence, seq, "sequence number \(seq) appears twice; the second record (\(record.kind)) was skipped")
                return
            }
            if seq < lastSeq {
                let last = lastSeq
                report(.sequenceOutOfOrder, seq, "record \(seq) (\(record.kind)) comes after \(last); it was skipped")
                return
            }
        }
        if seq > lastSeq + 1 { noteHole(from: lastSeq + 1, to: seq - 1, atTime: record.timeNs) }
        lastSeq = seq
        recordCount += 1

        switch record {
        case .fdOpened(let r): fdOpened(r)
        case .registered(let r): registered(r)
        case .modified(let r): modified(r)
        case .unregistered(let r): unregistered(r)
        case .closed(let r): closed(r)
        case .batch(let r): harvested(r)
        case .dispatch(let r): dispatched(r)
        case .gap(let r): gap(r)
        case .callFailed(let r): callFailed(r)
        case .syscall: break
        }
    }

    /// Call once after the last record: closes open batches and settles gaps.
    public mutating func finish() {
        for i in pollers.indicesByPoller {
            if pollers[i].batch.isOpen { undispatchedEvents += UInt64(pollers[i].batch.undispatched) }
            pollers[i].batch.close()
        }
        for hole in pendingHoles { appendGap(hole) }
        let unlisted = pendingHoleCount - UInt64(pendingHoles.count)
        gapCount += unlisted
        pendingHoles = []
        pendingHoleCount = 0
    }

    // MARK: - Helpers

    mutating func emit(_ finding: Finding) {
        kindCounts.add(finding.kind)
        if options.maxDetailed.map({ findings.count < $0 }) ?? true { findings.append(finding) }
    }

    /// The message is built only when it is kept: after a gap, a trace can have
    /// millions of records that would each build one to throw away.
    mutating func report(_ kind: Inconsistency.Kind, _ seq: SequenceNumber, _ message: @autoclosure () -> String,
                                 gapRelated: Bool = false) {
        if gapRelated && afterGap {
            gapAffectedRecords += 1
            return
        }
        inconsistencyCount += 1
        if options.maxDetailed.map({ inconsistencies.count < $0 }) ?? true {
            inconsistencies.append(Inconsistency(seq: seq, kind: kind, message: message()))
        }
    }
}
