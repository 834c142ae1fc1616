import PollTraceCore
@testable import PollTraceStore
import XCTest

/// `SortedRunMerge` against the standard sort, on random splits of one seq range
/// into up to eight runs (some empty), with payloads that hold references (batch
/// events, long labels) that the moves must carry through intact; and the
/// buffer's swap, which now hands the writer one array in seq order.
final class SortedRunMergeTests: XCTestCase {
    private func record(_ seq: UInt64, poller: PollerID, using rng: inout SplitMix64) -> TraceRecord {
        switch Int.random(in: 0..<3, using: &rng) {
        case 0:
            let events = (0..<Int.random(in: 0...5, using: &rng)).map {
                HarvestedEvent(fd: Int32(10 + $0), mask: .readable, data: seq &* 31 &+ UInt64($0))
            }
            return .batch(BatchHarvested(seq: seq, timeNs: seq, poller: poller, batchNumber: seq, timeoutMs: -1,
                                         waitedNs: 0, events: events))
        case 1:
            return .registered(Registered(seq: seq, timeNs: seq, poller: poller, registrationID: UInt32(truncatingIfNeeded: seq),
                                          fd: 9, interest: .readable, data: 9, handlerLabel: "connection-\(seq)-with-a-long-label"))
        default:
            return .closed(Closed(seq: seq, timeNs: seq, poller: poller, fd: 9))
        }
    }

    func testRandomRuns_mergeLikeTheStandardSort_andEmptyTheRunsKeepingCapacity() {
        for seed in 0..<300 {
            var rng = SplitMix64(seed: UInt64(5_000 + seed))
            let runCount = Int.random(in: 0...8, using: &rng)
            var runs = [[TraceRecord]](repeating: [], count: runCount)
            var all: [TraceRecord] = []
            if runCount > 0 {
                for seq in UInt64(1)...UInt64(Int.random(in: 1...500, using: &rng)) {
                    let run = Int.random(in: 0..<runCount, using: &rng)
                    let made = record(seq, poller: PollerID(run + 1), using: &rng)
                    runs[run].append(made)
                    all.append(made)
                }
            }
            let capacities = runs.map(\.capacity)
            var merged: [TraceRecord] = []
            SortedRunMerge.merge(&runs, into: &merged)
            XCTAssertEqual(merged, all.sorted { $0.seq < $1.seq }, "seed \(seed): every record once, in seq order, payloads intact")
            XCTAssertTrue(runs.allSatisfy(\.isEmpty), "seed \(seed): the runs are emptied")
            XCTAssertEqual(runs.map(\.capacity), capacities, "seed \(seed): and keep their capacity for the next swap")
        }
    }

    /// Runs whose seqs interleave one by one and runs that lie wholly before or after
    /// each other: the two extremes of how pollers' records mix.
    func testInterleavedAndDisjointRuns() {
        var rng = SplitMix64(seed: 7)
        var interleaved: [[TraceRecord]] = [[], [], []]
        for seq in UInt64(1)...300 { interleaved[Int(seq % 3)].append(record(seq, poller: 1, using: &rng)) }
        var merged: [TraceRecord] = []
        SortedRunMerge.merge(&interleaved, into: &merged)
        XCTAssertEqual(merged.map(\.seq), Array(1...300))

        var disjoint: [[TraceRecord]] = [(201...300).map { record($0, poller: 1, using: &rng) },
                                         (1...100).map { record($0, poller: 2, using: &rng) },
                                         (101...200).map { record($0, poller: 3, using: &rng) }]
        merged = []
        SortedRunMerge.merge(&disjoint, into: &merged)
        XCTAssertEqual(merged.map(\.seq), Array(1...300))
    }

    /// Three pollers' records appended in the order their threads would, each
    /// poller's dispatches a few places late: one swap returns them all in seq
    /// order, a gap for a lost run included, and the writer need not sort.
    func testBufferSwap_returnsOneArrayInSeqOrder() {
        let sequence = SequenceCounter()
        let buffer = RecordBuffer(mode: .drop, capacity: 40, sequence: sequence)
        var rng = SplitMix64(seed: 11)
        var made: [UInt64] = []
        for round in 0..<60 {
            // Poller 1 makes 60 records (20 past its shard), pollers 2 and 3 30 each.
            let poller: PollerID = [2, 3, 1, 1][round % 4]
            let dispatchSeq = sequence.next()
            let handlerSeq = sequence.next()
            buffer.append(record(handlerSeq, poller: poller, using: &rng))
            buffer.append(.dispatch(Dispatch(seq: dispatchSeq, timeNs: dispatchSeq, poller: poller, source: .event, batchSeq: 0,
                                             eventIndex: 0, ranRegistrationID: 1, deliveredMask: .readable, suppression: nil,
                                             handlerThrew: false, durationNs: 1)))
            made += [dispatchSeq, handlerSeq]
        }
        let chunk = buffer.take(spare: [], waitUntilMonotonicNs: 0)
        let seqs = chunk.records.map(\.seq)
        XCTAssertEqual(seqs, seqs.sorted(), "one array in seq order")
        let kept = chunk.records.filter { if case .gap = $0 { false } else { true } }
        let lost = chunk.records.compactMap { if case .gap(let gap) = $0 { Int(gap.lostCount) } else { nil } }
        XCTAssertEqual(kept.count + lost.reduce(0, +), made.count, "every record kept or counted in a gap")
        XCTAssertEqual(lost, [20], "only the busiest poller's shard overflowed, by 20")
        let next = buffer.take(spare: chunk.records, waitUntilMonotonicNs: 0)
        XCTAssertTrue(next.records.isEmpty, "the swap took everything")
    }
}
