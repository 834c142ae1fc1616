import PollTraceCore
@testable import PollTraceStrace
import XCTest

/// `SmallKeyMap` replaced dictionaries keyed by fd numbers, poller ids and data
/// words. Random operations with keys inside and outside its array range (and fd
/// numbers that are negative) must leave it holding exactly what a dictionary would.
final class SmallKeyMapTests: XCTestCase {
    func testRandomOperations_matchADictionary() {
        for seed: UInt64 in 1...30 {
            var random = SplitMix64(seed: seed)
            var map = SmallKeyMap<[Int]>()
            var reference: [UInt64: [Int]] = [:]
            func randomKey() -> UInt64 {
                switch random.next() % 10 {
                case 0: return SmallKeyMap<[Int]>.key(-Int32(1 + random.next() % 3))  // a damaged fd
                case 1: return 1 << 40 | random.next() % 4                             // a pointer-sized word
                case 2: return SmallKeyMap<[Int]>.arrayLimit - 1 + random.next() % 3   // around the limit
                default: return random.next() % 300
                }
            }
            var keys: Set<UInt64> = []
            for step in 0..<3_000 {
                let key = randomKey()
                keys.insert(key)
                switch random.next() % 4 {
                case 0:
                    map[key] = [step]
                    reference[key] = [step]
                case 1:
                    map[key] = nil
                    reference[key] = nil
                case 2:
                    map.modify(key, inserting: []) { $0.append(step) }
                    reference[key, default: []].append(step)
                default:
                    map.modifyIfPresent(key) { $0.append(step) }
                    reference[key]?.append(step)
                }
            }
            for key in keys { XCTAssertEqual(map[key], reference[key], "seed \(seed): key \(key)") }
            var seen: [UInt64: [Int]] = [:]
            var smallKeys: [UInt64] = []
            map.forEach { key, value in
                XCTAssertNil(seen[key], "seed \(seed): forEach gives key \(key) once")
                seen[key] = value
                if key < SmallKeyMap<[Int]>.arrayLimit { smallKeys.append(key) }
            }
            XCTAssertEqual(seen, reference, "seed \(seed): forEach gives every entry")
            XCTAssertEqual(smallKeys, smallKeys.sorted(), "seed \(seed): small keys come in increasing order")
        }
    }

    /// An fd table whose last thread is gone gives its slot to the next table: the
    /// new table must not see the old one's fds, and must get a new id.
    func testFreedFDTableSlot_isReusedWithoutTheOldTablesFDs() {
        var tables = ProcessFDTables()
        let parent = tables.table(for: 100)
        let inherited = tables.open(3, in: parent)
        tables.cloned(parent: 100, child: 200, sharesFiles: false)
        let child = tables.table(for: 200)
        XCTAssertNotEqual(child.id, parent.id, "a fork copies the table")
        XCTAssertEqual(tables.file(3, in: child), inherited, "the copy holds the parent's fds")
        _ = tables.open(9, in: child)
        tables.threadExited(200)

        tables.cloned(parent: 100, child: 300, sharesFiles: false)
        let next = tables.table(for: 300)
        XCTAssertEqual(next.slot, child.slot, "the exited child's slot is reused")
        XCTAssertGreaterThan(next.id, child.id, "a reused slot still gets a new table id")
        XCTAssertNil(tables.file(9, in: next), "fd 9 was the exited child's, not the new one's")
        XCTAssertEqual(tables.file(3, in: next), inherited, "the new child copies the parent's fds")
        XCTAssertEqual(tables.openFDs(in: next), [3])

        // A thread sharing the parent's table keeps it alive when the parent exits.
        tables.cloned(parent: 100, child: 101, sharesFiles: true)
        let thread = tables.table(for: 101)
        XCTAssertEqual(thread, parent)
        tables.threadExited(100)
        XCTAssertEqual(tables.file(3, in: thread), inherited, "the table lives on in its other thread")
        let close = tables.close(3, in: thread)
        XCTAssertEqual(close?.file, inherited)
        XCTAssertEqual(close?.lastReference, false, "the forked child's copy still refers to the file")
    }
}
