import PollTraceCore

/// Running, stopping and closing the loop.
extension EventPoller {
    /// Runs the loop on the calling thread until `stop` is called.
    public func run() throws {
        try enterLoop(forgettingEarlierStop: true)
        defer { leaveLoop() }
        try loopUntilStopped()
    }

    /// Runs exactly one iteration: one `epoll_wait` (for at most `timeoutMs`, or
    /// less if a timer or task is due sooner; -1 waits forever), the dispatch of the
    /// whole batch it returned, then due timers and posted tasks. Returns how many
    /// events the batch held.
    ///
    /// For tests that must make several fds ready before one batch is harvested, and
    /// for programs that drive the loop from their own.
    @discardableResult
    public func runOnce(timeoutMs: Int32) throws -> Int {
        try enterLoop()
        defer { leaveLoop() }
        return try iterate(timeoutMs: effectiveTimeout(requestedMs: timeoutMs))
    }

    /// Runs the loop on a new thread; returns once the loop
    /// is running, so that from then on only that thread may touch it.
    public func start() throws {
        // The new thread's answer to "did the loop start?", waited for below.
        let entered = Handoff<Result<Void, any Error>>()
        let thread: NamedThread
        do {
            thread = try NamedThread(name: "poller-\(id)") { [self] in
                do {
                    try enterLoop(forgettingEarlierStop: true)
                } catch {
                    entered.put(.failure(error))
                    return
                }
                entered.put(.success(()))
                defer { leaveLoop() }
                do {
                    try loopUntilStopped()
                } catch {
                    logger.critical("the loop stopped on an error: \(error)")
                }
            }
        } catch let failure as NamedThread.StartFailure {
            throw SyscallError(call: "pthread_create", errno: failure.errno)
        }
        if case .failure(let error) = entered.take() {
            thread.join()
            throw error
        }
        shared.withLock { $0.thread = thread }
    }

    /// Asks the loop to return after its current iteration. Safe from any thread,
    /// including the loop's own (a handler may stop its loop). Does not wait: `join`.
    public func stop() {
        let mustWake = shared.withLock { state in
            state.stopRequested = true
            return claimWakeLocked(&state)
        }
        if mustWake { writeWake() }
    }

    /// Waits for the thread `start` made to finish. Returns at once if there is none.
    /// Throws instead of deadlocking when called on the loop thread itself.
    public func join() throws {
        // One look under the lock: checking "running" and "on its thread" separately
        // could see the loop exit in between and mistake the caller for its thread.
        let onOwnLoop = shared.withLock { state in
            if case .running(let thread) = state.lifecycle { thread == NamedThread.currentID } else { false }
        }
        if onOwnLoop { throw EventPollerError.joinFromLoopThread(poller: label) }
        let thread = shared.withLock { state in
            let thread = state.thread
            state.thread = nil
            return thread
        }
        thread?.join()
    }

    /// Stops the loop, waits for its thread, and closes the poller.
    public func shutdown() throws {
        stop()
        try join()
        try close()
    }

    /// Closes every fd still registered with the poller, its wake-up eventfd and
    /// its epoll fd, after running any tasks still queued. Idempotent.
    ///
    /// The closes are recorded as the side effects of one last task dispatch, so the
    /// trace shows them as the shutdown's doing rather than the last handler's.
    /// Throws `stillRunning` while the loop runs: `stop` and `join` first.
    public func close() throws {
        let previous = shared.withLock { state in
            let previous = state.lifecycle
            if previous == .idle { state.lifecycle = .closing(thread: NamedThread.currentID) }
            return previous
        }
        switch previous {
        case .closed: return
        case .running, .closing: throw EventPollerError.stillRunning(poller: label)
        case .idle: break
        }
        runPostedTasks()
        dispatchTask { [self] in
            timers.removeAll()
            for entry in table.all where entry.registration != wakeRegistration {
                try? close(entry.registration)
            }
            waitForWakeWrites()
            if let wakeRegistration { try? close(wakeRegistration) }
            try? closeDescriptor(epollFD)
        }
        shared.withLock {
            $0.lifecycle = .closed
            $0.tasks.removeAll()
        }
    }

    /// Makes the calling thread the loop thread. `run` and `start` forget a `stop`
    /// asked for while no loop ran (it was meant for an earlier run); `runOnce`
    /// leaves it, since it does not look at it.
    func enterLoop(forgettingEarlierStop: Bool = false) throws {
        let previous = shared.withLock { state in
            let previous = state.lifecycle
            if previous == .idle {
                state.lifecycle = .running(thread: NamedThread.currentID)
                if forgettingEarlierStop { state.stopRequested = false }
            }
            return previous
        }
        switch previous {
        case .idle: return
        case .running: throw EventPollerError.alreadyRunning(poller: label)
        case .closing, .closed: throw EventPollerError.closed(poller: label)
        }
    }

    func leaveLoop() {
        shared.withLock { $0.lifecycle = .idle }
    }

    private func loopUntilStopped() throws {
        while !takeStopRequest() {
            try iterate(timeoutMs: effectiveTimeout(requestedMs: -1))
        }
    }

    private func takeStopRequest() -> Bool {
        shared.withLock { state in
            guard state.stopRequested else { return false }
            state.stopRequested = false
            return true
        }
    }

    /// The `epoll_wait` timeout: 0 when tasks wait or a stop is asked for, else the
    /// sooner of `requestedMs` and the next timer (rounded up to whole ms, so a timer
    /// never fires early); -1 means forever.
    private func effectiveTimeout(requestedMs: Int32) -> Int32 {
        if shared.withLock({ !$0.tasks.isEmpty || $0.stopRequested }) { return 0 }
        guard let deadline = timers.nextDeadline() else { return requestedMs }
        let now = MonotonicClock.nowNs()
        guard deadline > now else { return 0 }
        let timerMs = Int32(clamping: (deadline - now + 999_999) / 1_000_000)
        return requestedMs < 0 ? timerMs : min(requestedMs, timerMs)
    }
}
