import PollTraceCore
@testable import PollTraceStrace
import XCTest

/// An event closed before it was handled is followed by its key through every
/// close/reuse cycle until the thread waits again, and by its data word when the
/// word is a pointer. Hand-written logs in strace 6.1's `-o LOG -f` format.
final class ReuseChainTests: XCTestCase {
    func testNumberReusedTwice_theStaleEventReachesTheThirdIncarnation() {
        // The listener's handler accepts a connection, which takes the closed number 8,
        // closes it at once, then opens a listening socket that takes 8 again; the
        // stale UDP event then runs the new listener's accept handler.
        let log = """
        100 epoll_create1(0) = 3
        100 socket(AF_INET, SOCK_STREAM|SOCK_NONBLOCK, IPPROTO_IP) = 6
        100 epoll_ctl(3, EPOLL_CTL_ADD, 6, {events=EPOLLIN, data={u32=6, u64=6}}) = 0
        100 socket(AF_INET, SOCK_DGRAM|SOCK_NONBLOCK, IPPROTO_IP) = 8
        100 epoll_ctl(3, EPOLL_CTL_ADD, 8, {events=EPOLLOUT, data={u32=8, u64=8}}) = 0
        100 epoll_wait(3, [{events=EPOLLIN, data={u32=6, u64=6}}, {events=EPOLLOUT, data={u32=8, u64=8}}], 8, -1) = 2
        100 epoll_ctl(3, EPOLL_CTL_DEL, 8, NULL) = 0
        100 close(8) = 0
        100 accept4(6, NULL, NULL, SOCK_NONBLOCK) = 8
        100 close(8) = 0
        100 socket(AF_INET, SOCK_STREAM|SOCK_NONBLOCK, IPPROTO_IP) = 8
        100 epoll_ctl(3, EPOLL_CTL_ADD, 8, {events=EPOLLIN, data={u32=8, u64=8}}) = 0
        100 accept4(8, NULL, NULL, SOCK_NONBLOCK) = -1 EAGAIN (Resource temporarily unavailable)
        100 epoll_wait(3, [], 8, 0) = 0
        """
        let (report, _) = StraceImport.analyze(text: log)
        XCTAssertEqual(report.findings.map(\.kind), [.likelyStaleDispatch], report.renderText())
        let finding = report.findings.first
        XCTAssertEqual(finding?.fd, 8)
        XCTAssertEqual([finding?.closeLine, finding?.reuseLine, finding?.accessLine], [8, 9, 13],
                       "closed at 8, first reused at 9 (the accepted connection), reached at 13 (the third 8)")
        XCTAssertEqual(finding?.accessCall, "accept4")
    }

    func testNumberClosedAgainBeforeTheAccess_aCallOnTheClosedNumberIsNotAStaleDispatch() {
        let log = """
        100 epoll_create1(0) = 3
        100 socket(AF_INET, SOCK_DGRAM|SOCK_NONBLOCK, IPPROTO_IP) = 8
        100 socket(AF_INET, SOCK_DGRAM|SOCK_NONBLOCK, IPPROTO_IP) = 9
        100 epoll_ctl(3, EPOLL_CTL_ADD, 9, {events=EPOLLOUT, data={u32=9, u64=9}}) = 0
        100 epoll_ctl(3, EPOLL_CTL_ADD, 8, {events=EPOLLOUT, data={u32=8, u64=8}}) = 0
        100 epoll_wait(3, [{events=EPOLLOUT, data={u32=9, u64=9}}, {events=EPOLLOUT, data={u32=8, u64=8}}], 8, -1) = 2
        100 sendto(9, "x", 1, 0, NULL, 0) = 1
        100 close(8) = 0
        100 eventfd2(0, EFD_NONBLOCK) = 8
        100 close(8) = 0
        100 read(8, 0x7ffd, 8) = -1 EBADF (Bad file descriptor)
        100 epoll_wait(3, [], 8, 0) = 0
        """
        let (report, _) = StraceImport.analyze(text: log)
        XCTAssertEqual(report.findings.map(\.kind), [.reuseWithinBatch],
                       "the number was taken (a hazard) but nothing held it when it was read:\n\(report.renderText())")
    }

    func testAnotherThreadsDataCallOnTheNewFd_isNotTheStaleDispatch() {
        let log = """
        100 epoll_create1(0) = 3
        100 socket(AF_INET, SOCK_DGRAM|SOCK_NONBLOCK, IPPROTO_IP) = 8
        100 epoll_ctl(3, EPOLL_CTL_ADD, 8, {events=EPOLLOUT, data={u32=8, u64=8}}) = 0
        100 clone3({flags=CLONE_VM|CLONE_FS|CLONE_FILES|CLONE_SIGHAND|CLONE_THREAD|CLONE_SYSVSEM, exit_signal=0, stack=0x7f00, stack_size=0x7fff00}, 88) = 101
        100 epoll_wait(3, [{events=EPOLLOUT, data={u32=8, u64=8}}], 8, -1) = 1
        101 close(8) = 0
        101 eventfd2(0, EFD_NONBLOCK) = 8
        101 write(8, "\\1\\0\\0\\0\\0\\0\\0\\0", 8) = 8
        100 epoll_wait(3, [], 8, 0) = 0
        """
        let (report, _) = StraceImport.analyze(text: log)
        XCTAssertEqual(report.findings.map(\.kind), [.reuseWithinBatch],
                       "only the harvesting thread can run the stale event:\n\(report.renderText())")
    }

    func testNewFdTheHarvestingThreadMadeAndDidNotRegister_isItsOwnBusiness() {
        // The handler makes a pipe whose write end takes the lost number and writes
        // to it at once: no handler table holds that number, so no stale dispatch.
        let log = """
        100 epoll_create1(0) = 3
        100 eventfd2(1, EFD_NONBLOCK) = 5
        100 eventfd2(1, EFD_NONBLOCK) = 6
        100 epoll_ctl(3, EPOLL_CTL_ADD, 5, {events=EPOLLIN, data={u32=5, u64=5}}) = 0
        100 epoll_ctl(3, EPOLL_CTL_ADD, 6, {events=EPOLLIN, data={u32=6, u64=6}}) = 0
        100 epoll_wait(3, [{events=EPOLLIN, data={u32=5, u64=5}}, {events=EPOLLIN, data={u32=6, u64=6}}], 8, 0) = 2
        100 read(5, "\\1\\0\\0\\0\\0\\0\\0\\0", 8) = 8
        100 epoll_ctl(3, EPOLL_CTL_DEL, 6, NULL) = 0
        100 close(6) = 0
        100 pipe2([6, 7], O_NONBLOCK) = 0
        100 write(7, "x", 1) = 1
        100 write(6, "x", 1) = -1 EBADF (Bad file descriptor)
        100 epoll_wait(3, [], 8, 0) = 0
        """
        let (report, _) = StraceImport.analyze(text: log)
        XCTAssertEqual(report.findings.map(\.kind), [.reuseWithinBatch], report.renderText())
    }

    func testNumberRegisteredOnAnotherEpollFd_isNotReachedFromThisOne() {
        let log = """
        100 epoll_create1(0) = 3
        100 epoll_create1(0) = 4
        100 eventfd2(1, EFD_NONBLOCK) = 6
        100 epoll_ctl(3, EPOLL_CTL_ADD, 6, {events=EPOLLIN, data={u32=6, u64=6}}) = 0
        100 epoll_wait(3, [{events=EPOLLIN, data={u32=6, u64=6}}], 8, 0) = 1
        100 close(6) = 0
        100 eventfd2(1, EFD_NONBLOCK) = 6
        100 epoll_ctl(4, EPOLL_CTL_ADD, 6, {events=EPOLLIN, data={u32=6, u64=6}}) = 0
        100 read(6, "\\1\\0\\0\\0\\0\\0\\0\\0", 8) = 8
        100 epoll_wait(3, [], 8, 0) = 0
        """
        let (report, _) = StraceImport.analyze(text: log)
        XCTAssertEqual(report.findings.map(\.kind), [.reuseWithinBatch],
                       "the new 6 has its handler in epoll fd 4's table:\n\(report.renderText())")
    }

    func testPointerData_reRegisteredForAnotherFd_isFollowedByTheWord() {
        // nginx-like: the connection object at 0x55d0…10 is freed with fd 7 and taken
        // at once by a new connection on fd 9; the stale event for 7 runs its handler,
        // which reads fd 9. The number 7 is never reused.
        let log = """
        100 epoll_create1(0) = 3
        100 socket(AF_INET, SOCK_STREAM|SOCK_NONBLOCK, IPPROTO_IP) = 6
        100 epoll_ctl(3, EPOLL_CTL_ADD, 6, {events=EPOLLIN, data={u32=2857697296, u64=94412251721744}}) = 0
        100 accept4(6, NULL, NULL, SOCK_NONBLOCK) = 7
        100 epoll_ctl(3, EPOLL_CTL_ADD, 7, {events=EPOLLIN, data={u32=2857697520, u64=94412251721968}}) = 0
        100 socket(AF_INET, SOCK_DGRAM|SOCK_NONBLOCK, IPPROTO_IP) = 8
        100 epoll_wait(3, [{events=EPOLLIN, data={u32=2857697296, u64=94412251721744}}, {events=EPOLLIN, data={u32=2857697520, u64=94412251721968}}], 8, -1) = 2
        100 close(7) = 0
        100 accept4(6, NULL, NULL, SOCK_NONBLOCK) = 9
        100 epoll_ctl(3, EPOLL_CTL_ADD, 9, {events=EPOLLIN, data={u32=2857697520, u64=94412251721968}}) = 0
        100 recvfrom(9, 0x7ffd, 1024, 0, NULL, NULL) = -1 EAGAIN (Resource temporarily unavailable)
        100 epoll_wait(3, [], 8, 0) = 0
        """
        let (report, _) = StraceImport.analyze(text: log)
        XCTAssertEqual(report.findings.map(\.kind), [.likelyStaleDispatch], report.renderText())
        let finding = report.findings.first
        XCTAssertEqual(finding?.fd, 7)
        XCTAssertEqual(finding?.followsWord, true)
        XCTAssertEqual(finding?.reuseFD, 9)
        XCTAssertEqual([finding?.closeLine, finding?.reuseLine, finding?.accessLine], [8, 10, 11])
    }

    func testPointerData_numberReusedButWordNot_isNoHazard() {
        let log = """
        100 epoll_create1(0) = 3
        100 socket(AF_INET, SOCK_STREAM|SOCK_NONBLOCK, IPPROTO_IP) = 6
        100 epoll_ctl(3, EPOLL_CTL_ADD, 6, {events=EPOLLIN, data={u32=2857697296, u64=94412251721744}}) = 0
        100 accept4(6, NULL, NULL, SOCK_NONBLOCK) = 7
        100 epoll_ctl(3, EPOLL_CTL_ADD, 7, {events=EPOLLIN, data={u32=2857697520, u64=94412251721968}}) = 0
        100 epoll_wait(3, [{events=EPOLLIN, data={u32=2857697296, u64=94412251721744}}, {events=EPOLLIN, data={u32=2857697520, u64=94412251721968}}], 8, -1) = 2
        100 close(7) = 0
        100 accept4(6, NULL, NULL, SOCK_NONBLOCK) = 7
        100 epoll_ctl(3, EPOLL_CTL_ADD, 7, {events=EPOLLIN, data={u32=2857697744, u64=94412251722192}}) = 0
        100 recvfrom(7, 0x7ffd, 1024, 0, NULL, NULL) = -1 EAGAIN (Resource temporarily unavailable)
        100 epoll_wait(3, [], 8, 0) = 0
        """
        let (report, _) = StraceImport.analyze(text: log)
        XCTAssertEqual(report.findings, [],
                       "the loop finds handlers by pointer, and the old pointer went to no one:\n\(report.renderText())")
    }

    /// Many events for one fd in one batch (only a forged log has them) cost work in
    /// proportion to the events, not their square.
    func testManyEventsForOneFdInOneBatch_workIsLinear() {
        func visits(events: Int) -> (Int, ForeignReport) {
            let one = "{events=EPOLLIN, data={u32=5, u64=5}}"
            let log = """
            100 epoll_create1(0) = 3
            100 eventfd2(0, EFD_NONBLOCK) = 5
            100 epoll_ctl(3, EPOLL_CTL_ADD, 5, \(one)) = 0
            100 epoll_wait(3, [\(Array(repeating: one, count: events).joined(separator: ", "))], \(events), -1) = \(events)
            100 close(5) = 0
            100 eventfd2(0, EFD_NONBLOCK) = 5
            100 epoll_ctl(3, EPOLL_CTL_ADD, 5, {events=EPOLLIN, data={u32=5, u64=5}}) = 0
            100 read(5, 0x7ffd, 8) = -1 EAGAIN (Resource temporarily unavailable)
            100 epoll_wait(3, [], 8, 0) = 0
            """
            let analyzer = ForeignHazardAnalyzer()
            let outcome = StraceImport.run(text: log, sequence: SequenceCounter(), consumers: [analyzer])
            analyzer.finish()
            return (analyzer.eventVisits, ForeignReport(findings: analyzer.findings, statistics: analyzer.stats,
                                                         diagnostics: outcome.diagnostics))
        }
        let (small, smallReport) = visits(events: 100)
        let (large, largeReport) = visits(events: 4000)
        XCTAssertEqual(smallReport.findings.map(\.kind), [.likelyStaleDispatch], smallReport.renderText())
        XCTAssertEqual(largeReport.findings.map(\.kind), [.likelyStaleDispatch], "duplicates fold into one event")
        XCTAssertEqual(largeReport.statistics.events, 4000)
        XCTAssertEqual(largeReport.statistics.duplicateEvents, 3999)
        XCTAssertLessThanOrEqual(large, small + 40, "the work must not grow with the duplicates (\(small) -> \(large))")
    }
}
