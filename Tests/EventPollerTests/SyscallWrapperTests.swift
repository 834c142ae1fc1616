import CLinux
import EventPoller
import Glibc
import PollTraceCore
import XCTest

/// The thin syscall layer: the kernel's vocabulary and errors.
final class SyscallWrapperTests: XCTestCase {
    func testIOEventsBitsAreTheKernelsEpollBits() {
        XCTAssertEqual(IOEvents.readable.rawValue, EPOLLIN.rawValue)
        XCTAssertEqual(IOEvents.priority.rawValue, EPOLLPRI.rawValue)
        XCTAssertEqual(IOEvents.writable.rawValue, EPOLLOUT.rawValue)
        XCTAssertEqual(IOEvents.error.rawValue, EPOLLERR.rawValue)
        XCTAssertEqual(IOEvents.hangup.rawValue, EPOLLHUP.rawValue)
        XCTAssertEqual(IOEvents.readHangup.rawValue, EPOLLRDHUP.rawValue)
        XCTAssertEqual(IOEvents.oneShot.rawValue, EPOLLONESHOT.rawValue)
        XCTAssertEqual(IOEvents.edgeTriggered.rawValue, EPOLLET.rawValue)
    }

    func testEpollEventImportsWithTheKernelsPackedLayout() {
        XCTAssertEqual(MemoryLayout<epoll_event>.size, 12, "epoll_event must be packed (12 bytes) on x86_64")
    }

    func testFailedCallThrowsAnErrorNamingTheCallAndErrno() {
        XCTAssertThrowsError(try Linux.FileDescriptor.close(-1)) { error in
            let failure = error as? SyscallError
            XCTAssertEqual(failure?.call, "close")
            XCTAssertEqual(failure?.errno, EBADF)
            XCTAssertTrue("\(error)".contains("close failed"), "the description should name the call: \(error)")
        }
    }

    /// The error names the system call, not the Swift wrapper that made it (a
    /// defaulted `#function` would say "create()"). With no fd left to hand out,
    /// the poller's first call, `epoll_create1`, fails with EMFILE.
    func testPollerCreation_whenNoFDIsLeft_namesEpollCreate1() throws {
        var saved = rlimit()
        XCTAssertEqual(getrlimit(Int32(RLIMIT_NOFILE.rawValue), &saved), 0)
        var none = saved
        none.rlim_cur = 0
        XCTAssertEqual(setrlimit(Int32(RLIMIT_NOFILE.rawValue), &none), 0, "lowering one's own soft limit is always allowed")
        let result = Result { try EventPoller(id: 1, label: "no-fds") }
        XCTAssertEqual(setrlimit(Int32(RLIMIT_NOFILE.rawValue), &saved), 0)
        if case .success(let poller) = result { try poller.close() }
        XCTAssertThrowsError(try result.get()) { error in
            XCTAssertEqual((error as? SyscallError)?.call, "epoll_create1", "the error must name the call: \(error)")
            XCTAssertEqual((error as? SyscallError)?.errno, EMFILE)
        }
    }

    func testEmptyEventFDReadIsWouldBlockNotAnError() throws {
        let fd = try Linux.EventFd.create()
        defer { try? Linux.FileDescriptor.close(fd) }
        guard case .wouldBlock = try Linux.EventFd.read(fd: fd) else {
            return XCTFail("reading an empty non-blocking eventfd must report wouldBlock")
        }
        try Linux.EventFd.write(fd: fd, value: 3)
        guard case .processed(let value) = try Linux.EventFd.read(fd: fd) else {
            return XCTFail("the eventfd was written; the read must return its counter")
        }
        XCTAssertEqual(value, 3)
    }

    /// An accepted socket and both pipe ends must be non-blocking (the loop never
    /// blocks in a handler) and close-on-exec (a child the daemon spawns must not
    /// hold its connections open), from the call that makes them.
    func testAcceptedSocketAndPipe_areNonBlockingAndCloseOnExec() throws {
        let listener = try Linux.Socket.create(.tcp)
        defer { try? Linux.FileDescriptor.close(listener) }
        try Linux.Socket.bind(listener, host: "127.0.0.1", port: 0)
        try Linux.Socket.listen(listener, backlog: 4)
        guard case .wouldBlock = try Linux.Socket.accept(listener) else {
            return XCTFail("nothing is pending: accept must report wouldBlock")
        }
        let client = try Linux.Socket.create(.tcp)
        defer { try? Linux.FileDescriptor.close(client) }
        try Linux.Socket.connectBlocking(client, host: "127.0.0.1", port: try Linux.Socket.localPort(listener))
        guard case .processed(let accepted) = try Linux.Socket.accept(listener) else {
            return XCTFail("a connection is pending: accept must return it")
        }
        defer { try? Linux.FileDescriptor.close(accepted) }
        let pipe = try Linux.FileDescriptor.pipe()
        defer { try? Linux.FileDescriptor.close(pipe.read); try? Linux.FileDescriptor.close(pipe.write) }
        for (name, fd) in [("accepted socket", accepted), ("pipe read end", pipe.read), ("pipe write end", pipe.write)] {
            XCTAssertNotEqual(fcntl(fd, F_GETFL) & O_NONBLOCK, 0, "\(name) must be non-blocking")
            XCTAssertNotEqual(fcntl(fd, F_GETFD) & FD_CLOEXEC, 0, "\(name) must be close-on-exec")
        }
    }
}
