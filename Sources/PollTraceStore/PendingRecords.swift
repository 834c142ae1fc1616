import PollTraceCore

/// Records unpacked from a row that the reader has not yet returned, smallest seq
/// first: the dispatches packed into batch rows (`BatchPacking`), which come later
/// in seq order interleaved with other rows (the records a handler wrote, other
/// pollers' batches), and the second record of an fd pair (`FDRecordPairing`). The
/// cursor merges this queue with its table streams. It holds at most the events of
/// the batches still being dispatched.
struct PendingRecords {
    /// A binary min-heap on `seq`.
    private var heap: [TraceRecord] = []

    var isEmpty: Bool { heap.isEmpty }

    /// The smallest pending seq, or nil.
    @inline(__always)
    var headSeq: UInt64? { heap.first?.seq }

    mutating func push(_ record: TraceRecord) {
        heap.append(record)
        var child = heap.count - 1
        while child > 0 {
            let parent = (child - 1) / 2
            guard heap[child].seq < heap[parent].seq else { break }
            heap.swapAt(child, parent)
            child = parent
        }
    }

    mutating func pop() -> TraceRecord? {
        guard !heap.isEmpty else { return nil }
        let top = heap[0]
        let last = heap.removeLast()
        guard !heap.isEmpty else { return top }
        heap[0] = last
        var parent = 0
        while true {
            let left = 2 * parent + 1
            guard left < heap.count else { break }
            let right = left + 1
            let smaller = right < heap.count && heap[right].seq < heap[left].seq ? right : left
            guard heap[smaller].seq < heap[parent].seq else { break }
            heap.swapAt(parent, smaller)
            parent = smaller
        }
        return top
    }
}
