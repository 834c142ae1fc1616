#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

// What the writer thread reports about itself in `TraceWriterStatistics`.

/// The calling thread's CPU time (user + system) in ns.
func threadCPUNs() -> UInt64 {
    var now = timespec()
    clock_gettime(CLOCK_THREAD_CPUTIME_ID, &now)
    return UInt64(now.tv_sec) * 1_000_000_000 + UInt64(now.tv_nsec)
}

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
