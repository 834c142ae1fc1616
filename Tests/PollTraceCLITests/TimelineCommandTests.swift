import Foundation
import XCTest

/// `polltrace timeline` run as a binary on the committed demo trace and an
/// imported strace trace. The format itself is checked in depth by the analysis
/// tests (`TraceEventDocument`); here: what the command shows and how it fails.
final class TimelineCommandTests: XCTestCase {
    static let repository = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
    /// The demo's naive trace (233 misrouted dispatches), as the reader fixtures keep it.
    static var demoNaive: String { repository.appendingPathComponent("Tests/TraceFixtures/demo-naive.v5.sqlite").path }
    static var importedSeed: String { repository.appendingPathComponent("Tests/StraceFixtures/traces/seed-6.13-o-f-ttt-T.v4.trace").path }

    static func output(_ name: String) -> String {
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("polltrace-cli-viz-\(getpid())")
        try? FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
        return dir.appendingPathComponent(name).path
    }

    static func events(_ path: String, file: StaticString = #filePath, line: UInt = #line) throws -> [[String: Any]] {
        let data = try Data(contentsOf: URL(fileURLWithPath: path))
        let root = try XCTUnwrap(try JSONSerialization.jsonObject(with: data) as? [String: Any], file: file, line: line)
        let events = try XCTUnwrap(root["traceEvents"] as? [[String: Any]], file: file, line: line)
        for e in events {
            for key in ["ph", "ts", "pid", "tid", "name"] { XCTAssertNotNil(e[key], "every event has \(key): \(e)", file: file, line: line) }
        }
        let starts = events.filter { $0["ph"] as? String == "s" }.compactMap { $0["id"] as? Int }
        let ends = events.filter { $0["ph"] as? String == "f" }.compactMap { $0["id"] as? Int }
        XCTAssertEqual(starts.sorted(), ends.sorted(), "flow ids pair up", file: file, line: line)
        XCTAssertEqual(Set(starts).count, starts.count, "flow ids are unique", file: file, line: line)
        return events
    }

    static func args(_ e: [String: Any]) -> [String: Any] { e["args"] as? [String: Any] ?? [:] }
    static func int(_ v: Any?) -> Int? { (v as? NSNumber)?.intValue }

    func testFindingOne_onTheDemoTrace_marksTheDispatchAnalyzeFound_withArrowsFromItsCloseAndReuse() throws {
        let analyze = try CLI.run(["analyze", Self.demoNaive, "--json", "--limit", "1"])
        let report = try XCTUnwrap(CLI.json(analyze.stdout) as? [String: Any])
        let finding = try XCTUnwrap((report["findings"] as? [[String: Any]])?.first)
        let seq = try XCTUnwrap(Self.int(finding["seq"]))
        let harvested = try XCTUnwrap(finding["harvested_for"] as? [String: Any])
        let closeSeq = try XCTUnwrap(Self.int((harvested["fd_close"] as? [String: Any])?["seq"]))
        let reuseSeq = try XCTUnwrap(Self.int((finding["ran"] as? [String: Any])?["fd_opened_seq"]))

        let out = Self.output("finding-1.json")
        let run = try CLI.run(["timeline", Self.demoNaive, "--finding", "1", "--radius", "60", "-o", out])
        XCTAssertEqual(run.status, 0, run.stderr)
        XCTAssertTrue(run.stdout.contains("wrote \(out)"), run.stdout)
        let events = try Self.events(out)
        let stale = events.filter { $0["ph"] as? String == "X" && ($0["cat"] as? String) == "dispatch,stale" }
        XCTAssertTrue(stale.contains { Self.int(Self.args($0)["seq"]) == seq }, "the finding's dispatch is marked stale")
        let staleSlice = try XCTUnwrap(stale.first { Self.int(Self.args($0)["seq"]) == seq })
        XCTAssertEqual(staleSlice["name"] as? String, (finding["ran"] as? [String: Any])?["handler"] as? String, "named by the handler that ran")
        XCTAssertEqual(Self.args(staleSlice)["verdict"] as? String, "misrouted")
        XCTAssertEqual(Self.int(Self.args(staleSlice)["fd"]), Self.int((finding["event"] as? [String: Any])?["fd"]))
        let flowsIn = events.filter { $0["ph"] as? String == "s" && Self.int(Self.args($0)["to_seq"]) == seq }.compactMap { Self.int(Self.args($0)["from_seq"]) }
        XCTAssertEqual(Set(flowsIn), [closeSeq, reuseSeq], "arrows from the close (seq \(closeSeq)) and the reuse (seq \(reuseSeq))")
        XCTAssertTrue(events.contains { $0["ph"] as? String == "M" && $0["name"] as? String == "thread_name"
            && (Self.args($0)["name"] as? String)?.hasPrefix("poller 1 (naive)") == true }, "the poller's track is named")
        // The window: seq ± 60, plus the batch its first dispatches belong to.
        for e in events where e["ph"] as? String == "X" || e["ph"] as? String == "i" {
            let s = try XCTUnwrap(Self.int(Self.args(e)["seq"]))
            XCTAssertTrue(s <= seq + 60 && (s >= seq - 60 || e["cat"] as? String == "batch"), "record \(s) is outside the window")
        }
    }

    /// On the guarded demo trace every suppression of the guard is marked, with an
    /// arrow from the close, and, when the number was reused, from the reuse.
    func testGuardedDemoTrace_marksEachGuardSuppression_withArrowsFromCloseAndReuse() throws {
        let guarded = Self.repository.appendingPathComponent("Tests/TraceFixtures/demo-guarded.v5.sqlite").path
        let stats = try XCTUnwrap(CLI.json(try CLI.run(["stats", guarded, "--json"]).stdout) as? [String: Any])
        let suppressions = try XCTUnwrap(stats["suppressions"] as? [String: Any])
        let out = Self.output("guarded.json")
        XCTAssertEqual(try CLI.run(["timeline", guarded, "-o", out]).status, 0)
        let events = try Self.events(out)
        let suppressed = events.filter { $0["ph"] as? String == "X" && $0["cat"] as? String == "dispatch,suppressed" }
        for reason in ["registration_replaced", "registration_gone"] {
            XCTAssertEqual(suppressed.filter { Self.args($0)["suppression"] as? String == reason }.count, Self.int(suppressions[reason]) ?? 0,
                           "every \(reason) suppression is drawn")
        }
        var into: [Int: [String]] = [:]
        for f in events where f["ph"] as? String == "f" { into[Self.int(Self.args(f)["to_seq"])!, default: []].append(f["name"] as! String) }
        for slice in suppressed {
            let seq = Self.int(Self.args(slice)["seq"])!
            XCTAssertTrue(into[seq, default: []].contains("fd closed"), "suppression at seq \(seq): an arrow from the close")
            if Self.args(slice)["suppression"] as? String == "registration_replaced" {
                XCTAssertTrue(into[seq, default: []].contains("fd number reused"), "suppression at seq \(seq): an arrow from the reuse")
            }
        }
        XCTAssertEqual(events.filter { $0["cat"] as? String == "suppression" }.count, suppressed.count, "one mark per guard suppression")
    }

    func testAround_andFromTo_giveTheSameRecordsForTheSameSeqs() throws {
        let a = Self.output("around.json"), b = Self.output("fromto.json")
        XCTAssertEqual(try CLI.run(["timeline", Self.demoNaive, "--around", "1000", "--radius", "50", "-o", a]).status, 0)
        XCTAssertEqual(try CLI.run(["timeline", Self.demoNaive, "--from", "950", "--to", "1050", "-o", b]).status, 0)
        XCTAssertEqual(try Data(contentsOf: URL(fileURLWithPath: a)), try Data(contentsOf: URL(fileURLWithPath: b)))
        let times = try CLI.run(["timeline", Self.demoNaive, "--from", "20ms", "--to", "21ms", "-o", "-"])
        XCTAssertEqual(times.status, 0, times.stderr)
        let root = try XCTUnwrap(CLI.json(times.stdout) as? [String: Any])
        let ts = (root["traceEvents"] as? [[String: Any]] ?? []).filter { $0["ph"] as? String == "i" }.compactMap { ($0["ts"] as? NSNumber)?.doubleValue }
        XCTAssertFalse(ts.isEmpty)
        XCTAssertTrue(ts.allSatisfy { $0 >= 20_000 && $0 <= 21_000 }, "instants of t+20ms...21ms (µs): \(ts.min()!)...\(ts.max()!)")
    }

    func testImportedStraceTrace_hasAThreadTrack_andMarksTheLikelyStaleDispatch() throws {
        let run = try CLI.run(["timeline", Self.importedSeed, "-o", "-"])
        XCTAssertEqual(run.status, 0, run.stderr)
        let path = Self.output("imported.json")
        try run.stdout.write(toFile: path, atomically: true, encoding: .utf8)
        let events = try Self.events(path)
        XCTAssertTrue(events.contains { $0["name"] as? String == "thread_name" && Self.args($0)["name"] as? String == "thread 4242" })
        let marks = events.filter { $0["cat"] as? String == "stale" && $0["ph"] as? String == "i" }
        XCTAssertEqual(marks.count, 1, "the one likely stale dispatch `analyze` finds")
        XCTAssertEqual(Self.args(marks[0])["verdict"] as? String, "likely_stale_dispatch")
        XCTAssertEqual(events.filter { $0["ph"] as? String == "f" }.count, 2, "arrows from the close and the reuse")
        XCTAssertTrue(events.contains { $0["ph"] as? String == "X" && ($0["name"] as? String)?.hasPrefix("batch #1") == true })
    }

    func testJSONSummary_countsWhatWasWritten() throws {
        let out = Self.output("summary.json")
        let run = try CLI.run(["timeline", Self.demoNaive, "--around", "2000", "--radius", "100", "-o", out, "--json"])
        XCTAssertEqual(run.status, 0, run.stderr)
        let summary = try XCTUnwrap(CLI.json(run.stdout) as? [String: Any])
        let events = try Self.events(out).filter { $0["ph"] as? String != "M" }
        XCTAssertEqual(Self.int(summary["events"]), events.count, "the summary counts the events written")
        XCTAssertEqual(Self.int(summary["flows"]), events.filter { $0["ph"] as? String == "s" }.count)
        XCTAssertEqual(Self.int(summary["stale_marked"]), events.filter { $0["ph"] as? String == "i" && $0["cat"] as? String == "stale" }.count)
        XCTAssertEqual(summary["window"] as? String, "seq 1900...2100")
    }

    func testBadInput_exits2_withAClearMessage_andWritesNothing() throws {
        let out = Self.output("refused.json")
        try? FileManager.default.removeItem(atPath: out)
        let tooBig = try CLI.run(["timeline", Self.demoNaive, "--max-events", "100", "-o", out])
        XCTAssertEqual(tooBig.status, 2)
        XCTAssertTrue(tooBig.stderr.contains("more than 100 events") && tooBig.stderr.contains("--around"), tooBig.stderr)
        XCTAssertFalse(FileManager.default.fileExists(atPath: out), "no partial file is left")
        XCTAssertTrue(try FileManager.default.contentsOfDirectory(atPath: (out as NSString).deletingLastPathComponent).allSatisfy { !$0.contains(".partial-") })

        let cases: [([String], String)] = [
            (["timeline", "/nonexistent/trace.sqlite", "-o", out], "/nonexistent/trace.sqlite"),
            (["timeline", Self.demoNaive, "--from", "10", "--to", "1ms", "-o", out], "same unit"),
            (["timeline", Self.demoNaive, "--from", "soon", "-o", out], "'soon'"),
            (["timeline", Self.demoNaive, "--from", "900", "--to", "100", "-o", out], "must not come after"),
            (["timeline", Self.demoNaive, "--around", "5", "--finding", "1", "-o", out], "one of"),
            (["timeline", Self.demoNaive, "--finding", "0", "-o", out], "from 1"),
            (["timeline", Self.demoNaive, "--finding", "100000", "-o", out], "does not exist"),
            (["timeline", Self.demoNaive], "--output"),
            (["timeline", Self.demoNaive, "--around", "99999999", "-o", out], "no record is in seq 99999799...100000199"),
            (["timeline", Self.demoNaive, "--from", "100s", "-o", out], "no record is in t+100"),
        ]
        for (arguments, message) in cases {
            let run = try CLI.run(arguments)
            XCTAssertEqual(run.status, 2, "\(arguments): \(run.stderr)")
            XCTAssertTrue(run.stderr.contains(message), "\(arguments): stderr should mention \(message): \(run.stderr)")
            XCTAssertFalse(FileManager.default.fileExists(atPath: out), "\(arguments) wrote \(out)")
        }
    }
}
