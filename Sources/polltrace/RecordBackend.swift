import ArgumentParser
import Foundation
import PollTraceStrace

/// Which recorder `polltrace record` uses.
enum RecordBackend: String, ExpressibleByArgument, CaseIterable {
    /// A BPF program in the kernel (libbpf, ring buffer): near the program's own speed; root, BPF and BTF.
    case ebpf
    /// strace (ptrace): works anywhere strace does; much slower.
    case strace
    /// eBPF where this machine allows it, else strace (with a note saying why).
    case auto
}

/// The eBPF side of `record`: checks the machine, records, imports.
enum EBPFRecording {
    /// Records with eBPF when `record.backend` says so and the machine allows it.
    /// Returns false when `record` should go on with strace; throws exit 2 when eBPF
    /// was required and is unavailable.
    static func runIfChosen(_ record: Record) throws -> Bool {
        guard record.backend != .strace else { return false }
        let loader: String
        do {
            loader = try EBPFAvailability.check()
        } catch let unavailable as EBPFAvailability.Unavailable {
            if record.backend == .auto {
                FileHandle.standardError.write(Data("note: \(unavailable.reason); recording with strace instead\n".utf8))
                return false
            }
            throw ImportOutput.fail(unavailable.description)
        }
        let logPath = record.log ?? FileManager.default.temporaryDirectory
            .appendingPathComponent("polltrace-record-\(getpid()).strace").path
        defer { if record.log == nil { try? FileManager.default.removeItem(atPath: logPath) } }
        if !record.force && FileManager.default.fileExists(atPath: record.output) {
            throw ImportOutput.fail("\(record.output) exists (--force replaces it)")
        }
        // Ctrl-C ends the program (or, with --pid, the recording); the recording is still imported.
        signal(SIGINT) { _ in }
        let target: EBPFRecorder.Target = record.pid.map { .pid($0, seconds: record.seconds) } ?? .command(record.command)
        let outcome: EBPFRecorder.Outcome
        do {
            outcome = try EBPFRecorder(loader: loader)
                .record(target, log: logPath, workDirectory: FileManager.default.temporaryDirectory.path,
                        stdoutToStderr: record.json)
        } catch {
            throw ImportOutput.fail("\(error)")
        }
        if let status = outcome.commandStatus, status != 0 {
            FileHandle.standardError.write(Data("note: the traced command exited with status \(status)\n".utf8))
        }
        if outcome.translation.lostEvents > 0 {
            FileHandle.standardError.write(Data(
                "warning: the kernel buffer overflowed: \(outcome.translation.lostEvents) events lost (gap records in the trace)\n".utf8))
        }
        try ImportOutput.importAndReport(log: logPath, trace: record.output, force: record.force, json: record.json)
        return true
    }
}
