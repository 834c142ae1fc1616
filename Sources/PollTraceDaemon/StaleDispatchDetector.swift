import PollTraceCore

/// Counts stale dispatches live, from one loop iteration's records as they pass to
/// the trace: a handler ran for an event whose fd's registration ended (was
/// unregistered or closed) after the batch was harvested and before the dispatch
/// started. Under `naive` that handler is the new owner of the number (misrouted);
/// under `snapshot` it is the released one (dead registration). The guard never
/// lets one through, so a guarded daemon does not run this at all.
///
/// Why it can be told from one iteration alone: a batch's events are dispatched in
/// the iteration that harvested them, and an event can only go stale through a
/// registration ending between its harvest and its dispatch, both of which lie
/// inside the iteration. A dispatch's handler records after the dispatch took its
/// number, so a seq comparison tells an end made earlier in the batch (the hazard)
/// from one the event's own handler made (a connection closing itself).
///
/// What it does not see, so the count is a lower bound that `polltrace analyze`
/// makes exact: an iteration handed to the recorder in parts (past
/// `StagedRecords.limit` records, the parts after the first have no batch record
/// here), and more than `capacity` ends in one batch (the batch's later
/// dispatches go unjudged). Fixed storage on the stack: no allocation per batch.
struct StaleDispatchDetector {
    static let capacity = 32

    private var batchSeq: SequenceNumber = 0
    /// The batch's events (shared with the record, not copied).
    private var events: [HarvestedEvent] = []
    private var endedFDs = InlineArray<32, Int32>(repeating: -1)
    private var endedSeqs = InlineArray<32, SequenceNumber>(repeating: 0)
    private var ends = 0
    /// More ends in this batch than there is room for: judge no more of its dispatches.
    private var overflowed = false
    private(set) var staleDispatches = 0

    @inline(__always)
    mutating func observe(_ record: borrowing TraceRecord) {
        switch record {
        case .batch(let batch):
            batchSeq = batch.seq
            events = batch.events
            ends = 0
            overflowed = false
        case .unregistered(let end):
            noteEnd(fd: end.fd, seq: end.seq)
        case .dispatch(let dispatch) where dispatch.source == .event:
            guard ends > 0, !overflowed, dispatch.suppression == nil, dispatch.batchSeq == batchSeq,
                  Int(dispatch.eventIndex) < events.count else { return }
            let fd = events[Int(dispatch.eventIndex)].fd
            for index in 0..<ends where endedFDs[index] == fd && endedSeqs[index] < dispatch.seq {
                staleDispatches += 1
                return
            }
        default:
            break
        }
    }

    // A close of a registered fd through the poller records its unregistration
    // first, so `.unregistered` is every end; a plain `.closed` names an fd with
    // no registration on the poller, which has no event to go stale.
    private mutating func noteEnd(fd: Int32, seq: SequenceNumber) {
        guard batchSeq != 0, seq > batchSeq else { return }
        guard ends < Self.capacity else {
            overflowed = true
            return
        }
        endedFDs[ends] = fd
        endedSeqs[ends] = seq
        ends += 1
    }
}
