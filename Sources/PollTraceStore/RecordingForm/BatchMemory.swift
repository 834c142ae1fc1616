import PollTraceCore

/// The most recent batch of each poller, as both the writer and the reader see it
/// in seq order: what a dispatch is stored relative to (`RowEncoding.DispatchBase`).
/// A dispatch almost always belongs to its poller's latest batch; when it does
/// not (or the batch is not in the trace), it is stored with absolute values.
struct BatchMemory {
    private struct Entry {
        var seq: SequenceNumber
        var t: Int64
        var events: [HarvestedEvent]
    }

    /// Indexed by poller id for the usual small ids; others in `overflow`.
    private var slots: [Entry?] = Array(repeating: nil, count: 64)
    private var overflow: [PollerID: Entry] = [:]

    mutating func remember(_ batch: BatchHarvested, t: Int64) {
        let entry = Entry(seq: batch.seq, t: t, events: batch.events)
        if batch.poller < 64 { slots[Int(batch.poller)] = entry } else { overflow[batch.poller] = entry }
    }

    @inline(__always)
    func base(poller: PollerID, batchSeq: SequenceNumber, eventIndex: UInt32) -> RowEncoding.DispatchBase? {
        guard batchSeq != 0, let entry = poller < 64 ? slots[Int(poller)] : overflow[poller],
              entry.seq == batchSeq, Int(eventIndex) < entry.events.count else { return nil }
        return RowEncoding.DispatchBase(t: entry.t, dataHigh: Int64(entry.events[Int(eventIndex)].data >> 32))
    }

    func base(for dispatch: Dispatch) -> RowEncoding.DispatchBase? {
        guard dispatch.source == .event else { return nil }
        return base(poller: dispatch.poller, batchSeq: dispatch.batchSeq, eventIndex: dispatch.eventIndex)
    }
}
