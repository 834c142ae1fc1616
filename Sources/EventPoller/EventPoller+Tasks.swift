import Glibc
import PollTraceCore
import Synchronization

/// Tasks posted from any thread. The queue lives under `shared`'s lock; the loop
/// takes the whole queue once per iteration and runs each task as a dispatch
/// (source `.task`), so whatever a task records is its side effect in the trace.
extension EventPoller {
    /// Runs `task` on the loop thread, after the current batch. Safe from any
    /// thread. Throws `closed` once the poller is closing or closed.
    public func execute(_ task: @escaping @Sendable () throws -> Void) throws {
        try post(PostedTask(body: task, whenRecorded: nil))
    }

    private func post(_ task: PostedTask) throws {
        let (accepted, mustWake) = shared.withLock { state in
            guard state.lifecycle != .closed, !state.lifecycle.isClosing else { return (false, false) }
            state.tasks.append(task)
            return (true, claimWakeLocked(&state))
        }
        if mustWake { writeWake() }
        if !accepted { throw EventPollerError.closed(poller: label) }
    }

    /// Runs `body` on the loop thread and waits for its result. On the loop thread
    /// itself, or while the loop does not run, it runs `body` right away (still as
    /// a task dispatch, so the trace attributes its records to it).
    ///
    /// Blocks until the loop gets to the task: do not call it for a loop that was
    /// told to stop and will not run again.
    public func executeAndWait<T: Sendable>(_ body: @escaping @Sendable () throws -> T) throws -> T {
        if isOnLoopThread {
            try checkOpen()
            var result: Result<T, any Error> = .failure(EventPollerError.closed(poller: label))
            nextTaskID &+= 1
            dispatchNonEvent(.task, id: nextTaskID) { result = Result { try body() } }
            return try result.get()
        }
        let slot = ResultSlot<T>()
        let done = Handoff<Result<T, any Error>>()
        // The caller resumes once the task's dispatch is recorded, so a trace read
        // right after this returns already holds it.
        try post(PostedTask(body: {
            let result = Result { try body() }
            slot.result = result
            if case .failure(let error) = result { throw error }
        }, whenRecorded: { done.put(slot.result!) }))
        return try done.take().get()
    }

    /// Wakes the loop from `epoll_wait`. Safe from any thread; a no-op once closed.
    public func wakeUp() {
        if shared.withLock({ claimWakeLocked(&$0) }) { writeWake() }
    }

    /// Claims the one outstanding wake-up (none is needed while one is pending, or
    /// once closing). The caller must then call `writeWake`.
    ///
    /// Why the write happens after the lock is released: written under it, the
    /// lock was held across a syscall that wakes the loop, whose first move is to
    /// take the same lock. In the daemon's accept handoff (one post per connection)
    /// that contention doubled with tracing on. The claim is counted under the
    /// lock, and `close` waits for counted writes to finish before it closes the
    /// eventfd, so a late write can never reach a reused fd number.
    func claimWakeLocked(_ state: inout SharedState) -> Bool {
        guard !state.wakePending, state.lifecycle != .closed, !state.lifecycle.isClosing else { return false }
        state.wakePending = true
        wakeWritesInFlight.claim()
        return true
    }

    /// The write a `claimWakeLocked` that returned true promised. If the loop
    /// drained the queue in between, the wake-up is spurious: harmless, the wake
    /// handler only resets the counter.
    func writeWake() {
        _ = try? Linux.EventFd.write(fd: wakeFD)
        wakeWritesInFlight.finish()
    }

    /// Returns once no claimed wake-up write is still under way. Called by `close`
    /// after it marked the poller closing (so no new claims), before it closes the
    /// eventfd.
    func waitForWakeWrites() {
        wakeWritesInFlight.waitUntilNone()
    }

    /// Runs every task posted before this call, each as one dispatch.
    func runPostedTasks() {
        let tasks = shared.withLock { state in
            state.wakePending = false
            let tasks = state.tasks
            state.tasks.removeAll()
            return tasks
        }
        for task in tasks {
            nextTaskID &+= 1
            dispatchNonEvent(.task, id: nextTaskID, task.body)
            if let whenRecorded = task.whenRecorded {
                handOverStagedRecords()
                whenRecorded()
            }
        }
    }

    /// Runs `body` as a task dispatch right now, on the calling (loop) thread.
    func dispatchTask(_ body: () throws -> Void) {
        nextTaskID &+= 1
        dispatchNonEvent(.task, id: nextTaskID, body)
    }
}

/// Keeps `executeAndWait`'s result on the loop thread from the task's dispatch
/// until the dispatch is recorded and the result handed to the waiting thread.
private final class ResultSlot<T>: @unchecked Sendable {
    // Loop thread only: written by the task, read by its `whenRecorded`.
    var result: Result<T, any Error>?
}

extension EventPoller.Lifecycle {
    var isClosing: Bool {
        if case .closing = self { true } else { false }
    }
}

/// Counts the wake-up writes claimed and not yet done, and lets `close` wait for
/// the count to reach zero without spinning.
///
/// The writers' side stays two atomic operations (a claim, a finish) unless a
/// closer waits: only then does the write that finishes last take the lock to
/// signal. Both sides use sequentially consistent operations, so either the last
/// finisher sees `closerWaits` set (and signals) or the closer, which sets it
/// before looking, sees the count at zero (and does not wait): no lost wake-up.
final class WritesInFlight: Sendable {
    private let count = Atomic<Int>(0)
    private let closerWaits = Atomic<Bool>(false)
    private let lock = ConditionLock()
    private let none: ConditionLock.Condition

    init() { none = lock.makeCondition() }

    func claim() { count.wrappingAdd(1, ordering: .sequentiallyConsistent) }

    func finish() {
        let left = count.wrappingSubtract(1, ordering: .sequentiallyConsistent).newValue
        if left == 0 && closerWaits.load(ordering: .sequentiallyConsistent) {
            lock.withLock { none.broadcast() }
        }
    }

    /// Returns once no claimed write is still under way. Call once claims have
    /// stopped (the poller is closing).
    func waitUntilNone() {
        closerWaits.store(true, ordering: .sequentiallyConsistent)
        lock.withLock {
            while count.load(ordering: .sequentiallyConsistent) != 0 { none.wait() }
        }
    }
}
