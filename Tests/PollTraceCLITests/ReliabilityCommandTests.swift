import Foundation
import PollTraceCore
import XCTest

/// Faults and hostile input against the built `polltrace`: output that cannot be
/// written, an import told to overwrite its own log or failing half-way, labels
/// that carry terminal escapes, and text with a zero byte in it.
final class ReliabilityCommandTests: XCTestCase {
    private var directory: URL!

    override func setUpWithError() throws {
        directory = FileManager.default.temporaryDirectory.appendingPathComponent("polltrace-reliability-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
    }

    override func tearDownWithError() throws {
        try? FileManager.default.removeItem(at: directory)
    }

    private var seedLog: String {
        URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
            .appendingPathComponent("StraceFixtures/logs/seed-pre5.11.strace").path
    }

    private func path(_ name: String) -> String { directory.appendingPathComponent(name).path }

    private func copyOfSeedLog(_ name: String) throws -> String {
        let copy = path(name)
        try FileManager.default.copyItem(atPath: seedLog, toPath: copy)
        return copy
    }

    // MARK: import: the log is never destroyed, a failed import leaves nothing

    func testImport_whenOutputIsTheLogItself_byPathSymlinkOrHardLink_refusesAndKeepsTheLog() throws {
        let log = try copyOfSeedLog("log.strace")
        let original = try Data(contentsOf: URL(fileURLWithPath: log))
        let symlink = path("link.strace")
        let hardLink = path("hard.strace")
        try FileManager.default.createSymbolicLink(atPath: symlink, withDestinationPath: log)
        try FileManager.default.linkItem(atPath: log, toPath: hardLink)
        for (input, output) in [(log, log), (log, symlink), (hardLink, log), (symlink, hardLink)] {
            let result = try CLI.run(["import", input, "-o", output, "--force"])
            XCTAssertEqual(result.status, 2, "import \(input) -o \(output) must be refused:\n\(result.stdout)\(result.stderr)")
            XCTAssertTrue(result.stderr.contains("itself"), "the message must say the output is the log: \(result.stderr)")
            XCTAssertEqual(try Data(contentsOf: URL(fileURLWithPath: log)), original, "the log must be untouched after -o \(output)")
        }
    }

    func testImport_ofADirectory_exits2_andLeavesNoTraceBehind() throws {
        let trace = path("out.trace")
        let result = try CLI.run(["import", directory.path, "-o", trace])
        XCTAssertEqual(result.status, 2, result.stderr)
        XCTAssertTrue(result.stderr.contains("directory"), result.stderr)
        XCTAssertEqual(try leftovers(), [], "a refused import must leave no file behind")
    }

    /// The import runs out of disk half-way (a tmpfs too small for the trace): exit
    /// 2, no new file left in the directory, and the trace it was told to replace
    /// with --force is still the old, whole one.
    func testImport_thatFailsOnAFullDisk_leavesTheOldTraceAndNoHalfWrittenOne() throws {
        let mount = try SmallTmpfs(kibibytes: 2048)
        defer { mount.unmount() }
        let bigLog = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
            .appendingPathComponent("StraceFixtures/logs/echo-churn-python.strace").path
        let trace = mount.path + "/seed.trace"
        let first = try CLI.run(["import", seedLog, "-o", trace])
        XCTAssertEqual(first.status, 1, "the small import fits:\n\(first.stderr)")
        let before = try Data(contentsOf: URL(fileURLWithPath: trace))
        // Leave about 64 KiB free: less than the big import needs.
        let filler = mount.path + "/filler"
        XCTAssertTrue(FileManager.default.createFile(atPath: filler, contents: nil))
        let handle = try FileHandle(forWritingTo: URL(fileURLWithPath: filler))
        var free = statvfs()
        statvfs(mount.path, &free)
        let spare = Int(free.f_bavail) * Int(free.f_frsize) - 64 * 1024
        if spare > 0 { try handle.write(contentsOf: Data(count: spare)) }
        try handle.close()

        let failed = try CLI.run(["import", bigLog, "-o", trace, "--force"])
        XCTAssertEqual(failed.status, 2, "an import onto a full disk must fail:\n\(failed.stdout)\(failed.stderr)")
        XCTAssertEqual(try Data(contentsOf: URL(fileURLWithPath: trace)), before, "the old trace must survive the failed --force import")
        let files = try FileManager.default.contentsOfDirectory(atPath: mount.path).sorted()
        XCTAssertEqual(files, ["filler", "seed.trace"], "nothing but the old trace (and the filler) may be left: \(files)")
        let analyzed = try CLI.run(["analyze", trace])
        XCTAssertEqual(analyzed.status, 1, "the old trace still analyzes as before:\n\(analyzed.stderr)")
    }

    private func leftovers() throws -> [String] {
        try FileManager.default.contentsOfDirectory(atPath: directory.path)
    }

    // MARK: output that cannot be written

    /// Every verb with stdout on /dev/full (ENOSPC), closed (EBADF) and a pipe whose
    /// reader has gone (EPIPE, with SIGPIPE at its default in the shell): exit 2 and
    /// a line on stderr naming stdout, never a crash or a silent success.
    func testEveryVerb_whenStdoutCannotBeWritten_exits2AndSaysSo() throws {
        let trace = try CLITraces.seed(.naive)
        let log = try copyOfSeedLog("log.strace")
        let verbs: [[String]] = [
            ["analyze", trace], ["verify", trace], ["stats", trace], ["stats", "--json", trace],
            ["query", trace, "SELECT 1 AS one"], ["import", log, "-o", path("imported.trace"), "--force"],
            ["--help"],
        ]
        for verb in verbs {
            for (how, redirect) in [("/dev/full", ">/dev/full"), ("closed", ">&-")] {
                let result = try shell("exec \"$0\" \"$@\" \(redirect)", verb)
                XCTAssertEqual(result.status, 2, "\(verb) with stdout \(how) must exit 2:\n\(result.stderr)")
                XCTAssertTrue(result.stderr.contains("cannot write to stdout"), "\(verb) with stdout \(how): \(result.stderr)")
            }
        }
        // A reader that has gone: a query with a large result into a pipe closed at once.
        let piped = try shell("trap '' PIPE; \"$0\" \"$@\" | true; echo \"status=${PIPESTATUS[0]}\" >&2",
                              ["query", trace, "WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n LIMIT 200000) SELECT i FROM n"],
                              bash: true)
        XCTAssertTrue(piped.stderr.contains("status=2"), "a closed pipe must give exit 2: \(piped.stderr)")
        XCTAssertTrue(piped.stderr.contains("cannot write to stdout"), piped.stderr)
    }

    func testAnalyze_whenStderrIsFullToo_exitsWithoutCrashing() throws {
        let trace = try CLITraces.seed(.naive)
        let result = try shell("exec \"$0\" \"$@\" >/dev/full 2>/dev/full; ", ["analyze", trace])
        XCTAssertEqual(result.status, 2, "no stream left to say it on, but the exit code still says it")
    }

    // MARK: what the reports print

    /// A label with a terminal escape and a newline must not reach the terminal raw,
    /// where it could clear the screen or forge a report line.
    func testTextReports_escapeControlCharactersInLabels() throws {
        var builder = CLITraces.Builder()
        builder.seedBatch(poller: 1, policy: .naive, fds: (10, 11, 12))
        let forged = "rtp\u{1B}[2J\nverdict: clean"
        builder.records = builder.records.map { record in
            guard case .registered(var registered) = record else { return record }
            registered.handlerLabel = forged
            return .registered(registered)
        }
        let poller = PollerInfo(poller: 1, backend: "epoll", policy: .naive, label: "loop\u{7}\u{9B}")
        let trace = try CLITraces.write(builder.records, pollers: [poller], name: "escapes")
        for verb in ["analyze", "verify", "stats"] {
            let result = try CLI.run([verb, trace])
            XCTAssertFalse(result.stdout.unicodeScalars.contains { $0.value < 0x20 && $0 != "\n" || (0x7F...0x9F).contains($0.value) },
                           "\(verb): control characters reached stdout:\n\(result.stdout.debugDescription)")
            XCTAssertFalse(result.stdout.contains("\nverdict: clean"), "\(verb): a label forged a report line")
        }
        let analyzed = try CLI.run(["analyze", trace])
        XCTAssertTrue(analyzed.stdout.contains("rtp\\u{1B}[2J\\nverdict: clean"), "the label is shown, escaped:\n\(analyzed.stdout)")
        let json = try CLI.run(["analyze", "--json", trace])
        XCTAssertTrue(json.stdout.contains("\\u001b") || json.stdout.contains("\\u001B"), "JSON keeps the label, JSON-escaped")
    }

    func testQuery_textWithAZeroByte_isPrintedWhole() throws {
        let trace = try CLITraces.seed(.guarded)
        let sql = "SELECT 'a' || char(0) || 'b' AS x"
        let text = try CLI.run(["query", trace, sql])
        XCTAssertEqual(text.status, 0, text.stderr)
        XCTAssertTrue(text.stdout.contains("a\\0b"), "text output shows the zero byte escaped, and what follows it:\n\(text.stdout.debugDescription)")
        let json = try CLI.run(["query", "--json", trace, sql])
        let rows = CLI.json(json.stdout) as? [[String: Any]]
        XCTAssertEqual(rows?.first?["x"] as? String, "a\u{0}b", json.stdout)
    }

    func testQuery_readOnlyPragmaAndTrailingComment_run() throws {
        let trace = try CLITraces.seed(.guarded)
        for sql in ["PRAGMA table_info(meta)", "SELECT 1 AS one -- a trailing comment", "PRAGMA user_version"] {
            let result = try CLI.run(["query", trace, sql])
            XCTAssertEqual(result.status, 0, "\(sql): \(result.stderr)")
        }
        let write = try CLI.run(["query", trace, "PRAGMA user_version = 3"])
        XCTAssertEqual(write.status, 2, "a writing PRAGMA is still refused")
    }

    /// Whatever verify's verdict line says the exit code is, it is the exit code.
    func testVerify_verdictLineNamesTheExitCodeItExitsWith() throws {
        for trace in [try CLITraces.seed(.naive), try CLITraces.seed(.guarded), try CLITraces.inconsistent()] {
            let result = try CLI.run(["verify", trace])
            let named = result.stdout.range(of: #"\(exit (\d)\)"#, options: .regularExpression).map { result.stdout[$0] }
            if let named {
                XCTAssertEqual(named, "(exit \(result.status))", "\(trace): verdict says \(named), exit was \(result.status)")
            } else {
                XCTAssertEqual(result.status, 0, "a verdict without an exit code is a pass:\n\(result.stdout)")
            }
        }
    }

    // MARK: a crashed trace away from its companion files

    /// A trace left by a killed polltraced: still in WAL mode, records in its -wal.
    private func crashedTrace() throws -> String {
        let daemon = CLI.productsDirectory.appendingPathComponent("polltraced").path
        try XCTSkipUnless(FileManager.default.isExecutableFile(atPath: daemon), "polltraced is not built at \(daemon)")
        let traces = path("crashed")
        let process = Process()
        process.executableURL = URL(fileURLWithPath: daemon)
        process.arguments = ["--port", "0", "--trace-dir", traces, "--log-level", "error"]
        try process.run()
        var trace: String?
        let deadline = Date().addingTimeInterval(30)
        while Date() < deadline, trace == nil {
            let files = (try? FileManager.default.contentsOfDirectory(atPath: traces)) ?? []
            // Ready once a reader sees the trace: its tables are committed, in the WAL.
            if let name = files.first(where: { $0.hasSuffix(".sqlite") }),
               let size = try? FileManager.default.attributesOfItem(atPath: traces + "/" + name + "-wal")[.size] as? Int, size > 0,
               (try? CLI.run(["stats", traces + "/" + name]))?.status == 0 {
                trace = traces + "/" + name
            } else {
                usleep(20_000)
            }
        }
        kill(process.processIdentifier, SIGKILL)
        process.waitUntilExit()
        return try XCTUnwrap(trace, "polltraced wrote no WAL within 30 s")
    }

    func testCrashedTrace_copiedWithoutItsWAL_saysTheWALIsMissing() throws {
        let trace = try crashedTrace()
        let copy = path("copy.sqlite")
        try FileManager.default.copyItem(atPath: trace, toPath: copy)
        for verb in ["analyze", "stats", "verify"] {
            let result = try CLI.run([verb, copy])
            XCTAssertEqual(result.status, 2, result.stderr)
            XCTAssertTrue(result.stderr.contains("copy.sqlite-wal is not beside it"), "\(verb) must name the missing -wal: \(result.stderr)")
        }
        for suffix in ["-wal", "-shm"] {
            XCTAssertFalse(FileManager.default.fileExists(atPath: copy + suffix), "reading the copy must not create \(suffix) beside it")
        }
        let whole = try CLI.run(["stats", trace])
        XCTAssertEqual(whole.status, 0, "with its -wal beside it the crashed trace reads: \(whole.stderr)")
    }

    func testCrashedTrace_onAReadOnlyFileSystemWithoutItsSHM_saysWhatToDo() throws {
        let trace = try crashedTrace()
        let mount = try SmallTmpfs(kibibytes: 8192)
        defer { mount.unmount() }
        for suffix in ["", "-wal"] {
            try FileManager.default.copyItem(atPath: trace + suffix, toPath: mount.path + "/t.sqlite" + suffix)
        }
        try mount.remountReadOnly()
        let result = try CLI.run(["stats", mount.path + "/t.sqlite"])
        XCTAssertEqual(result.status, 2)
        XCTAssertTrue(result.stderr.contains("t.sqlite-shm") && result.stderr.contains("read-only"),
                      "the message must say the -shm cannot be created on a read-only file system: \(result.stderr)")
    }

    // MARK: helpers

    /// Runs `polltrace` through a shell command (`$0` is the binary, `$@` the arguments).
    private func shell(_ script: String, _ arguments: [String], bash: Bool = false) throws -> CLIResult {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: bash ? "/bin/bash" : "/bin/sh")
        process.arguments = ["-c", script, CLI.binary.path] + arguments
        let err = Pipe()
        process.standardError = err
        process.standardOutput = FileHandle.nullDevice
        try process.run()
        let data = err.fileHandleForReading.readDataToEndOfFile()
        process.waitUntilExit()
        return CLIResult(status: process.terminationStatus, stdout: "", stderr: String(decoding: data, as: UTF8.self))
    }
}

/// A tmpfs of a given size, for a disk that fills up. Skips the test where the
/// kernel refuses the mount (not root, or in a container without the capability).
struct SmallTmpfs {
    let path: String

    init(kibibytes: Int) throws {
        path = FileManager.default.temporaryDirectory.appendingPathComponent("polltrace-full-\(UUID().uuidString)").path
        try FileManager.default.createDirectory(atPath: path, withIntermediateDirectories: true)
        let process = Process()
        process.executableURL = URL(fileURLWithPath: "/bin/mount")
        process.arguments = ["-t", "tmpfs", "-o", "size=\(kibibytes)k", "tmpfs", path]
        process.standardError = FileHandle.nullDevice
        try process.run()
        process.waitUntilExit()
        if process.terminationStatus != 0 {
            try? FileManager.default.removeItem(atPath: path)
            throw XCTSkip("cannot mount a small tmpfs here (needs root and CAP_SYS_ADMIN); the full-disk case is not tested")
        }
    }

    func remountReadOnly() throws {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: "/bin/mount")
        process.arguments = ["-o", "remount,ro", path]
        try process.run()
        process.waitUntilExit()
        if process.terminationStatus != 0 { throw XCTSkip("cannot remount the tmpfs read-only here") }
    }

    func unmount() {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: "/bin/umount")
        process.arguments = [path]
        try? process.run()
        process.waitUntilExit()
        try? FileManager.default.removeItem(atPath: path)
    }
}
