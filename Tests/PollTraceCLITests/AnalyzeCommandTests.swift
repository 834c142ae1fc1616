import Foundation
import PollTraceCore
import XCTest

/// `polltrace analyze` and `verify` as a user runs them: output and exit code together.
final class AnalyzeCommandTests: XCTestCase {
    func testAnalyze_naiveSeed_printsTheMisroutedInterleaving_andExits1() throws {
        let r = try CLI.run(["analyze", try CLITraces.seed(.naive)])
        XCTAssertEqual(r.status, 1, "findings exit 1; stderr: \(r.stderr)")
        XCTAssertTrue(r.stdout.contains("MISROUTED  dispatch seq"), "the finding is printed:\n\(r.stdout)")
        XCTAssertTrue(r.stdout.contains("closed at seq") && r.stdout.contains("handler \"control-api\""),
                      "the finding names the dispatch that closed the fd:\n\(r.stdout)")
        XCTAssertTrue(r.stdout.contains("registered as #4 \"rtp-tcp-accept\""), "and the new registration:\n\(r.stdout)")
        XCTAssertTrue(r.stdout.contains("misrouted             1"), "the summary counts it:\n\(r.stdout)")
        XCTAssertEqual(r.stderr, "", "stderr is not a terminal here: no progress bar, nothing extra")
    }

    func testAnalyze_guardedSeed_isClean_andExits0() throws {
        let r = try CLI.run(["analyze", try CLITraces.seed(.guarded)])
        XCTAssertEqual(r.status, 0, r.stdout + r.stderr)
        XCTAssertTrue(r.stdout.contains("JUSTIFIED_SUPPRESSION"), r.stdout)
        XCTAssertTrue(r.stdout.hasSuffix("verdict: clean\n"), r.stdout)
    }

    func testAnalyze_json_hasTheDocumentedStructure() throws {
        let r = try CLI.run(["analyze", "--json", try CLITraces.seed(.snapshot)])
        XCTAssertEqual(r.status, 1)
        let object = try XCTUnwrap(CLI.json(r.stdout) as? [String: Any])
        XCTAssertEqual(object["format"] as? String, "polltrace-analyze")
        let summary = try XCTUnwrap(object["summary"] as? [String: Any])
        XCTAssertEqual(summary["dead_registration"] as? Int, 1)
        XCTAssertEqual(summary["correct"] as? Int, 2)
        let findings = try XCTUnwrap(object["findings"] as? [[String: Any]])
        XCTAssertEqual(findings.count, 1)
        XCTAssertEqual(findings[0]["kind"] as? String, "dead_registration")
        let harvested = try XCTUnwrap(findings[0]["harvested_for"] as? [String: Any])
        XCTAssertEqual(harvested["handler"] as? String, "rtp-udp")
        XCTAssertNotNil(harvested["end"] as? [String: Any], "the registration's end is given")
        XCTAssertEqual(object["clean"] as? Bool, false)
    }

    func testAnalyze_severalTraces_jsonIsTheFleetReport_andTheWorstExitCodeWins() throws {
        let r = try CLI.run(["analyze", "--json", try CLITraces.seed(.guarded), try CLITraces.seed(.naive)])
        XCTAssertEqual(r.status, 1, "one clean trace and one with findings exit 1")
        let fleet = try XCTUnwrap(CLI.json(r.stdout) as? [String: Any])
        let traces = try XCTUnwrap(fleet["traces"] as? [[String: Any]])
        XCTAssertEqual(traces.map { $0["status"] as? String }, ["clean", "findings"], "in the order given")
    }

    func testAnalyze_multiPollerTrace_isByteIdenticalAcrossRuns() throws {
        let path = try CLITraces.multiPoller()
        let before = try Data(contentsOf: URL(fileURLWithPath: path))
        let siblings = try FileManager.default.contentsOfDirectory(atPath: (path as NSString).deletingLastPathComponent).sorted()
        defer {
            XCTAssertEqual(try? Data(contentsOf: URL(fileURLWithPath: path)), before, "the analyzer never writes to a trace it reads")
            XCTAssertEqual(try? FileManager.default.contentsOfDirectory(atPath: (path as NSString).deletingLastPathComponent).sorted(),
                           siblings, "and leaves no journal or WAL file beside it")
        }
        for arguments in [["analyze", path], ["analyze", "--json", path], ["verify", path], ["verify", "--json", path],
                          ["stats", path], ["stats", "--json", path]] {
            let first = try CLI.run(arguments)
            let second = try CLI.run(arguments)
            XCTAssertEqual(first.stdout, second.stdout, "\(arguments) must print the same bytes twice")
            XCTAssertEqual(first.status, second.status)
            XCTAssertFalse(first.stdout.isEmpty)
        }
        let r = try CLI.run(["analyze", path])
        XCTAssertTrue(r.stdout.contains("misrouted             1") && r.stdout.contains("dead_registration     1")
                      && r.stdout.contains("justified_suppression 1"), "one finding per poller's policy:\n\(r.stdout)")
    }

    func testAnalyze_inconsistentTrace_namesEachRecordBySeq_andExits2() throws {
        let r = try CLI.run(["analyze", try CLITraces.inconsistent()])
        XCTAssertEqual(r.status, 2, "inconsistent records are bad input")
        XCTAssertTrue(r.stdout.contains("seq 15: close_of_unknown_fd"), r.stdout)
        XCTAssertTrue(r.stdout.contains("seq 16: unknown_batch"), r.stdout)
        XCTAssertTrue(r.stdout.contains("JUSTIFIED_SUPPRESSION"), "analysis went on past the bad records:\n\(r.stdout)")
    }

    func testSpinThreshold_isAnOption_andValidated() throws {
        let r = try CLI.run(["analyze", "--spin-threshold", "1", try CLITraces.seed(.naive)])
        XCTAssertEqual(r.status, 2)
        XCTAssertTrue(r.stderr.contains("--spin-threshold must be at least 2"), r.stderr)
    }

    func testVerify_passesOnEachPolicy_andFailsOnABrokenGuard() throws {
        for policy in DispatchPolicy.allCases {
            let r = try CLI.run(["verify", try CLITraces.seed(policy)])
            XCTAssertEqual(r.status, 0, "\(policy): \(r.stdout)")
            XCTAssertTrue(r.stdout.contains("verdict: PASS"), r.stdout)
        }
        let lossy = try CLI.run(["verify", "--json", try CLITraces.seed(.guarded, lossyGuard: true)])
        XCTAssertEqual(lossy.status, 1, "a guarded poller that dropped a live event fails verification")
        let object = try XCTUnwrap(CLI.json(lossy.stdout) as? [String: Any])
        XCTAssertEqual(object["passed"] as? Bool, false)
        let failures = try XCTUnwrap(object["failures"] as? [[String: Any]])
        XCTAssertEqual(failures.first?["kind"] as? String, "recording_disagrees", "\(failures)")
    }
}
