import Foundation
import PollTraceAnalysis
import PollTraceCore
import PollTraceStore
import XCTest

/// `polltrace timeline`'s library: random schedules with a known ground truth are
/// recorded by the real writer into real trace files, exported, and checked against
/// the trace-event format and against what the generator knows it did.
final class TimelineExportTests: XCTestCase {
    /// Records one seeded schedule into a trace file; returns its path and truth.
    func recordSchedule(seed: UInt64, policies: [SimulatedPolicy], steps: Int = 300) throws -> (String, GroundTruth) {
        let path = TraceFiles.temporaryPath("timeline-\(seed)")
        let writer = try TraceWriter(path: path, metadata: TraceFiles.metadata(pollers: []), options: TraceWriterOptions(overwrite: true))
        let (truth, _) = SchedulePropertyTests.generate(seed: seed, policies: policies, steps: steps, recorder: writer)
        try writer.close()
        return (path, truth)
    }

    static func document(_ timeline: Timeline, file: StaticString = #filePath, line: UInt = #line) throws -> TraceEventDocument {
        do {
            return try TraceEventDocument.check(Data(TraceEventExport.render(timeline).utf8))
        } catch {
            XCTFail("the export is not valid trace-event JSON: \(error)", file: file, line: line)
            throw error
        }
    }

    static func seq(_ event: [String: Any]) -> UInt64? { ((event["args"] as? [String: Any])?["seq"] as? NSNumber)?.uint64Value }
    static func arg(_ event: [String: Any], _ key: String) -> Any? { (event["args"] as? [String: Any])?[key] }

    func testWholeTimeline_ofRandomSchedules_isValid_andMarksExactlyTheStaleDispatches() throws {
        var stale = 0, flows = 0
        for seed in UInt64(1)...15 {
            for policies in SchedulePropertyTests.policySets {
                let (path, truth) = try recordSchedule(seed: seed, policies: policies)
                defer { TraceFiles.remove(path) }
                let context = "seed \(seed), policies \(policies)"
                let doc = try Self.document(try TimelineExtraction.extract(path: path, window: .whole))
                let expected = Set(truth.findings.filter { $0.kind.isStaleDispatch }.map(\.seq))
                let staleSlices = doc.slices.filter { ($0["cat"] as? String) == "dispatch,stale" }
                XCTAssertEqual(Set(staleSlices.compactMap(Self.seq)), expected, "\(context): the slices marked stale")
                XCTAssertEqual(Set(doc.instants.filter { ($0["cat"] as? String) == "stale" }.compactMap(Self.seq)), expected,
                               "\(context): one stale mark per stale dispatch")
                for slice in staleSlices {
                    let verdict = Self.arg(slice, "verdict") as? String
                    let truthKind = truth.findings.first { $0.seq == Self.seq(slice) }?.kind.rawValue
                    XCTAssertEqual(verdict, truthKind, "\(context): the verdict arg of dispatch \(Self.seq(slice) ?? 0)")
                }
                // Every stale dispatch has an arrow from the close of its fd; every
                // misrouted one also from the reuse of the number.
                let flowEnds = doc.events.filter { $0["ph"] as? String == "f" }
                for f in truth.findings where f.kind.isStaleDispatch {
                    let into = flowEnds.filter { (Self.arg($0, "to_seq") as? NSNumber)?.uint64Value == f.seq }.map { $0["name"] as? String }
                    XCTAssertTrue(into.contains("fd closed"), "\(context): no arrow from the close to \(f.kind)@\(f.seq): \(into)")
                    if f.kind == .misrouted {
                        XCTAssertTrue(into.contains("fd number reused"), "\(context): no arrow from the reuse to misrouted@\(f.seq): \(into)")
                    }
                }
                // Batches hold their dispatches: no dispatch of an event sits outside a batch.
                XCTAssertEqual(doc.slices.filter { ($0["cat"] as? String) == "batch" }.count,
                               doc.slices.filter { ($0["name"] as? String)?.hasPrefix("batch #") == true }.count)
                stale += expected.count
                flows += doc.flowIDs.count
            }
        }
        XCTAssertGreaterThan(stale, 0, "the schedules must make stale dispatches, or this test proves nothing")
        XCTAssertGreaterThan(flows, stale, "arrows from closes and reuses")
    }

    /// A window replays everything before it, so what it shows is what the whole
    /// timeline shows for the same records, and it shows no record outside it
    /// (except the batch its first dispatches belong to).
    func testWindowAroundSeq_showsTheSameVerdictsAsTheWholeTimeline_andNothingOutside() throws {
        var rng = SplitMix64(seed: 7)
        for seed in UInt64(50)...60 {
            let (path, _) = try recordSchedule(seed: seed, policies: [.real(.naive), .real(.snapshot)], steps: 400)
            defer { TraceFiles.remove(path) }
            let whole = try Self.document(try TimelineExtraction.extract(path: path, window: .whole))
            var verdictBySeq: [UInt64: String] = [:]
            for s in whole.slices { if let seq = Self.seq(s), let v = Self.arg(s, "verdict") as? String { verdictBySeq[seq] = v } }
            let last = whole.events.compactMap(Self.seq).max() ?? 1
            for _ in 0..<5 {
                let center = 1 + rng.next() % last, radius = 5 + rng.next() % 40
                let timeline = try TimelineExtraction.extract(path: path, window: .around(center, radius: radius))
                let doc = try Self.document(timeline)
                let low = center > radius ? center - radius : 1
                for e in doc.events where e["ph"] as? String != "M" && e["ph"] as? String != "s" && e["ph"] as? String != "f" {
                    guard let seq = Self.seq(e) else { continue }
                    if seq < low {
                        XCTAssertEqual(e["cat"] as? String, "batch", "seed \(seed): only the open batch may precede the window (\(e))")
                    } else {
                        XCTAssertLessThanOrEqual(seq, center + radius, "seed \(seed): record \(seq) is after the window \(low)...\(center + radius)")
                    }
                    if let v = Self.arg(e, "verdict") as? String, e["ph"] as? String == "X" {
                        XCTAssertEqual(v, verdictBySeq[seq], "seed \(seed): dispatch \(seq) in the window around \(center)")
                    }
                }
            }
        }
    }

    func testWindow_overTheEventLimit_isRefusedWithTheLimitInTheMessage() throws {
        let (path, _) = try recordSchedule(seed: 3, policies: [.real(.naive)])
        defer { TraceFiles.remove(path) }
        XCTAssertThrowsError(try TimelineExtraction.extract(path: path, window: .whole, maxEvents: 50)) { error in
            guard case TimelineExtraction.Failure.tooLarge(let limit, _, _)? = error as? TimelineExtraction.Failure else {
                return XCTFail("expected tooLarge, got \(error)")
            }
            XCTAssertEqual(limit, 50)
            XCTAssertTrue("\(error)".contains("--max-events"), "the message says how to get past it: \(error)")
        }
    }

    func testFindingIndex_namesTheSameRecordAsAnalyze() throws {
        let (path, _) = try recordSchedule(seed: 11, policies: [.real(.naive), .real(.snapshot)], steps: 500)
        defer { TraceFiles.remove(path) }
        let report = try TraceAnalysis.analyze(path: path, options: ReplayOptions(maxDetailed: nil))
        XCTAssertGreaterThan(report.findings.count, 2, "the schedule must make findings")
        for index in [1, report.findings.count / 2 + 1, report.findings.count] {
            XCTAssertEqual(try TimelineExtraction.seq(ofFinding: index, path: path), report.findings[index - 1].seq, "finding \(index)")
        }
        XCTAssertThrowsError(try TimelineExtraction.seq(ofFinding: report.findings.count + 1, path: path)) { error in
            XCTAssertEqual(error as? TimelineExtraction.Failure, .noSuchFinding(index: report.findings.count + 1, found: report.findings.count))
        }
    }

    func testWindowBounds_parseSeqsAndTimes_andRefuseMixedOrReversedOnes() {
        XCTAssertEqual(WindowBound(parsing: "1200"), .seq(1200))
        XCTAssertEqual(WindowBound(parsing: "1.5s"), .time(1_500_000_000))
        XCTAssertEqual(WindowBound(parsing: "250ms"), .time(250_000_000))
        XCTAssertEqual(WindowBound(parsing: "40us"), .time(40_000))
        XCTAssertEqual(WindowBound(parsing: "800ns"), .time(800))
        for bad in ["", "abc", "-3", "1.5", "3 parsecs", "-1s", "nans"] {
            XCTAssertNil(WindowBound(parsing: bad), "'\(bad)' is not a bound")
        }
        XCTAssertEqual(WindowBound.window(from: .seq(5), to: .seq(9)), .seq(5...9))
        XCTAssertEqual(WindowBound.window(from: .time(5), to: nil), .time(5...UInt64.max))
        XCTAssertNil(WindowBound.window(from: .seq(5), to: .time(9)), "mixed units")
        XCTAssertNil(WindowBound.window(from: .seq(9), to: .seq(5)), "reversed")
    }

    /// A time window holds exactly the records made in it.
    func testTimeWindow_holdsTheRecordsMadeInIt() throws {
        let (path, _) = try recordSchedule(seed: 21, policies: [.real(.naive)])
        defer { TraceFiles.remove(path) }
        let whole = try TimelineExtraction.extract(path: path, window: .whole)
        let times = whole.instants.map(\.timeNs).sorted()
        let from = times[times.count / 3], to = times[2 * times.count / 3]
        let window = try TimelineExtraction.extract(path: path, window: .time(from...to))
        XCTAssertEqual(window.instants.map(\.seq), whole.instants.filter { $0.timeNs >= from && $0.timeNs <= to }.map(\.seq),
                       "the instants of t \(from)...\(to)")
        _ = try Self.document(window)
    }
}
