import Foundation
import PollTraceCore
import XCTest

/// `polltrace analyze` over many traces (`DIR|GLOB... --jobs N`): a line per trace,
/// the fleet summary, exit codes, and that every trace's figures are what
/// analyzing it alone gives, whatever the number of jobs.
final class FleetAnalyzeCommandTests: XCTestCase {
    private var directory = ""

    override func setUpWithError() throws {
        directory = FileManager.default.temporaryDirectory
            .appendingPathComponent("polltrace-fleet-tests-\(getpid())-\(UInt32.random(in: 0...UInt32.max))").path
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
    }

    override func tearDown() {
        try? FileManager.default.removeItem(atPath: directory)
        super.tearDown()
    }

    /// Copies `source` into the fleet directory as `name`.
    @discardableResult
    private func place(_ source: String, as name: String) throws -> String {
        let path = directory + "/" + name
        try FileManager.default.copyItem(atPath: source, toPath: path)
        return path
    }

    /// The seed traces under each policy, several copies of each, in the directory.
    private func fleetOfSeeds(copies: Int) throws -> [String: DispatchPolicy] {
        var names: [String: DispatchPolicy] = [:]
        for policy in DispatchPolicy.allCases {
            let source = try CLITraces.seed(policy)
            for copy in 1...copies {
                let name = "\(policy)-\(copy).trace"
                try place(source, as: name)
                names[name] = policy
            }
        }
        return names
    }

    func testDirectory_printsALinePerTraceInNameOrder_andTheSummary_andExits1OnFindings() throws {
        let policies = try fleetOfSeeds(copies: 2)
        let r = try CLI.run(["analyze", directory, "--jobs", "2"])
        XCTAssertEqual(r.status, 1, "findings in some traces exit 1: \(r.stderr)")
        XCTAssertEqual(r.stderr, "")
        let lines = r.stdout.split(separator: "\n", omittingEmptySubsequences: false).map(String.init)
        let traceLines = Array(lines.prefix(policies.count))
        XCTAssertEqual(traceLines.map { $0.components(separatedBy: directory + "/").last?.split(separator: " ").first.map(String.init) },
                       policies.keys.sorted().map { Optional($0) }, "one line per trace, sorted by name:\n\(r.stdout)")
        for line in traceLines {
            let name = line.components(separatedBy: directory + "/")[1].split(separator: " ")[0]
            switch policies[String(name)]! {
            case .guarded: XCTAssertTrue(line.hasPrefix("CLEAN "), line)
            case .naive: XCTAssertTrue(line.hasPrefix("FINDINGS ") && line.contains("misrouted 1"), line)
            case .snapshot: XCTAssertTrue(line.hasPrefix("FINDINGS ") && line.contains("dead_registration 1"), line)
            }
        }
        XCTAssertTrue(r.stdout.contains("fleet: 6 traces: 2 clean, 4 with findings;"), r.stdout)
        XCTAssertTrue(r.stdout.contains("misrouted             2       in 2 traces"), r.stdout)
        XCTAssertTrue(r.stdout.contains("dead_registration     2       in 2 traces"), r.stdout)
        XCTAssertTrue(r.stdout.contains("misrouted         rtp-udp -> rtp-tcp-accept  2 in 2 traces"),
                      "the naive seed runs the new listener's handler for the UDP socket's event:\n\(r.stdout)")
        XCTAssertTrue(r.stdout.contains("dead_registration rtp-udp -> rtp-udp  2 in 2 traces"), r.stdout)
        XCTAssertTrue(r.stdout.hasSuffix("verdict: 4 of 6 traces have findings (exit 1)\n"), r.stdout)
    }

    func testBadTraces_areNamed_exit2_andTheOthersAreStillAnalyzed() throws {
        try fleetOfSeeds(copies: 1)
        try "not a trace".write(toFile: directory + "/garbage.sqlite", atomically: true, encoding: .utf8)
        try place(try CLITraces.inconsistent(), as: "inconsistent.trace")
        let r = try CLI.run(["analyze", directory, "\(directory)/nothing-*.trace", "--jobs", "3"])
        XCTAssertEqual(r.status, 2, "bad input exits 2 even beside findings")
        XCTAssertTrue(r.stderr.contains("polltrace: error: \(directory)/garbage.sqlite"), "stderr names the bad file: \(r.stderr)")
        XCTAssertTrue(r.stderr.contains("nothing-*.trace: no file matches this pattern"), r.stderr)
        XCTAssertTrue(r.stdout.contains("BAD          \(directory)/garbage.sqlite  "), r.stdout)
        XCTAssertTrue(r.stdout.contains("INCONSISTENT \(directory)/inconsistent.trace  "), r.stdout)
        XCTAssertTrue(r.stdout.contains("FINDINGS     \(directory)/naive-1.trace"), "the good traces are still analyzed:\n\(r.stdout)")
        XCTAssertTrue(r.stdout.contains("CLEAN        \(directory)/guarded-1.trace"), r.stdout)
        XCTAssertTrue(r.stdout.contains("fleet: 6 traces: 1 clean, 2 with findings, 1 inconsistent, 2 bad input;"), r.stdout)
        XCTAssertTrue(r.stdout.contains("verdict: 3 traces are bad input: \(directory)/garbage.sqlite, \(directory)/inconsistent.trace, \(directory)/nothing-*.trace (exit 2)"),
                      r.stdout)
    }

    /// Every trace's entry must be what analyzing that trace alone reports, and the
    /// output must not depend on how many jobs ran.
    func testEachTracesFigures_equalItsOwnAnalysis_andOutputIsTheSameForAnyJobs() throws {
        try fleetOfSeeds(copies: 3)
        try place(try CLITraces.multiPoller(), as: "multi-poller.trace")
        let one = try CLI.run(["analyze", "--json", directory, "--jobs", "1"])
        let three = try CLI.run(["analyze", "--json", directory, "--jobs", "3"])
        XCTAssertEqual(one.stdout, three.stdout, "--jobs must not change a byte of the report")
        XCTAssertEqual(one.status, three.status)
        XCTAssertEqual(try CLI.run(["analyze", directory, "--jobs", "1"]).stdout, try CLI.run(["analyze", directory, "--jobs", "4"]).stdout)

        let fleet = try XCTUnwrap(CLI.json(three.stdout) as? [String: Any])
        XCTAssertEqual(fleet["format"] as? String, "polltrace-analyze-fleet")
        let entries = try XCTUnwrap(fleet["traces"] as? [[String: Any]])
        XCTAssertEqual(entries.count, 10)
        var stale = 0
        for entry in entries {
            let trace = try XCTUnwrap(entry["trace"] as? String)
            let alone = try XCTUnwrap(CLI.json(try CLI.run(["analyze", "--json", trace]).stdout) as? [String: Any])
            let summary = try XCTUnwrap(alone["summary"] as? [String: Any])
            XCTAssertEqual(entry["records"] as? Int, alone["records"] as? Int, trace)
            XCTAssertEqual(entry["problems"] as? Int, summary["problems"] as? Int, trace)
            XCTAssertEqual(entry["stale_dispatches"] as? Int, summary["stale_dispatches"] as? Int, trace)
            let kinds = try XCTUnwrap(entry["findings_by_kind"] as? [String: Int])
            for kind in FindingKind.allCases where kind.isProblem {
                XCTAssertEqual(kinds[kind.rawValue] ?? 0, summary[kind.rawValue] as? Int, "\(trace): \(kind)")
            }
            XCTAssertEqual(entry["status"] as? String, (alone["clean"] as? Bool) == true ? "clean" : "findings", trace)
            stale += entry["stale_dispatches"] as? Int ?? 0
        }
        let summary = try XCTUnwrap(fleet["summary"] as? [String: Any])
        XCTAssertEqual(summary["traces"] as? Int, 10)
        XCTAssertEqual(summary["with_findings"] as? Int, 7, "3 naive, 3 snapshot and the multi-poller trace")
        XCTAssertEqual(summary["exit_code"] as? Int, 1)
        let byKind = try XCTUnwrap(summary["findings_by_kind"] as? [String: [String: Int]])
        XCTAssertEqual((byKind["misrouted"]?["count"] ?? 0) + (byKind["dead_registration"]?["count"] ?? 0), stale)
        XCTAssertEqual(byKind["misrouted"]?["traces"], 4)
        let pairs = try XCTUnwrap(summary["handler_pairs"] as? [[String: Any]])
        XCTAssertEqual(pairs.first?["harvested_for"] as? String, "rtp-udp")
        XCTAssertEqual(pairs.reduce(0) { $0 + ($1["count"] as? Int ?? 0) }, stale, "every stale dispatch has its pair")
    }

    func testOneTrace_inADirectoryOrAlone_printsTodaysFullReport() throws {
        let path = try place(try CLITraces.seed(.naive), as: "only.trace")
        let alone = try CLI.run(["analyze", path])
        let viaDirectory = try CLI.run(["analyze", directory, "--jobs", "2"])
        XCTAssertEqual(viaDirectory.stdout, alone.stdout, "one trace keeps the single-trace report, byte for byte")
        XCTAssertEqual(viaDirectory.status, 1)
        XCTAssertTrue(alone.stdout.contains("MISROUTED  dispatch seq"), alone.stdout)
    }

    func testAllClean_exits0_andBadArguments_exit2() throws {
        try place(try CLITraces.seed(.guarded), as: "a.trace")
        try place(try CLITraces.seed(.guarded), as: "b.trace")
        let clean = try CLI.run(["analyze", "\(directory)/*.trace"])
        XCTAssertEqual(clean.status, 0, clean.stdout + clean.stderr)
        XCTAssertTrue(clean.stdout.hasSuffix("verdict: all 2 traces clean\n"), clean.stdout)

        let zero = try CLI.run(["analyze", directory, "--jobs", "0"])
        XCTAssertEqual(zero.status, 2)
        XCTAssertTrue(zero.stderr.contains("--jobs must be in 1...256"), zero.stderr)

        let empty = FileManager.default.temporaryDirectory.appendingPathComponent("polltrace-empty-\(getpid())").path
        try FileManager.default.createDirectory(atPath: empty, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: empty) }
        let none = try CLI.run(["analyze", empty])
        XCTAssertEqual(none.status, 2)
        XCTAssertTrue(none.stderr.contains("\(empty): a directory with no trace files"), none.stderr)
    }
}
