import EventPoller
import Glibc
import PollTraceAnalysis
import PollTraceCore
import PollTraceStore
import XCTest

/// A failed `EPOLL_CTL_DEL`, for real: two eventfds ready in one batch; the first
/// handler to run closes the other's fd with a plain close(2), behind the poller's
/// back, then unregisters it. The kernel refuses the DEL (EBADF), the poller records
/// the failure and drops its entry, and the other event is dispatched after that.
///
/// Replay ends the registration at the failed DEL, as the poller did: the guarded
/// and naive pollers' suppressions are justified (not lost events), and the snapshot
/// poller, which runs the handler it captured, ran a dead registration.
final class FailedUnregisterTests: XCTestCase {
    func record(policy: DispatchPolicy) throws -> String {
        let path = TraceFiles.temporaryPath("failed-del-\(policy)")
        let writer = try TraceWriter(path: path, metadata: TraceFiles.metadata(pollers: [], program: "failed-del-\(policy)"),
                                     options: TraceWriterOptions(overwrite: true))
        let poller = try EventPoller(id: 1, policy: policy, recorder: writer, label: "failed-del")
        let fds = [try poller.makeEventFD(), try poller.makeEventFD()]
        let registrations = Box<[Registration]>([])
        let closedBehind = Box<Int32>(-1)
        let deleteError = Box<(any Error)?>(nil)
        for (n, fd) in fds.enumerated() {
            let registration = try poller.register(fd: fd, interest: .readable, label: "eventfd-\(n)") { _, context in
                guard closedBehind.value < 0 else { return }
                let other = registrations.value[1 - n]
                closedBehind.value = other.fd
                XCTAssertEqual(Glibc.close(other.fd), 0, "closing fd \(other.fd) behind the poller's back")
                do {
                    try context.poller.unregister(other)
                } catch {
                    deleteError.value = error
                }
            }
            registrations.value.append(registration)
            _ = try Linux.EventFd.write(fd: fd)
        }
        XCTAssertEqual(try poller.runOnce(timeoutMs: 1000), 2, "both eventfds are ready in one batch")
        XCTAssertNotNil(deleteError.value, "EPOLL_CTL_DEL of a closed fd must fail")
        try poller.close()
        try writer.close()
        return path
    }

    func check(policy: DispatchPolicy, expected: FindingKind) throws {
        let path = try record(policy: policy)
        defer { TraceFiles.remove(path) }
        var cursor = try TraceReader(path: path).records()
        var failures: [CallFailed] = []
        while let record = try cursor.next() {
            if case .callFailed(let failed) = record { failures.append(failed) }
        }
        XCTAssertEqual(failures.map(\.call), [.epollDelete], "the trace holds the failed DEL")
        XCTAssertEqual(failures.first?.errno, EBADF)

        let report = try TraceAnalysis.analyze(path: path)
        XCTAssertEqual(report.findings.map(\.kind), [expected], "\(policy)\n\(ReportText.render(report))")
        XCTAssertEqual(report.count(.correct), 1, "the first handler's own event")
        XCTAssertEqual(report.inconsistencyCount, 0, "\(report.inconsistencies)")
        XCTAssertEqual(report.findings.first?.harvestedFor?.end?.reason, .unregistered)
        XCTAssertEqual(report.findings.first?.harvestedFor?.end?.seq, failures.first?.seq, "ended by the failed DEL")
        let verification = try FixVerification.verify(path: path)
        XCTAssertTrue(verification.passed, "\(policy): the guarded replay drops the entry as the poller did\n\(ReportText.render(verification))")
    }

    func testGuarded_suppressesTheEventOfTheRegistrationItDropped_justified() throws {
        try check(policy: .guarded, expected: .justifiedSuppression)
    }

    func testNaive_findsNoHandlerForTheDroppedRegistration_justified() throws {
        try check(policy: .naive, expected: .justifiedSuppression)
    }

    func testSnapshot_runsTheCapturedHandlerOfTheDroppedRegistration_dead() throws {
        try check(policy: .snapshot, expected: .deadRegistration)
    }
}
