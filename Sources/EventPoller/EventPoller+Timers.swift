import PollTraceCore

/// One-shot and repeating timers. Each firing is a dispatch (source `.timer`,
/// `ranRegistrationID` = the timer's id). Loop-thread confined, like registrations.
extension EventPoller {
    /// Runs `handler` once after `delay`, or every `interval` after that if one is given.
    @discardableResult
    public func scheduleTimer(after delay: Duration, repeating interval: Duration? = nil, label: String,
                              handler: @escaping TimerHandler) throws -> TimerHandle {
        assertOnLoopThread()
        try checkOpen()
        if let interval { precondition(interval > .zero, "a repeating timer needs a positive interval") }
        nextTimerID &+= 1
        let handle = TimerHandle(timerID: nextTimerID, poller: id, label: label)
        timers.insert(TimerQueue.Timer(handle: handle, deadlineNs: MonotonicClock.nowNs() &+ delay.nanoseconds,
                                       intervalNs: interval?.nanoseconds, handler: handler))
        return handle
    }

    /// Cancels a timer; returns false if it already fired (one-shot) or was cancelled.
    /// A repeating timer may cancel itself from its own handler.
    @discardableResult
    public func cancelTimer(_ timer: TimerHandle) -> Bool {
        assertOnLoopThread()
        guard timer.poller == id else { return false }
        return timers.cancel(timer.timerID)
    }

    /// Runs the timers due now, soonest first.
    func runDueTimers() {
        if timers.isEmpty { return }
        for timerID in timers.takeDue(nowNs: MonotonicClock.nowNs()) {
            guard let timer = timers.beginRun(timerID) else { continue } // cancelled by an earlier timer
            dispatchNonEvent(.timer, id: timerID) { try timer.handler(timer.handle) }
            timers.reschedule(timerID, nowNs: MonotonicClock.nowNs())
        }
    }
}

extension Duration {
    /// Whole nanoseconds, clamped at 0 (a negative delay means "now").
    var nanoseconds: UInt64 {
        let (seconds, attoseconds) = components
        if seconds < 0 { return 0 }
        return UInt64(seconds) &* 1_000_000_000 &+ UInt64(attoseconds / 1_000_000_000)
    }
}
