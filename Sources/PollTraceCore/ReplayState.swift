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
    subscript(i: Int) -> PollerReplayState {
        _read { yield states[i] }
        _modify { yield &states[i] }
    }
}

/// What replay keeps per poller.
struct PollerReplayState: Sendable {
    var interest = InterestList()
    var openBatch: OpenBatch?
    var batchCount: UInt64 = 0
    /// The dispatch running on this poller's thread: records made there are its effects.
    var activeDispatch: DispatchRef?
    var spinRuns: [RegistrationID: SpinRun] = [:]
    /// Registrations of this poller that ended, with the batch count at their end.
    var ended: [(id: RegistrationID, batchCount: UInt64)] = []
    /// Each fd number's most recent registration on this poller, live or ended.
    var lastByFD: [Int32: RegistrationID] = [:]
}

/// A batch whose events are still being dispatched.
struct OpenBatch: Sendable {
    var ref: BatchRef
    var events: [HarvestedEvent]
    /// Per event, the registration it was harvested for; 0 for an orphan.
    var harvestedFor: [RegistrationID]
    var dispatched: [Bool]
    var undispatched: Int

    init(ref: BatchRef, events: [HarvestedEvent], harvestedFor: [RegistrationID]) {
        self.ref = ref; self.events = events; self.harvestedFor = harvestedFor
        dispatched = Array(repeating: false, count: events.count)
        undispatched = events.count
    }
}

struct HotRegistration: Sendable {
    var poller: PollerID
    var fd: Int32
    var data: UInt64
    var label: String
    var live: Bool
}

struct SpinRun: Sendable {
    var first: BatchRef
    var lastBatchNumber: UInt64
    var mask: IOEvents
    var length: Int
    var reported: Bool
}
