import CLinux
import Synchronization
#if canImport(Glibc)
import Glibc
#endif

/// The writer thread's scheduling class under `WriterPriority.adaptive`: SCHED_IDLE
/// while it keeps up, the normal class from the moment a recording thread finds its
/// buffer half full until the writer has caught up again.
///
/// A writer in SCHED_IDLE that other programs starve cannot notice that it is
/// behind: it does not run. So the recording thread that fills a buffer to half
/// promotes it (a syscall on the writer's thread id, once per promotion, off the
/// per-record path). The writer demotes itself when what it took was under a
/// quarter of a buffer: the gap between the two marks keeps it from flapping.
///
/// The writer also leaves SCHED_IDLE for the moment it swaps the buffers out,
/// because it holds each poller's buffer lock then: an idle thread preempted
/// inside that lock, on a machine other programs keep busy, would make the
/// poller wait for CPU the idle thread may not get for a long time. Two syscalls
/// per commit (about ten a second at the default flush interval), none per record.
final class WriterScheduling: Sendable {
    private struct State {
        var threadID: Int32 = 0
        var idle = false
        var promotions = 0
    }

    /// Read without the lock on the recording side, so a poller whose buffer crosses
    /// half full pays one atomic load when the writer is already normal.
    private let writerIsIdle = Atomic<Bool>(false)
    /// The class changes and the syscalls that make them happen under one lock: a
    /// promotion and a demotion racing must leave the kernel in the state recorded here.
    private let state = Mutex(State())

    /// Whether this process may move a thread out of SCHED_IDLE, asked once: nil if
    /// it may, else the kernel's reason.
    static let returnFromIdleRefused: String? = {
        let code = clinux_can_return_from_idle_priority()
        return code == 0 ? nil : String(cString: strerror(code))
    }()

    /// On the writer thread, first thing: goes idle. Returns the kernel's refusal, if any
    /// (the writer then stays normal for good).
    func writerStarted() -> String? {
        state.withLock { state -> String? in
            let code = clinux_set_thread_idle_priority(0, 1)
            guard code == 0 else { return String(cString: strerror(code)) }
            state.threadID = clinux_this_thread_id()
            state.idle = true
            writerIsIdle.store(true, ordering: .releasing)
            return nil
        }
    }

    /// On a recording thread whose buffer passed half full or is full.
    func writerIsBehind() {
        guard writerIsIdle.load(ordering: .acquiring) else { return }
        state.withLock { state in
            guard state.idle else { return }
            // If the kernel refused (it should not: the probe passed), the writer stays
            // marked idle and the next half-full buffer tries again.
            guard clinux_set_thread_idle_priority(state.threadID, 0) == 0 else { return }
            state.idle = false
            state.promotions += 1
            writerIsIdle.store(false, ordering: .releasing)
        }
    }

    /// On the writer thread, woken and about to take the pollers' buffer locks.
    func writerWoke() {
        guard writerIsIdle.load(ordering: .acquiring) else { return }
        state.withLock { state in
            guard state.threadID != 0, state.idle, clinux_set_thread_idle_priority(0, 0) == 0 else { return }
            state.idle = false
            writerIsIdle.store(false, ordering: .releasing)
        }
    }

    /// On the writer thread after each swap, before the commit: back to idle if the
    /// largest buffer it took held under a quarter of `capacity`.
    func writerTook(largestShard: Int, capacity: Int) {
        guard !writerIsIdle.load(ordering: .acquiring), largestShard < capacity / 4 else { return }
        state.withLock { state in
            guard state.threadID != 0, !state.idle, clinux_set_thread_idle_priority(0, 1) == 0 else { return }
            state.idle = true
            writerIsIdle.store(true, ordering: .releasing)
        }
    }

    /// Times a recording thread moved the writer back to the normal class.
    var promotions: Int { state.withLock { $0.promotions } }
}
