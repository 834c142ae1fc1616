import PollTraceCore
@testable import PollTraceStore
import XCTest

/// `NearlySortedRecords.sort` against the standard sort, on random schedules of
/// the shape a poller's buffer has (dispatches appended after their handler's
/// records) and on inputs that are not nearly sorted at all (its fallback).
final class NearlySortedRecordsTests: XCTestCase {
    /// A poller's buffer: each dispatch takes its number, its handler records a
    /// few things, then the dispatch is appended. Payloads (labels, batch events)
    /// must come through the swaps intact.
    func testPollerShapedBuffers_sortLikeTheStandardSort() {
        for seed in 0..<200 {
            var rng = SplitMix64(seed: UInt64(seed))
            var seq: UInt64 = 1
            var records: [TraceRecord] = []
            let target = Int.random(in: 1...400, using: &rng)
            while records.count < target {
                let dispatchSeq = seq; seq += 1
                for _ in 0..<Int.random(in: 0...4, using: &rng) {
                    if Bool.random(using: &rng) {
                        records.append(.registered(Registered(seq: seq, timeNs: seq, poller: 1, registrationID: UInt32(seq),
                                                              fd: 9, interest: .readable, data: 9, handlerLabel: "conn-\(seq)-with-a-long-label")))
                    } else {
                        records.append(.closed(Closed(seq: seq, timeNs: seq, poller: 1, fd: 9)))
                    }
                    seq += 1
                }
                records.append(.dispatch(Dispatch(seq: dispatchSeq, timeNs: dispatchSeq, poller: 1, source: .event, batchSeq: 0,
                                                  eventIndex: 0, ranRegistrationID: 1, deliveredMask: .readable, suppression: nil,
                                                  handlerThrew: false, durationNs: 5)))
            }
            var sorted = records
            NearlySortedRecords.sort(&sorted)
            XCTAssertEqual(sorted, records.sorted { $0.seq < $1.seq }, "seed \(seed)")
        }
    }

    func testShuffledInput_fallsBackAndStillSorts() {
        for seed in 0..<50 {
            var rng = SplitMix64(seed: UInt64(1_000 + seed))
            let count = Int.random(in: 0...2_000, using: &rng)
            let records = (0..<count).map { TraceRecord.closed(Closed(seq: UInt64($0 + 1), timeNs: 0, poller: 1, fd: 3)) }
                .shuffled(using: &rng)
            var sorted = records
            NearlySortedRecords.sort(&sorted)
            XCTAssertEqual(sorted.map(\.seq), (0..<count).map { UInt64($0 + 1) }, "seed \(seed)")
        }
    }
}
