import Glibc
import Synchronization

/// A lock with condition variables: the one primitive for "wait until another
/// thread says so". Plain mutual exclusion uses `Synchronization.Mutex`; it has no
/// condition variable, and waiting by polling a flag in a sleep loop is what this
/// type replaces.
///
/// A condition belongs to one lock (`makeCondition`) and is waited on with that
/// lock held. Timed waits use `CLOCK_MONOTONIC` (`MonotonicClock`), so a
/// wall-clock jump cannot stretch or cut a wait. As with any condition variable,
/// a wait can return without a signal: wait in a loop on the state it is about.
public final class ConditionLock: @unchecked Sendable {
    // Allocated once and never moved (a pthread mutex must not be copied); the
    // pthread calls are what make the access safe.
    @usableFromInline let mutex: UnsafeMutablePointer<pthread_mutex_t>
    #if DEBUG
    /// The thread holding the lock, 0 for none: debug builds only, for `assertHeld`.
    @usableFromInline let holder = Atomic<UInt>(0)
    #endif

    public init() {
        mutex = .allocate(capacity: 1)
        pthread_mutex_init(mutex, nil)
    }

    deinit {
        pthread_mutex_destroy(mutex)
        mutex.deallocate()
    }

    @inlinable @inline(__always)
    public func lock() {
        pthread_mutex_lock(mutex)
        #if DEBUG
        holder.store(NamedThread.currentID, ordering: .relaxed)
        #endif
    }

    @inlinable @inline(__always)
    public func unlock() {
        #if DEBUG
        holder.store(0, ordering: .relaxed)
        #endif
        pthread_mutex_unlock(mutex)
    }

    /// In debug builds, stops the program unless the calling thread holds the lock.
    /// For state whose only guard is this lock and which the runtime does not check
    /// (`@exclusivity(unchecked)`): misuse fails a test instead of racing silently
    /// in a release build, where this compiles to nothing.
    @inlinable @inline(__always)
    public func assertHeld(file: StaticString = #file, line: UInt = #line) {
        #if DEBUG
        assert(holder.load(ordering: .relaxed) == NamedThread.currentID,
               "touched state guarded by a ConditionLock without holding it", file: file, line: line)
        #endif
    }

    /// Around a condition wait, which releases the lock and takes it again.
    fileprivate func waiting(_ wait: (UnsafeMutablePointer<pthread_mutex_t>) -> Void) {
        #if DEBUG
        holder.store(0, ordering: .relaxed)
        #endif
        wait(mutex)
        #if DEBUG
        holder.store(NamedThread.currentID, ordering: .relaxed)
        #endif
    }

    @inlinable
    public func withLock<Result>(_ body: () throws -> Result) rethrows -> Result {
        lock()
        defer { unlock() }
        return try body()
    }

    /// A condition waited on under this lock.
    public func makeCondition() -> Condition { Condition(lock: self) }

    /// One condition variable of a `ConditionLock`.
    public final class Condition: @unchecked Sendable {
        // Keeps the lock, and so its mutex, alive as long as the condition.
        private let lock: ConditionLock
        private let condition: UnsafeMutablePointer<pthread_cond_t>

        fileprivate init(lock: ConditionLock) {
            self.lock = lock
            condition = .allocate(capacity: 1)
            var attributes = pthread_condattr_t()
            pthread_condattr_init(&attributes)
            pthread_condattr_setclock(&attributes, CLOCK_MONOTONIC)
            pthread_cond_init(condition, &attributes)
            pthread_condattr_destroy(&attributes)
        }

        deinit {
            pthread_cond_destroy(condition)
            condition.deallocate()
        }

        /// Wakes one waiter. Call with the lock held.
        public func signal() { pthread_cond_signal(condition) }

        /// Wakes every waiter. Call with the lock held.
        public func broadcast() { pthread_cond_broadcast(condition) }

        /// Releases the lock until signalled, then takes it again. Call with the lock held.
        public func wait() { lock.waiting { pthread_cond_wait(condition, $0) } }

        /// `wait`, giving up when `MonotonicClock` reaches `deadlineNs`. Call with
        /// the lock held; returns with it held.
        public func wait(untilMonotonicNs deadlineNs: UInt64) {
            var deadline = timespec(tv_sec: Int(deadlineNs / 1_000_000_000), tv_nsec: Int(deadlineNs % 1_000_000_000))
            lock.waiting { pthread_cond_timedwait(condition, $0, &deadline) }
        }
    }
}
