import PollTraceCore
import PollTraceStrace
import XCTest

/// How the importer follows fd tables across threads and processes, and maps
/// pointer-valued epoll_data back to fds. Small hand-written logs in strace 6.1's
/// `-o LOG -f` format.
final class ProcessModelTests: XCTestCase {
    func testPointerData_mapsBackThroughAddAndMod_andChurnAfterHandlingIsNotAHazard() {
        // An nginx-like loop: epoll_data is a connection pointer, reused for the next
        // connection. Each connection is read, then closed, then its number reused:
        // ordinary churn.
        let log = """
        100 epoll_create1(EPOLL_CLOEXEC) = 3
        100 socket(AF_INET, SOCK_STREAM|SOCK_NONBLOCK, IPPROTO_IP) = 6
        100 epoll_ctl(3, EPOLL_CTL_ADD, 6, {events=EPOLLIN, data={u32=2857697296, u64=94412251721744}}) = 0
        100 epoll_wait(3, [{events=EPOLLIN, data={u32=2857697296, u64=94412251721744}}], 512, -1) = 1
        100 accept4(6, {sa_family=AF_INET, sin_port=htons(51000), sin_addr=inet_addr("127.0.0.1")}, [16], SOCK_NONBLOCK) = 7
        100 epoll_ctl(3, EPOLL_CTL_ADD, 7, {events=EPOLLIN|EPOLLRDHUP|EPOLLET, data={u32=2857697520, u64=94412251721968}}) = 0
        100 epoll_wait(3, [{events=EPOLLIN|EPOLLRDHUP, data={u32=2857697520, u64=94412251721968}}], 512, 60000) = 1
        100 recvfrom(7, "GET / HTTP/1.0\\r\\n\\r\\n", 1024, 0, NULL, NULL) = 18
        100 epoll_ctl(3, EPOLL_CTL_MOD, 7, {events=EPOLLOUT, data={u32=2857697744, u64=94412251722192}}) = 0
        100 epoll_wait(3, [{events=EPOLLOUT, data={u32=2857697744, u64=94412251722192}}], 512, 60000) = 1
        100 writev(7, [{iov_base="HTTP/1.1 200 OK\\r\\n", iov_len=17}], 1) = 17
        100 close(7) = 0
        100 accept4(6, NULL, NULL, SOCK_NONBLOCK) = 7
        100 epoll_ctl(3, EPOLL_CTL_ADD, 7, {events=EPOLLIN|EPOLLRDHUP|EPOLLET, data={u32=2857697520, u64=94412251721968}}) = 0
        100 epoll_wait(3, [], 512, 60000) = 0
        """
        let (report, records) = StraceImport.analyze(text: log)
        XCTAssertEqual(report.findings, [], "handled-then-closed connections are ordinary churn:\n\(report.renderText())")
        let batches = records.compactMap { r -> [Int32]? in
            if case .batch(let b) = r.0 { return b.events.map(\.fd) } else { return nil }
        }
        XCTAssertEqual(batches, [[6], [7], [7], []], "pointer data maps back to the fd it was registered with")
        XCTAssertEqual(report.statistics.eventsHandled, 3)
        let kinds = records.map(\.0.kind)
        XCTAssertEqual(kinds.filter { $0 == .unregistered }.count, 2,
                       "a MOD that changes the pointer ends one registration (and close ends the next)")
    }

    func testForkCopiesTheTable_cloneWithFilesShares() {
        // The child of fork closes 5 and opens a socket that takes 5: in *its* table.
        // The parent's batch for 5 is unaffected. Then a thread (CLONE_FILES) closes
        // 6 and reuses it before the parent handles 6: a hazard in the shared table.
        let log = """
        200 epoll_create1(0) = 3
        200 pipe2([5, 6], O_NONBLOCK) = 0
        200 epoll_ctl(3, EPOLL_CTL_ADD, 5, {events=EPOLLIN, data={u32=5, u64=5}}) = 0
        200 epoll_ctl(3, EPOLL_CTL_ADD, 6, {events=EPOLLOUT, data={u32=6, u64=6}}) = 0
        200 epoll_wait(3, [{events=EPOLLIN, data={u32=5, u64=5}}, {events=EPOLLOUT, data={u32=6, u64=6}}], 8, -1) = 2
        200 clone(child_stack=NULL, flags=CLONE_CHILD_CLEARTID|CLONE_CHILD_SETTID|SIGCHLD, child_tidptr=0x7f5e4a1e9a10) = 201
        201 close(5) = 0
        201 socket(AF_UNIX, SOCK_STREAM, 0) = 5
        201 write(5, "x", 1) = 1
        200 clone3({flags=CLONE_VM|CLONE_FS|CLONE_FILES|CLONE_SIGHAND|CLONE_THREAD|CLONE_SYSVSEM, exit_signal=0, stack=0x7f00, stack_size=0x7fff00}, 88) = 202
        202 close(6) = 0
        202 eventfd2(0, EFD_NONBLOCK) = 6
        200 read(5, "", 8) = 0
        200 write(6, "\\1\\0\\0\\0\\0\\0\\0\\0", 8) = 8
        200 epoll_wait(3, [], 8, 0) = 0
        201 +++ exited with 0 +++
        """
        let (report, records) = StraceImport.analyze(text: log)
        XCTAssertEqual(report.findings.map(\.kind), [.likelyStaleDispatch], report.renderText())
        let finding = report.findings.first
        XCTAssertEqual(finding?.fd, 6, "only the thread's reuse is in the parent's table")
        XCTAssertEqual([finding?.waitLine, finding?.closeLine, finding?.reuseLine, finding?.accessLine], [5, 11, 12, 14])
        XCTAssertEqual(finding?.tid, 200)
        let tables = Dictionary(records.map { ($0.1.tid, $0.1.fdTable) }, uniquingKeysWith: { a, _ in a })
        XCTAssertEqual(tables[200], 1)
        XCTAssertEqual(tables[201], 2, "fork gives the child its own copy")
        XCTAssertEqual(tables[202], 1, "a CLONE_FILES thread shares the parent's table")
    }

    func testCloseRange_andDup2OntoAnOpenFd_closeWhatTheyReplace() {
        let log = """
        300 epoll_create1(0) = 3
        300 socket(AF_INET, SOCK_DGRAM, IPPROTO_IP) = 4
        300 socket(AF_INET, SOCK_DGRAM, IPPROTO_IP) = 5
        300 epoll_ctl(3, EPOLL_CTL_ADD, 4, {events=EPOLLOUT, data={u32=4, u64=4}}) = 0
        300 epoll_ctl(3, EPOLL_CTL_ADD, 5, {events=EPOLLOUT, data={u32=5, u64=5}}) = 0
        300 epoll_wait(3, [{events=EPOLLOUT, data={u32=4, u64=4}}, {events=EPOLLOUT, data={u32=5, u64=5}}], 8, -1) = 2
        300 dup2(5, 4) = 4
        300 close_range(5, 4294967295, 0) = 0
        300 epoll_wait(3, [{events=EPOLLOUT, data={u32=5, u64=5}}], 8, 0) = 1
        """
        let (report, records) = StraceImport.analyze(text: log)
        let described = records.compactMap { FormatExcerptTests.describe($0.0) }
        XCTAssertEqual(Array(described[6...]), [
            "call dup2 fd=5 = 4", "close fd=4", "del reg=1 fd=4", "open fd=4 origin=dup",
            "close fd=5", "batch#2 timeout=0 5:OUT",
        ], "dup2 closes 4 (its registration ends with its file); close_range closes 5, whose file lives on as 4")
        XCTAssertEqual(report.findings.map(\.kind), [.reuseWithinBatch, .orphanEvent], report.renderText())
        XCTAssertEqual(report.findings.first?.fd, 4, "4 was closed unhandled by dup2 and reused in the same call")
        XCTAssertEqual(report.findings.last?.fd, 5,
                       "5's registration outlives close_range through the dup (fd 4), so its event is an orphan")
        XCTAssertEqual(report.findings.last?.closeLine, 8)
        XCTAssertEqual(report.findings.last?.registeredLine, 5)
    }
}
