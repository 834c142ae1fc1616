@testable import PollTraceCore
import XCTest

/// Each rule of `PollerModel`, on an exact interleaving of records, and the same
/// interleaving through `Replayer` and `FixVerifier`, which must agree with it.
final class PollerModelTests: XCTestCase {
    // MARK: - Records

    func open(_ seq: SequenceNumber, _ fd: Int32, poller: PollerID = 0) -> TraceRecord {
        .fdOpened(FDOpened(seq: seq, timeNs: seq, poller: poller, fd: fd, origin: .socket))
    }
    func register(_ seq: SequenceNumber, _ id: RegistrationID, _ fd: Int32, poller: PollerID = 1,
                  interest: IOEvents = .readable) -> TraceRecord {
        .registered(Registered(seq: seq, timeNs: seq, poller: poller, registrationID: id, fd: fd, interest: interest,
                               data: EpollData.pack(registrationID: id, fd: fd), handlerLabel: "h\(id)"))
    }
    func unregister(_ seq: SequenceNumber, _ id: RegistrationID, _ fd: Int32, poller: PollerID = 1) -> TraceRecord {
        .unregistered(Unregistered(seq: seq, timeNs: seq, poller: poller, registrationID: id, fd: fd))
    }
    func close(_ seq: SequenceNumber, _ fd: Int32, poller: PollerID = 1) -> TraceRecord {
        .closed(Closed(seq: seq, timeNs: seq, poller: poller, fd: fd))
    }
    func failed(_ seq: SequenceNumber, _ call: FDCall, _ fd: Int32, poller: PollerID = 1, errno: Int32 = 9) -> TraceRecord {
        .callFailed(CallFailed(seq: seq, timeNs: seq, poller: poller, call: call, fd: fd, errno: errno))
    }
    /// A batch on poller 1 whose events carry the guarded data word of `(fd, id)`.
    func batch(_ seq: SequenceNumber, number: UInt64, _ events: [(fd: Int32, id: RegistrationID)]) -> TraceRecord {
        .batch(BatchHarvested(seq: seq, timeNs: seq, poller: 1, batchNumber: number, timeoutMs: 0, waitedNs: 0,
                              events: events.map { HarvestedEvent(fd: $0.fd, mask: .readable,
                                                                  data: EpollData.pack(registrationID: $0.id, fd: $0.fd)) }))
    }
    func ran(_ seq: SequenceNumber, batch: SequenceNumber, index: UInt32, id: RegistrationID) -> TraceRecord {
        .dispatch(Dispatch(seq: seq, timeNs: seq, poller: 1, source: .event, batchSeq: batch, eventIndex: index,
                           ranRegistrationID: id, deliveredMask: .readable, suppression: nil, handlerThrew: false, durationNs: 1))
    }
    func suppressed(_ seq: SequenceNumber, batch: SequenceNumber, index: UInt32, _ reason: SuppressionReason) -> TraceRecord {
        .dispatch(Dispatch(seq: seq, timeNs: seq, poller: 1, source: .event, batchSeq: batch, eventIndex: index,
                           ranRegistrationID: 0, deliveredMask: [], suppression: reason, handlerThrew: false, durationNs: 1))
    }

    func applied(_ records: [TraceRecord]) -> PollerModel {
        var model = PollerModel()
        for record in records { model.apply(record) }
        return model
    }

    func ending(_ id: RegistrationID, poller: PollerID, fd: Int32, _ reason: RegistrationEndReason) -> PollerModelChange.Ending {
        PollerModelChange.Ending(registrationID: id, poller: poller, fd: fd, reason: reason)
    }

    // MARK: - The model's rules

    func testClose_endsTheFDsRegistrationsOnEveryPoller_inPollerOrder() {
        var model = applied([open(1, 7), register(2, 20, 7, poller: 2), register(3, 10, 7, poller: 1), open(4, 8),
                             register(5, 30, 8, poller: 1)])
        model.apply(close(6, 7))
        XCTAssertEqual(model.change.ended, [ending(10, poller: 1, fd: 7, .closed), ending(20, poller: 2, fd: 7, .closed)])
        XCTAssertEqual(model.change.closedFDOpenedSeq, 1, "the change names the open fd the close ended")
        XCTAssertEqual(model.change.anomalies, [])
        XCTAssertFalse(model.isLive(10))
        XCTAssertFalse(model.isLive(20))
        XCTAssertNil(model.currentRegistration(onPoller: 1, fd: 7))
        XCTAssertNil(model.currentRegistration(onPoller: 2, fd: 7))
        XCTAssertNil(model.fdTable.lookup(7))
        XCTAssertEqual(model.currentRegistration(onPoller: 1, fd: 8)?.registrationID, 30, "fd 8 is untouched")
    }

    func testOpenOfAnOpenFD_endsItsRegistrations_asItsMissingCloseWould() {
        var model = applied([open(1, 7), register(2, 10, 7)])
        model.apply(open(3, 7, poller: 1))
        XCTAssertEqual(model.change.anomalies, [.openOfOpenFD(previous: OpenFD(fd: 7, openedSeq: 1, origin: .socket, openedBy: nil))])
        XCTAssertEqual(model.change.ended, [ending(10, poller: 1, fd: 7, .closed)])
        XCTAssertNil(model.currentRegistration(onPoller: 1, fd: 7))
        XCTAssertEqual(model.fdTable.lookup(7)?.openedSeq, 3, "the number now means the new fd")
    }

    func testFailedDelete_endsTheFDsRegistrationOnThatPollerOnly() {
        var model = applied([open(1, 7), register(2, 10, 7, poller: 1), register(3, 20, 7, poller: 2)])
        model.apply(failed(4, .epollDelete, 7, poller: 1))
        XCTAssertEqual(model.change.ended, [ending(10, poller: 1, fd: 7, .unregistered)],
                       "EventPoller drops its entry when EPOLL_CTL_DEL fails")
        XCTAssertNil(model.currentRegistration(onPoller: 1, fd: 7))
        XCTAssertEqual(model.currentRegistration(onPoller: 2, fd: 7)?.registrationID, 20, "another poller's entry stays")
        XCTAssertNotNil(model.fdTable.lookup(7), "a failed DEL closes nothing")

        // The fd's next registration on poller 1 replaces nothing: nothing is left to replace.
        model.apply(register(5, 11, 7, poller: 1))
        XCTAssertEqual(model.change.anomalies, [])
        XCTAssertEqual(model.change.ended, [])
    }

    func testOtherFailedCalls_changeNothing() {
        var model = applied([open(1, 7), register(2, 10, 7)])
        for (seq, call) in zip(SequenceNumber(3)..., [FDCall.epollAdd, .epollModify, .close, .accept, .socket, .other]) {
            model.apply(failed(seq, call, 7))
            XCTAssertEqual(model.change.ended, [], "\(call)")
            XCTAssertEqual(model.currentRegistration(onPoller: 1, fd: 7)?.registrationID, 10, "\(call)")
        }
        model.apply(failed(20, .epollDelete, 9))
        XCTAssertEqual(model.change.ended, [], "a failed DEL of an fd with no registration ends nothing")
        XCTAssertTrue(model.isLive(10))
    }

    func testRegistrationOfARegisteredFD_endsTheOldOne() {
        var model = applied([open(1, 7), register(2, 10, 7)])
        model.apply(register(3, 11, 7))
        XCTAssertEqual(model.change.anomalies, [.fdAlreadyRegistered(previous: 10)])
        XCTAssertEqual(model.change.ended, [ending(10, poller: 1, fd: 7, .unregistered)])
        XCTAssertEqual(model.currentRegistration(onPoller: 1, fd: 7)?.registrationID, 11)
    }

    func testDuplicateID_endsTheOldRegistration_andUnknownFDIsAssumedOpen() {
        var model = applied([open(1, 7), register(2, 10, 7)])
        model.apply(register(3, 10, 9))
        XCTAssertEqual(model.change.anomalies, [.duplicateRegistrationID(existingFD: 7), .registerOfUnknownFD])
        XCTAssertEqual(model.change.ended, [ending(10, poller: 1, fd: 7, .unregistered)])
        XCTAssertNil(model.currentRegistration(onPoller: 1, fd: 7))
        XCTAssertEqual(model.currentRegistration(onPoller: 1, fd: 9)?.registrationID, 10)
        XCTAssertEqual(model.fdTable.lookup(9)?.openedSeq, 3, "assumed open at the registration")
    }

    func testModifyAndUnregister_findTheRegistrationByID_evenWhenTheRecordNamesAnotherFD() {
        var model = applied([open(1, 7), register(2, 10, 7)])
        model.apply(.modified(Modified(seq: 3, timeNs: 3, poller: 1, registrationID: 10, fd: 8, interest: .writable)))
        XCTAssertEqual(model.change.anomalies, [.registrationFDMismatch(registeredFD: 7)])
        XCTAssertEqual(model.currentRegistration(onPoller: 1, fd: 7)?.interest, .writable, "applied to fd 7")
        model.apply(unregister(4, 10, 8))
        XCTAssertEqual(model.change.anomalies, [.registrationFDMismatch(registeredFD: 7)])
        XCTAssertEqual(model.change.ended, [ending(10, poller: 1, fd: 7, .unregistered)])
        model.apply(unregister(5, 10, 7))
        XCTAssertEqual(model.change.anomalies, [.notLive])
        XCTAssertEqual(model.change.ended, [])
    }

    func testCloseOfUnknownFD_isAnAnomaly_andStillEndsRegistrations() {
        var model = applied([register(1, 10, 7)])   // fd 7 assumed open
        model.apply(close(2, 7))
        model.apply(close(3, 7))
        XCTAssertEqual(model.change.anomalies, [.closeOfUnknownFD])
        XCTAssertNil(model.change.closedFDOpenedSeq)
    }

    // MARK: - Replay and verify apply the same rules

    /// Poller 1 (guarded) harvests fd 7's event for #10; a handler closes fd 7
    /// behind the poller's back and then unregisters #10: EPOLL_CTL_DEL fails and
    /// the poller drops its entry, so the event is suppressed. That suppression was
    /// right (the registration was gone), not a lost event, and `verify` agrees with
    /// the guarded recording.
    func testFailedDelete_thenSuppressedEvent_isAJustifiedSuppression_inReplayAndVerify() {
        let records: [TraceRecord] = [
            open(1, 7), register(2, 10, 7), open(3, 8), register(4, 11, 8),
            batch(5, number: 1, [(8, 11), (7, 10)]),
            ran(6, batch: 5, index: 0, id: 11),
            failed(7, .epollDelete, 7),
            suppressed(8, batch: 5, index: 1, .registrationGone),
        ]
        var replayer = Replayer()
        for record in records { replayer.consume(record) }
        replayer.finish()
        XCTAssertEqual(replayer.findings.map(\.kind), [.justifiedSuppression])
        XCTAssertEqual(replayer.inconsistencyCount, 0, "\(replayer.inconsistencies)")
        XCTAssertEqual(replayer.registration(10)?.end?.reason, .unregistered)
        XCTAssertEqual(replayer.registration(10)?.end?.seq, 7, "ended by the failed DEL")
        XCTAssertEqual(replayer.registration(10)?.end?.by?.registrationID, 11, "by the handler that ran")

        var verifier = FixVerifier(recordedPolicies: [1: .guarded])
        for record in records { verifier.consume(record) }
        verifier.finish()
        XCTAssertTrue(verifier.passed, "the guarded recording did what the guarded replay does: \(verifier.failures)")
        XCTAssertEqual(verifier.suppressionsKept, 1)
        XCTAssertEqual(verifier.correctKept, 1)
    }

    /// The guarded replay suppresses a dead registration's dispatch whose handler,
    /// in the recording, went on to fail a DEL of fd 7: in the fixed world that DEL
    /// never happened, so fd 7 diverges and its next dispatch is counted, not judged.
    func testFailedDelete_skippedAsASuppressedHandlersEffect_makesItsFDDivergent() {
        let records: [TraceRecord] = [
            open(1, 7), register(2, 10, 7), open(3, 8), register(4, 11, 8),
            batch(5, number: 1, [(8, 11), (7, 10)]),
            unregister(6, 11, 8),
            ran(7, batch: 5, index: 0, id: 11),      // dead: #11 was unregistered after the harvest
            failed(8, .epollDelete, 7),              // that handler's effect
            suppressed(9, batch: 5, index: 1, .noHandler),
        ]
        var verifier = FixVerifier(recordedPolicies: [1: .naive])
        for record in records { verifier.consume(record) }
        verifier.finish()
        XCTAssertEqual(verifier.replayer.findings.map(\.kind), [.deadRegistration, .justifiedSuppression])
        XCTAssertEqual(verifier.staleSuppressed, 1)
        XCTAssertEqual(verifier.skippedEffectRecords, 1, "the failed DEL is not applied to the fixed loop's table")
        XCTAssertEqual(verifier.divergentDispatches, 1, "fd 7's dispatch is not judged: the worlds differ on it")
        XCTAssertTrue(verifier.passed, "\(verifier.failures)")
    }

    /// fd 7's close is missing: the next open of 7 ends #10 in replay, and in the
    /// verifier's table too, so the guarded replay suppresses the stale event that
    /// the naive recording ran (it judged the same registration dead).
    func testOpenOfAnOpenFD_endsTheRegistration_inReplayAndVerifyAlike() {
        let records: [TraceRecord] = [
            open(1, 7), register(2, 10, 7), open(3, 8), register(4, 11, 8),
            batch(5, number: 1, [(8, 11), (7, 10)]),
            ran(6, batch: 5, index: 0, id: 11),
            open(7, 7, poller: 1),                   // fd 7 closed unrecorded, its number handed out again
            ran(8, batch: 5, index: 1, id: 10),
        ]
        var replayer = Replayer()
        for record in records { replayer.consume(record) }
        replayer.finish()
        XCTAssertEqual(replayer.findings.map(\.kind), [.deadRegistration])
        XCTAssertEqual(replayer.inconsistencies.map(\.kind), [.openOfOpenFD])

        var verifier = FixVerifier(recordedPolicies: [1: .naive])
        for record in records { verifier.consume(record) }
        verifier.finish()
        XCTAssertTrue(verifier.passed, "\(verifier.failures)")
        XCTAssertEqual(verifier.staleSuppressed, 1, "the guarded dispatcher finds #10 gone, as replay does")
    }
}
