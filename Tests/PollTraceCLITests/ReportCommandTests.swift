import Foundation
import XCTest

/// `polltrace report` on the committed demo trace, opened in headless Chromium (the
/// Debian `chromium` package, which `.ci/run` installs): the browser must parse it,
/// draw it without script errors, and show the seed's interleaving as `analyze`
/// reports it.
final class ReportCommandTests: XCTestCase {
    static let chromium = ["/usr/bin/chromium", "/usr/bin/chromium-browser"].first { FileManager.default.isExecutableFile(atPath: $0) }

    /// Runs Chromium headless on `url` with `arguments`, killed after 90 s.
    static func headless(_ arguments: [String], url: String) throws -> CLIResult {
        let chromium = try XCTUnwrap(Self.chromium)
        let profile = TimelineCommandTests.output("chromium-profile-\(UUID().uuidString)")
        defer { try? FileManager.default.removeItem(atPath: profile) }
        let process = Process()
        process.executableURL = URL(fileURLWithPath: chromium)
        // --no-sandbox: CI runs as root, where Chromium's sandbox refuses to start.
        process.arguments = ["--headless", "--no-sandbox", "--disable-gpu", "--no-first-run", "--hide-scrollbars",
                             "--user-data-dir=\(profile)", "--enable-logging=stderr", "--v=0"] + arguments + [url]
        let out = Pipe(), err = Pipe()
        process.standardOutput = out
        process.standardError = err
        try process.run()
        let killer = DispatchWorkItem { process.terminate() }
        DispatchQueue.global().asyncAfter(deadline: .now() + 90, execute: killer)
        nonisolated(unsafe) var errData = Data()
        let group = DispatchGroup()
        group.enter()
        DispatchQueue.global().async { errData = err.fileHandleForReading.readDataToEndOfFile(); group.leave() }
        let outData = out.fileHandleForReading.readDataToEndOfFile()
        group.wait()
        process.waitUntilExit()
        killer.cancel()
        return CLIResult(status: process.terminationStatus, stdout: String(decoding: outData, as: UTF8.self),
                         stderr: String(decoding: errData, as: UTF8.self))
    }

    /// Console and script errors Chromium logged for the page.
    static func scriptErrors(_ stderr: String) -> [String] {
        stderr.split(separator: "\n").map(String.init).filter { $0.contains("CONSOLE") || $0.contains("Uncaught") }
    }

    func writeDemoReport() throws -> String {
        let out = TimelineCommandTests.output("demo-report.html")
        let run = try CLI.run(["report", TimelineCommandTests.demoNaive, "--limit", "3", "-o", out])
        XCTAssertEqual(run.status, 0, run.stderr)
        return out
    }

    func testDemoReport_inHeadlessChromium_showsTheSeedInterleaving_withoutScriptErrors() throws {
        guard Self.chromium != nil else {
            throw XCTSkip("chromium is not installed (Debian package `chromium`; .ci/run installs it)")
        }
        let analyze = try CLI.run(["analyze", TimelineCommandTests.demoNaive, "--json", "--limit", "1"])
        let finding = try XCTUnwrap(((CLI.json(analyze.stdout) as? [String: Any])?["findings"] as? [[String: Any]])?.first)
        let fd = try XCTUnwrap(TimelineCommandTests.int((finding["event"] as? [String: Any])?["fd"]))
        let batch = try XCTUnwrap(TimelineCommandTests.int((finding["batch"] as? [String: Any])?["number"]))
        let seq = try XCTUnwrap(TimelineCommandTests.int(finding["seq"]))
        let closer = try XCTUnwrap((((finding["harvested_for"] as? [String: Any])?["fd_close"] as? [String: Any])?["by"] as? [String: Any])?["handler"] as? String)

        let report = try writeDemoReport()
        let url = URL(fileURLWithPath: report).absoluteString
        let dom = try Self.headless(["--dump-dom"], url: url)
        XCTAssertEqual(dom.status, 0, dom.stderr)
        XCTAssertEqual(Self.scriptErrors(dom.stderr), [], "the page logs no script or console error")
        // The DOM as the browser built it: the first finding's figure holds an SVG
        // sequence diagram with the seed's four steps.
        let figureStart = try XCTUnwrap(dom.stdout.range(of: "<figure class=\"finding stale\" id=\"finding-1\">"), "finding 1 is drawn:\n\(dom.stdout.prefix(2000))")
        let figure = String(dom.stdout[figureStart.lowerBound...]).components(separatedBy: "</figure>")[0]
        XCTAssertTrue(figure.contains("<svg class=\"seq\""), "an inline SVG sequence diagram")
        for step in ["1. harvest batch #\(batch): event", "2. close fd \(fd)", "3. new fd \(fd)", "MISROUTED", "seq \(seq)", closer] {
            XCTAssertTrue(figure.contains(step), "the diagram shows '\(step)'")
        }
        XCTAssertTrue(dom.stdout.contains("<svg class=\"timeline\""), "the timeline around the first findings is drawn")
        XCTAssertTrue(dom.stdout.contains("Dispatch durations per handler kind"))
        XCTAssertTrue(dom.stdout.contains("Closed cleanly"), "how the trace ended")

        // Screenshots, wide and terminal-narrow, and a printout.
        for (name, size) in [("wide", "1100,1600"), ("narrow", "420,1600")] {
            let png = TimelineCommandTests.output("report-\(name).png")
            try? FileManager.default.removeItem(atPath: png)
            let shot = try Self.headless(["--window-size=\(size)", "--screenshot=\(png)"], url: url)
            XCTAssertEqual(shot.status, 0, shot.stderr)
            let data = try Data(contentsOf: URL(fileURLWithPath: png))
            XCTAssertEqual(Array(data.prefix(8)), [0x89, 0x50, 0x4E, 0x47, 0x0D, 0x0A, 0x1A, 0x0A], "\(name): a PNG")
            XCTAssertGreaterThan(data.count, 20_000, "\(name): the screenshot shows a page, not a blank")
        }
        let pdf = TimelineCommandTests.output("report.pdf")
        try? FileManager.default.removeItem(atPath: pdf)
        let print = try Self.headless(["--no-pdf-header-footer", "--print-to-pdf=\(pdf)"], url: url)
        XCTAssertEqual(print.status, 0, print.stderr)
        XCTAssertEqual(try Data(contentsOf: URL(fileURLWithPath: pdf)).prefix(4), Data("%PDF".utf8), "the report prints")
    }

    func testReport_isSelfContained_andSmall() throws {
        let html = try String(contentsOfFile: try writeDemoReport(), encoding: .utf8)
        XCTAssertTrue(html.hasPrefix("<!DOCTYPE html>"))
        XCTAssertFalse(html.contains("<script"), "no script")
        for fetch in ["src=", "href=\"http", "@import", "<link"] {
            XCTAssertFalse(html.contains(fetch), "nothing is fetched (\(fetch))")
        }
        let urls = html.components(separatedBy: "url(").dropFirst()
        XCTAssertTrue(urls.allSatisfy { $0.hasPrefix("#") }, "url() only names parts of the page (the arrow marker)")
        XCTAssertTrue(html.contains("@media print") && html.contains("@media (max-width:"), "print and narrow-window styles")
        XCTAssertLessThan(html.utf8.count, 5_000_000)
    }

    func testImportedStraceTrace_reportDrawsTheForeignFindingByItsLogLines() throws {
        let analyze = try CLI.run(["analyze", TimelineCommandTests.importedSeed, "--json"])
        let findings = try XCTUnwrap((CLI.json(analyze.stdout) as? [String: Any])?["findings"] as? [[String: Any]])
        let finding = try XCTUnwrap(findings.first, "the imported seed has a hazard")
        let run = try CLI.run(["report", TimelineCommandTests.importedSeed, "-o", "-"])
        XCTAssertEqual(run.status, 0, run.stderr)
        let html = run.stdout
        XCTAssertTrue(html.contains("\(findings.count) hazards found in the imported strace log"), "the verdict")
        let figure = try XCTUnwrap(html.components(separatedBy: "id=\"finding-1\"").dropFirst().first?.components(separatedBy: "</figure>").first)
        // The steps are the lines the foreign analysis names: the wait, the close,
        // the reuse and the access to the new fd.
        let event = try XCTUnwrap(finding["event"] as? [String: Any], "analyze --json's foreign finding has its event")
        var expected = [try XCTUnwrap(finding["kind"] as? String), "close fd \(try XCTUnwrap(TimelineCommandTests.int(event["fd"])))"]
        for key in ["wait_line", "close_line", "reuse_line"] {
            expected.append("line \(try XCTUnwrap(TimelineCommandTests.int(finding[key]), key))")
        }
        if let access = finding["access"] as? [String: Any] {
            expected.append("line \(try XCTUnwrap(TimelineCommandTests.int(access["line"]), "access line"))")
        }
        for text in expected {
            XCTAssertTrue(figure.contains(text), "the diagram shows '\(text)'")
        }
        XCTAssertTrue(html.contains("<svg class=\"timeline\""), "and the timeline around it")
    }

    func testBadInput_exits2_andWritesNothing() throws {
        let out = TimelineCommandTests.output("bad-report.html")
        try? FileManager.default.removeItem(atPath: out)
        let notATrace = TimelineCommandTests.output("not-a-trace.sqlite")
        try "hello".write(toFile: notATrace, atomically: true, encoding: .utf8)
        for arguments in [["report", "/nonexistent.sqlite", "-o", out], ["report", notATrace, "-o", out],
                          ["report", TimelineCommandTests.demoNaive, "--limit", "0", "-o", out]] {
            let run = try CLI.run(arguments)
            XCTAssertEqual(run.status, 2, "\(arguments): \(run.stderr)")
            XCTAssertFalse(run.stderr.isEmpty, "\(arguments): says why")
            XCTAssertFalse(FileManager.default.fileExists(atPath: out))
        }
    }
}
