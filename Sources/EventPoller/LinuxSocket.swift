import CLinux
import Glibc

extension Linux {
    /// IPv4 socket calls. Every socket is made non-blocking and close-on-exec.
    public enum Socket {
        public enum Kind: Sendable {
            case tcp, udp

            var type: Int32 {
                switch self {
                case .tcp: Int32(SOCK_STREAM.rawValue)
                case .udp: Int32(SOCK_DGRAM.rawValue)
                }
            }
        }

        @inline(never)
        public static func create(_ kind: Kind) throws -> Int32 {
            let flags = Int32(SOCK_NONBLOCK.rawValue) | Int32(SOCK_CLOEXEC.rawValue)
            return try syscallValue("socket") { Glibc.socket(AF_INET, kind.type | flags, 0) }
        }

        @inline(never)
        public static func setReuseAddress(_ fd: Int32) throws {
            var on: Int32 = 1
            _ = try syscallValue("setsockopt") {
                setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &on, socklen_t(MemoryLayout<Int32>.size))
            }
        }

        @inline(never)
        public static func setNoDelay(_ fd: Int32) throws {
            var on: Int32 = 1
            _ = try syscallValue("setsockopt") {
                setsockopt(fd, Int32(IPPROTO_TCP), TCP_NODELAY, &on, socklen_t(MemoryLayout<Int32>.size))
            }
        }

        @inline(never)
        public static func bind(_ fd: Int32, host: String, port: UInt16) throws {
            var address = try makeAddress(host: host, port: port)
            _ = try syscallValue("bind") {
                withUnsafePointer(to: &address) {
                    $0.withMemoryRebound(to: sockaddr.self, capacity: 1) {
                        Glibc.bind(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size))
                    }
                }
            }
        }

        @inline(never)
        public static func listen(_ fd: Int32, backlog: Int32) throws {
            _ = try syscallValue("listen") { Glibc.listen(fd, backlog) }
        }

        /// Accepts a pending connection, non-blocking and close-on-exec from the
        /// start (`accept4`: no window where a fork could inherit it, and one syscall
        /// instead of four on the daemon's hottest path); `.wouldBlock` when none is
        /// pending.
        @inline(never)
        public static func accept(_ listenerFD: Int32) throws -> IOResult<Int32> {
            try syscall("accept4", blocking: false) { clinux_accept_nonblocking_cloexec(listenerFD) }
        }

        /// Connects and waits for the handshake. On loopback this takes microseconds,
        /// so the socket is connected blocking and made non-blocking afterwards.
        @inline(never)
        public static func connectBlocking(_ fd: Int32, host: String, port: UInt16) throws {
            let flags = try syscallValue("fcntl") { fcntl(fd, F_GETFL) }
            _ = try syscallValue("fcntl") { fcntl(fd, F_SETFL, flags & ~O_NONBLOCK) }
            var address = try makeAddress(host: host, port: port)
            _ = try syscallValue("connect") {
                withUnsafePointer(to: &address) {
                    $0.withMemoryRebound(to: sockaddr.self, capacity: 1) {
                        Glibc.connect(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size))
                    }
                }
            }
            _ = try syscallValue("fcntl") { fcntl(fd, F_SETFL, flags | O_NONBLOCK) }
        }

        /// The local port a socket is bound to (after binding to port 0).
        @inline(never)
        public static func localPort(_ fd: Int32) throws -> UInt16 {
            var address = sockaddr_in()
            var length = socklen_t(MemoryLayout<sockaddr_in>.size)
            _ = try syscallValue("getsockname") {
                withUnsafeMutablePointer(to: &address) {
                    $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { getsockname(fd, $0, &length) }
                }
            }
            return UInt16(bigEndian: address.sin_port)
        }

        /// `send(2)`, non-blocking, with `MSG_NOSIGNAL`: a peer that went away gives
        /// EPIPE, not SIGPIPE.
        @inline(never)
        public static func send(_ fd: Int32, _ bytes: UnsafeRawBufferPointer) throws -> IOResult<Int> {
            try syscall("send", blocking: false) {
                Glibc.send(fd, bytes.baseAddress, bytes.count, Int32(MSG_NOSIGNAL) | Int32(MSG_DONTWAIT))
            }
        }

        /// `recv(2)`, non-blocking; 0 bytes means the peer closed (TCP) or an empty
        /// datagram (UDP).
        @inline(never)
        public static func receive(_ fd: Int32, into buffer: UnsafeMutableRawBufferPointer) throws -> IOResult<Int> {
            try syscall("recv", blocking: false) { Glibc.recv(fd, buffer.baseAddress, buffer.count, Int32(MSG_DONTWAIT)) }
        }

        /// Half-closes the write side, so a peer still sending reads what was sent and
        /// an orderly end instead of a reset.
        @inline(never)
        public static func shutdownWrite(_ fd: Int32) throws {
            _ = try syscallValue("shutdown") { Glibc.shutdown(fd, Int32(SHUT_WR)) }
        }

        /// The peer's IPv4 address (host order); nil for a socket that is not IPv4.
        @inline(never)
        public static func peerIPv4(_ fd: Int32) throws -> UInt32? {
            var address = sockaddr_in()
            var length = socklen_t(MemoryLayout<sockaddr_in>.size)
            _ = try syscallValue("getpeername") {
                withUnsafeMutablePointer(to: &address) {
                    $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { getpeername(fd, $0, &length) }
                }
            }
            guard address.sin_family == sa_family_t(AF_INET) else { return nil }
            return UInt32(bigEndian: address.sin_addr.s_addr)
        }

        static func makeAddress(host: String, port: UInt16) throws -> sockaddr_in {
            var address = sockaddr_in()
            address.sin_family = sa_family_t(AF_INET)
            address.sin_port = port.bigEndian
            guard inet_pton(AF_INET, host, &address.sin_addr) == 1 else {
                throw SyscallError(call: "inet_pton(\(host))", errno: EINVAL)
            }
            return address
        }
    }
}
