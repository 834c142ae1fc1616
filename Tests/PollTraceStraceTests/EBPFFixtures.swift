import Foundation
import PollTraceStrace
import XCTest

/// Runs programs under the eBPF recorder for the tests, which skip (with the reason)
/// only where this machine cannot run it: not root, no loader, clang or libbpf headers, no BTF,
/// or a kernel that refuses BPF.
enum EBPFFixtures {
    static func recorder() throws -> EBPFRecorder {
        do {
            return EBPFRecorder(loader: try EBPFAvailability.check())
        } catch let unavailable as EBPFAvailability.Unavailable {
            throw XCTSkip("\(unavailable)")
        }
    }

    /// Records `program` with eBPF; returns the translated log's path.
    static func record(_ program: URL, arguments: [String] = [], in dir: URL) throws -> (log: String, outcome: EBPFRecorder.Outcome) {
        let log = dir.appendingPathComponent(program.lastPathComponent + ".ebpf.strace").path
        let outcome = try recorder().record(.command([program.path] + arguments), log: log, workDirectory: dir.path)
        XCTAssertEqual(outcome.commandStatus, 0, "the fixture program \(program.lastPathComponent) failed under eBPF")
        return (log, outcome)
    }

    /// What a finding says about the program, without what differs between two
    /// recordings of it (line numbers, tids; with `data: false`, the data word, for a
    /// program whose words are heap pointers).
    static func signature(_ report: ForeignReport, data: Bool = true) -> [String] {
        report.findings.map { f in
            "\(f.kind) fd=\(f.fd) epfd=\(f.epollFD) mask=\(f.mask) data=\(data ? String(f.data) : "-")"
                + " reuse_fd=\(f.reuseFD.map(String.init) ?? "-") access=\(f.accessCall ?? "-")"
                + " errno=\(f.accessErrno.map(String.init) ?? "-") closed=\(f.closeLine != nil) reused=\(f.reuseLine != nil)"
        }
    }
}
