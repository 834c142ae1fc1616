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

/// The bytes the calling thread has passed to write-family calls (`wchar` in
/// `/proc/thread-self/io`), or 0 if the kernel does not say. Three small
/// syscalls: cheap once per commit, not per record.
func threadBytesWritten() -> UInt64 {
    let fd = open("/proc/thread-self/io", O_RDONLY | O_CLOEXEC)
    guard fd >= 0 else { return 0 }
    defer { close(fd) }
    var buffer = [UInt8](repeating: 0, count: 512)
    let count = buffer.withUnsafeMutableBytes { read(fd, $0.baseAddress, $0.count) }
    guard count > 0 else { return 0 }
    let text = String(decoding: buffer[..<count], as: UTF8.self)
    guard let line = text.split(separator: "\n").first(where: { $0.hasPrefix("wchar:") }) else { return 0 }
    return UInt64(String(line.dropFirst("wchar:".count).filter { $0 != " " })) ?? 0
}

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
        // Named from here too, so the name is there when `init` returns (the thread
        // names itself as well, for the moment before this call lands).
        _ = clinux_name_thread(thread, String(name.utf8.prefix(15))!)
    }

    func join() { pthread_join(thread, nil) }

    private final class Box {
        let body: @Sendable () -> Void
        init(_ body: @escaping @Sendable () -> Void) { self.body = body }
    }
}
