#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// A pthread mutex with two condition variables (pthreads are touched only here and
/// in BackgroundThread.swift). `Synchronization.Mutex` has no condition variable, and the writer
/// needs two waits: the writer thread for "enough to flush or interval over", a
/// lossless recording thread for "room in the buffer".
///
/// The conditions use `CLOCK_MONOTONIC` so a wall-clock jump cannot stretch a flush
/// interval.
final class ConditionLock: @unchecked Sendable {
    private let mutex: UnsafeMutablePointer<pthread_mutex_t>
    private let writerWake: UnsafeMutablePointer<pthread_cond_t>
    private let roomAvailable: UnsafeMutablePointer<pthread_cond_t>

    init() {
        mutex = .allocate(capacity: 1)
        writerWake = .allocate(capacity: 1)
        roomAvailable = .allocate(capacity: 1)
        pthread_mutex_init(mutex, nil)
        var attributes = pthread_condattr_t()
        pthread_condattr_init(&attributes)
        pthread_condattr_setclock(&attributes, CLOCK_MONOTONIC)
        pthread_cond_init(writerWake, &attributes)
        pthread_cond_init(roomAvailable, &attributes)
        pthread_condattr_destroy(&attributes)
    }

    deinit {
        pthread_cond_destroy(writerWake)
        pthread_cond_destroy(roomAvailable)
        pthread_mutex_destroy(mutex)
        writerWake.deallocate(); roomAvailable.deallocate(); mutex.deallocate()
    }

    @inline(__always) func lock() { pthread_mutex_lock(mutex) }
    @inline(__always) func unlock() { pthread_mutex_unlock(mutex) }

    /// Call with the lock held.
    func wakeWriter() { pthread_cond_signal(writerWake) }
    /// Call with the lock held.
    func announceRoom() { pthread_cond_broadcast(roomAvailable) }

    /// Call with the lock held; returns with it held.
    func waitForRoom() { pthread_cond_wait(roomAvailable, mutex) }

    /// Waits for `wakeWriter` or until the monotonic clock reaches `deadlineNs`.
    /// Call with the lock held; returns with it held.
    func waitForWriterWake(untilMonotonicNs deadlineNs: UInt64) {
        var deadline = timespec(tv_sec: Int(deadlineNs / 1_000_000_000), tv_nsec: Int(deadlineNs % 1_000_000_000))
        pthread_cond_timedwait(writerWake, mutex, &deadline)
    }
}
