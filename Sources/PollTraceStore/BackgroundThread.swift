import CLinux
#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// The monotonic clock in ns, the clock every record's `timeNs` uses.
func monotonicNowNs() -> UInt64 { nanoseconds(CLOCK_MONOTONIC) }

/// The calling thread's CPU time (user + system) in ns.
func threadCPUNs() -> UInt64 { nanoseconds(CLOCK_THREAD_CPUTIME_ID) }

private func nanoseconds(_ clock: clockid_t) -> UInt64 {
    var now = timespec()
    clock_gettime(clock, &now)
    return UInt64(now.tv_sec) * 1_000_000_000 + UInt64(now.tv_nsec)
}

/// A plain thread running `body` (the writer's background loop), joinable.
final class BackgroundThread: @unchecked Sendable {
    private var thread = pthread_t()

    init(name: String, _ body: @escaping @Sendable () -> Void) throws {
        // Named for `top -H`, `ps -L` and perf; otherwise it inherits its creator's name.
        let box = Unmanaged.passRetained(Box({
            clinux_name_this_thread(name)
            body()
        }))
        let code = pthread_create(&thread, nil, { context in
            let box = Unmanaged<Box>.fromOpaque(context!).takeRetainedValue()
            box.body()
            return nil
        }, box.toOpaque())
        guard code == 0 else {
            box.release()
            throw TraceStoreError.writeFailed(path: name, detail: "could not start the writer thread (error \(code))")
        }
    }

    func join() { pthread_join(thread, nil) }

    private final class Box {
        let body: @Sendable () -> Void
        init(_ body: @escaping @Sendable () -> Void) { self.body = body }
    }
}
