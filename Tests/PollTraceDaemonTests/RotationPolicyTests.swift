import PollTraceDaemon
import XCTest

final class RotationPolicyTests: XCTestCase {
    func testIsDue_bySizeOrAge_andNeverWithoutLimits() {
        XCTAssertFalse(RotationPolicy().isDue(bytes: .max, ageSeconds: 1e9), "no limits must never rotate")
        let policy = RotationPolicy(maxBytes: 1000, maxAgeSeconds: 60)
        XCTAssertFalse(policy.isDue(bytes: 999, ageSeconds: 59.9))
        XCTAssertTrue(policy.isDue(bytes: 1000, ageSeconds: 0), "reaching the size limit must rotate")
        XCTAssertTrue(policy.isDue(bytes: 0, ageSeconds: 60), "reaching the age limit must rotate")
    }

    func testFilesToDelete_keepsTheNewestRetained() {
        let files = ["a", "b", "c", "d"]
        XCTAssertEqual(RotationPolicy(retain: 2).filesToDelete(completedOldestFirst: files), ["a", "b"])
        XCTAssertEqual(RotationPolicy(retain: 0).filesToDelete(completedOldestFirst: files), files)
        XCTAssertEqual(RotationPolicy(retain: 10).filesToDelete(completedOldestFirst: files), [])
        XCTAssertEqual(RotationPolicy().filesToDelete(completedOldestFirst: files), [], "no retention count keeps every file")
    }
}
