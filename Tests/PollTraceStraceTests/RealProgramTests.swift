import Foundation
import PollTraceStrace
import XCTest

/// Small C loops run under the real strace, imported, and analysed; the findings
/// must be exactly the ones each program was written to produce.
final class RealProgramTests: XCTestCase {
    var dir: URL!

    override func setUpWithError() throws { dir = try StraceFixtures.temporaryDirectory() }
    override func tearDownWithError() throws { try? FileManager.default.removeItem(at: dir) }

    func testSeedLoop_naiveDispatch_givesOneLikelyStaleDispatchCitingEveryLine() throws {
        let program = try StraceFixtures.compile("seed_loop", into: dir)
        let log = try StraceFixtures.record(program, in: dir)
        let report = try StraceImport.analyze(path: log)

        XCTAssertEqual(report.findings.count, 1, "the naive loop has exactly one stale event:\n\(report.renderText())")
        let finding = try XCTUnwrap(report.findings.first)
        XCTAssertEqual(finding.kind, .likelyStaleDispatch, "the new fd was read before the next wait")
        let udp = try StraceFixtures.lines(containing: "SOCK_DGRAM", in: log)
        XCTAssertEqual(udp.count, 1)
        XCTAssertEqual(finding.fd, 8, "the UDP socket is fd 8 (0-2 stdio, 3 epoll, 4-5 pipe, 6 listener, 7 client)")
        XCTAssertEqual(finding.mask, "OUT", "the stale event is the UDP socket's writable event")
        XCTAssertEqual([finding.waitLine], try StraceFixtures.lines(containing: "epoll_wait(3, [{", in: log))
        XCTAssertEqual([finding.closeLine], try StraceFixtures.lines(containing: "close(8)", in: log).map(Optional.some))
        XCTAssertEqual([finding.reuseLine], try StraceFixtures.lines(containing: "accept4(", in: log).map(Optional.some))
        XCTAssertEqual([finding.accessLine], try StraceFixtures.lines(containing: "read(8,", in: log).map(Optional.some))
        XCTAssertEqual(finding.accessCall, "read")
        XCTAssertEqual(finding.accessErrno, 11, "the stale read on the new connection fails with EAGAIN")
        XCTAssertEqual(report.diagnostics?.total, 0, "a real strace log reads without complaint")
        // record's -yy names each handler by its socket.
        XCTAssertTrue(finding.handler?.hasPrefix("UDP:[") == true, "\(finding.handler ?? "nil")")
        XCTAssertTrue(finding.accessHandler?.hasPrefix("TCP:[127.0.0.1:") == true, "\(finding.accessHandler ?? "nil")")
        XCTAssertTrue(finding.sentence.contains("fd 8 (UDP:["), finding.sentence)
    }

    func testSeedLoop_guarded_givesAHazardWithNoAccess() throws {
        let program = try StraceFixtures.compile("seed_loop", defines: ["GUARDED"], into: dir)
        let log = try StraceFixtures.record(program, in: dir)
        let report = try StraceImport.analyze(path: log)

        XCTAssertEqual(report.findings.map(\.kind), [.reuseWithinBatch],
                       "the guard drops the stale event, so the hazard is there but nothing touches the new fd:\n"
                       + report.renderText())
        let finding = try XCTUnwrap(report.findings.first)
        XCTAssertEqual(finding.fd, 8)
        XCTAssertNil(finding.accessLine)
        XCTAssertEqual([finding.reuseLine], try StraceFixtures.lines(containing: "accept4(", in: log).map(Optional.some))
        XCTAssertEqual(finding.data >> 32, 3, "guarded epoll_data carries registration id 3 beside the fd")
    }

    /// A known limit of the model: a forked child shares its parent's epoll
    /// instance, but the importer keeps interest lists per fd table, so the
    /// child's wait is read as one on an epoll fd registered before the log
    /// began. Its event is mapped by taking `epoll_data` as the fd and counted as
    /// such; it must not become a finding.
    func testForkedChildWaitingOnItsParentsEpollFD_givesNoFinding_andIsCountedAsRegisteredBeforeTheLog() throws {
        let program = try StraceFixtures.compile("fork_shared_epoll", into: dir)
        let log = try StraceFixtures.record(program, in: dir)
        let report = try StraceImport.analyze(path: log)

        XCTAssertEqual(report.findings.map(\.kind), [], report.renderText())
        XCTAssertEqual(report.statistics.events, 1, "the child harvests the one event the parent's write makes")
        XCTAssertEqual(report.statistics.eventsWithUnknownRegistration, 1,
                       "the child's epoll fd has no interest list of its own in the model:\n\(report.renderText())")
        XCTAssertEqual(report.diagnostics?.total, 0, report.renderText())
    }

    func testDupClosedWithoutDelete_givesOneOrphanEvent() throws {
        let program = try StraceFixtures.compile("dup_orphan", into: dir)
        let log = try StraceFixtures.record(program, in: dir)
        let report = try StraceImport.analyze(path: log)

        XCTAssertEqual(report.findings.map(\.kind), [.orphanEvent], report.renderText())
        let finding = try XCTUnwrap(report.findings.first)
        XCTAssertEqual(finding.fd, 4, "the pipe's read end, closed after the dup")
        XCTAssertEqual([finding.closeLine], try StraceFixtures.lines(containing: "close(4)", in: log).map(Optional.some))
        XCTAssertEqual([finding.registeredLine],
                       try StraceFixtures.lines(containing: "EPOLL_CTL_ADD, 4", in: log).map(Optional.some))
        XCTAssertEqual(report.hazardCount, 0, "the number 4 is never reused, so there is no reuse hazard")
    }

    func testThreadedLoop_reuseByAnotherThread_isALikelyStaleDispatchOnTheWorker() throws {
        let program = try StraceFixtures.compile("threaded_loop", into: dir)
        let log = try StraceFixtures.record(program, in: dir)
        let report = try StraceImport.analyze(path: log)

        XCTAssertEqual(report.findings.map(\.kind), [.likelyStaleDispatch], report.renderText())
        let finding = try XCTUnwrap(report.findings.first)
        XCTAssertEqual(finding.fd, 3, "the watched pipe's read end")
        let waitLine = try XCTUnwrap(StraceFixtures.lines(containing: "epoll_wait(", in: log).first)
        XCTAssertEqual(finding.waitLine, waitLine, "the worker's first wait (possibly split across lines)")
        // The loader closes fd 3 several times at start-up; the main thread's close is the last before the read.
        let closes = try StraceFixtures.lines(containing: "close(3)", in: log)
        let read = try XCTUnwrap(StraceFixtures.lines(containing: "read(3,", in: log).last)
        XCTAssertEqual(finding.closeLine, closes.last { $0 < read })
        XCTAssertEqual(finding.accessLine, read)
        XCTAssertEqual(finding.accessCall, "read")
        XCTAssertEqual(finding.accessErrno, 11)
        let mainTID = try XCTUnwrap(try String(contentsOfFile: log, encoding: .utf8).split(separator: " ").first)
        XCTAssertNotEqual(String(finding.tid), String(mainTID), "the hazard belongs to the worker thread")
    }
}
