import Foundation

/// A large strace log shaped like redis-server under short-connection churn
/// (strace 6.x `-o LOG -f -ttt -T` format): accept, register, read a request,
/// write a reply, read EOF, DEL, close, with up to 64 connections open at once so
/// batches carry several events. Every connection is handled before it is closed,
/// so the analysis must find nothing.
enum SyntheticLog {
    static func write(lines target: Int, to path: String) throws -> Int {
        _ = FileManager.default.createFile(atPath: path, contents: nil)
        guard let handle = FileHandle(forWritingAtPath: path) else { throw CocoaError(.fileWriteUnknown) }
        defer { try? handle.close() }
        var out = ""
        out.reserveCapacity(1 << 22)
        var written = 0
        var bytes = 0
        var clock: UInt64 = 1_795_812_356_000_000
        func emit(_ text: String) {
            clock += 7
            out += "4242  \(clock / 1_000_000).\(String(clock % 1_000_000).leftPadded(6)) \(text) <0.000008>\n"
            written += 1
        }
        func flush() {
            bytes += out.utf8.count
            handle.write(Data(out.utf8))
            out.removeAll(keepingCapacity: true)
        }
        emit("epoll_create1(EPOLL_CLOEXEC) = 5")
        emit("socket(AF_INET, SOCK_STREAM|SOCK_CLOEXEC|SOCK_NONBLOCK, IPPROTO_TCP) = 6")
        emit("listen(6, 511) = 0")
        emit("epoll_ctl(5, EPOLL_CTL_ADD, 6, {events=EPOLLIN, data={u32=6, u64=6}}) = 0")
        var open: [Int] = []       // connections waiting for their request
        var free = Array((7..<200).reversed())
        var step = 0
        while written < target {
            step += 1
            // Accept a few new connections.
            let accepts = min(free.count, 1 + step % 3)
            if accepts > 0 {
                emit("epoll_wait(5, [{events=EPOLLIN, data={u32=6, u64=6}}], 10128, 100) = 1")
                for _ in 0..<accepts {
                    let fd = free.removeLast()
                    emit("accept4(6, {sa_family=AF_INET, sin_port=htons(\(40000 + step % 20000)), sin_addr=inet_addr(\"127.0.0.1\")}, [16], SOCK_CLOEXEC|SOCK_NONBLOCK) = \(fd)")
                    emit("setsockopt(\(fd), SOL_TCP, TCP_NODELAY, [1], 4) = 0")
                    emit("epoll_ctl(5, EPOLL_CTL_ADD, \(fd), {events=EPOLLIN, data={u32=\(fd), u64=\(fd)}}) = 0")
                    open.append(fd)
                }
                emit("accept4(6, 0x7ffd5a2b1c40, [128], SOCK_CLOEXEC|SOCK_NONBLOCK) = -1 EAGAIN (Resource temporarily unavailable)")
            }
            // Serve a batch of the oldest connections: request, reply, EOF, close.
            let batch = Array(open.prefix(min(open.count, open.count > 48 ? 6 : 2)))
            guard !batch.isEmpty else { continue }
            open.removeFirst(batch.count)
            let events = batch.map { "{events=EPOLLIN, data={u32=\($0), u64=\($0)}}" }.joined(separator: ", ")
            emit("epoll_wait(5, [\(events)], 10128, 100) = \(batch.count)")
            for fd in batch {
                emit("read(\(fd), \"*1\\r\\n$4\\r\\nPING\\r\\n\", 16384) = 14")
                emit("write(\(fd), \"+PONG\\r\\n\", 7) = 7")
            }
            emit("epoll_wait(5, [\(events.replacingOccurrences(of: "EPOLLIN", with: "EPOLLIN|EPOLLRDHUP"))], 10128, 100) = \(batch.count)")
            for fd in batch {
                emit("read(\(fd), \"\", 16384) = 0")
                emit("epoll_ctl(5, EPOLL_CTL_DEL, \(fd), 0x7ffd5a2b1b10) = 0")
                emit("close(\(fd)) = 0")
                free.append(fd)
            }
            if out.utf8.count > 1 << 21 { flush() }
        }
        flush()
        // On disk before any run is timed: otherwise the kernel writes the log back
        // (30 s after it was written) during the runs, on the same two cores, and
        // the first runs pay for the benchmark's own set-up.
        try handle.synchronize()
        return bytes
    }
}

extension String {
    func leftPadded(_ width: Int) -> String { count >= width ? self : String(repeating: "0", count: width - count) + self }
}
