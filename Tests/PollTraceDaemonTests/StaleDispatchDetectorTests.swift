import PollTraceAnalysis
import PollTraceCore
import XCTest
@testable import PollTraceDaemon

/// The live stale-dispatch count that `/metrics` exports (`StaleDispatchDetector`,
/// fed a loop iteration's records at a time by `DaemonStats`) against the
/// analyzer's replay of the same records, on random schedules: handlers that close
/// other fds, open new ones (the kernel's lowest-free-number rule) and close their
/// own, with every dispatch decided by the real `Dispatcher`.
final class StaleDispatchDetectorTests: XCTestCase {
    /// One poller's loop, simulated: a table of live registrations, iterations of
    /// records in the order the poller hands them over (a dispatch's record after
    /// the records its handler made, with a smaller seq).
    private struct SimulatedLoop {
        struct Table: RegistrationLookup {
            var byFD: [Int32: RegistrationState] = [:]
            func currentRegistration(forFD fd: Int32) -> RegistrationState? { byFD[fd] }
        }

        var random: SplitMix64
        let dispatcher: Dispatcher
        var table = Table()
        var seq: SequenceNumber = 0
        var nextID: RegistrationID = 1
        var batchNumber: UInt64 = 0

        init(seed: UInt64, policy: DispatchPolicy) {
            random = SplitMix64(seed: seed)
            dispatcher = Dispatcher(policy: policy)
        }

        mutating func next() -> SequenceNumber { seq += 1; return seq }

        /// The kernel's rule: the lowest number not in use.
        var lowestFreeFD: Int32 { (3...).first { table.byFD[Int32($0)] == nil }.map(Int32.init)! }

        mutating func openAndRegister(into records: inout [TraceRecord]) {
            let fd = lowestFreeFD
            records.append(.fdOpened(FDOpened(seq: next(), timeNs: seq, poller: 1, fd: fd, origin: .accept)))
            let id = nextID
            nextID += 1
            table.byFD[fd] = RegistrationState(registrationID: id, fd: fd, interest: .readable)
            records.append(.registered(Registered(seq: next(), timeNs: seq, poller: 1, registrationID: id, fd: fd,
                                                  interest: .readable, data: dispatcher.epollData(registrationID: id, fd: fd),
                                                  handlerLabel: "conn-\(id)")))
        }

        /// A close through the poller: unregistered, then closed.
        mutating func close(_ fd: Int32, into records: inout [TraceRecord]) {
            guard let registration = table.byFD.removeValue(forKey: fd) else { return }
            records.append(.unregistered(Unregistered(seq: next(), timeNs: seq, poller: 1,
                                                      registrationID: registration.registrationID, fd: fd)))
            records.append(.closed(Closed(seq: next(), timeNs: seq, poller: 1, fd: fd)))
        }

        /// One iteration: a batch of up to six live fds, each event dispatched in turn.
        mutating func iteration() -> [TraceRecord] {
            var records: [TraceRecord] = []
            while table.byFD.count < 4 { openAndRegister(into: &records) }
            var fds = table.byFD.keys.sorted()
            fds.shuffle(using: &random)
            let events = fds.prefix(Int.random(in: 1...6, using: &random)).map { fd in
                HarvestedEvent(fd: fd, mask: .readable, data: table.byFD[fd].map {
                    dispatcher.epollData(registrationID: $0.registrationID, fd: fd) } ?? 0)
            }
            batchNumber += 1
            let batchSeq = next()
            records.append(.batch(BatchHarvested(seq: batchSeq, timeNs: seq, poller: 1, batchNumber: batchNumber,
                                                 timeoutMs: -1, waitedNs: 1, events: events)))
            for pending in dispatcher.harvest(events, lookup: table) {
                let dispatchSeq = next()
                var ran: RegistrationID = 0
                var suppression: SuppressionReason?
                switch dispatcher.decide(pending, lookup: table) {
                case .run(let id, _):
                    ran = id
                    // Only a live registration's handler acts: a released one (snapshot)
                    // finds its fd gone.
                    if table.byFD[pending.event.fd]?.registrationID == id { handler(fd: pending.event.fd, into: &records) }
                case .suppress(let reason):
                    suppression = reason
                }
                records.append(.dispatch(Dispatch(seq: dispatchSeq, timeNs: dispatchSeq, poller: 1, source: .event,
                                                  batchSeq: batchSeq, eventIndex: pending.index, ranRegistrationID: ran,
                                                  deliveredMask: ran == 0 ? [] : pending.event.mask, suppression: suppression,
                                                  handlerThrew: false, durationNs: 1)))
            }
            return records
        }

        /// What a handler may do: close another fd (a control request releasing a
        /// service), open one (an accept), close its own (a peer that hung up).
        mutating func handler(fd: Int32, into records: inout [TraceRecord]) {
            if random.chance(0.35), let other = table.byFD.keys.filter({ $0 != fd }).sorted().randomElement(using: &random) {
                close(other, into: &records)
            }
            if random.chance(0.4) { openAndRegister(into: &records) }
            if random.chance(0.25) { close(fd, into: &records) }
        }
    }

    private func check(policy: DispatchPolicy, seeds: Range<UInt64>) -> Int {
        var totalStale = 0
        for seed in seeds {
            var loop = SimulatedLoop(seed: seed, policy: policy)
            let stats = DaemonStats(policy: policy)
            var all: [TraceRecord] = []
            for _ in 0..<40 {
                let records = loop.iteration()
                stats.observe(contentsOf: records)
                all += records
            }
            all.sort { $0.seq < $1.seq }
            let analysis = TraceAnalysis.analyze(records: all)
            XCTAssertEqual(analysis.inconsistencyCount, 0, "seed \(seed) \(policy): the simulated trace must replay consistently")
            let snapshot = stats.snapshot
            XCTAssertEqual(snapshot.staleDispatches, Int(analysis.staleDispatchCount),
                           "seed \(seed) \(policy): the live count must equal the replay's stale dispatches")
            XCTAssertEqual(snapshot.registrationsOpen, loop.table.byFD.count,
                           "seed \(seed) \(policy): registrations open must be those made minus those ended")
            totalStale += Int(analysis.staleDispatchCount)
        }
        return totalStale
    }

    func testLiveCount_equalsReplay_underNaive_onRandomSchedules() {
        XCTAssertGreaterThan(check(policy: .naive, seeds: 1..<120), 0, "the schedules must produce misrouted dispatches")
    }

    func testLiveCount_equalsReplay_underSnapshot_onRandomSchedules() {
        XCTAssertGreaterThan(check(policy: .snapshot, seeds: 1..<120), 0, "the schedules must produce dead-registration dispatches")
    }

    func testGuarded_findsNone_andTheReplayAgrees() {
        XCTAssertEqual(check(policy: .guarded, seeds: 1..<60), 0, "the guard must never run a stale handler")
    }
}
