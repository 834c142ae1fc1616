import PollTraceCore

/// Making fds through the poller, so that each gets an fd-opened record whose
/// sequence number is taken after the call that returned it. Sockets are IPv4,
/// non-blocking and close-on-exec; listeners default to 127.0.0.1.
extension EventPoller {
    /// A new, unbound socket.
    public func makeSocket(_ kind: Linux.Socket.Kind) throws -> Int32 {
        assertOnLoopThread()
        try checkOpen()
        let fd = try recordingFailure(.socket, fd: -1) { try Linux.Socket.create(kind) }
        recordOpened(fd: fd, origin: .socket)
        return fd
    }

    /// A TCP socket listening on `host:port` (port 0 picks a free one; see `Linux.Socket.localPort`).
    public func makeTCPListener(host: String = "127.0.0.1", port: UInt16 = 0, backlog: Int32 = 128) throws -> Int32 {
        let fd = try makeSocket(.tcp)
        try setUp(fd) {
            try Linux.Socket.setReuseAddress(fd)
            try Linux.Socket.bind(fd, host: host, port: port)
            try Linux.Socket.listen(fd, backlog: backlog)
        }
        return fd
    }

    /// A UDP socket bound to `host:port`.
    public func makeUDPSocket(host: String = "127.0.0.1", port: UInt16 = 0) throws -> Int32 {
        let fd = try makeSocket(.udp)
        try setUp(fd) { try Linux.Socket.bind(fd, host: host, port: port) }
        return fd
    }

    /// A TCP connection to `host:port`, connected when this returns (a blocking
    /// connect: meant for loopback peers, where it takes microseconds), then non-blocking.
    public func connectTCP(host: String = "127.0.0.1", port: UInt16) throws -> Int32 {
        let fd = try makeSocket(.tcp)
        try setUp(fd) {
            try Linux.Socket.connectBlocking(fd, host: host, port: port)
            try Linux.Socket.setNoDelay(fd)
        }
        return fd
    }

    /// Accepts one pending connection; nil when none is pending (`EAGAIN`).
    public func accept(listenerFD: Int32) throws -> Int32? {
        assertOnLoopThread()
        try checkOpen()
        let result = try recordingFailure(.accept, fd: listenerFD) { try Linux.Socket.accept(listenerFD) }
        guard case .processed(let fd) = result else { return nil }
        recordOpened(fd: fd, origin: .accept)
        return fd
    }

    /// A non-blocking eventfd.
    public func makeEventFD(initialValue: UInt32 = 0) throws -> Int32 {
        assertOnLoopThread()
        try checkOpen()
        let fd = try recordingFailure(.other, fd: -1) { try Linux.EventFd.create(initialValue: initialValue) }
        recordOpened(fd: fd, origin: .eventfd)
        return fd
    }

    /// A non-blocking pipe; both ends get an fd-opened record.
    public func makePipe() throws -> (read: Int32, write: Int32) {
        assertOnLoopThread()
        try checkOpen()
        let fds = try recordingFailure(.other, fd: -1) { try Linux.FileDescriptor.pipe() }
        recordOpened(fd: fds.read, origin: .pipe)
        recordOpened(fd: fds.write, origin: .pipe)
        return fds
    }

    /// Reports an fd made elsewhere (by a library, or inherited), so the trace knows
    /// it exists. Call it right after the fd was made, for the same ordering reason
    /// as the poller's own fds.
    public func adopt(fd: Int32, origin: FDOrigin = .reported) {
        assertOnLoopThread()
        recordOpened(fd: fd, origin: origin)
    }

    /// Runs the set-up calls of a new socket; if one fails, the failure is recorded,
    /// the socket is closed through the poller (so the trace shows it gone) and the
    /// error is thrown.
    private func setUp(_ fd: Int32, _ body: () throws -> Void) throws {
        do {
            try recordingFailure(.other, fd: fd, body)
        } catch {
            try? closeDescriptor(fd)
            throw error
        }
    }
}
