import PollTraceCore
@testable import PollTraceStore
import XCTest

/// The reader's queue of unpacked records against a sorted list, on random
/// interleavings of pushes (whole records and packed ends, as the cursor makes
/// them) and pops: every record comes out once, smallest seq first, intact.
final class PendingRecordsTests: XCTestCase {
    func testRandomPushesAndPops_comeOutInSeqOrder_eachOnce() {
        for seed in 0..<200 {
            var rng = SplitMix64(seed: UInt64(9_000 + seed))
            var queue = PendingRecords()
            var reference: [TraceRecord] = []
            var popped: [TraceRecord] = []
            var usedSeqs = Set<UInt64>()
            func freshSeq(_ range: ClosedRange<UInt64>) -> UInt64 {
                while true {
                    let seq = UInt64.random(in: range, using: &rng)
                    if usedSeqs.insert(seq).inserted { return seq }
                }
            }
            var floor: UInt64 = 1
            for _ in 0..<Int.random(in: 1...400, using: &rng) {
                switch Int.random(in: 0..<5, using: &rng) {
                case 0, 1:
                    let seq = freshSeq(floor...(floor + 200))
                    let record = TraceRecord.dispatch(Dispatch(seq: seq, timeNs: seq * 3, poller: 2, source: .event, batchSeq: 1,
                                                               eventIndex: 0, ranRegistrationID: 7, deliveredMask: .readable,
                                                               suppression: nil, handlerThrew: false, durationNs: 1))
                    queue.push(record)
                    reference.append(record)
                case 2:
                    // An end: the unregistration right before the close, possibly far ahead.
                    var close = freshSeq((floor + 1)...(floor + 20_000))
                    while usedSeqs.contains(close - 1) { close = freshSeq((floor + 1)...(floor + 20_000)) }
                    usedSeqs.insert(close - 1)
                    let unregistered = Unregistered(seq: close - 1, timeNs: close, poller: 3, registrationID: UInt32(close % 1000), fd: 9)
                    let closed = Closed(seq: close, timeNs: close + 5, poller: 3, fd: 9)
                    queue.push(unregistered, closed)
                    reference += [.unregistered(unregistered), .closed(closed)]
                default:
                    // The cursor pops only what is below the next row: here, whatever is smallest.
                    if let record = queue.pop() {
                        popped.append(record)
                        floor = max(floor, record.seq + 1)
                    }
                }
            }
            while let record = queue.pop() { popped.append(record) }
            XCTAssertTrue(queue.isEmpty)
            XCTAssertNil(queue.headSeq)
            // Pops interleaved with pushes are sorted within what was there at the time;
            // every push here is above what was popped, so the whole output is sorted.
            XCTAssertEqual(popped, reference.sorted { $0.seq < $1.seq }, "seed \(seed)")
        }
    }
}
