import Foundation
import PollTraceAnalysis
import PollTraceCore
import PollTraceStore
import XCTest

/// A v7 trace's timeline is read from its tables (range queries, the finalizer's
/// verdicts); the replay from the first record is the reference. Both must write the
/// same bytes for the same window, on the seed's interleaving under every policy and
/// on random schedules, for whole traces, windows around seqs, seq and time windows.
final class TimelineTablePathTests: XCTestCase {
    static func json(_ path: String, _ window: TraceWindow, tables: Bool) throws -> String {
        TraceEventExport.render(try TimelineExtraction.extract(path: path, window: window, usesTables: tables))
    }

    func assertSameTimeline(_ path: String, _ window: TraceWindow, _ context: String,
                            file: StaticString = #filePath, line: UInt = #line) throws {
        let replayed = try Self.json(path, window, tables: false)
        let read = try Self.json(path, window, tables: true)
        if read != replayed {
            let a = replayed.components(separatedBy: "},"), b = read.components(separatedBy: "},")
            let first = (0..<min(a.count, b.count)).first { a[$0] != b[$0] } ?? min(a.count, b.count)
            XCTFail("\(context), \(window): the table path differs from replay at event \(first): replay \(first < a.count ? String(a[first]) : "<end>")"
                    + " / tables \(first < b.count ? String(b[first]) : "<end>")", file: file, line: line)
        }
    }

    /// Windows that start before, inside and after stale dispatches, and the whole trace.
    func windows(of path: String, rng: inout SplitMix64) throws -> [TraceWindow] {
        let whole = try TimelineExtraction.extract(path: path, window: .whole, usesTables: false)
        var result: [TraceWindow] = [.whole]
        let last = whole.lastSeq
        let stale = whole.instants.filter { $0.category == "stale" || $0.category == "suppression" }.map(\.seq)
        for seq in stale.prefix(4) { result.append(.around(seq, radius: 1 + rng.next() % 30)) }
        for _ in 0..<4 where last > 2 {
            let a = 1 + rng.next() % last, b = a + rng.next() % 80
            result.append(.seq(a...b))
        }
        let times = whole.slices.map { $0.startNs - whole.baseNs }.sorted()
        if times.count > 4 {
            for _ in 0..<3 {
                let a = times[Int(rng.next() % UInt64(times.count))]
                result.append(.time(a...(a + rng.next() % 2_000_000)))
            }
        }
        return result
    }

    func testSeedInterleaving_underEveryPolicy_drawsTheSameTimelineFromTheTables() throws {
        var rng = SplitMix64(seed: 3)
        for policy in DispatchPolicy.allCases {
            let path = try TraceFiles.write(SeedInterleavingTests.seedRecords(policy: policy),
                                            pollers: [PollerInfo(poller: 1, backend: "epoll", policy: policy)], name: "tables-seed-\(policy)")
            defer { TraceFiles.remove(path) }
            XCTAssertTrue(try TraceReader(path: path).isPlain, "the test needs a v7 trace")
            for window in try windows(of: path, rng: &rng) { try assertSameTimeline(path, window, "seed, \(policy)") }
            for seq in 1...(try TimelineExtraction.extract(path: path, window: .whole).lastSeq) {
                try assertSameTimeline(path, .around(seq, radius: 3), "seed, \(policy)")
            }
        }
    }

    func testRandomSchedules_drawTheSameTimelineFromTheTables_andNameTheSameFindings() throws {
        var rng = SplitMix64(seed: 11)
        var compared = 0, findings = 0
        for seed in UInt64(1)...10 {
            for policies in SchedulePropertyTests.policySets {
                let path = TraceFiles.temporaryPath("tables-\(seed)")
                let writer = try TraceWriter(path: path, metadata: TraceFiles.metadata(pollers: []), options: TraceWriterOptions(overwrite: true))
                _ = SchedulePropertyTests.generate(seed: seed, policies: policies, steps: 300, recorder: writer)
                try writer.close()
                defer { TraceFiles.remove(path) }
                XCTAssertTrue(try TraceReader(path: path).isPlain, "the test needs a v7 trace")
                let context = "seed \(seed), policies \(policies)"
                for window in try windows(of: path, rng: &rng) {
                    try assertSameTimeline(path, window, context)
                    compared += 1
                }
                // Finding N names the same record both ways, and past the last both refuse.
                let count = try TraceAnalysis.analyze(path: path).findings.count
                for index in stride(from: 1, through: count, by: max(1, count / 5)) {
                    XCTAssertEqual(try TimelineExtraction.seq(ofFinding: index, path: path),
                                   try TimelineExtraction.seq(ofFinding: index, path: path, usesTables: false), "\(context): finding \(index)")
                    findings += 1
                }
                XCTAssertThrowsError(try TimelineExtraction.seq(ofFinding: count + 1, path: path)) { error in
                    XCTAssertEqual(error as? TimelineExtraction.Failure, .noSuchFinding(index: count + 1, found: count), context)
                }
            }
        }
        XCTAssertGreaterThan(findings, 0, "the schedules must have findings, or the finding lookup is untested")
        XCTAssertGreaterThan(compared, 100)
    }
}
