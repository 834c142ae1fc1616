import Foundation
import PollTraceStrace
import XCTest

/// Real event libraries, each made to hold a stale event on purpose (an event whose
/// fd a callback earlier in the batch closed and whose number it gave to a new fd),
/// recorded with `polltrace record`. The program writes down which callbacks ran;
/// the findings must agree, and each test states what the library does with the
/// stale event.
final class EventLibraryTests: XCTestCase {
    var dir: URL!

    override func setUpWithError() throws { dir = try StraceFixtures.temporaryDirectory() }
    override func tearDownWithError() throws { try? FileManager.default.removeItem(at: dir) }

    /// An nginx-style pool of connection objects, a pointer in epoll_data, no guard:
    /// **runs** the stale event, on the handler of whatever took its object.
    func testPointerLoop_runsTheStaleEvent_onTheFdThatTookItsObject() throws {
        let program = try StraceFixtures.compile("pointer_loop", into: dir)
        // Through a shell that prints to stdout and signals itself: record --json keeps
        // its stdout to the JSON, and --strace-arg reaches strace (no signal lines).
        let log = dir.appendingPathComponent("kept.strace").path
        let (findings, truth) = try record(["/bin/sh", "-c", "echo noise; kill -CHLD $$; exec \"$0\" \"$1\"", program.path],
                                           options: ["--log", log, "--strace-arg=-e", "--strace-arg=signal=none"])
        let kept = try String(contentsOfFile: log, encoding: .utf8)
        XCTAssertTrue(kept.contains("execve("), "the log was kept")
        XCTAssertFalse(kept.contains("--- SIG"), "strace got -e signal=none")
        let stale = try XCTUnwrap(truth.first { $0.hasPrefix("stale ") }, "the program ran a stale handler:\n\(truth)")
        let fields = stale.split(separator: " ").compactMap { Int($0) }  // old fd, new fd, result, errno
        XCTAssertEqual(fields.count, 4)
        XCTAssertEqual(findings.map { $0["kind"] as? String }, ["likely_stale_dispatch"], "\(findings)")
        let finding = try XCTUnwrap(findings.first)
        XCTAssertEqual((finding["event"] as? [String: Any])?["fd"] as? Int, fields[0])
        XCTAssertEqual(finding["follows"] as? String, "data", "the loop follows the pointer, not the number")
        XCTAssertEqual(finding["reuse_fd"] as? Int, fields[1], "the pointer was registered again for the pipe")
        let access = try XCTUnwrap(finding["access"] as? [String: Any])
        XCTAssertEqual(access["call"] as? String, "read")
        XCTAssertEqual(access["errno"] as? Int, fields[3], "the stale read failed as the program saw it fail")
        XCTAssertTrue((access["handler"] as? String)?.hasPrefix("pipe:[") == true, "\(access)")
    }

    /// libevent **drops** the stale event: it activates a batch's events before any
    /// callback, and event_del takes a pending activation back.
    func testLibevent_dropsTheStaleEvent() throws {
        guard FileManager.default.fileExists(atPath: "/usr/include/event2/event.h") else {
            throw XCTSkip("libevent-dev is not installed (.ci/run installs it)")
        }
        let program = try StraceFixtures.compile("libevent_stale", libraries: ["event"], into: dir)
        try assertDropped(try record([program.path]), library: "libevent")
    }

    /// libuv **drops** the stale event: closing a poll handle invalidates its fd's
    /// pending events in the batch being dispatched.
    func testLibuv_dropsTheStaleEvent() throws {
        guard FileManager.default.fileExists(atPath: "/usr/include/uv.h") else {
            throw XCTSkip("libuv1-dev is not installed (.ci/run installs it)")
        }
        let program = try StraceFixtures.compile("libuv_stale", libraries: ["uv"], into: dir)
        try assertDropped(try record([program.path]), library: "libuv")
    }

    /// Python asyncio's selector loop **drops** the stale event: remove_reader
    /// cancels the handle already queued for the iteration.
    func testAsyncioSelectorLoop_dropsTheStaleEvent() throws {
        guard let python = ["/usr/bin/python3", "/usr/local/bin/python3"].first(where: {
            FileManager.default.isExecutableFile(atPath: $0)
        }) else { throw XCTSkip("python3 is not installed") }
        let script = StraceFixtures.directory.appendingPathComponent("asyncio_stale.py").path
        try assertDropped(try record([python, script]), library: "asyncio")
    }

    // MARK: -

    /// The library closed B and gave its number to a new fd while B's event waited
    /// in the batch: a hazard; nothing touched the new fd for it, and the program
    /// says neither B's old callback nor the new one ran for it.
    private func assertDropped(_ result: (findings: [[String: Any]], truth: [String]), library: String,
                               file: StaticString = #filePath, line: UInt = #line) throws {
        let (findings, truth) = result
        let a = try XCTUnwrap(truth.first { $0.hasPrefix("a ran") }, "\(library): \(truth)", file: file, line: line)
        XCTAssertFalse(truth.contains { $0.hasPrefix("b ran") }, "\(library) ran B's old callback: \(truth)",
                       file: file, line: line)
        XCTAssertFalse(truth.contains { $0.contains("ran in the batch") }, "\(library) ran the new callback: \(truth)",
                       file: file, line: line)
        let numbers = a.split(separator: " ").compactMap { Int($0.trimmingCharacters(in: .punctuationCharacters)) }
        XCTAssertEqual(numbers.count, 2, a, file: file, line: line)
        XCTAssertEqual(numbers.first, numbers.last, "\(library): the new fd took B's number: \(a)", file: file, line: line)
        XCTAssertEqual(findings.map { $0["kind"] as? String }, ["reuse_within_batch"],
                       "\(library): a hazard, and no access to the new fd: \(findings)", file: file, line: line)
        XCTAssertEqual((findings.first?["event"] as? [String: Any])?["fd"] as? Int, numbers.first, file: file, line: line)
    }

    /// Runs `polltrace record --json` on `command` (whose last argument is the truth
    /// file): the findings from its JSON and the program's truth lines.
    private func record(_ command: [String], options: [String] = []) throws -> (findings: [[String: Any]], truth: [String]) {
        _ = try StraceFixtures.strace()
        let truthPath = dir.appendingPathComponent("truth.txt").path
        let trace = dir.appendingPathComponent("trace.sqlite").path
        let polltrace = Bundle.main.bundleURL.appendingPathComponent("polltrace").path
        guard FileManager.default.isExecutableFile(atPath: polltrace) else {
            XCTFail("the polltrace binary is not built at \(polltrace)")
            throw CocoaError(.fileNoSuchFile)
        }
        let process = Process()
        process.executableURL = URL(fileURLWithPath: polltrace)
        process.arguments = ["record", "--json", "-o", trace] + options + ["--"] + command + [truthPath]
        let out = Pipe()
        process.standardOutput = out
        process.standardError = FileHandle.nullDevice
        try process.run()
        let data = out.fileHandleForReading.readDataToEndOfFile()
        process.waitUntilExit()
        XCTAssertNotEqual(process.terminationStatus, 2, "record failed")
        let document = try XCTUnwrap(try JSONSerialization.jsonObject(with: data) as? [String: Any],
                                     "record --json prints one JSON document, nothing else")
        XCTAssertEqual(document["source"] as? String, "strace")
        let truth = try String(contentsOfFile: truthPath, encoding: .utf8).split(separator: "\n").map(String.init)
        return (document["findings"] as? [[String: Any]] ?? [], truth)
    }
}
