import Synchronization
import XCTest
@testable import PollTraceCore

/// A registration table the tests can rewrite between harvest and dispatch, the way
/// handlers earlier in a batch do.
private struct Table: RegistrationLookup {
    var byFD: [Int32: RegistrationState] = [:]
    func currentRegistration(forFD fd: Int32) -> RegistrationState? { byFD[fd] }
    mutating func register(_ id: RegistrationID, fd: Int32, interest: IOEvents) {
        byFD[fd] = RegistrationState(registrationID: id, fd: fd, interest: interest)
    }
}

/// The seed's batch [10, 11, 12]: handler 10 closes 12, handler 11 opens a listener
/// that gets number 12. Each test harvests, mutates the table as those handlers did,
/// and asks the dispatcher about the third event.
final class DispatcherTests: XCTestCase {
    private let oldUDP: RegistrationID = 3
    private let newListener: RegistrationID = 4

    private func seedBatch(_ dispatcher: Dispatcher, table: Table) -> [HarvestedEvent] {
        ([10, 11, 12] as [Int32]).map { fd in
            let id = table.currentRegistration(forFD: fd)!.registrationID
            let mask: IOEvents = fd == 12 ? .writable : .readable
            return HarvestedEvent(fd: fd, mask: mask, data: dispatcher.epollData(registrationID: id, fd: fd))
        }
    }

    private func initialTable() -> Table {
        var table = Table()
        table.register(1, fd: 10, interest: .readable)
        table.register(2, fd: 11, interest: .readable)
        table.register(oldUDP, fd: 12, interest: [.readable, .writable])
        return table
    }

    /// Runs harvest, the two handlers' table changes, then decides the stale event.
    private func decideStaleEvent(policy: DispatchPolicy) -> DispatchDecision {
        let dispatcher = Dispatcher(policy: policy)
        var table = initialTable()
        let pending = dispatcher.harvest(seedBatch(dispatcher, table: table), lookup: table)
        table.byFD[12] = nil                                      // handler 10 closes fd 12
        table.register(newListener, fd: 12, interest: .readable)  // handler 11 reuses 12
        return dispatcher.decide(pending[2], lookup: table)
    }

    func testNaive_routesStaleEventToNewRegistrationWithOldMask() {
        XCTAssertEqual(decideStaleEvent(policy: .naive), .run(registrationID: newListener, mask: .writable),
                       "naive must reproduce the seed: the new listener gets the old UDP socket's write event")
    }

    func testSnapshot_runsReleasedHandlerCapturedAtHarvest() {
        XCTAssertEqual(decideStaleEvent(policy: .snapshot), .run(registrationID: oldUDP, mask: .writable),
                       "snapshot captures at harvest, so the closed UDP socket's handler runs")
    }

    func testGuarded_suppressesEventForReplacedRegistration() {
        XCTAssertEqual(decideStaleEvent(policy: .guarded), .suppress(.registrationReplaced))
    }

    func testGuarded_suppressesEventWhenFDClosedAndNotReused() {
        let dispatcher = Dispatcher(policy: .guarded)
        var table = initialTable()
        let pending = dispatcher.harvest(seedBatch(dispatcher, table: table), lookup: table)
        table.byFD[12] = nil
        XCTAssertEqual(dispatcher.decide(pending[2], lookup: table), .suppress(.registrationGone))
    }

    func testGuarded_intersectsMaskWithCurrentInterest() {
        let dispatcher = Dispatcher(policy: .guarded)
        var table = initialTable()
        let data = dispatcher.epollData(registrationID: oldUDP, fd: 12)
        let pending = dispatcher.harvest([HarvestedEvent(fd: 12, mask: [.readable, .writable, .hangup], data: data)],
                                         lookup: table)
        table.register(oldUDP, fd: 12, interest: .readable)  // a MOD earlier in the batch dropped OUT
        XCTAssertEqual(dispatcher.decide(pending[0], lookup: table),
                       .run(registrationID: oldUDP, mask: [.readable, .hangup]),
                       "OUT was no longer asked for; HUP is always reported")
        table.register(oldUDP, fd: 12, interest: .priority)
        let onlyOut = dispatcher.harvest([HarvestedEvent(fd: 12, mask: .writable, data: data)], lookup: table)
        XCTAssertEqual(dispatcher.decide(onlyOut[0], lookup: table), .suppress(.notInterested))
    }

    func testUntouchedEventsRunTheirOwnHandlerUnderEveryPolicy() {
        for policy in DispatchPolicy.allCases {
            let dispatcher = Dispatcher(policy: policy)
            let table = initialTable()
            let pending = dispatcher.harvest(seedBatch(dispatcher, table: table), lookup: table)
            XCTAssertEqual(dispatcher.decide(pending[0], lookup: table), .run(registrationID: 1, mask: .readable),
                           "\(policy): an event nobody interfered with must reach its own handler")
        }
    }

    func testNoHandlerWhenFDWasNeverRegistered() {
        for policy in [DispatchPolicy.naive, .snapshot] {
            let dispatcher = Dispatcher(policy: policy)
            let pending = dispatcher.harvest([HarvestedEvent(fd: 7, mask: .readable, data: 7)], lookup: Table())
            XCTAssertEqual(dispatcher.decide(pending[0], lookup: Table()), .suppress(.noHandler), "\(policy)")
        }
    }

    func testEpollDataPacksIDAboveFD() {
        let data = EpollData.pack(registrationID: 0xDEAD_BEEF, fd: 12)
        XCTAssertEqual(EpollData.fd(data), 12)
        XCTAssertEqual(EpollData.registrationID(data), 0xDEAD_BEEF)
        XCTAssertEqual(Dispatcher(policy: .naive).epollData(registrationID: 9, fd: 12), 12,
                       "naive loops store the bare fd, as the seed's loop did")
    }

    func testIOEventsDescriptionNamesEveryBit() {
        XCTAssertEqual(IOEvents([.readable, .writable]).description, "IN|OUT")
        XCTAssertEqual(IOEvents().description, "0")
        XCTAssertEqual(IOEvents(rawValue: 0x1 | 0x100).description, "IN|0x100", "unknown bits are shown, not hidden")
    }

    func testSequenceCounterIsUniqueAcrossThreads() {
        let counter = SequenceCounter()
        let perThread = 10_000
        let collected = Mutex<[UInt64]>([])
        DispatchQueue.concurrentPerform(iterations: 4) { _ in
            var mine: [UInt64] = []
            for _ in 0..<perThread { mine.append(counter.next()) }
            collected.withLock { $0.append(contentsOf: mine) }
        }
        let results = collected.withLock { $0 }
        XCTAssertEqual(Set(results).count, perThread * 4, "every number handed out once")
        XCTAssertEqual(results.max(), UInt64(perThread * 4), "no number skipped")
    }

    func testPolicyCodesRoundTrip() {
        for policy in DispatchPolicy.allCases {
            XCTAssertEqual(DispatchPolicy(code: policy.code), policy)
        }
        XCTAssertNil(DispatchPolicy(code: 99))
    }
}
