import Foundation
import XCTest

/// `polltrace record --backend`: eBPF and strace give the same `analyze --json`
/// findings, and a machine without eBPF gets a reason and exit 2 (or, with `auto`,
/// strace).
final class RecordBackendTests: XCTestCase {
    private var directory: URL!

    override func setUpWithError() throws {
        directory = FileManager.default.temporaryDirectory.appendingPathComponent("polltrace-record-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
    }

    override func tearDownWithError() throws { try? FileManager.default.removeItem(at: directory) }

    private func seedLoop() throws -> String {
        let source = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
            .appendingPathComponent("StraceFixtures/seed_loop.c").path
        let output = directory.appendingPathComponent("seed_loop").path
        let result = try run("/usr/bin/env", ["cc", "-O0", "-o", output, source])
        guard result.status == 0 else { throw XCTSkip("cc could not build \(source): \(result.stderr)") }
        return output
    }

    /// Runs `executable`, with `path` as its PATH when given.
    private func run(_ executable: String, _ arguments: [String], path: String? = nil) throws -> CLIResult {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: executable)
        process.arguments = arguments
        if let path {
            var environment = ProcessInfo.processInfo.environment
            environment["PATH"] = path
            process.environment = environment
        }
        let out = directory.appendingPathComponent("out-\(UUID().uuidString)")
        let err = directory.appendingPathComponent("err-\(UUID().uuidString)")
        FileManager.default.createFile(atPath: out.path, contents: nil)
        FileManager.default.createFile(atPath: err.path, contents: nil)
        process.standardOutput = try FileHandle(forWritingTo: out)
        process.standardError = try FileHandle(forWritingTo: err)
        try process.run()
        process.waitUntilExit()
        return CLIResult(status: process.terminationStatus, stdout: try String(contentsOf: out, encoding: .utf8),
                         stderr: try String(contentsOf: err, encoding: .utf8))
    }

    /// `analyze --json`'s findings without line numbers and tids (two recordings differ
    /// there), nor fd numbers: run from the test process, the program under strace
    /// has been seen to start with one more fd open than under eBPF, which shifts
    /// every number; the data word is still the fd in both.
    private func findings(_ trace: String) throws -> [String] {
        let analyzed = try CLI.run(["analyze", "--json", trace])
        let document = CLI.json(analyzed.stdout) as? [String: Any]
        let list = try XCTUnwrap(document?["findings"] as? [[String: Any]], analyzed.stdout + analyzed.stderr)
        return list.map { f in
            ["kind", "mask", "access_call", "access_errno"]
                .map { "\($0)=\(f[$0].map { "\($0)" } ?? "nil")" }.joined(separator: " ")
                + " data_is_fd=\("\(f["data"] ?? "")" == "\(f["fd"] ?? "-")")"
        }
    }

    private var ebpfAvailable: Bool {
        geteuid() == 0 && FileManager.default.fileExists(atPath: "/sys/kernel/btf/vmlinux")
            && FileManager.default.fileExists(atPath: "/usr/include/bpf/bpf_helpers.h")
            && (ProcessInfo.processInfo.environment["PATH"] ?? "").split(separator: ":")
                .contains { FileManager.default.isExecutableFile(atPath: "\($0)/clang") }
    }

    func testSeedLoop_recordedWithEBPFAndWithStrace_analyzesToTheSameFindings() throws {
        guard ebpfAvailable else { throw XCTSkip("eBPF recording needs root, BTF, clang and libbpf-dev (.ci/run installs them)") }
        let program = try seedLoop()
        let viaEBPF = directory.appendingPathComponent("ebpf.trace").path
        let viaStrace = directory.appendingPathComponent("strace.trace").path
        let e = try CLI.run(["record", "--backend", "ebpf", "-o", viaEBPF, "--", program])
        if e.status == 2, e.stderr.contains("refused") { throw XCTSkip(e.stderr) }
        XCTAssertEqual(e.status, 1, "the seed loop has a finding:\n\(e.stdout)\(e.stderr)")
        let s = try CLI.run(["record", "--backend", "strace", "-o", viaStrace, "--", program])
        XCTAssertEqual(s.status, 1, s.stdout + s.stderr)
        let found = try findings(viaEBPF)
        XCTAssertEqual(found.count, 1, "\(found)")
        XCTAssertEqual(found, try findings(viaStrace))
    }

    func testEBPFWithoutClang_saysWhatToDo_andExits2() throws {
        let program = try seedLoop()
        let trace = directory.appendingPathComponent("none.trace").path
        let r = try run(CLI.binary.path, ["record", "--backend", "ebpf", "-o", trace, "--", program], path: "/nonexistent")
        XCTAssertEqual(r.status, 2, r.stdout + r.stderr)
        XCTAssertTrue(r.stderr.contains("eBPF recording is unavailable"), r.stderr)
        XCTAssertTrue(r.stderr.contains("--backend strace"), "it names the fallback: \(r.stderr)")
        if geteuid() == 0 && FileManager.default.fileExists(atPath: "/sys/kernel/btf/vmlinux") {
            XCTAssertTrue(r.stderr.contains("clang is not installed"), r.stderr)
        }
        XCTAssertFalse(FileManager.default.fileExists(atPath: trace), "no trace without a recording")
    }

    func testAutoWithoutClang_fallsBackToStrace_andSaysWhy() throws {
        guard FileManager.default.isExecutableFile(atPath: "/usr/bin/strace") else {
            throw XCTSkip("strace is not installed (.ci/run installs it)")
        }
        let program = try seedLoop()
        let trace = directory.appendingPathComponent("auto.trace").path
        // PATH without clang but with strace: a directory holding only a link to strace.
        let bin = directory.appendingPathComponent("bin")
        try FileManager.default.createDirectory(at: bin, withIntermediateDirectories: true)
        try FileManager.default.createSymbolicLink(atPath: bin.appendingPathComponent("strace").path,
                                                   withDestinationPath: "/usr/bin/strace")
        let r = try run(CLI.binary.path, ["record", "--backend", "auto", "-o", trace, "--", program], path: bin.path)
        XCTAssertTrue(r.stderr.contains("recording with strace instead"), r.stderr)
        XCTAssertEqual(r.status, 1, "strace recorded the seed loop's finding:\n\(r.stdout)\(r.stderr)")
        XCTAssertEqual(try findings(trace).count, 1)
    }

    func testEBPFAsAnUnprivilegedUser_saysNotRoot_andExits2() throws {
        guard geteuid() == 0, FileManager.default.isExecutableFile(atPath: "/usr/bin/setpriv") else {
            throw XCTSkip("needs root and setpriv to run the CLI as another user")
        }
        let trace = "/tmp/polltrace-unprivileged-\(UUID().uuidString).trace"
        let r = try run("/usr/bin/setpriv", ["--reuid=65534", "--regid=65534", "--clear-groups", CLI.binary.path,
                                             "record", "--backend", "ebpf", "-o", trace, "--", "/bin/true"])
        if r.stderr.contains("Permission denied") && r.status != 2 { throw XCTSkip("the built binary is not executable by nobody") }
        XCTAssertEqual(r.status, 2, r.stdout + r.stderr)
        XCTAssertTrue(r.stderr.contains("not running as root"), r.stderr)
    }

    func testDefaultBackend_whereEBPFWorks_recordsWithEBPF_andSaysSo() throws {
        guard ebpfAvailable else { throw XCTSkip("eBPF recording needs root, BTF, clang and libbpf-dev (.ci/run installs them)") }
        let program = try seedLoop()
        let trace = directory.appendingPathComponent("default.trace").path
        let r = try CLI.run(["record", "-o", trace, "--", program])
        if r.status == 2, r.stderr.contains("refused") { throw XCTSkip(r.stderr) }
        XCTAssertTrue(r.stderr.contains("recording with eBPF"), r.stderr)
        XCTAssertFalse(r.stderr.contains("recording with strace instead"), r.stderr)
        XCTAssertEqual(r.status, 1, "the seed loop's finding:\n\(r.stdout)\(r.stderr)")
        XCTAssertEqual(try findings(trace).count, 1)
    }

    func testEBPFWithAnStraceOnlyOption_isBadInput() throws {
        let trace = directory.appendingPathComponent("bad.trace").path
        for option in ["--no-seccomp", "--no-labels", "--strace-arg=-e"] {
            let r = try CLI.run(["record", "--backend", "ebpf", option, "-o", trace, "--", "/bin/true"])
            XCTAssertEqual(r.status, 2, "\(option): \(r.stderr)")
            XCTAssertTrue(r.stderr.contains("apply to --backend strace"), "\(option): \(r.stderr)")
        }
        XCTAssertFalse(FileManager.default.fileExists(atPath: trace))
    }

    /// SIGTERM to `record --backend ebpf`: the program is stopped, and what was
    /// recorded is imported.
    func testEBPFRecord_SIGTERM_stopsTheProgram_andImportsWhatWasRecorded() throws {
        guard ebpfAvailable else { throw XCTSkip("eBPF recording needs root, BTF, clang and libbpf-dev (.ci/run installs them)") }
        let pidFile = directory.appendingPathComponent("program.pid").path
        let trace = directory.appendingPathComponent("stopped.trace").path
        let process = Process()
        process.executableURL = CLI.binary
        process.arguments = ["record", "--backend", "ebpf", "-o", trace, "--", "/bin/sh", "-c",
                             "echo $$ > \(pidFile); while :; do sleep 0.1; done"]
        let err = directory.appendingPathComponent("stopped.err")
        FileManager.default.createFile(atPath: err.path, contents: nil)
        process.standardError = try FileHandle(forWritingTo: err)
        process.standardOutput = FileHandle.nullDevice
        try process.run()
        var program: Int32?
        let deadline = Date().addingTimeInterval(120)
        while program == nil && process.isRunning && Date() < deadline {
            program = (try? String(contentsOfFile: pidFile, encoding: .utf8)).flatMap { Int32($0.trimmingCharacters(in: .whitespacesAndNewlines)) }
            if program == nil { usleep(50_000) }
        }
        let pid = try XCTUnwrap(program, "the program started under the recorder")
        kill(process.processIdentifier, SIGTERM)
        process.waitUntilExit()
        let stderr = try String(contentsOf: err, encoding: .utf8)
        XCTAssertEqual(process.terminationReason, .exit, "polltrace must not die of the signal: \(stderr)")
        XCTAssertTrue([0, 1].contains(process.terminationStatus), stderr)
        XCTAssertTrue(stderr.contains("recording stopped by"), stderr)
        XCTAssertNotEqual(kill(pid, 0), 0, "the program (pid \(pid)) must be stopped")
        XCTAssertTrue(FileManager.default.fileExists(atPath: trace), stderr)
    }
}
