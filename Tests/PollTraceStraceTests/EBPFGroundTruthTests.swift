import Foundation
import PollTraceStrace
import XCTest

/// A sample of the ground-truth harness's seeded schedules (`truth_loop.c`, see
/// `GroundTruthTests`) recorded with both backends: each log's findings must be
/// exactly what the program wrote down, and the two backends' findings the same
/// events. Findings are keyed by schedule seed rather than tid (two runs of a
/// schedule have different tids).
final class EBPFGroundTruthTests: XCTestCase {
    private struct ScheduleEvent: Hashable, Comparable, CustomStringConvertible {
        var seed: UInt64, epollFD: Int32, batch: UInt64, fd: Int32, kind: String
        static func < (a: Self, b: Self) -> Bool {
            (a.seed, a.epollFD, a.batch, a.fd, a.kind) < (b.seed, b.epollFD, b.batch, b.fd, b.kind)
        }
        var description: String { "seed \(seed) epfd \(epollFD) batch \(batch) fd \(fd): \(kind)" }
    }

    private func bySchedule(_ found: [GroundTruth.EventKey: ForeignFinding.Kind], _ truth: GroundTruth.Truth) -> Set<ScheduleEvent> {
        Set(found.map { key, kind in
            ScheduleEvent(seed: truth.seedOfTID[key.tid] ?? 0, epollFD: key.epollFD, batch: key.batch, fd: key.fd,
                          kind: kind.rawValue)
        })
    }

    func testSampledSchedules_bothBackends_findExactlyTheGroundTruth_andTheSameEvents() throws {
        let recorder = try EBPFFixtures.recorder()
        let dir = try StraceFixtures.temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: dir) }
        let program = try StraceFixtures.compile("truth_loop", into: dir)
        let strace = try StraceFixtures.strace()
        let seeds = StraceFixtures.truthSeeds(for: "EBPFGroundTruthTests", schedulesVariable: "POLLTRACE_EBPF_TRUTH_SCHEDULES", defaultCount: 60)
        let firstSeed = seeds.lowerBound, total = seeds.count
        let perRun = 30

        var scores = (strace: GroundTruth.Score(), ebpf: GroundTruth.Score())
        var seed = firstSeed
        while seed < firstSeed + UInt64(total) {
            let count = min(perRun, Int(firstSeed + UInt64(total) - seed))
            let arguments = [String(seed), String(count)]
            let straceLog = dir.appendingPathComponent("truth-\(seed).strace").path
            let straceTruth = dir.appendingPathComponent("truth-\(seed).strace.txt").path
            let status = try StraceFixtures.run(strace, StraceCommand.arguments(output: straceLog, seccompBPF: false, labels: false)
                                                + [program.path] + arguments + [straceTruth])
            XCTAssertEqual(status, 0, "truth_loop \(seed) \(count) failed under strace")

            let ebpfLog = dir.appendingPathComponent("truth-\(seed).ebpf.strace").path
            let ebpfTruth = dir.appendingPathComponent("truth-\(seed).ebpf.txt").path
            let outcome = try recorder.record(.command([program.path] + arguments + [ebpfTruth]), log: ebpfLog,
                                              workDirectory: dir.path)
            XCTAssertEqual(outcome.commandStatus, 0, "truth_loop \(seed) \(count) failed under eBPF")
            XCTAssertEqual(outcome.translation.lostEvents, 0, "no records lost")

            let truthS = GroundTruth.parseTruth(try String(contentsOfFile: straceTruth, encoding: .utf8))
            let truthE = GroundTruth.parseTruth(try String(contentsOfFile: ebpfTruth, encoding: .utf8))
            let (foundS, _) = GroundTruth.analyze(logText: try String(contentsOfFile: straceLog, encoding: .utf8))
            let (foundE, reportE) = GroundTruth.analyze(logText: try String(contentsOfFile: ebpfLog, encoding: .utf8))
            XCTAssertEqual(reportE.diagnostics?.total, 0, "the eBPF log reads without complaint: \(reportE.diagnostics?.summary ?? [])")
            scores.strace.add(truth: truthS, found: foundS, label: "strace")
            scores.ebpf.add(truth: truthE, found: foundE, label: "eBPF")
            // The schedules are deterministic per seed, so both runs' truths name the same events.
            XCTAssertEqual(bySchedule(truthS.findings, truthS), bySchedule(truthE.findings, truthE),
                           "seeds \(seed)+\(count): the program's own truth differs between the runs")
            XCTAssertEqual(bySchedule(foundE, truthE).sorted(), bySchedule(foundS, truthS).sorted(),
                           "seeds \(seed)+\(count): eBPF and strace find other events")
            seed += UInt64(count)
        }
        print("strace:\n\(scores.strace.summary)\neBPF:\n\(scores.ebpf.summary)")
        for (name, score) in [("strace", scores.strace), ("eBPF", scores.ebpf)] {
            XCTAssertEqual(score.schedules, total, "\(name): every schedule wrote its truth")
            XCTAssertEqual(score.disagreements, 0, "\(name): \(score.summary)")
            XCTAssertEqual(score.recall, 1, "\(name): \(score.summary)")
            XCTAssertEqual(score.precision, 1, "\(name): \(score.summary)")
            XCTAssertTrue(score.hazardsExact, "\(name): \(score.summary)")
        }
        XCTAssertGreaterThan(scores.ebpf.staleDispatches, 0, "the sample must hold stale dispatches to be a test")
    }
}
