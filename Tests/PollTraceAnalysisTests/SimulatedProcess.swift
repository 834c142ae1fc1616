import PollTraceCore

/// How a simulated loop picks handlers: one of the real policies, or the real
/// guarded policy with a broken guard that sometimes drops live events (to prove
/// the analyzer sees lost events).
enum SimulatedPolicy: Hashable, CustomStringConvertible {
    case real(DispatchPolicy)
    case lossyGuard

    var dispatchPolicy: DispatchPolicy {
        switch self {
        case .real(let p): p
        case .lossyGuard: .guarded
        }
    }
    var description: String {
        switch self {
        case .real(let p): p.rawValue
        case .lossyGuard: "lossy-guard"
        }
    }
}

/// What the generator itself knows happened, independent of the trace.
struct GroundTruth {
    /// Every non-correct verdict, as (kind, seq of the record that shows it).
    var findings: [(kind: FindingKind, seq: SequenceNumber)] = []
    var correct: UInt64 = 0
    /// Problems (lost, dead, misrouted) made by loops that ran the guarded code: what
    /// `verify` must catch as "the recording disagrees with the replay".
    var guardedProblems: UInt64 = 0
    /// How many dispatches each row of `VerdictRules.table` judged.
    var rowsUsed: [Int: Int] = [:]
    /// Dispatches the table states no verdict for: each one a hole in the table.
    var unstated: [String] = []
}

/// A simulated process with several event loops, a simulated kernel (one interest
/// list of epitems per epoll instance, level-triggered readiness per open file), and
/// the *real* `Dispatcher` making every dispatch decision. It records what it does
/// to a `TraceRecorder`, and keeps its own ground truth of every verdict: which
/// epitem an event came from it knows from its kernel, not from the records, and
/// the verdict follows from `VerdictRules.table`.
///
/// Which fds are open and which registrations live is the `PollerModel` that replay
/// applies, fed with every record made here: those rules are tested on their own
/// (`PollerModelTests`), and what this oracle adds is the kernel's side and the table.
struct SimulatedProcess {
    /// A kernel epitem: which registration it was added for, and its data word.
    struct Epitem {
        var registrationID: RegistrationID
        var interest: IOEvents
        var data: UInt64
    }
    /// The poller's own handler table (what `RegistrationLookup` answers).
    struct LoopTable: RegistrationLookup {
        var byFD: [Int32: RegistrationState] = [:]
        func currentRegistration(forFD fd: Int32) -> RegistrationState? { byFD[fd] }
    }
    struct Loop {
        var id: PollerID
        var policy: SimulatedPolicy
        var dispatcher: Dispatcher
        var table = LoopTable()
        var epitems: [Int32: Epitem] = [:]
        var batchNumber: UInt64 = 0
        var pending: [PendingEvent] = []
        var next = 0
        var batchSeq: SequenceNumber = 0
        /// Ground-truth "harvested for" per pending event; 0 for a zombie's event.
        var harvestedFor: [RegistrationID] = []
        /// Epitems whose fd was closed behind the loop's back while a dup kept the
        /// file open: the kernel still reports them, with the old data word.
        var zombies: [Zombie] = []
    }
    struct Zombie {
        var fd: Int32
        var registrationID: RegistrationID
        var data: UInt64
        var interest: IOEvents
        var ready: IOEvents
        var dupFD: Int32
    }
    struct SpinRun { var lastBatch: UInt64; var mask: IOEvents; var length: Int; var reported: Bool }

    let recorder: TraceRecorder
    var rng: SplitMix64
    let spinThreshold: Int
    var loops: [Loop]
    /// Open fds and live registrations, as every record made so far implies them.
    var model = PollerModel()
    var ready: [Int32: IOEvents] = [:]
    var nextRegistrationID: RegistrationID = 1
    var truth = GroundTruth()
    var spins: [RegistrationID: SpinRun] = [:]
    /// Per loop, the registration its latest dispatch ran (nil after a batch, a
    /// suppressed dispatch or a timer): fd records on that loop are its work.
    var activeRan: [PollerID: RegistrationID] = [:]
    var time: UInt64 = 1_000_000
    let maxFD: Int32 = 24
    /// Registrations whose fd was closed with a plain close(2): the loop's table still
    /// maps the number to them (it was not told), but they are dead.
    var staleEntries: Set<RegistrationID> = []
    /// Whether handlers sometimes close an fd behind the loop's back while a dup
    /// keeps its epitem alive (the orphan-event scenario).
    var makeZombies = false

    init(recorder: TraceRecorder, seed: UInt64, policies: [SimulatedPolicy], spinThreshold: Int) {
        self.recorder = recorder
        rng = SplitMix64(seed: seed)
        self.spinThreshold = spinThreshold
        loops = policies.enumerated().map { i, p in
            Loop(id: PollerID(i + 1), policy: p, dispatcher: Dispatcher(policy: p.dispatchPolicy))
        }
        for loop in loops {
            recorder.pollerStarted(PollerInfo(poller: loop.id, backend: "simulated", policy: loop.policy.dispatchPolicy,
                                              label: "loop \(loop.id) (\(loop.policy))"))
        }
    }

    var pollerInfos: [PollerInfo] {
        loops.map { PollerInfo(poller: $0.id, backend: "simulated", policy: $0.policy.dispatchPolicy, label: "loop \($0.id) (\($0.policy))") }
    }

    private mutating func seq() -> SequenceNumber { recorder.sequence.next() }

    /// Every record goes to the trace and to the model.
    private mutating func record(_ record: TraceRecord) {
        model.apply(record)
        recorder.record(record)
    }

    /// Open fd numbers, ascending.
    var openFDs: [Int32] { (0...maxFD).filter { model.fdTable.lookup($0) != nil } }
    private mutating func tick() -> UInt64 { time += 1 + rng.next() % 1000; return time }

    // MARK: - The schedule

    /// Runs `steps` scheduling steps: each picks a loop and either harvests a batch
    /// (if it has none pending), dispatches its next event, or fires a timer.
    mutating func run(steps: Int) {
        // Some fds to begin with, opened by main and registered by each loop.
        for _ in 0..<6 { _ = open(on: 0) }
        for fd in openFDs { register(fd: fd, on: loops[Int(rng.next() % UInt64(loops.count))].id, by: 0) }
        for _ in 0..<steps {
            let li = Int(rng.next() % UInt64(loops.count))
            if rng.chance(0.25) { churnReadiness() }
            if loops[li].next < loops[li].pending.count {
                dispatchNext(li)
            } else if rng.chance(0.05) {
                fireTimer(li)
            } else {
                harvest(li)
            }
        }
        // Let every loop finish its batch, as a loop does before it stops.
        for li in loops.indices { while loops[li].next < loops[li].pending.count { dispatchNext(li) } }
    }

    private mutating func churnReadiness() {
        guard let fd = openFDs.randomElement(using: &rng) else { return }
        ready[fd] = [IOEvents.readable, .writable, [.readable, .writable], []].randomElement(using: &rng)!
    }

    private mutating func harvest(_ li: Int) {
        var loop = loops[li]
        var events: [HarvestedEvent] = []
        var harvestedFor: [RegistrationID] = []
        for fd in loop.epitems.keys.sorted().shuffled(using: &rng) {
            let item = loop.epitems[fd]!
            let mask = (ready[fd] ?? []).deliverable(to: item.interest)
            if !mask.isEmpty && events.count < 8 {
                events.append(HarvestedEvent(fd: fd, mask: mask, data: item.data))
                harvestedFor.append(item.registrationID)
            }
        }
        // Zombie epitems fire too. On a loop whose data word is the bare fd, a zombie's
        // event is indistinguishable in the trace from one for a live registration of
        // the same number, so the generator does not make that case (the limit of
        // what any trace of such a loop can show).
        var zombieIndices: [Int] = []
        for z in loop.zombies.indices {
            if rng.chance(0.3) { loop.zombies[z].ready = [] } // the dup's owner drained it
            let zombie = loop.zombies[z]
            let mask = zombie.ready.deliverable(to: zombie.interest)
            let shadowed = loop.policy.dispatchPolicy != .guarded && loop.table.byFD[zombie.fd].map { !staleEntries.contains($0.registrationID) } == true
            if !mask.isEmpty && events.count < 8 && !shadowed {
                zombieIndices.append(events.count)
                events.append(HarvestedEvent(fd: zombie.fd, mask: mask, data: zombie.data))
                harvestedFor.append(0)
            }
        }
        loop.batchNumber += 1
        loop.batchSeq = seq()
        activeRan[loop.id] = nil
        for _ in zombieIndices { truth.findings.append((.orphanEvent, loop.batchSeq)) }
        let t = tick()
        record(.batch(BatchHarvested(seq: loop.batchSeq, timeNs: t, poller: loop.id, batchNumber: loop.batchNumber,
                                               timeoutMs: 100, waitedNs: 10, events: events)))
        loop.pending = loop.dispatcher.harvest(events, lookup: loop.table)
        loop.harvestedFor = harvestedFor
        loop.next = 0
        loops[li] = loop
    }

    private mutating func dispatchNext(_ li: Int) {
        let loop = loops[li]
        let index = loop.next
        loops[li].next += 1
        let pending = loop.pending[index]
        var decision = loop.dispatcher.decide(pending, lookup: loop.table)
        if loop.policy == .lossyGuard, case .run = decision, rng.chance(0.15) {
            decision = .suppress(.registrationReplaced) // the broken guard
        }
        let h = loop.harvestedFor[index]
        let harvested: VerdictRules.Harvested = h == 0 ? .orphan : model.isLive(h) ? .live : .ended
        let loopDid: VerdictRules.LoopDid
        let dseq = seq()
        let t = tick()
        switch decision {
        case .run(let r, let mask):
            record(.dispatch(Dispatch(seq: dseq, timeNs: t, poller: loop.id, source: .event, batchSeq: loop.batchSeq,
                                      eventIndex: UInt32(index), ranRegistrationID: r, deliveredMask: mask,
                                      suppression: nil, handlerThrew: false, durationNs: 100)))
            loopDid = r == h ? .ranHarvested : model.isLive(r) ? .ranOtherLive : .ranOtherEnded
            activeRan[loop.id] = r
            if model.isLive(r) {
                noteSpin(r, batch: loop.batchNumber, mask: mask, seq: dseq)
                if rng.chance(0.5) { ready[pending.event.fd] = [] } // the handler drains its fd
            }
            runHandler(on: li)
        case .suppress(let reason):
            activeRan[loop.id] = nil
            record(.dispatch(Dispatch(seq: dseq, timeNs: t, poller: loop.id, source: .event, batchSeq: loop.batchSeq,
                                      eventIndex: UInt32(index), ranRegistrationID: 0, deliveredMask: [],
                                      suppression: reason, handlerThrew: false, durationNs: 5)))
            let current = model.currentRegistration(onPoller: loop.id, fd: pending.event.fd)
            let nothingWanted = current.map { pending.event.mask.deliverable(to: $0.interest).isEmpty } ?? false
            loopDid = reason == .notInterested && nothingWanted ? .suppressedNothingWanted : .suppressed
        }
        guard let (row, verdict) = VerdictRules.verdict(harvested, loopDid) else {
            truth.unstated.append("(\(harvested), \(loopDid)) at seq \(dseq)")
            return
        }
        truth.rowsUsed[row, default: 0] += 1
        if verdict == .correct { truth.correct += 1 } else { truth.findings.append((verdict, dseq)) }
        if loop.policy.dispatchPolicy == .guarded && verdict.isProblem { truth.guardedProblems += 1 }
    }

    /// Records an fd record. Mirrors replay's rule: an fd record on a loop is the
    /// work of the registration the loop's latest dispatch ran, so that
    /// registration is busy, not stuck, and its spin run ends.
    private mutating func recordFD(_ fdRecord: TraceRecord) {
        if let r = activeRan[fdRecord.poller] { spins[r] = nil }
        record(fdRecord)
    }

    private mutating func noteSpin(_ r: RegistrationID, batch: UInt64, mask: IOEvents, seq: SequenceNumber) {
        var run = spins[r] ?? SpinRun(lastBatch: batch, mask: mask, length: 0, reported: false)
        if run.length > 0 && run.lastBatch == batch { return }
        if run.length > 0 && run.lastBatch + 1 == batch && run.mask == mask {
            run.length += 1
        } else {
            run = SpinRun(lastBatch: batch, mask: mask, length: 1, reported: false)
        }
        run.lastBatch = batch
        if run.length >= spinThreshold && !run.reported {
            run.reported = true
            truth.findings.append((.spin, seq))
        }
        spins[r] = run
    }

    private mutating func fireTimer(_ li: Int) {
        activeRan[loops[li].id] = nil
        let dseq = seq()
        record(.dispatch(Dispatch(seq: dseq, timeNs: tick(), poller: loops[li].id, source: .timer, batchSeq: 0,
                                  eventIndex: 0, ranRegistrationID: 9000, deliveredMask: [], suppression: nil,
                                  handlerThrew: false, durationNs: 50)))
        runHandler(on: li)
    }

    // MARK: - What handlers do

    /// A handler closes, opens, registers, modifies and unregisters fds while it runs.
    private mutating func runHandler(on li: Int) {
        let me = loops[li].id
        let actions = Int(rng.next() % 4)
        for _ in 0..<actions {
            switch rng.next() % 10 {
            case 0, 1, 2:
                // Close an fd that is unregistered or registered on this loop, through the loop.
                let candidates = openFDs.filter { fd in
                    loops.allSatisfy { $0.id == me || $0.table.byFD[fd] == nil }
                }
                if let fd = candidates.randomElement(using: &rng) { close(fd: fd, on: me) }
            case 3, 4, 5:
                if let fd = open(on: me), rng.chance(0.8) { register(fd: fd, on: me, by: me) }
            case 6:
                let free = openFDs.filter { fd in loops.allSatisfy { $0.table.byFD[fd] == nil } }
                if let fd = free.randomElement(using: &rng) { register(fd: fd, on: me, by: me) }
            case 7:
                if let fd = liveEntries(li).randomElement(using: &rng) { modify(fd: fd, on: li) }
            case 8:
                if let fd = liveEntries(li).randomElement(using: &rng) { unregister(fd: fd, on: li) }
            default:
                if makeZombies && rng.chance(0.3) {
                    let own = liveEntries(li).filter { fd in loops.allSatisfy { $0.id == me || $0.table.byFD[fd] == nil } }
                    if let fd = own.randomElement(using: &rng) { closeBehindTheLoop(fd: fd, on: li) }
                } else {
                    churnReadiness()
                }
            }
        }
    }

    private func liveEntries(_ li: Int) -> [Int32] {
        loops[li].table.byFD.filter { !staleEntries.contains($0.value.registrationID) }.keys.sorted()
    }

    /// dup(fd), then a plain close(fd) that the loop is not told about: the epitem
    /// lives on (the dup keeps the file open) and keeps reporting the old data word.
    private mutating func closeBehindTheLoop(fd: Int32, on li: Int) {
        guard let entry = loops[li].table.byFD[fd], let item = loops[li].epitems[fd],
              let dup = open(on: loops[li].id, origin: .dup) else { return }
        loops[li].zombies.append(Zombie(fd: fd, registrationID: entry.registrationID, data: item.data, interest: item.interest,
                                        ready: ready[fd] ?? .readable, dupFD: dup))
        loops[li].epitems[fd] = nil
        spins[entry.registrationID] = nil
        staleEntries.insert(entry.registrationID)
        recordFD(.closed(Closed(seq: seq(), timeNs: tick(), poller: loops[li].id, fd: fd)))
        ready[fd] = nil
    }

    /// The kernel hands out the lowest free number; the fd-opened record takes its
    /// sequence number after the call.
    @discardableResult
    mutating func open(on poller: PollerID, origin: FDOrigin? = nil) -> Int32? {
        guard let fd = (3...maxFD).first(where: { model.fdTable.lookup($0) == nil }) else { return nil }
        ready[fd] = rng.chance(0.5) ? .writable : .readable
        recordFD(.fdOpened(FDOpened(seq: seq(), timeNs: tick(), poller: poller, fd: fd,
                                           origin: origin ?? [.socket, .accept, .eventfd, .pipe].randomElement(using: &rng)!)))
        return fd
    }

    mutating func register(fd: Int32, on poller: PollerID, by thread: PollerID) {
        let li = Int(poller - 1)
        // A stale entry (its fd closed behind the loop's back) is replaced, as the
        // real poller does when the kernel accepts the ADD.
        if let existing = loops[li].table.byFD[fd], !staleEntries.contains(existing.registrationID) { return }
        let id = nextRegistrationID
        nextRegistrationID += 1
        let interest = [IOEvents.readable, .writable, [.readable, .writable]].randomElement(using: &rng)!
        let data = loops[li].dispatcher.epollData(registrationID: id, fd: fd)
        loops[li].table.byFD[fd] = RegistrationState(registrationID: id, fd: fd, interest: interest)
        loops[li].epitems[fd] = Epitem(registrationID: id, interest: interest, data: data)
        recordFD(.registered(Registered(seq: seq(), timeNs: tick(), poller: poller, registrationID: id, fd: fd,
                                               interest: interest, data: data, handlerLabel: "handler-\(id)")))
    }

    private mutating func modify(fd: Int32, on li: Int) {
        guard var state = loops[li].table.byFD[fd] else { return }
        state.interest = [IOEvents.readable, .writable, [.readable, .writable]].randomElement(using: &rng)!
        loops[li].table.byFD[fd] = state
        loops[li].epitems[fd]?.interest = state.interest
        recordFD(.modified(Modified(seq: seq(), timeNs: tick(), poller: loops[li].id,
                                           registrationID: state.registrationID, fd: fd, interest: state.interest)))
    }

    private mutating func unregister(fd: Int32, on li: Int) {
        guard let state = loops[li].table.byFD.removeValue(forKey: fd) else { return }
        loops[li].epitems[fd] = nil
        spins[state.registrationID] = nil
        recordFD(.unregistered(Unregistered(seq: seq(), timeNs: tick(), poller: loops[li].id,
                                                   registrationID: state.registrationID, fd: fd)))
    }

    /// Closing through the loop unregisters first, then closes; the close takes its
    /// sequence number before `close(2)`.
    private mutating func close(fd: Int32, on poller: PollerID) {
        for li in loops.indices {
            guard let entry = loops[li].table.byFD[fd] else { continue }
            if staleEntries.contains(entry.registrationID) {
                // Its fd was closed behind the loop's back and the number handed to
                // a file this epoll does not hold: EPOLL_CTL_DEL fails (ENOENT), and
                // the loop drops its entry all the same, as EventPoller does.
                loops[li].table.byFD[fd] = nil
                recordFD(.callFailed(CallFailed(seq: seq(), timeNs: tick(), poller: loops[li].id, call: .epollDelete,
                                                fd: fd, errno: 2 /* ENOENT */)))
            } else {
                unregister(fd: fd, on: li)
            }
            // Closing a dup releases the file its zombie epitems belonged to.
            loops[li].zombies.removeAll { $0.dupFD == fd }
        }
        for li in loops.indices { loops[li].zombies.removeAll { $0.dupFD == fd } }
        recordFD(.closed(Closed(seq: seq(), timeNs: tick(), poller: poller, fd: fd)))
        ready[fd] = nil
    }
}
