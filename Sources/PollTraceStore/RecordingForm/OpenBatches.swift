import PollTraceCore

/// While the writer goes through one chunk, the batch each poller harvested last,
/// held back so that the dispatches of its events (which follow it in the chunk)
/// can be packed into its row (`BatchPacking`). A poller dispatches a batch fully
/// before it harvests the next one, so a batch is complete when its poller's next
/// batch arrives; at the end of the chunk every held batch is written with the
/// dispatches seen so far, and later ones become rows of their own. Nothing is held
/// across commits, so every commit is still a complete prefix of what it covers.
struct OpenBatches {
    struct Entry {
        var batch: BatchHarvested
        /// The dispatch packed with each event, by event index.
        var dispatches: [Dispatch?]
        var packed = 0

        /// Packs `dispatch` here if it belongs to this batch and its event has no
        /// dispatch yet. Called in place (through `slots[p]?`): copying an entry out
        /// and back would copy its dispatch list for every dispatch.
        @inline(__always)
        mutating func pack(_ dispatch: Dispatch) -> Bool {
            guard BatchPacking.canPack(dispatch, into: batch), dispatches[Int(dispatch.eventIndex)] == nil else { return false }
            dispatches[Int(dispatch.eventIndex)] = dispatch
            packed += 1
            return true
        }
    }

    private var slots: [Entry?] = Array(repeating: nil, count: 64)
    private var overflow: [PollerID: Entry] = [:]
    private var held = 0
    /// Dispatch lists of batches already written, emptied, for the next batches:
    /// a new array per batch goes through the runtime's generic-metadata cache. At most one per poller slot is kept.
    private var spareLists: [[Dispatch?]] = []

    /// Holds `batch`, returning the batch its poller held before (now complete).
    mutating func open(_ batch: BatchHarvested) -> Entry? {
        var list = spareLists.popLast() ?? []
        list.append(contentsOf: repeatElement(nil, count: batch.events.count))
        var entry: Entry? = Entry(batch: batch, dispatches: list)
        if batch.poller < 64 {
            swap(&slots[Int(batch.poller)], &entry)  // in place: `entry` now holds the previous one
            if entry == nil { held += 1 }
            return entry
        }
        let previous = overflow.updateValue(entry!, forKey: batch.poller)
        if previous == nil { held += 1 }
        return previous
    }

    /// Packs `dispatch` with its event if its batch is held and the event has no
    /// dispatch yet. False: the caller writes it as its own row.
    @inline(__always)
    mutating func pack(_ dispatch: Dispatch) -> Bool {
        guard dispatch.source == .event else { return false }
        if dispatch.poller < 64 { return slots[Int(dispatch.poller)]?.pack(dispatch) ?? false }
        return overflow[dispatch.poller]?.pack(dispatch) ?? false
    }

    /// Takes back the dispatch list of a batch whose row is written, for reuse.
    mutating func recycle(_ entry: inout Entry) {
        guard spareLists.count < 64 else { return }
        var list: [Dispatch?] = []
        swap(&list, &entry.dispatches)
        list.removeAll(keepingCapacity: true)
        spareLists.append(list)
    }

    /// Every held batch, and holds none after.
    mutating func drain() -> [Entry] {
        guard held > 0 else { return [] }
        var entries: [Entry] = []
        for index in slots.indices {
            if let entry = slots[index] { entries.append(entry); slots[index] = nil }
        }
        entries.append(contentsOf: overflow.values)
        overflow.removeAll()
        held = 0
        return entries.sorted { $0.batch.seq < $1.batch.seq }
    }
}
