/// One way the fixed dispatcher, replayed over a trace, disagreed with what it must do.
public struct VerificationFailure: Hashable, Sendable {
    public enum Kind: String, Hashable, Sendable, CaseIterable {
        /// Analysis found a stale dispatch (or a justified suppression), but the guarded
        /// dispatcher would have run a handler.
        case staleNotSuppressed = "stale_not_suppressed"
        /// The event was not stale, but the guarded dispatcher suppressed it.
        case correctSuppressed = "correct_suppressed"
        /// The guarded dispatcher would have run a different handler than the right one.
        case wrongHandler = "wrong_handler"
        /// On a poller recorded under `guarded`: the recording decided differently from
        /// the replay of the same code (a suppression the poller made that replay does
        /// not, or one it should have made and did not).
        case recordingDisagrees = "recording_disagrees"
    }
    public var kind: Kind
    public var seq: SequenceNumber
    public var poller: PollerID
    public var verdict: FindingKind
    public var recorded: String
    public var replayed: String
}

/// `polltrace verify`: replays a trace through the *real* `Dispatcher` under the
/// `guarded` policy, against a simulated kernel and a registration table fed from
/// the trace (its own `PollerModel`, so records change it exactly as they change
/// the analysis), beside the analysis `Replayer` that classifies each recorded
/// dispatch. Every stale dispatch must be suppressed and every correct one kept.
///
/// The simulated kernel returns, for each recorded event, what the kernel would have
/// returned to a guarded loop: the same fd and mask, with `epoll_data` packing the
/// registration the event was harvested for (for an orphan, whatever id the recorded
/// word carried, 0 for a bare fd).
///
/// When the replay suppresses a dispatch whose handler ran in the recording, that
/// handler's side effects (records on its thread until its poller's next dispatch or
/// batch) would not have happened: they are not applied to the replay's table, they
/// are counted, and their fds are marked divergent. Dispatches on divergent fds are
/// counted, not judged, until a close (applied in both worlds) realigns the fd.
public struct FixVerifier: Sendable {
    public let dispatcher = Dispatcher(policy: .guarded)
    public private(set) var replayer: Replayer
    private let recordedPolicies: [PollerID: DispatchPolicy]

    /// The fixed loop's state: every record applied, except the effects of
    /// handlers the fixed loop would not have run.
    private var model = PollerModel()
    private var pending: [PollerID: (batchSeq: SequenceNumber, events: [PendingEvent])] = [:]
    private var skippingEffectsOf: [PollerID: SequenceNumber] = [:]
    private var divergentFDs: Set<Int32> = []
    private var taintedRegistrations: Set<RegistrationID> = []

    /// Stale dispatches (and orphan runs) the guarded replay suppressed.
    public private(set) var staleSuppressed: UInt64 = 0
    /// Correct dispatches the guarded replay ran with the same handler.
    public private(set) var correctKept: UInt64 = 0
    /// Correct dispatches the replay suppressed only because a modify earlier in the
    /// batch narrowed the interest so that none of the ready bits are wanted.
    public private(set) var narrowedByInterest: UInt64 = 0
    /// Recorded suppressions the replay also suppresses.
    public private(set) var suppressionsKept: UInt64 = 0
    /// Lost events (recorded suppressions of live events) that the replay delivers.
    public private(set) var lostEventsDelivered: UInt64 = 0
    /// Dispatches on fds whose history diverged because skipped effects changed it.
    public private(set) var divergentDispatches: UInt64 = 0
    /// Side-effect records of suppressed handlers, not applied to the replay's table.
    public private(set) var skippedEffectRecords: UInt64 = 0
    /// Suppressed dispatches whose handler had side effects in the recording.
    public private(set) var suppressedWithEffects: UInt64 = 0
    public private(set) var failures: [VerificationFailure] = []
    public private(set) var failureCount: UInt64 = 0

    public init(recordedPolicies: [PollerID: DispatchPolicy], options: ReplayOptions = ReplayOptions()) {
        self.recordedPolicies = recordedPolicies
        replayer = Replayer(options: options)
    }

    public var passed: Bool { failureCount == 0 }

    public mutating func consume(_ record: TraceRecord) {
        let before = replayer.recordCount
        replayer.consume(record)
        guard replayer.recordCount != before else { return } // duplicate or out of order: skipped

        // Almost always empty: checked first so that most records hash nothing here.
        if !skippingEffectsOf.isEmpty {
            let poller = record.poller
            if case .dispatch = record { skippingEffectsOf[poller] = nil }
            if case .batch = record { skippingEffectsOf[poller] = nil }
            if poller != 0, skippingEffectsOf[poller] != nil {
                skip(record)
                return
            }
        }
        if let adopted = replayer.lastAdopted {
            // Made before the trace's first record: the fixed loop's table held it too.
            model.adopt(adopted, poller: record.poller)
        }
        model.apply(record)
        switch record {
        case .closed(let r):
            // Both worlds agree again on this number: it is closed.
            if !divergentFDs.isEmpty { divergentFDs.remove(r.fd) }
        case .batch(let b):
            harvest(b)
        case .dispatch(let d):
            if d.source == .event { judge(d) }
        case .fdOpened, .registered, .modified, .unregistered, .gap, .callFailed, .syscall:
            break
        }
    }

    public mutating func finish() { replayer.finish() }

    // MARK: - The simulated kernel and the real dispatcher

    private mutating func harvest(_ b: BatchHarvested) {
        let table = model.interestList(b.poller)
        let kernelEvents = b.events.enumerated().map { index, event in
            let harvestedFor = replayer.harvestedFor(poller: b.poller, eventIndex: index)
                ?? EpollData.registrationID(event.data)
            return HarvestedEvent(fd: event.fd, mask: event.mask,
                                  data: dispatcher.epollData(registrationID: harvestedFor, fd: event.fd))
        }
        pending[b.poller] = (b.seq, dispatcher.harvest(kernelEvents, lookup: table))
    }

    private mutating func judge(_ d: Dispatch) {
        guard let verdict = replayer.lastDispatchVerdict,
              let batch = pending[d.poller], batch.batchSeq == d.batchSeq,
              Int(d.eventIndex) < batch.events.count else { return }
        let pendingEvent = batch.events[Int(d.eventIndex)]
        let decision = dispatcher.decide(pendingEvent, lookup: model.interestList(d.poller))
        let recordedRan = d.suppression == nil
        let harvestedID = EpollData.registrationID(pendingEvent.event.data)

        if case .suppress = decision, recordedRan {
            // The fixed loop would not have run this handler: what it did next is skipped.
            skippingEffectsOf[d.poller] = d.seq
        }

        var failed = false
        func fail(_ kind: VerificationFailure.Kind) {
            guard !failed else { return } // one failure per dispatch
            failed = true
            failureCount += 1
            if replayer.options.maxDetailed.map({ failures.count < $0 }) ?? true {
                // Described only for a failure that is kept: building these two
                // strings for every dispatch was most of verify's time.
                let recorded = recordedRan ? "ran #\(d.ranRegistrationID) with \(d.deliveredMask)" : "suppressed (\(d.suppression!))"
                let replayed: String
                switch decision {
                case .run(let id, let mask): replayed = "run #\(id) with \(mask)"
                case .suppress(let reason): replayed = "suppress (\(reason))"
                }
                failures.append(VerificationFailure(kind: kind, seq: d.seq, poller: d.poller, verdict: verdict,
                                                    recorded: recorded, replayed: replayed))
            }
        }

        // A poller recorded under guarded must have made no stale dispatch and lost no
        // event. This rests on the analysis of the recording alone, so it is checked
        // even where the replay's table diverged.
        let guardedRecording = recordedPolicies[d.poller] == .guarded
        if guardedRecording && (verdict.isStaleDispatch || verdict == .lostEvent) { fail(.recordingDisagrees) }

        if !divergentFDs.isEmpty && divergentFDs.contains(pendingEvent.event.fd)
            || !taintedRegistrations.isEmpty && taintedRegistrations.contains(harvestedID) {
            divergentDispatches += 1
            return
        }

        switch (verdict, decision) {
        case (.misrouted, .suppress), (.deadRegistration, .suppress):
            staleSuppressed += 1
        case (.misrouted, .run), (.deadRegistration, .run), (.justifiedSuppression, .run):
            fail(.staleNotSuppressed)
        case (.justifiedSuppression, .suppress):
            suppressionsKept += 1
        case (.correct, .run(let id, _)):
            if recordedRan && id == d.ranRegistrationID { correctKept += 1 }
            else if recordedRan { fail(.wrongHandler) }
            else { fail(.recordingDisagrees) } // a notInterested suppression replay would deliver
        case (.correct, .suppress(let reason)):
            if !recordedRan { suppressionsKept += 1 }
            else if reason == .notInterested { narrowedByInterest += 1 }
            else { fail(.correctSuppressed) }
        case (.lostEvent, .run):
            lostEventsDelivered += 1
        case (.lostEvent, .suppress):
            fail(.correctSuppressed)
        case (.orphanEvent, _), (.spin, _):
            break // never a dispatch verdict
        }

        // A poller recorded under guarded ran this very code: it must agree exactly.
        if !failed, guardedRecording {
            let agrees: Bool
            switch decision {
            case .run(let id, let mask): agrees = recordedRan && id == d.ranRegistrationID && mask == d.deliveredMask
            // A suppression agrees with a suppression: the outcome (no handler ran)
            // is what the fix promises; the reason can differ when the loop's own
            // table held an entry for an fd closed behind its back.
            case .suppress: agrees = !recordedRan
            }
            if !agrees { fail(.recordingDisagrees) }
        }
    }

    private mutating func skip(_ record: TraceRecord) {
        if skippedEffectRecords == 0 || lastSkippedDispatch != skippingEffectsOf[record.poller] {
            suppressedWithEffects += 1
            lastSkippedDispatch = skippingEffectsOf[record.poller]
        }
        skippedEffectRecords += 1
        switch record {
        case .fdOpened(let r): divergentFDs.insert(r.fd)
        case .registered(let r):
            divergentFDs.insert(r.fd)
            taintedRegistrations.insert(r.registrationID)
        case .modified(let r): divergentFDs.insert(r.fd)
        case .unregistered(let r): divergentFDs.insert(r.fd)
        case .closed(let r): divergentFDs.insert(r.fd)
        // A failed DEL ends a registration (`PollerModel`): skipped, the fd diverges.
        case .callFailed(let r) where r.call == .epollDelete: divergentFDs.insert(r.fd)
        case .batch, .dispatch, .gap, .callFailed, .syscall: break
        }
    }
    private var lastSkippedDispatch: SequenceNumber?
}
