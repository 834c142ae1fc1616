import PollTraceCore
@testable import PollTraceStrace
import XCTest

/// `TableFDMap` replaced a dictionary keyed by (fd table, fd) in the hazard
/// analysis. Random operations on several tables, with fds inside and outside its
/// array range, must leave it holding exactly what the dictionary would.
final class TableFDMapTests: XCTestCase {
    private struct Key: Hashable { var table: UInt32; var fd: Int32 }

    func testRandomOperations_matchADictionary() {
        for seed: UInt64 in 1...30 {
            var random = SplitMix64(seed: seed)
            var map = TableFDMap<[Int]>()
            var reference: [Key: [Int]] = [:]
            for step in 0..<2_000 {
                let table = UInt32(random.next() % 4)
                let fd: Int32 = random.chance(0.05) ? (random.chance(0.5) ? -3 : 1 << 20) : Int32(random.next() % 200)
                let key = Key(table: table, fd: fd)
                if random.chance(0.5) {
                    map.modify(table, fd, inserting: []) { $0.append(step) }
                    reference[key, default: []].append(step)
                } else {
                    // Drop the oldest value; the entry goes when it is empty.
                    map.modifyOrRemove(table, fd) { values in
                        values.removeFirst()
                        return values.isEmpty
                    }
                    if var values = reference[key] {
                        values.removeFirst()
                        reference[key] = values.isEmpty ? nil : values
                    }
                }
                XCTAssertEqual(map.count, reference.count, "seed \(seed) step \(step): entry count")
            }
            for table: UInt32 in 0..<4 {
                for fd in [-3, 1 << 20] + Array(0..<200) as [Int32] {
                    var seen: [Int]? = nil
                    map.modifyOrRemove(table, fd) { values in seen = values; return false }
                    XCTAssertEqual(seen, reference[Key(table: table, fd: fd)], "seed \(seed): table \(table) fd \(fd)")
                }
            }
        }
    }
}
