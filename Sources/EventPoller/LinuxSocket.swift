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
            return try syscallValue(where: "socket") { Glibc.socket(AF_INET, kind.type | flags, 0) }
        }

        @inline(never)
        public static func setReuseAddress(_ fd: Int32) throws {
            var on: Int32 = 1
            _ = try syscallValue(where: "setsockopt") {
                setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &on, socklen_t(MemoryLayout<Int32>.size))
            }
        }

        @inline(never)
        public static func setNoDelay(_ fd: Int32) throws {
            var on: Int32 = 1
            _ = try syscallValue(where: "setsockopt") {
                setsockopt(fd, Int32(IPPROTO_TCP), TCP_NODELAY, &on, socklen_t(MemoryLayout<Int32>.size))
            }
        }

        @inline(never)
        public static func bind(_ fd: Int32, host: String, port: UInt16) throws {
            var address = try makeAddress(host: host, port: port)
            _ = try syscallValue(where: "bind") {
                withUnsafePointer(to: &address) {
                    $0.withMemoryRebound(to: sockaddr.self, capacity: 1) {
                        Glibc.bind(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size))
                    }
                }
            }
        }

        @inline(never)
        public static func listen(_ fd: Int32, backlog: Int32) throws {
            _ = try syscallValue(where: "listen") { Glibc.listen(fd, backlog) }
        }

        /// Accepts a pending connection, non-blocking and close-on-exec from the
        /// start (`accept4`: no window where a fork could inherit it, and one syscall
        /// instead of four on the daemon's hottest path); `.wouldBlock` when none is
        /// pending.
        @inline(never)
        public static func accept(_ listenerFD: Int32) throws -> IOResult<Int32> {
            try syscall(blocking: false, where: "accept4") { clinux_accept_nonblocking_cloexec(listenerFD) }
        }

        /// Connects and waits for the handshake. On loopback this takes microseconds,
        /// so the socket is connected blocking and made non-blocking afterwards.
        @inline(never)
        public static func connectBlocking(_ fd: Int32, host: String, port: UInt16) throws {
            let flags = try syscallValue(where: "fcntl") { fcntl(fd, F_GETFL) }
            _ = try syscallValue(where: "fcntl") { fcntl(fd, F_SETFL, flags & ~O_NONBLOCK) }
            var address = try makeAddress(host: host, port: port)
            _ = try syscallValue(where: "connect") {
                withUnsafePointer(to: &address) {
                    $0.withMemoryRebound(to: sockaddr.self, capacity: 1) {
                        Glibc.connect(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size))
                    }
                }
            }
            _ = try syscallValue(where: "fcntl") { fcntl(fd, F_SETFL, flags | O_NONBLOCK) }
        }

        /// The local port a socket is bound to (after binding to port 0).
        @inline(never)
        public static func localPort(_ fd: Int32) throws -> UInt16 {
            var address = sockaddr_in()
            var length = socklen_t(MemoryLayout<sockaddr_in>.size)
            _ = try syscallValue(where: "getsockname") {
                withUnsafeMutablePointer(to: &address) {
                    $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { getsockname(fd, $0, &length) }
                }
            }
            return UInt16(bigEndian: address.sin_port)
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
