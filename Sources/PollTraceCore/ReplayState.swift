/// The per-poller state the `Replayer` keeps, and how it is stored.

/// Every poller's replay state, in an array so that it is mutated in place (a
/// dictionary value copied out and written back would copy its tables each time).
struct PollerStates: Sendable {
    private var states: [PollerReplayState] = []
    /// Poller id -> index, for small ids (the common case) without hashing.
    private var smallIDs: [Int32] = []
    private var largeIDs: [PollerID: Int] = [:]
    /// Indices ordered by poller id, for deterministic iteration.
    private(set) var indicesByPoller: [Int] = []
    private var ids: [PollerID] = []

    func index(_ poller: PollerID) -> Int? {
        if Int(poller) < smallIDs.count { let i = smallIDs[Int(poller)]; return i < 0 ? nil : Int(i) }
        return largeIDs[poller]
    }

    mutating func index(creating poller: PollerID) -> Int {
        if let i = index(poller) { return i }
        let i = states.count
        states.append(PollerReplayState())
        ids.append(poller)
        if poller < 4096 {
            if Int(poller) >= smallIDs.count { smallIDs += Array(repeating: -1, count: Int(poller) + 1 - smallIDs.count) }
            smallIDs[Int(poller)] = Int32(i)
        } else {
            largeIDs[poller] = i
        }
        indicesByPoller = states.indices.sorted { ids[$0] < ids[$1] }
        return i
    }

    /// Read and modified in place: `_read` lends the element rather than copying it
    /// (a copy would retain and release every table inside it on each access).
    /// As with `RegistrationMap.record(inSlot:)`, copy a projected struct before it
    /// becomes an `Optional` (a Swift 6.3.1 debug-build bug).
    subscript(i: Int) -> PollerReplayState {
        _read { yield states[i] }
        _modify { yield &states[i] }
    }
}

/// What replay keeps per poller.
struct PollerReplayState: Sendable {
    var interest = InterestList()
    /// The batch whose events are being dispatched (its storage is reused).
    var batch = OpenBatch()
    var batchCount: UInt64 = 0
    /// The dispatch running on this poller's thread: records made there are its effects.
    var activeDispatch: DispatchRef?
    /// The registration `activeDispatch` ran for an event (0: none, or it was
    /// suppressed, or it was a timer or task): the one whose spin run work ends.
    var activeRegistration: RegistrationID = 0
    /// Registrations that ran in the open batch and whose work is the posted tasks
    /// run after them (`ReplayRegistration.tasksAreItsWork`).
    var ranForTasks: [RegistrationID] = []
    /// Registrations of this poller that ended, with the batch count at their end.
    var ended: [EndedRegistration] = []
    /// Each fd number's most recent registration on this poller, live or ended.
    var lastByFD = FDMap<RegistrationID>()
}

/// A plain struct rather than a tuple: an array of tuples asks the runtime for the
/// tuple's type metadata on every append.
struct EndedRegistration: Sendable {
    var id: RegistrationID
    var batchCount: UInt64
}

/// The batch whose events are still being dispatched, if `isOpen`.
///
/// One per poller, kept across batches: opening the next batch refills the slots
/// in place instead of allocating two arrays per batch.
struct OpenBatch: Sendable {
    struct Slot: Sendable {
        /// The registration the event was harvested for; 0 for an orphan.
        var harvestedFor: RegistrationID = 0
        var dispatched = false
    }
    private(set) var isOpen = false
    var ref = BatchRef(seq: 0, timeNs: 0, poller: 0, batchNumber: 0)
    private(set) var events: [HarvestedEvent] = []
    /// One per event, in the batch's order.
    var slots: [Slot] = []
    var undispatched = 0

    /// Opens a batch of `events`, each harvested for nothing and not dispatched yet.
    mutating func open(ref: BatchRef, events: [HarvestedEvent]) {
        isOpen = true
        self.ref = ref
        self.events = events
        slots.removeAll(keepingCapacity: true)
        slots.append(contentsOf: repeatElement(Slot(), count: events.count))
        undispatched = events.count
    }

    mutating func close() {
        isOpen = false
        events = []
        slots.removeAll(keepingCapacity: true)
        undispatched = 0
    }
}

/// A registration as replay holds it: the full record (to explain findings) and
/// the spin run it is in, if it is live and has been dispatched.
struct ReplayRegistration: Sendable {
    var record: RegistrationRecord
    var spin: SpinRun?
    /// Posted tasks that run later in the same iteration count as this
    /// registration's work (for spins): EventPoller's wake-up eventfd, which is
    /// readable because tasks were posted, and a registration adopted after a gap,
    /// which might be one.
    var tasksAreItsWork = false

    /// What `RegistrationMap` keeps in its empty slots.
    static let placeholder = ReplayRegistration(record: RegistrationRecord(
        registrationID: 0, poller: 0, fd: -1, interest: [], data: 0, handlerLabel: "", registeredSeq: 0,
        registeredTimeNs: 0, registeredBy: nil, fdOpenedSeq: 0, fdOrigin: nil, fdOpenedBy: nil, end: nil, fdClose: nil))
}

struct SpinRun: Sendable {
    var first: BatchRef
    var lastBatchNumber: UInt64
    var mask: IOEvents
    var length: Int
    var reported: Bool
}
