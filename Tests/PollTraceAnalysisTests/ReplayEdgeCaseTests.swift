import PollTraceAnalysis
import PollTraceCore
import XCTest

/// Inconsistent records, gaps, orphans, spins and memory: the simulated table
/// decides, so these are built record by record.
final class ReplayEdgeCaseTests: XCTestCase {
    func open(_ seq: SequenceNumber, _ fd: Int32, poller: PollerID = 0) -> TraceRecord {
        .fdOpened(FDOpened(seq: seq, timeNs: seq, poller: poller, fd: fd, origin: .socket))
    }
    func register(_ seq: SequenceNumber, _ id: RegistrationID, _ fd: Int32, poller: PollerID = 1, data: UInt64? = nil) -> TraceRecord {
        .registered(Registered(seq: seq, timeNs: seq, poller: poller, registrationID: id, fd: fd, interest: .readable,
                               data: data ?? UInt64(fd), handlerLabel: "h\(id)"))
    }
    func batch(_ seq: SequenceNumber, number: UInt64, _ events: [(Int32, UInt64)], poller: PollerID = 1) -> TraceRecord {
        .batch(BatchHarvested(seq: seq, timeNs: seq, poller: poller, batchNumber: number, timeoutMs: 0, waitedNs: 0,
                              events: events.map { HarvestedEvent(fd: $0.0, mask: .readable, data: $0.1) }))
    }
    /// A posted task's dispatch (task `id`), as EventPoller records it after a batch's events.
    func task(_ seq: SequenceNumber, id: RegistrationID, poller: PollerID = 1) -> TraceRecord {
        .dispatch(Dispatch(seq: seq, timeNs: seq, poller: poller, source: .task, batchSeq: 0, eventIndex: 0,
                           ranRegistrationID: id, deliveredMask: [], suppression: nil, handlerThrew: false, durationNs: 1))
    }
    func ran(_ seq: SequenceNumber, batch: SequenceNumber, index: UInt32, id: RegistrationID, poller: PollerID = 1) -> TraceRecord {
        .dispatch(Dispatch(seq: seq, timeNs: seq, poller: poller, source: .event, batchSeq: batch, eventIndex: index,
                           ranRegistrationID: id, deliveredMask: .readable, suppression: nil, handlerThrew: false, durationNs: 1))
    }

    func testInconsistentRecords_areReportedBySeq_andReplayGoesOn() {
        let records: [TraceRecord] = [
            open(1, 5), register(2, 1, 5),
            open(2, 6),                                  // duplicate seq 2
            .closed(Closed(seq: 3, timeNs: 3, poller: 0, fd: 9)),   // never seen
            open(1, 7),                                  // out of order
            batch(4, number: 1, [(5, 5)]),
            ran(5, batch: 77, index: 0, id: 1),          // unknown batch
            ran(6, batch: 4, index: 3, id: 1),           // index out of range
            ran(7, batch: 4, index: 0, id: 1),           // fine
            ran(8, batch: 4, index: 0, id: 1),           // dispatched twice
            .modified(Modified(seq: 9, timeNs: 9, poller: 1, registrationID: 42, fd: 5, interest: .writable)),
            register(10, 1, 5),                          // id still live
        ]
        let report = TraceAnalysis.analyze(records: records)
        XCTAssertEqual(report.inconsistencies.map { "\($0.seq):\($0.kind.rawValue)" },
                       ["2:duplicate_sequence", "3:close_of_unknown_fd", "1:sequence_out_of_order", "5:unknown_batch",
                        "6:event_index_out_of_range", "8:event_dispatched_twice", "9:unknown_registration",
                        "10:duplicate_registration_id"], "each bad record is named by its seq, in order")
        XCTAssertEqual(report.count(.correct), 2, "the good dispatches around them are still classified")
    }

    func testGap_isReported_andRecordsNamingLostStateAreAppliedNotFlagged() {
        let records: [TraceRecord] = [
            open(1, 5), register(2, 1, 5),
            .gap(Gap(seq: 6, timeNs: 6, firstLost: 3, lastLost: 5, lostCount: 3, fromTimeNs: 3, toTimeNs: 5)),
            // The lost records opened fd 8 and registered it as #2.
            batch(7, number: 2, [(8, 8)]),
            ran(8, batch: 7, index: 0, id: 2),
            .closed(Closed(seq: 9, timeNs: 9, poller: 0, fd: 8)),
        ]
        let report = TraceAnalysis.analyze(records: records)
        XCTAssertEqual(report.gapCount, 1)
        XCTAssertEqual(report.gaps.first?.lostCount, 3)
        XCTAssertEqual(report.inconsistencyCount, 0, "after a gap, missing state is the gap's doing: \(report.inconsistencies)")
        XCTAssertGreaterThan(report.gapAffectedRecords, 0, "and it is counted")
        XCTAssertTrue(ReportText.render(report).contains("treatment: after a gap"), "the text says how the gap was treated")
    }

    /// A rotated trace file starts mid-stream: its listener was opened and
    /// registered in an earlier file. Its first event cannot be checked and is not
    /// an orphan; the dispatch names the registration, which replay then adopts, so
    /// the listener's later events are checked. An fd the file saw closed is still
    /// checked, and so is the same event in a trace that starts at seq 1.
    func testTraceStartingMidStream_adoptsTheRegistrationsMadeBeforeIt_andChecksTheirLaterEvents() {
        let midStream: [TraceRecord] = [
            batch(100, number: 40, [(5, 5)]),             // fd 5: the listener, registered before this file
            ran(101, batch: 100, index: 0, id: 3),         // names #3: adopted for fd 5
            open(102, 9, poller: 1), register(103, 7, 9),  // a connection, seen whole
            .unregistered(Unregistered(seq: 104, timeNs: 104, poller: 1, registrationID: 7, fd: 9)),
            .closed(Closed(seq: 105, timeNs: 105, poller: 1, fd: 9)),
            batch(106, number: 41, [(5, 5), (9, 9)]),      // fd 9 was closed: a real orphan
            ran(107, batch: 106, index: 0, id: 3),         // checked now: correct
        ]
        let report = TraceAnalysis.analyze(records: midStream)
        XCTAssertEqual(report.gaps.first.map { $0.firstLost...$0.lastLost }, 1...99, "the file starts after a hole")
        XCTAssertEqual(report.findings.map(\.kind), [.orphanEvent], "only the event on the fd the file saw closed")
        XCTAssertEqual(report.findings.first?.event.fd, 9)
        XCTAssertEqual(report.count(.correct), 1, "the adopted listener's second event is checked")
        XCTAssertEqual(report.inconsistencyCount, 0, "\(report.inconsistencies)")
        XCTAssertEqual(report.gapAffectedRecords, 2, "the listener's first event and its dispatch are unchecked")

        // verify replays the adopted registration through the guarded dispatcher too.
        var verifier = FixVerifier(recordedPolicies: [1: .guarded])
        for record in midStream { verifier.consume(record) }
        verifier.finish()
        XCTAssertTrue(verifier.passed, "\(verifier.failures)")
        XCTAssertEqual(verifier.correctKept, 1, "the adopted listener's second dispatch is judged, and kept")

        // Adopted means checked: a later event of fd 5 run by another registration is misrouted.
        let misrouted = midStream + [
            open(108, 11, poller: 1), register(109, 8, 11),
            batch(110, number: 42, [(5, 5)]),
            ran(111, batch: 110, index: 0, id: 8),
        ]
        XCTAssertEqual(TraceAnalysis.analyze(records: misrouted).findings.map(\.kind), [.orphanEvent, .misrouted])
        let text = ReportText.render(report)
        XCTAssertTrue(text.contains("seq 1...99 (99 records): before the trace's first record; it starts mid-stream"), text)
        XCTAssertFalse(text.contains("99 lost"), "records before a file's first one are not lost: \(text)")

        let fromTheStart: [TraceRecord] = [batch(1, number: 1, [(5, 5)])]
        XCTAssertEqual(TraceAnalysis.analyze(records: fromTheStart).findings.map(\.kind), [.orphanEvent],
                       "with no records missing, an event on an fd never registered is an orphan")
    }

    func testSequenceHoleWithoutGapRecord_isReportedAsUnannouncedGap() {
        let report = TraceAnalysis.analyze(records: [open(1, 5), open(5, 6)])
        XCTAssertEqual(report.gaps.map(\.unannounced), [true])
        XCTAssertEqual(report.gaps.first.map { $0.firstLost...$0.lastLost }, 2...4)
    }

    func testOrphanEvent_noLiveRegistration_orDataNamingAnotherRegistration() {
        let guarded = Dispatcher(policy: .guarded)
        let records: [TraceRecord] = [
            open(1, 5), register(2, 1, 5, data: guarded.epollData(registrationID: 1, fd: 5)),
            open(3, 6),
            // fd 6 has no registration; fd 5's event carries registration #9's id.
            batch(4, number: 1, [(6, 6), (5, guarded.epollData(registrationID: 9, fd: 5))]),
        ]
        let report = TraceAnalysis.analyze(records: records)
        XCTAssertEqual(report.findings.map(\.kind), [.orphanEvent, .orphanEvent])
        XCTAssertEqual(report.findings.map(\.eventIndex), [0, 1])
    }

    /// fd 5 closed without EPOLL_CTL_DEL while a dup kept its epitem: the kernel still
    /// reports it, and a loop whose table still maps 5 to #1 runs the dead handler.
    func testOrphanEvent_runByTheEndedRegistration_isADeadRegistration() {
        let records: [TraceRecord] = [
            open(1, 5), register(2, 1, 5), open(3, 6, poller: 0),   // 6 is the dup
            .closed(Closed(seq: 4, timeNs: 4, poller: 0, fd: 5)),
            batch(5, number: 1, [(5, 5)]),
            ran(6, batch: 5, index: 0, id: 1),
            open(7, 5, poller: 1), register(8, 2, 5),
            batch(9, number: 2, [(5, 5), (5, 5)]),
            ran(10, batch: 9, index: 0, id: 2),
        ]
        let report = TraceAnalysis.analyze(records: records)
        XCTAssertEqual(report.findings.map { "\($0.kind)@\($0.seq)" }, ["orphan_event@5", "dead_registration@6"],
                       "the second batch's events are #2's (its data word is the same bare fd): not orphans")
        XCTAssertEqual(report.count(.correct), 1)
    }

    /// fd 5 (registration #1) harvested and run in batches 1...`count`; `afterEach`
    /// appends what each dispatch does, taking sequence numbers from `seq`.
    func runsInEveryBatch(_ count: UInt64,
                          afterEach: (_ records: inout [TraceRecord], _ seq: inout SequenceNumber) -> Void = { _, _ in }) -> [TraceRecord] {
        var records: [TraceRecord] = [open(1, 5), register(2, 1, 5)]
        var seq: SequenceNumber = 2
        for n in 1...count {
            seq += 1; let b = seq
            records.append(batch(b, number: n, [(5, 5)]))
            seq += 1
            records.append(ran(seq, batch: b, index: 0, id: 1))
            afterEach(&records, &seq)
        }
        return records
    }

    func testSpin_isReportedOnce_atTheThresholdBatch() {
        let records = runsInEveryBatch(12)
        let report = TraceAnalysis.analyze(records: records, options: ReplayOptions(spinThreshold: 5))
        XCTAssertEqual(report.findings.map(\.kind), [.spin], "one spin per run, however long")
        XCTAssertEqual(report.findings.first?.spinLength, 5)
        XCTAssertEqual(report.findings.first?.spinFirstBatch?.batchNumber, 1)
        XCTAssertEqual(TraceAnalysis.analyze(records: records).findings.count, 12 >= ReplayOptions.defaultSpinThreshold ? 1 : 0)
    }

    /// A listener under a connection flood accepts in every batch: busy, not stuck.
    /// Each dispatch opens, registers and closes an fd (its work), which ends the
    /// run; the same dispatches without that work are a spin.
    func testSpin_isNotReported_whenTheHandlerDoesWorkEachTime_butIsWithoutIt() {
        func flood(working: Bool) -> [TraceRecord] {
            var nextID: RegistrationID = 2
            return runsInEveryBatch(12) { records, seq in
                guard working else { return }
                // accept(): a connection fd, handed on and closed again in this sketch.
                seq += 1; records.append(.fdOpened(FDOpened(seq: seq, timeNs: seq, poller: 1, fd: 9, origin: .accept)))
                seq += 1; records.append(register(seq, nextID, 9))
                seq += 1; records.append(.unregistered(Unregistered(seq: seq, timeNs: seq, poller: 1, registrationID: nextID, fd: 9)))
                seq += 1; records.append(.closed(Closed(seq: seq, timeNs: seq, poller: 1, fd: 9)))
                nextID += 1
            }
        }
        let options = ReplayOptions(spinThreshold: 5)
        XCTAssertEqual(TraceAnalysis.analyze(records: flood(working: true), options: options).findings.map(\.kind), [],
                       "a handler that works every time it runs is busy, not spinning")
        XCTAssertEqual(TraceAnalysis.analyze(records: flood(working: false), options: options).findings.map(\.kind), [.spin])
    }

    /// EventPoller's wake-up eventfd runs in every batch while other threads keep
    /// posting tasks. The tasks that run after it in the same iteration are its
    /// work; a wake-up with no task to run is a spin like any other.
    func testSpin_ofThePollersWakeUpEventFD_countsTheTasksItWasWokenFor() {
        func posting(tasks: Bool) -> [TraceRecord] {
            var records: [TraceRecord] = [
                open(1, 5, poller: 1),
                .registered(Registered(seq: 2, timeNs: 2, poller: 1, registrationID: 1, fd: 5, interest: .readable,
                                       data: 5, handlerLabel: HandlerLabels.pollerWakeUp)),
                open(3, 6, poller: 1), register(4, 2, 6),
            ]
            var seq: SequenceNumber = 4
            for n in 1...12 as ClosedRange<UInt64> {
                seq += 1; let b = seq
                // The wake-up first, then another event, then the posted task.
                records.append(batch(b, number: n, [(5, 5), (6, 6)]))
                seq += 1; records.append(ran(seq, batch: b, index: 0, id: 1))
                seq += 1; records.append(ran(seq, batch: b, index: 1, id: 2))
                // Registration 2 does work each time, so only the wake-up can spin.
                seq += 1; records.append(.modified(Modified(seq: seq, timeNs: seq, poller: 1, registrationID: 2, fd: 6, interest: .readable)))
                if tasks { seq += 1; records.append(task(seq, id: RegistrationID(n))) }
            }
            return records
        }
        let options = ReplayOptions(spinThreshold: 5)
        XCTAssertEqual(TraceAnalysis.analyze(records: posting(tasks: true), options: options).findings.map(\.kind), [])
        let idle = TraceAnalysis.analyze(records: posting(tasks: false), options: options).findings
        XCTAssertEqual(idle.map(\.kind), [.spin], "a wake-up that finds no task, batch after batch, is a spin")
        XCTAssertEqual(idle.first?.ran?.handlerLabel, HandlerLabels.pollerWakeUp)
    }

    /// A registration adopted after a gap has no known label: it might be a
    /// poller's wake-up eventfd, so the tasks that follow it are its work too.
    func testAdoptedRegistration_countsTasksAsItsWork_likeAWakeUp() {
        func midStream(tasks: Bool) -> [TraceRecord] {
            var records: [TraceRecord] = []
            var seq: SequenceNumber = 50
            for n in 1...12 as ClosedRange<UInt64> {
                seq += 1; let b = seq
                records.append(batch(b, number: n, [(5, 5)]))
                seq += 1; records.append(ran(seq, batch: b, index: 0, id: 1))
                if tasks { seq += 1; records.append(task(seq, id: RegistrationID(n))) }
            }
            return records
        }
        let options = ReplayOptions(spinThreshold: 5)
        XCTAssertEqual(TraceAnalysis.analyze(records: midStream(tasks: true), options: options).findings.map(\.kind), [])
        XCTAssertEqual(TraceAnalysis.analyze(records: midStream(tasks: false), options: options).findings.map(\.kind), [.spin],
                       "adopted, it is checked for spins like any registration")
    }

    /// Memory follows live state: a long churn (every batch closes and reopens fds)
    /// leaves replay holding a bounded number of registrations.
    func testMemory_followsLiveRegistrations_notTraceLength() {
        let collector = RecordCollector()
        var process = SimulatedProcess(recorder: collector, seed: 7, policies: [.real(.naive), .real(.guarded)], spinThreshold: 3)
        process.run(steps: 20_000)
        var replayer = Replayer()
        var peak = 0
        for record in collector.records {
            replayer.consume(record)
            peak = max(peak, replayer.heldRegistrations)
        }
        let registrations = collector.records.filter { $0.kind == .registered }.count
        XCTAssertGreaterThan(registrations, 1000, "the schedule must churn through many registrations")
        XCTAssertLessThan(peak, 100, "replay held \(peak) registrations at most; the trace made \(registrations)")
    }
}
