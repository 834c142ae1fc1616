/// The poller's pending timers, soonest first. Timers are not fds: the loop passes
/// the soonest deadline to `epoll_wait` as its timeout, which keeps timers out of
/// the fd table (and out of the fd-reuse hazard this project is about).
///
/// A binary min-heap of deadlines; cancelling removes the timer from `timers` and
/// leaves its heap slot to be skipped when it surfaces. Loop-thread confined.
struct TimerQueue {
    struct Timer {
        let handle: TimerHandle
        var deadlineNs: UInt64
        /// nil for a one-shot timer.
        let intervalNs: UInt64?
        let handler: TimerHandler
    }

    private var heap: [(deadlineNs: UInt64, timerID: UInt32)] = []
    private var timers: [UInt32: Timer] = [:]

    var isEmpty: Bool { timers.isEmpty }

    mutating func insert(_ timer: Timer) {
        timers[timer.handle.timerID] = timer
        push((timer.deadlineNs, timer.handle.timerID))
    }

    @discardableResult
    mutating func cancel(_ timerID: UInt32) -> Bool {
        timers.removeValue(forKey: timerID) != nil
    }

    func contains(_ timerID: UInt32) -> Bool { timers[timerID] != nil }

    /// The soonest live deadline.
    mutating func nextDeadline() -> UInt64? {
        while let top = heap.first {
            if let timer = timers[top.timerID], timer.deadlineNs == top.deadlineNs { return top.deadlineNs }
            pop() // cancelled, or superseded by a reschedule
        }
        return nil
    }

    /// Takes every timer due at `nowNs` off the heap, soonest first, and returns
    /// their ids. Each is then passed to `beginRun` (which skips one cancelled by an
    /// earlier timer's handler) and, if repeating, to `reschedule`.
    mutating func takeDue(nowNs: UInt64) -> [UInt32] {
        var due: [UInt32] = []
        while let deadline = nextDeadline(), deadline <= nowNs {
            due.append(pop().timerID)
        }
        return due
    }

    /// The timer to run now, or nil if it was cancelled since `takeDue`. A one-shot
    /// timer leaves the queue here, so its handler sees it as no longer scheduled.
    mutating func beginRun(_ timerID: UInt32) -> Timer? {
        guard let timer = timers[timerID] else { return nil }
        if timer.intervalNs == nil { timers.removeValue(forKey: timerID) }
        return timer
    }

    mutating func removeAll() {
        heap.removeAll()
        timers.removeAll()
    }

    /// Puts a repeating timer back, one interval after its last deadline; if that
    /// has passed already (the loop fell behind), one interval from `nowNs`, so a
    /// stalled loop does not fire a burst of catch-up runs.
    mutating func reschedule(_ timerID: UInt32, nowNs: UInt64) {
        guard var timer = timers[timerID], let interval = timer.intervalNs else { return }
        var next = timer.deadlineNs &+ interval
        if next <= nowNs { next = nowNs &+ interval }
        timer.deadlineNs = next
        timers[timerID] = timer
        push((timer.deadlineNs, timerID))
    }

    private mutating func push(_ item: (deadlineNs: UInt64, timerID: UInt32)) {
        heap.append(item)
        var child = heap.count - 1
        while child > 0 {
            let parent = (child - 1) / 2
            guard less(heap[child], heap[parent]) else { break }
            heap.swapAt(child, parent)
            child = parent
        }
    }

    @discardableResult
    private mutating func pop() -> (deadlineNs: UInt64, timerID: UInt32) {
        let top = heap[0]
        let last = heap.removeLast()
        if !heap.isEmpty {
            heap[0] = last
            var parent = 0
            while true {
                let left = 2 * parent + 1, right = left + 1
                var smallest = parent
                if left < heap.count, less(heap[left], heap[smallest]) { smallest = left }
                if right < heap.count, less(heap[right], heap[smallest]) { smallest = right }
                if smallest == parent { break }
                heap.swapAt(parent, smallest)
                parent = smallest
            }
        }
        return top
    }

    private func less(_ a: (deadlineNs: UInt64, timerID: UInt32), _ b: (deadlineNs: UInt64, timerID: UInt32)) -> Bool {
        a.deadlineNs != b.deadlineNs ? a.deadlineNs < b.deadlineNs : a.timerID < b.timerID
    }
}
