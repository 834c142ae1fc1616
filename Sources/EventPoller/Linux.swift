import CLinux
import Glibc

/// Thin wrappers over the Linux calls the poller makes. Nothing here records or
/// decides anything: each function is one system call through `syscall`, so errno
/// handling lives in one place and the logic above stays plain Swift.
///
/// Every wrapper is `@inline(never)` for the reason given on `syscall`.
public enum Linux {
    /// `epoll(7)`. Internal: only the poller talks to its epoll fd.
    enum Epoll {
        @inline(never)
        static func create() throws -> Int32 {
            try syscallValue("epoll_create1") { epoll_create1(Int32(EPOLL_CLOEXEC)) }
        }

        @inline(never)
        static func add(epollFD: Int32, fd: Int32, events: UInt32, data: UInt64) throws {
            try control(epollFD: epollFD, operation: EPOLL_CTL_ADD, fd: fd, events: events, data: data)
        }

        @inline(never)
        static func modify(epollFD: Int32, fd: Int32, events: UInt32, data: UInt64) throws {
            try control(epollFD: epollFD, operation: EPOLL_CTL_MOD, fd: fd, events: events, data: data)
        }

        @inline(never)
        static func delete(epollFD: Int32, fd: Int32) throws {
            try control(epollFD: epollFD, operation: EPOLL_CTL_DEL, fd: fd, events: 0, data: 0)
        }

        @inline(never)
        private static func control(epollFD: Int32, operation: Int32, fd: Int32, events: UInt32, data: UInt64) throws {
            var event = epoll_event()
            event.events = events
            event.data.u64 = data
            _ = try syscallValue("epoll_ctl") { epoll_ctl(epollFD, operation, fd, &event) }
        }

        /// Waits for events. An interrupting signal returns 0 events rather than
        /// restarting, so the caller recomputes its timeout (timers stay on time).
        @inline(never)
        static func wait(epollFD: Int32, into events: UnsafeMutablePointer<epoll_event>, capacity: Int32,
                         timeoutMs: Int32) throws -> Int {
            let count = epoll_wait(epollFD, events, capacity, timeoutMs)
            if count >= 0 { return Int(count) }
            let err = clinux_errno()
            if err == EINTR { return 0 }
            throw SyscallError(call: "epoll_wait", errno: err)
        }
    }

    /// `eventfd(2)`: a counter fd, used to wake a poller from another thread.
    public enum EventFd {
        @inline(never)
        public static func create(initialValue: UInt32 = 0) throws -> Int32 {
            try syscallValue("eventfd") { eventfd(initialValue, Int32(EFD_CLOEXEC | EFD_NONBLOCK)) }
        }

        /// Adds `value` to the counter. `.wouldBlock` only if the counter would overflow.
        @discardableResult
        @inline(never)
        public static func write(fd: Int32, value: UInt64 = 1) throws -> IOResult<Int> {
            var value = value
            return try syscall("eventfd_write", blocking: false) { Glibc.write(fd, &value, 8) }
        }

        /// Reads and resets the counter; `.wouldBlock` when it is zero.
        @inline(never)
        public static func read(fd: Int32) throws -> IOResult<UInt64> {
            var value: UInt64 = 0
            switch try syscall("eventfd_read", blocking: false, { Glibc.read(fd, &value, 8) }) {
            case .processed: return .processed(value)
            case .wouldBlock: return .wouldBlock
            }
        }
    }

    /// Plain fd calls.
    public enum FileDescriptor {
        /// `close(2)`. Not retried on EINTR: Linux releases the number even then, and
        /// a retry could close a number another thread has just been given.
        @inline(never)
        public static func close(_ fd: Int32) throws {
            if Glibc.close(fd) == 0 { return }
            let err = clinux_errno()
            if err == EINTR { return }
            throw SyscallError(call: "close", errno: err)
        }

        @inline(never)
        public static func read(fd: Int32, into buffer: UnsafeMutableRawBufferPointer) throws -> IOResult<Int> {
            try syscall("read", blocking: false) { Glibc.read(fd, buffer.baseAddress, buffer.count) }
        }

        @inline(never)
        public static func write(fd: Int32, from buffer: UnsafeRawBufferPointer) throws -> IOResult<Int> {
            try syscall("write", blocking: false) { Glibc.write(fd, buffer.baseAddress, buffer.count) }
        }

        /// A non-blocking, close-on-exec pipe, made so in the same call (`pipe2`).
        @inline(never)
        public static func pipe() throws -> (read: Int32, write: Int32) {
            var fds: (Int32, Int32) = (-1, -1)
            _ = try withUnsafeMutablePointer(to: &fds) { pointer in
                try pointer.withMemoryRebound(to: Int32.self, capacity: 2) { fds in
                    try syscallValue("pipe2") { clinux_pipe_nonblocking_cloexec(fds) }
                }
            }
            return (fds.0, fds.1)
        }

        @inline(never)
        public static func setCloseOnExec(_ fd: Int32) throws {
            _ = try syscallValue("fcntl") { fcntl(fd, F_SETFD, FD_CLOEXEC) }
        }

        /// Sets `O_NONBLOCK` on an fd made elsewhere.
        @inline(never)
        public static func setNonBlocking(_ fd: Int32) throws {
            let flags = try syscallValue("fcntl") { fcntl(fd, F_GETFL) }
            _ = try syscallValue("fcntl") { fcntl(fd, F_SETFL, flags | O_NONBLOCK) }
        }
    }
}
