import Foundation
import PollTraceStrace
import XCTest

/// Input strace did not (or did not quite) print: each case is counted and reported
/// with its line number, and the import goes on past it.
final class MalformedInputTests: XCTestCase {
    func diagnostics(_ log: String) -> (ImportDiagnostics, ForeignReport) {
        let (report, _) = StraceImport.analyze(text: log)
        return (report.diagnostics!, report)
    }

    func testTruncatedLastLine_strace_killed_isCountedAtItsLine() {
        let (d, _) = diagnostics("""
        epoll_create1(0) = 3
        socket(AF_INET, SOCK_STREAM, IPPROTO_IP) = 4
        epoll_wait(3, [{events=EPOLLIN, data={u32=4, u
        """)
        XCTAssertEqual(d.counts, [.truncatedLastLine: 1])
        XCTAssertEqual(d.lines[.truncatedLastLine], [3])
    }

    func testGarbageLine_isCountedAndTheRestImports() {
        let (d, report) = diagnostics("""
        epoll_create1(0) = 3
        this is not strace output
        socket(AF_INET, SOCK_STREAM, IPPROTO_IP) = 4
        \u{1}\u{2}\u{3}\u{7f}
        epoll_ctl(3, EPOLL_CTL_ADD, 4, {events=EPOLLIN, data={u32=4, u64=4}}) = 0
        epoll_wait(3, [{events=EPOLLIN, data={u32=4, u64=4}}], 8, -1) = 1
        """)
        XCTAssertEqual(d.counts, [.garbage: 2])
        XCTAssertEqual(d.lines[.garbage], [2, 4])
        XCTAssertEqual(report.statistics.events, 1, "the lines after the garbage were imported")
    }

    func testUnknownSyscall_isCountedWithItsLine() {
        let (d, _) = diagnostics("""
        epoll_create1(0) = 3
        frobnicate(3, 0x1) = 0
        close(3) = 0
        """)
        XCTAssertEqual(d.counts, [.unknownSyscall: 1])
        XCTAssertEqual(d.lines[.unknownSyscall], [2])
    }

    func testInterleavedUnfinishedCallsFromSeveralThreads_areStitchedPerThread() {
        let (d, report) = diagnostics("""
        [pid   10] epoll_create1(0) = 3
        [pid   10] socketpair(AF_UNIX, SOCK_STREAM, 0, [4, 5]) = 0
        [pid   10] epoll_ctl(3, EPOLL_CTL_ADD, 4, {events=EPOLLIN, data={u32=4, u64=4}}) = 0
        [pid   10] epoll_wait(3,  <unfinished ...>
        [pid   11] read(5,  <unfinished ...>
        [pid   12] write(5, "ping", 4 <unfinished ...>
        [pid   10] <... epoll_wait resumed>[{events=EPOLLIN, data={u32=4, u64=4}}], 8, -1) = 1
        [pid   12] <... write resumed>) = 4
        [pid   10] read(4, "ping", 64) = 4
        [pid   11] <... read resumed> "", 64) = 0
        [pid   10] epoll_wait(3, [], 8, 0) = 0
        """)
        XCTAssertEqual(d.counts, [:], "nothing malformed: \(d.summary)")
        XCTAssertEqual(d.stitchedCalls, 3)
        XCTAssertEqual(report.statistics.eventsHandled, 1, "thread 10's read handled its event")
        XCTAssertEqual(report.findings, [])
    }

    func testResumedCallWithNoStart_isCounted() {
        let (d, _) = diagnostics("""
        [pid   10] epoll_create1(0) = 3
        [pid   11] <... epoll_wait resumed>[], 8, 0) = 0
        [pid   10] <... read resumed>"x", 1) = 1
        """)
        XCTAssertEqual(d.counts, [.resumedWithoutStart: 2])
        XCTAssertEqual(d.lines[.resumedWithoutStart], [2, 3])
    }

    func testUnfinishedCallNeverResumed_andOneReplacedByAnother_areCounted() {
        let (d, _) = diagnostics("""
        [pid   10] read(3,  <unfinished ...>
        [pid   10] write(4, "x", 1 <unfinished ...>
        [pid   11] epoll_wait(5,  <unfinished ...>
        [pid   11] +++ killed by SIGKILL +++
        """)
        XCTAssertEqual(d.counts, [.unfinishedReplaced: 1, .neverResumed: 2], d.summary.joined(separator: "; "))
        XCTAssertEqual(d.lines[.unfinishedReplaced], [1])
        XCTAssertEqual(d.lines[.neverResumed]?.sorted(), [2, 3])
    }

    func testSignalsExitsAndStraceMessages_areNotErrors() {
        let (d, _) = diagnostics("""
        strace: Process 77 attached
        77    --- SIGCHLD {si_signo=SIGCHLD, si_code=CLD_EXITED, si_pid=78, si_uid=0, si_status=0} ---
        77    epoll_wait(3, [], 8, 100) = -1 EINTR (Interrupted system call)
        77    --- SIGTERM {si_signo=SIGTERM, si_code=SI_USER, si_pid=1, si_uid=0} ---
        77    restart_syscall(<... resuming interrupted epoll_wait ...>) = 0
        77    +++ exited with 0 +++
        """)
        XCTAssertEqual(d.counts, [:], d.summary.joined(separator: "; "))
    }

    func testAbbreviatedEventArray_isReported() {
        let (d, _) = diagnostics("""
        epoll_create1(0) = 3
        epoll_wait(3, [{events=EPOLLIN, data={u32=4, u64=4}}, ...], 2, -1) = 2
        """)
        XCTAssertEqual(d.counts, [.abbreviatedEvents: 1])
    }

    func testCLI_importOfABinaryFile_exitsTwoNamingTheFile() throws {
        // The CLI's message and exit code are checked by the CLI tests; here the
        // library must simply find nothing and say where.
        let dir = try StraceFixtures.temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: dir) }
        let path = dir.appendingPathComponent("binary.log").path
        XCTAssertTrue(FileManager.default.createFile(atPath: path, contents: Data((0..<4096).map { UInt8(truncatingIfNeeded: $0 &* 31) })))
        let report = try StraceImport.analyze(path: path)
        XCTAssertEqual(report.statistics.batches, 0)
        XCTAssertGreaterThan(report.diagnostics?.total ?? 0, 0, "binary input is reported, not silently accepted")
        XCTAssertThrowsError(try StraceImport.analyze(path: dir.appendingPathComponent("missing.log").path)) { error in
            XCTAssertTrue("\(error)".contains("missing.log"), "the error names the file: \(error)")
        }
    }
}
