import XCTest
@testable import PollTraceCore

/// The replayer's own tables (`RegistrationMap`, `FDMap`, `FDSet`) must answer
/// exactly as a `Dictionary` / `Set` would: replay's results rest on them. Random
/// operations are checked against the standard collections; the seed is printed.
final class ReplayTableTests: XCTestCase {
    private func entry(_ id: RegistrationID, fd: Int32) -> ReplayRegistration {
        var value = ReplayRegistration.placeholder
        value.record.registrationID = id
        value.record.fd = fd
        return value
    }

    func testRegistrationMap_agreesWithDictionary_underRandomInsertsAndRemovals() {
        for seed in UInt64(1)...20 {
            var random = SplitMix64(seed: seed)
            var map = RegistrationMap<ReplayRegistration>()
            var reference: [RegistrationID: Int32] = [:]
            // Small id ranges force collisions and long probe runs; the wide one
            // exercises ids at the top of the range (0 and UInt32.max included).
            let range: UInt64 = seed % 3 == 0 ? 1 << 32 : 64 + seed * 50
            for step in 0..<5_000 {
                let id = RegistrationID(truncatingIfNeeded: random.next() % range)
                if random.chance(0.6) {
                    let fd = Int32(truncatingIfNeeded: random.next() % 1000)
                    let replaced = map.updateValue(entry(id, fd: fd), forKey: id)
                    XCTAssertEqual(replaced?.record.fd, reference.updateValue(fd, forKey: id),
                                   "seed \(seed) step \(step): insert of #\(id) replaced the wrong value")
                } else {
                    XCTAssertEqual(map.removeValue(forKey: id)?.record.fd, reference.removeValue(forKey: id),
                                   "seed \(seed) step \(step): removal of #\(id) returned the wrong value")
                }
                XCTAssertEqual(map.count, reference.count, "seed \(seed) step \(step): count drifted")
                // Every key still present is still found after backward-shift deletions.
                if step % 97 == 0 {
                    for (key, fd) in reference {
                        guard let slot = map.slot(of: key) else {
                            return XCTFail("seed \(seed) step \(step): #\(key) lost from the map")
                        }
                        XCTAssertEqual(map[slot: slot].record.fd, fd, "seed \(seed): #\(key) holds the wrong value")
                    }
                }
            }
        }
    }

    func testRegistrationMap_slotIsChangedInPlace() {
        var map = RegistrationMap<ReplayRegistration>()
        map.updateValue(entry(7, fd: 3), forKey: 7)
        let slot = map.slot(of: 7)!
        map[slot: slot].record.interest = .writable
        XCTAssertEqual(map[7]?.record.interest, .writable, "a change through the slot must reach the stored value")
        XCTAssertNil(map[8], "an id never inserted must not be found")
    }

    func testFDMap_agreesWithDictionary_includingNumbersOutsideTheArray() {
        for seed in UInt64(1)...10 {
            var random = SplitMix64(seed: seed)
            var map = FDMap<UInt32>()
            var reference: [Int32: UInt32] = [:]
            var set = FDSet()
            var referenceSet: Set<Int32> = []
            let candidates: [Int32] = [-1, Int32.min, FDMap<UInt32>.arrayLimit - 1, FDMap<UInt32>.arrayLimit, Int32.max]
            for step in 0..<5_000 {
                let fd = random.chance(0.1) ? candidates[Int(random.next() % UInt64(candidates.count))]
                                            : Int32(random.next() % 300)
                switch random.next() % 4 {
                case 0, 1:
                    let value = UInt32(truncatingIfNeeded: random.next())
                    XCTAssertEqual(map.updateValue(value, forKey: fd), reference.updateValue(value, forKey: fd),
                                   "seed \(seed) step \(step): insert at fd \(fd)")
                    set.insert(fd)
                    referenceSet.insert(fd)
                case 2:
                    XCTAssertEqual(map.removeValue(forKey: fd), reference.removeValue(forKey: fd),
                                   "seed \(seed) step \(step): removal at fd \(fd)")
                default:
                    map.modify(fd) { $0 &+= 1 }
                    if reference[fd] != nil { reference[fd]! &+= 1 }
                }
                XCTAssertEqual(map[fd], reference[fd], "seed \(seed) step \(step): lookup of fd \(fd)")
                XCTAssertEqual(map.count, reference.count, "seed \(seed) step \(step): count drifted")
                XCTAssertEqual(set.contains(fd), referenceSet.contains(fd), "seed \(seed) step \(step): set membership of fd \(fd)")
            }
        }
    }
}
