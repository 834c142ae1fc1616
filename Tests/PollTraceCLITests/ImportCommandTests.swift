import Foundation
import XCTest

/// `polltrace import` and `analyze`/`verify` on the trace it makes, through the built
/// binary: an imported strace log has no dispatch records, so `analyze` must switch
/// to the foreign-loop hazard analysis rather than report a replay with nothing in it.
final class ImportCommandTests: XCTestCase {
    private var directory: URL!

    override func setUpWithError() throws {
        directory = FileManager.default.temporaryDirectory.appendingPathComponent("polltrace-import-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
    }

    override func tearDownWithError() throws {
        try? FileManager.default.removeItem(at: directory)
    }

    /// The committed log of the seed's C loop (strace before 5.11): one likely stale dispatch.
    private var seedLog: String {
        URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
            .appendingPathComponent("StraceFixtures/logs/seed-pre5.11.strace").path
    }

    func testImportThenAnalyze_reportsTheLikelyStaleDispatchAndExits1() throws {
        let trace = directory.appendingPathComponent("seed.sqlite").path
        let imported = try CLI.run(["import", seedLog, "-o", trace])
        XCTAssertEqual(imported.status, 1, "import prints its findings and exits 1 when there are some:\n\(imported.stdout)\(imported.stderr)")
        XCTAssertTrue(imported.stdout.contains("likely stale dispatches: 1"), imported.stdout)

        let analyzed = try CLI.run(["analyze", trace])
        XCTAssertEqual(analyzed.status, 1, "an imported trace with a hazard is not clean:\n\(analyzed.stdout)")
        XCTAssertTrue(analyzed.stdout.contains("imported from strace"), analyzed.stdout)
        XCTAssertTrue(analyzed.stdout.contains("likely stale dispatch: fd 8"), analyzed.stdout)

        let json = try CLI.run(["analyze", "--json", trace])
        XCTAssertEqual(json.status, 1)
        let document = CLI.json(json.stdout) as? [String: Any]
        let summary = document?["summary"] as? [String: Any]
        XCTAssertEqual(summary?["likely_stale_dispatch"] as? Int, 1, json.stdout)
        let findings = document?["findings"] as? [[String: Any]]
        let access = findings?.first?["access"] as? [String: Any]
        XCTAssertEqual(access?["call"] as? String, "read", "the stale event reached a read on the new fd")
    }

    func testJSON_nativeAndImportedTraces_shareOneShape_andImportPrintsWhatAnalyzePrints() throws {
        let trace = directory.appendingPathComponent("seed.sqlite").path
        let imported = try CLI.run(["import", "--json", seedLog, "-o", trace])
        let analyzed = try CLI.run(["analyze", "--json", trace])
        XCTAssertEqual(imported.stdout, analyzed.stdout, "import --json prints the document analyze --json gives the trace")
        let foreign = try XCTUnwrap(CLI.json(analyzed.stdout) as? [String: Any])
        let native = try XCTUnwrap(CLI.json(try CLI.run(["analyze", "--json", try CLITraces.seed(.snapshot)]).stdout)
                                   as? [String: Any])
        XCTAssertEqual(Set(foreign.keys), Set(native.keys), "one top-level shape")
        for key in ["format", "schema_version", "trace"] { XCTAssertNotNil(foreign[key], key); XCTAssertNotNil(native[key], key) }
        XCTAssertEqual(foreign["source"] as? String, "strace")
        XCTAssertEqual(native["source"] as? String, "native")
        XCTAssertEqual(foreign["trace"] as? String, trace)
        XCTAssertEqual(foreign["schema_version"] as? Int, native["schema_version"] as? Int)
    }

    func testJSONLines_printsOneFindingPerLine_forEachTrace() throws {
        let trace = directory.appendingPathComponent("seed.sqlite").path
        _ = try CLI.run(["import", seedLog, "-o", trace])
        let native = try CLITraces.seed(.snapshot)
        let result = try CLI.run(["analyze", "--json-lines", trace, native])
        XCTAssertEqual(result.status, 1)
        let lines = result.stdout.split(separator: "\n").map(String.init)
        XCTAssertEqual(lines.count, 2, "one finding in each trace:\n\(result.stdout)")
        let objects = lines.compactMap { CLI.json($0) as? [String: Any] }
        XCTAssertEqual(objects.map { $0["trace"] as? String }, [trace, native])
        XCTAssertEqual(objects.map { ($0["finding"] as? [String: Any])?["kind"] as? String },
                       ["likely_stale_dispatch", "dead_registration"])
    }

    func testAnalyzeOfSeveralTraces_listsImportedTracesInTheFleetReport() throws {
        let trace = directory.appendingPathComponent("seed.sqlite").path
        _ = try CLI.run(["import", seedLog, "-o", trace])
        let result = try CLI.run(["analyze", "--json", trace, trace])
        let traces = (CLI.json(result.stdout) as? [String: Any])?["traces"] as? [[String: Any]]
        XCTAssertEqual(traces?.count, 2, "one entry per trace argument:\n\(result.stdout.prefix(300))")
        XCTAssertEqual(traces?.map { $0["imported"] as? Bool }, [true, true])
        XCTAssertEqual(traces?.map { ($0["findings_by_kind"] as? [String: Int])?["likely_stale_dispatch"] }, [1, 1])
        XCTAssertEqual(result.status, 1)
    }

    func testVerifyOfAnImportedTrace_isRefusedWithAClearMessage() throws {
        let trace = directory.appendingPathComponent("seed.sqlite").path
        _ = try CLI.run(["import", seedLog, "-o", trace])
        let result = try CLI.run(["verify", trace])
        XCTAssertEqual(result.status, 2)
        XCTAssertTrue(result.stderr.contains("imported from strace"), result.stderr)
        XCTAssertTrue(result.stdout.isEmpty, "no report on stdout when verify cannot apply")
    }

    func testImportOfAMissingLog_exits2AndNamesTheFile() throws {
        let missing = directory.appendingPathComponent("nope.strace").path
        let result = try CLI.run(["import", missing, "-o", directory.appendingPathComponent("x.sqlite").path])
        XCTAssertEqual(result.status, 2)
        XCTAssertTrue(result.stderr.contains(missing), result.stderr)
    }

    func testImportNeverOverwritesAnExistingTrace() throws {
        let trace = directory.appendingPathComponent("seed.sqlite").path
        _ = try CLI.run(["import", seedLog, "-o", trace])
        let before = try Data(contentsOf: URL(fileURLWithPath: trace))
        let again = try CLI.run(["import", seedLog, "-o", trace])
        XCTAssertEqual(again.status, 2, again.stderr)
        XCTAssertTrue(again.stderr.contains("already exists"), again.stderr)
        XCTAssertEqual(try Data(contentsOf: URL(fileURLWithPath: trace)), before, "the existing trace is untouched")
    }
}
