import PollTraceAnalysis
import PollTraceCore
import XCTest

/// The seed's interleaving, built record by record, with the real `Dispatcher`
/// deciding the third dispatch under each policy. The analyzer must name exactly
/// the one stale dispatch each policy makes, with the interleaving that caused it.
final class SeedInterleavingTests: XCTestCase {
    /// One batch [10 control, 11 listener, 12 udp]: 10's handler closes 12, 11's
    /// handler opens a TCP listener that reuses 12, then 12's stale event is dispatched.
    static func seedRecords(policy: DispatchPolicy) -> [TraceRecord] {
        let dispatcher = Dispatcher(policy: policy)
        var table = TestTable()
        var records: [TraceRecord] = []
        var seq: SequenceNumber = 0
        func next() -> SequenceNumber { seq += 1; return seq }
        func open(_ fd: Int32, _ origin: FDOrigin, by poller: PollerID) {
            records.append(.fdOpened(FDOpened(seq: next(), timeNs: seq * 1000, poller: poller, fd: fd, origin: origin)))
        }
        func register(_ id: RegistrationID, _ fd: Int32, _ interest: IOEvents, _ label: String) {
            table.byFD[fd] = RegistrationState(registrationID: id, fd: fd, interest: interest)
            records.append(.registered(Registered(seq: next(), timeNs: seq * 1000, poller: 1, registrationID: id, fd: fd,
                                                  interest: interest, data: dispatcher.epollData(registrationID: id, fd: fd),
                                                  handlerLabel: label)))
        }
        open(10, .eventfd, by: 0); register(1, 10, .readable, "control-api")
        open(11, .socket, by: 0); register(2, 11, .readable, "rtp-tcp-listener:40000")
        open(12, .socket, by: 0); register(3, 12, .writable, "rtp-udp:40002")
        let events = [HarvestedEvent(fd: 10, mask: .readable, data: dispatcher.epollData(registrationID: 1, fd: 10)),
                      HarvestedEvent(fd: 11, mask: .readable, data: dispatcher.epollData(registrationID: 2, fd: 11)),
                      HarvestedEvent(fd: 12, mask: .writable, data: dispatcher.epollData(registrationID: 3, fd: 12))]
        let batchSeq = next()
        records.append(.batch(BatchHarvested(seq: batchSeq, timeNs: seq * 1000, poller: 1, batchNumber: 1, timeoutMs: -1,
                                             waitedNs: 500, events: events)))
        let pending = dispatcher.harvest(events, lookup: table)
        func dispatch(_ index: Int) {
            let s = next()
            switch dispatcher.decide(pending[index], lookup: table) {
            case .run(let id, let mask):
                records.append(.dispatch(Dispatch(seq: s, timeNs: s * 1000, poller: 1, source: .event, batchSeq: batchSeq,
                                                  eventIndex: UInt32(index), ranRegistrationID: id, deliveredMask: mask,
                                                  suppression: nil, handlerThrew: false, durationNs: 700)))
            case .suppress(let reason):
                records.append(.dispatch(Dispatch(seq: s, timeNs: s * 1000, poller: 1, source: .event, batchSeq: batchSeq,
                                                  eventIndex: UInt32(index), ranRegistrationID: 0, deliveredMask: [],
                                                  suppression: reason, handlerThrew: false, durationNs: 50)))
            }
        }
        dispatch(0) // the control API releases the UDP service
        table.byFD[12] = nil
        records.append(.unregistered(Unregistered(seq: next(), timeNs: seq * 1000, poller: 1, registrationID: 3, fd: 12)))
        records.append(.closed(Closed(seq: next(), timeNs: seq * 1000, poller: 1, fd: 12)))
        dispatch(1) // the listener opens a new TCP server: the kernel hands out 12 again
        open(12, .socket, by: 1); register(4, 12, .readable, "rtp-tcp-accept:40002")
        dispatch(2) // the stale event of the old fd 12
        return records
    }

    static func metadata(_ policy: DispatchPolicy) -> TraceMetadata {
        TraceMetadata(pid: 42, program: "seed", host: "test", startWallClockNs: 0, startMonotonicNs: 0,
                      pollers: [PollerInfo(poller: 1, backend: "epoll", policy: policy)])
    }

    func testNaive_reportsExactlyOneMisroutedDispatch_withTheInterleaving() {
        let report = TraceAnalysis.analyze(records: Self.seedRecords(policy: .naive), metadata: Self.metadata(.naive))
        XCTAssertEqual(report.findings.map(\.kind), [.misrouted], "naive must misroute exactly the stale event")
        XCTAssertEqual(report.count(.correct), 2, "the first two dispatches are correct")
        let finding = try! XCTUnwrap(report.findings.first)
        XCTAssertEqual(finding.harvestedFor?.registrationID, 3, "the event was harvested for the UDP registration")
        XCTAssertEqual(finding.ran?.registrationID, 4, "the new listener's handler ran")
        XCTAssertEqual(finding.harvestedFor?.end?.by?.handlerLabel, "control-api", "the control API's dispatch closed fd 12")
        XCTAssertEqual(finding.ran?.registeredBy?.handlerLabel, "rtp-tcp-listener:40000", "the listener's dispatch registered the new fd 12")
        XCTAssertEqual(finding.ran?.fdOpenedBy?.handlerLabel, "rtp-tcp-listener:40000", "the listener's dispatch opened the new fd 12")
        let text = ReportText.render(report)
        XCTAssertTrue(text.contains("MISROUTED"), text)
        XCTAssertTrue(text.contains("handler \"control-api\""), "the text names the closing handler:\n\(text)")
        XCTAssertEqual(report.inconsistencyCount, 0)
    }

    func testSnapshot_reportsExactlyOneDeadRegistration() {
        let report = TraceAnalysis.analyze(records: Self.seedRecords(policy: .snapshot), metadata: Self.metadata(.snapshot))
        XCTAssertEqual(report.findings.map(\.kind), [.deadRegistration], "snapshot runs the closed UDP handler")
        XCTAssertEqual(report.findings.first?.ran?.registrationID, 3)
    }

    func testGuarded_reportsOneJustifiedSuppression_andIsClean() {
        let report = TraceAnalysis.analyze(records: Self.seedRecords(policy: .guarded), metadata: Self.metadata(.guarded))
        XCTAssertEqual(report.findings.map(\.kind), [.justifiedSuppression])
        XCTAssertTrue(report.isClean, "a justified suppression is not a problem")
    }

    func testVerify_passesOnAllThreePolicies_andSuppressesTheStaleDispatch() {
        for policy in DispatchPolicy.allCases {
            let report = FixVerification.verify(records: Self.seedRecords(policy: policy), metadata: Self.metadata(policy))
            XCTAssertTrue(report.passed, "verify must pass under \(policy): \(ReportText.render(report))")
            XCTAssertEqual(report.correctKept, 2, "both correct dispatches are kept under \(policy)")
            XCTAssertEqual(report.staleSuppressed + report.suppressionsKept, 1, "the stale event is suppressed under \(policy)")
        }
    }

    func testOutput_isByteIdenticalAcrossRuns() {
        let records = Self.seedRecords(policy: .naive)
        let a = ReportJSON.analysis(TraceAnalysis.analyze(records: records, metadata: Self.metadata(.naive))).rendered()
        let b = ReportJSON.analysis(TraceAnalysis.analyze(records: records, metadata: Self.metadata(.naive))).rendered()
        XCTAssertEqual(a, b)
    }
}

struct TestTable: RegistrationLookup {
    var byFD: [Int32: RegistrationState] = [:]
    func currentRegistration(forFD fd: Int32) -> RegistrationState? { byFD[fd] }
}

extension SeedInterleavingTests {
    /// Under naive, the misrouted accept handler opens and registers fd 13 while it
    /// runs. The fix would not have run it, so verify skips those records, counts
    /// them, and does not judge later dispatches on fd 13 (they diverged).
    func testVerify_skipsAndCountsTheEffectsOfAHandlerTheFixSuppresses() {
        var records = Self.seedRecords(policy: .naive)
        var seq = records.last!.seq
        func next() -> SequenceNumber { seq += 1; return seq }
        records.append(.fdOpened(FDOpened(seq: next(), timeNs: seq, poller: 1, fd: 13, origin: .accept)))
        records.append(.registered(Registered(seq: next(), timeNs: seq, poller: 1, registrationID: 5, fd: 13, interest: .readable,
                                              data: 13, handlerLabel: "rtp-tcp-conn")))
        let batchSeq = next()
        records.append(.batch(BatchHarvested(seq: batchSeq, timeNs: seq, poller: 1, batchNumber: 2, timeoutMs: -1, waitedNs: 1,
                                             events: [HarvestedEvent(fd: 13, mask: .readable, data: 13)])))
        records.append(.dispatch(Dispatch(seq: next(), timeNs: seq, poller: 1, source: .event, batchSeq: batchSeq, eventIndex: 0,
                                          ranRegistrationID: 5, deliveredMask: .readable, suppression: nil, handlerThrew: false,
                                          durationNs: 1)))
        let report = FixVerification.verify(records: records, metadata: Self.metadata(.naive))
        XCTAssertTrue(report.passed, ReportText.render(report))
        XCTAssertEqual(report.staleSuppressed, 1)
        XCTAssertEqual(report.suppressedWithEffects, 1, "the misrouted handler had effects")
        XCTAssertEqual(report.skippedEffectRecords, 2, "its open and its registration are skipped in replay")
        XCTAssertEqual(report.divergentDispatches, 1, "the later dispatch on fd 13 is counted, not judged")
        XCTAssertEqual(report.analysis.count(.correct), 3, "analysis itself still sees the recording as it was")
    }
}
