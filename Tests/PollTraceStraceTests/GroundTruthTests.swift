import Foundation
import PollTraceStrace
import XCTest

/// The analysis against a program's own ground truth: `truth_loop.c` runs seeded
/// random schedules of an epoll loop (fd kinds, handlers that close, open, dup,
/// register, modify and unregister, LT/ET/ONESHOT, fd, id or pointer in
/// epoll_data, no guard, an fd check or a generation, several threads with their own
/// epoll fds on one fd table, a fork) under the real strace, and writes down every
/// dispatch and which events are findings. The findings from the log, in all three
/// event formats, must be exactly those.
///
/// `POLLTRACE_TRUTH_SEED` replays a run; `POLLTRACE_TRUTH_SCHEDULES` runs more
/// (`polltrace-bench foreign-truth` runs any number outside the test suite).
final class GroundTruthTests: XCTestCase {
    func testRandomSchedules_findingsEqualTheProgramsGroundTruth_inEveryEventFormat() throws {
        let dir = try StraceFixtures.temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: dir) }
        let program = try StraceFixtures.compile("truth_loop", into: dir)
        let strace = try StraceFixtures.strace()
        let seeds = StraceFixtures.truthSeeds(for: "GroundTruthTests", schedulesVariable: "POLLTRACE_TRUTH_SCHEDULES", defaultCount: 200)
        let firstSeed = seeds.lowerBound, total = seeds.count
        let perRun = 50

        var score = GroundTruth.Score()
        var seed = firstSeed
        while seed < firstSeed + UInt64(total) {
            let count = min(perRun, Int(firstSeed + UInt64(total) - seed))
            let log = dir.appendingPathComponent("truth-\(seed).strace").path
            let truthPath = dir.appendingPathComponent("truth-\(seed).txt").path
            // Without -yy: its socket lookups made these runs about 20 times slower (labels
            // are checked by RealProgramTests and EventLibraryTests).
            let status = try StraceFixtures.run(strace, StraceCommand.arguments(output: log, seccompBPF: false, labels: false)
                                                + [program.path, String(seed), String(count), truthPath])
            XCTAssertEqual(status, 0, "truth_loop \(seed) \(count) failed under strace")
            let truth = GroundTruth.parseTruth(try String(contentsOfFile: truthPath, encoding: .utf8))
            let text = try String(contentsOfFile: log, encoding: .utf8)
            let (found, report) = GroundTruth.analyze(logText: text)
            XCTAssertEqual(report.diagnostics?.total, 0, "a real strace log reads without complaint:\n\(report.renderText())")
            score.add(truth: truth, found: found, label: "strace 5.11-6.12 format")
            for format in EventFormatRewrite.Format.allCases {
                let (rewritten, _) = GroundTruth.analyze(logText: EventFormatRewrite.rewrite(text, to: format))
                XCTAssertEqual(rewritten, found, "seeds \(seed)+\(count): the \(format.rawValue) format gives other findings")
            }
            seed += UInt64(count)
        }
        print(score.summary)
        XCTAssertEqual(score.schedules, total, "every schedule wrote its truth")
        XCTAssertGreaterThan(score.staleDispatches, 0, "the schedules must produce stale dispatches to be a test")
        XCTAssertGreaterThan(score.truthHazards, 0, "and hazards without one")
        XCTAssertEqual(score.disagreements, 0, score.summary)
        XCTAssertEqual(score.recall, 1, score.summary)
        XCTAssertEqual(score.precision, 1, score.summary)
        XCTAssertTrue(score.hazardsExact, score.summary)
    }
}
