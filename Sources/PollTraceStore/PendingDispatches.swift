import PollTraceCore

/// The dispatches unpacked from batch rows (`BatchPacking`) that the reader has not
/// yet returned, smallest seq first. A batch row is read at the batch's seq, and its
/// dispatches come later in seq order, interleaved with other rows (the records a
/// handler wrote, other pollers' batches): the cursor merges this queue with its
/// table streams. It holds at most the events of the batches still being dispatched.
struct PendingDispatches {
    /// A binary min-heap on `seq`.
    private var heap: [Dispatch] = []

    var isEmpty: Bool { heap.isEmpty }

    /// The smallest pending seq, or nil.
    @inline(__always)
    var headSeq: UInt64? { heap.first?.seq }

    mutating func push(_ dispatch: Dispatch) {
        heap.append(dispatch)
        var child = heap.count - 1
        while child > 0 {
            let parent = (child - 1) / 2
            guard heap[child].seq < heap[parent].seq else { break }
            heap.swapAt(child, parent)
            child = parent
        }
    }

    mutating func pop() -> Dispatch? {
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
