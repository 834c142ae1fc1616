/// The per-poller state the `Replayer` keeps, and how it is stored.

/// Every poller's replay state (see `PollerSlots`).
typealias PollerStates = PollerSlots<PollerReplayState>

/// What replay keeps per poller.
struct PollerReplayState: Sendable {
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
struct ReplayRegistration: RegistrationMapValue {
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
