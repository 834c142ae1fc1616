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
}
