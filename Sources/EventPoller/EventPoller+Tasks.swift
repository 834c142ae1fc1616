import Dispatch
import PollTraceCore

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
        let accepted = shared.withLock { state in
            guard state.lifecycle != .closed, !state.lifecycle.isClosing else { return false }
            state.tasks.append(task)
            wakeLocked(&state)
            return true
        }
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
        // The caller resumes once the task's dispatch is recorded, so a trace read
        // right after this returns already holds it.
        try post(PostedTask(body: {
            let result = Result { try body() }
            slot.result = result
            if case .failure(let error) = result { throw error }
        }, whenRecorded: { slot.done.signal() }))
        slot.done.wait()
        return try slot.result!.get()
    }

    /// Wakes the loop from `epoll_wait`. Safe from any thread; a no-op once closed.
    public func wakeUp() {
        shared.withLock { wakeLocked(&$0) }
    }

    /// Writes the wake-up eventfd unless a wake-up is already outstanding. Runs
    /// under the lock so that `close` cannot close (and the kernel reuse) the
    /// eventfd's number between the check and the write.
    private func wakeLocked(_ state: inout SharedState) {
        guard !state.wakePending, state.lifecycle != .closed, !state.lifecycle.isClosing else { return }
        state.wakePending = true
        _ = try? Linux.EventFd.write(fd: wakeFD)
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
            task.whenRecorded?()
        }
    }

    /// Runs `body` as a task dispatch right now, on the calling (loop) thread.
    func dispatchTask(_ body: () throws -> Void) {
        nextTaskID &+= 1
        dispatchNonEvent(.task, id: nextTaskID, body)
    }
}

/// Carries `executeAndWait`'s result from the loop thread to the waiting one.
private final class ResultSlot<T>: @unchecked Sendable {
    // Written on the loop thread before `done` is signalled; read only after the wait.
    var result: Result<T, any Error>?
    let done = DispatchSemaphore(value: 0)
}

extension EventPoller.Lifecycle {
    var isClosing: Bool {
        if case .closing = self { true } else { false }
    }
}
