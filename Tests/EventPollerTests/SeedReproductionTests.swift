import EventPoller
import Glibc
import PollTraceCore
import XCTest

/// The seed, reproduced per policy (see `SeedScenario`); each asserts what ran and
/// the exact trace.
final class SeedReproductionTests: XCTestCase {
    func testSeed_naive_deliversTheStaleEventToTheNewListenersHandler() throws {
        let run = try SeedScenario.reproduce(policy: .naive)
        let newListener = try XCTUnwrap(run.newListener)
        XCTAssertEqual(run.seen, [.newListener(mask: .writable, accepted: nil)],
                       "naive looks the handler up by fd at dispatch: the accept handler gets the UDP socket's OUT")
        XCTAssertEqual(run.records, SeedScenario.expectedRecords(run, lastDispatch: (newListener.registrationID, .writable, nil)))
    }

    func testSeed_snapshot_runsTheClosedUDPSocketsHandlerAfterItsClose() throws {
        let run = try SeedScenario.reproduce(policy: .snapshot)
        XCTAssertEqual(run.seen, [.udpSocket(mask: .writable, stillRegistered: false)],
                       "snapshot captured the UDP handler at harvest and runs it although it was closed")
        XCTAssertEqual(run.records, SeedScenario.expectedRecords(run, lastDispatch: (run.udp.registrationID, .writable, nil)))
    }

    func testSeed_guarded_suppressesTheStaleEvent() throws {
        let run = try SeedScenario.reproduce(policy: .guarded)
        XCTAssertEqual(run.seen, [], "guarded must run no handler for the stale event")
        XCTAssertEqual(run.records, SeedScenario.expectedRecords(run, lastDispatch: (0, [], .registrationReplaced)))
    }
}
