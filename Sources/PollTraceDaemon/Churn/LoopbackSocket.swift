import CLinux
import EventPoller
import Glibc

/// Blocking loopback client sockets for the load generator (`polltrace-load`) and
/// the demo's in-process churn: thin wrappers, errors as values (`SyscallError`,
/// as everywhere else).
///
/// The load generator only ever talks to 127.0.0.1: `loopback` is the one address
/// it builds, and no flag can change it.
public enum LoopbackSocket {
    public static func loopback(port: UInt16) -> sockaddr_in {
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_port = port.bigEndian
        address.sin_addr.s_addr = UInt32(0x7F00_0001).bigEndian
        return address
    }

    /// Connects to 127.0.0.1:`port`, giving up after `timeoutMs` (a full accept
    /// backlog would otherwise leave connect retrying SYNs for minutes). The socket
    /// is returned blocking, with send and receive timeouts of `timeoutMs`.
    public static func connectTCP(port: UInt16, timeoutMs: Int32 = 2000) -> Result<Int32, SyscallError> {
        let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue) | Int32(SOCK_CLOEXEC.rawValue) | Int32(SOCK_NONBLOCK.rawValue), 0)
        guard fd >= 0 else { return .failure(SyscallError(call: "socket", errno: clinux_errno())) }
        var address = loopback(port: port)
        let result = withUnsafePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { connect(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) }
        }
        if result != 0 {
            let err = clinux_errno()
            guard err == EINPROGRESS else { close(fd); return .failure(SyscallError(call: "connect", errno: err)) }
            var entry = pollfd(fd: fd, events: Int16(POLLOUT), revents: 0)
            let ready = poll(&entry, 1, timeoutMs)
            guard ready == 1 else { close(fd); return .failure(SyscallError(call: "connect (timed out)", errno: ETIMEDOUT)) }
            var soError: Int32 = 0
            var length = socklen_t(MemoryLayout<Int32>.size)
            getsockopt(fd, SOL_SOCKET, SO_ERROR, &soError, &length)
            guard soError == 0 else { close(fd); return .failure(SyscallError(call: "connect", errno: soError)) }
        }
        _ = fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) & ~O_NONBLOCK)
        var timeout = timeval(tv_sec: Int(timeoutMs / 1000), tv_usec: Int(timeoutMs % 1000) * 1000)
        setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &timeout, socklen_t(MemoryLayout<timeval>.size))
        setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &timeout, socklen_t(MemoryLayout<timeval>.size))
        return .success(fd)
    }

    public static func sendAll(_ fd: Int32, _ bytes: [UInt8]) -> Bool {
        var sent = 0
        while sent < bytes.count {
            let n = bytes.withUnsafeBytes { send(fd, $0.baseAddress! + sent, bytes.count - sent, Int32(MSG_NOSIGNAL)) }
            if n < 0, clinux_errno() == EINTR { continue }
            guard n > 0 else { return false }
            sent += n
        }
        return true
    }

    /// One datagram to 127.0.0.1:`port` from the caller's UDP socket.
    public static func sendDatagram(_ fd: Int32, port: UInt16, _ bytes: [UInt8]) -> Bool {
        var address = loopback(port: port)
        let n = withUnsafePointer(to: &address) { pointer in
            pointer.withMemoryRebound(to: sockaddr.self, capacity: 1) { socketAddress in
                bytes.withUnsafeBytes { sendto(fd, $0.baseAddress, bytes.count, Int32(MSG_DONTWAIT), socketAddress, socklen_t(MemoryLayout<sockaddr_in>.size)) }
            }
        }
        return n == bytes.count
    }

    public static func makeUDP() -> Int32 {
        socket(AF_INET, Int32(SOCK_DGRAM.rawValue) | Int32(SOCK_CLOEXEC.rawValue), 0)
    }

    /// Closes with a reset instead of FIN/TIME_WAIT when `abortive`, so a flood of
    /// short connections does not exhaust the loopback's ephemeral ports.
    public static func close(_ fd: Int32, abortive: Bool = false) {
        if abortive {
            var linger = Glibc.linger(l_onoff: 1, l_linger: 0)
            setsockopt(fd, SOL_SOCKET, SO_LINGER, &linger, socklen_t(MemoryLayout<Glibc.linger>.size))
        }
        _ = Glibc.close(fd)
    }

    /// Raises RLIMIT_NOFILE's soft limit to the hard limit (or `wanted`, if lower).
    /// Returns the new soft limit.
    @discardableResult
    public static func raiseOpenFileLimit(wanted: UInt64 = .max) -> UInt64 {
        var limit = rlimit()
        guard getrlimit(Int32(RLIMIT_NOFILE.rawValue), &limit) == 0 else { return 0 }
        let target = min(UInt64(limit.rlim_max), wanted)
        if UInt64(limit.rlim_cur) < target {
            limit.rlim_cur = rlim_t(target)
            _ = setrlimit(Int32(RLIMIT_NOFILE.rawValue), &limit)
            _ = getrlimit(Int32(RLIMIT_NOFILE.rawValue), &limit)
        }
        return UInt64(limit.rlim_cur)
    }
}
