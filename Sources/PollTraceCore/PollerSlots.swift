/// One value per poller, in an array, found by poller id.
///
/// Values live in an array so that they are mutated in place (a dictionary value
/// copied out and written back would copy the tables inside it on every record).
/// Small ids (the common case) find their index without hashing.
struct PollerSlots<Value: Sendable>: Sendable {
    private var values: [Value] = []
    /// What a poller seen for the first time starts with.
    private let empty: Value
    /// Poller id -> index, for ids below 4096; -1 where there is none.
    private var smallIDs: [Int32] = []
    private var largeIDs: [PollerID: Int] = [:]
    private var ids: [PollerID] = []
    /// Indices ordered by poller id, for deterministic iteration.
    private(set) var indicesByPoller: [Int] = []

    init(empty: Value) { self.empty = empty }

    @inline(__always)
    func index(_ poller: PollerID) -> Int? {
        if Int(poller) < smallIDs.count { let i = smallIDs[Int(poller)]; return i < 0 ? nil : Int(i) }
        return largeIDs[poller]
    }

    mutating func index(creating poller: PollerID) -> Int {
        if let i = index(poller) { return i }
        let i = values.count
        values.append(empty)
        ids.append(poller)
        if poller < 4096 {
            if Int(poller) >= smallIDs.count { smallIDs += Array(repeating: -1, count: Int(poller) + 1 - smallIDs.count) }
            smallIDs[Int(poller)] = Int32(i)
        } else {
            largeIDs[poller] = i
        }
        indicesByPoller = values.indices.sorted { ids[$0] < ids[$1] }
        return i
    }

    func poller(at i: Int) -> PollerID { ids[i] }

    /// Read and modified in place: `_read` lends the element rather than copying it
    /// (a copy would retain and release every table inside it on each access).
    /// As with `RegistrationMap.record(inSlot:)`, copy a projected struct before it
    /// becomes an `Optional` (a Swift 6.3.1 debug-build bug).
    subscript(i: Int) -> Value {
        _read { yield values[i] }
        _modify { yield &values[i] }
    }
}
