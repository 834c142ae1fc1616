import CLinux
import EventPoller
import Glibc

/// The few socket calls the daemon makes that the poller does not wrap. Each is one
/// system call: EINTR retried, EAGAIN as `.wouldBlock`, anything else thrown as a
/// `SyscallError` naming the call. `@inline(never)` keeps errno from being
/// clobbered between the call and its read (see EventPoller's `syscall`).
enum SocketCalls {
    /// `send(2)` with `MSG_NOSIGNAL`: a peer that went away gives EPIPE, not SIGPIPE.
    @inline(never)
    static func send(_ fd: Int32, _ bytes: UnsafeRawBufferPointer) throws -> IOResult<Int> {
        while true {
            let n = Glibc.send(fd, bytes.baseAddress, bytes.count, Int32(MSG_NOSIGNAL) | Int32(MSG_DONTWAIT))
            if n >= 0 { return .processed(n) }
            let err = clinux_errno()
            if err == EINTR { continue }
            if err == EAGAIN || err == EWOULDBLOCK { return .wouldBlock }
            throw SyscallError(call: "send", errno: err)
        }
    }

    /// `recv(2)`; 0 bytes means the peer closed (TCP) or an empty datagram (UDP).
    @inline(never)
    static func receive(_ fd: Int32, into buffer: UnsafeMutableRawBufferPointer) throws -> IOResult<Int> {
        while true {
            let n = Glibc.recv(fd, buffer.baseAddress, buffer.count, Int32(MSG_DONTWAIT))
            if n >= 0 { return .processed(n) }
            let err = clinux_errno()
            if err == EINTR { continue }
            if err == EAGAIN || err == EWOULDBLOCK { return .wouldBlock }
            throw SyscallError(call: "recv", errno: err)
        }
    }

    /// Half-closes the write side, so a client still sending after an error response
    /// reads our answer and an orderly end instead of a reset.
    @inline(never)
    static func shutdownWrite(_ fd: Int32) {
        _ = Glibc.shutdown(fd, Int32(SHUT_WR))
    }

    /// The peer's IPv4 address (host order), or 0 when the kernel cannot say (then
    /// all such connections share one count).
    @inline(never)
    static func peerIPv4(_ fd: Int32) -> UInt32 {
        var address = sockaddr_in()
        var length = socklen_t(MemoryLayout<sockaddr_in>.size)
        let result = withUnsafeMutablePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { getpeername(fd, $0, &length) }
        }
        guard result == 0, address.sin_family == sa_family_t(AF_INET) else { return 0 }
        return UInt32(bigEndian: address.sin_addr.s_addr)
    }

    /// True when a failure means "that address is taken" (the API's 409).
    static func isAddressInUse(_ error: any Error) -> Bool {
        (error as? SyscallError)?.errno == EADDRINUSE
    }
}

/// A receive buffer per poller thread, so reading allocates nothing.
final class ReadBuffer: @unchecked Sendable {
    // Used only on its poller's thread (the daemon creates one per poller).
    let storage: UnsafeMutableRawBufferPointer

    init(bytes: Int = 64 * 1024) {
        storage = .allocate(byteCount: bytes, alignment: 16)
    }

    deinit { storage.deallocate() }
}
