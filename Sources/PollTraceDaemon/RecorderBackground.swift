import PollTraceCore

/// The recorder's work off the event loops, and how `DaemonRecorder.close` waits
/// for it without polling: the rotation watch, a thread that runs a check at a
/// fixed interval until told to stop, and the closes of rotated files, each on a
/// thread of its own, counted until done.
final class RecorderBackground: @unchecked Sendable {
    private let lock = ConditionLock()
    /// Broadcast when a stop is asked for or a close finishes.
    private let changed: ConditionLock.Condition
    // Every field below is read and written with `lock` held.
    private var stopRequested = false
    private var pendingCloses = 0
    private var watch: NamedThread?

    init() { changed = lock.makeCondition() }

    /// Runs `check` (given the clock's reading) every `intervalNs`, on a thread
    /// named `name`, until `stopWatch`. The first check comes one interval after
    /// the start. Call at most once.
    func startWatch(name: String, intervalNs: UInt64, _ check: @escaping @Sendable (_ nowNs: UInt64) -> Void) throws {
        let thread = try NamedThread(name: name) { [self] in
            var nextNs = MonotonicClock.nowNs() &+ intervalNs
            lock.lock()
            while !stopRequested {
                let nowNs = MonotonicClock.nowNs()
                guard nowNs >= nextNs else {
                    changed.wait(untilMonotonicNs: nextNs)
                    continue
                }
                nextNs = nowNs &+ intervalNs
                lock.unlock()
                check(nowNs)
                lock.lock()
            }
            lock.unlock()
        }
        lock.withLock { watch = thread }
    }

    /// Stops the watch and waits for its thread to end (a check under way finishes
    /// first). Returns at once if no watch was started.
    func stopWatch() {
        let thread = lock.withLock {
            stopRequested = true
            changed.broadcast()
            defer { watch = nil }
            return watch
        }
        thread?.join()
    }

    /// Counts a close about to start, so that `waitForCloses` waits for it even if
    /// it is called before the close's thread runs. Follow with `runClose`.
    func closeStarting() {
        lock.withLock { pendingCloses += 1 }
    }

    /// Runs `body` on a thread of its own (on this one if no thread can be started)
    /// and uncounts the close `closeStarting` counted once it is done.
    func runClose(_ body: @escaping @Sendable () -> Void) {
        let finishing: @Sendable () -> Void = { [self] in
            body()
            lock.withLock {
                pendingCloses -= 1
                changed.broadcast()
            }
        }
        if let thread = try? NamedThread(name: "trace-close", finishing) {
            thread.detach()
        } else {
            finishing()
        }
    }

    /// Returns once every counted close is done.
    func waitForCloses() {
        lock.withLock {
            while pendingCloses > 0 { changed.wait() }
        }
    }
}
