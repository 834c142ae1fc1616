import ArgumentParser
import Foundation
import PollTraceStrace
import Synchronization

/// The stop signal (SIGINT, SIGTERM, SIGHUP) the eBPF recording received, or 0.
/// Set by a handler, which exec resets in the children, unlike an ignored signal.
private let ebpfStopSignal = Atomic<Int32>(0)

/// Which recorder `polltrace record` uses.
enum RecordBackend: String, ExpressibleByArgument, CaseIterable {
    /// A BPF program in the kernel (libbpf, ring buffer): near the program's own speed; root, BPF and BTF.
    case ebpf
    /// strace (ptrace): works anywhere strace does; much slower.
    case strace
    /// eBPF where this machine allows it, else strace (with a note saying why); the
    /// default. An strace-only option (--strace-arg, --no-seccomp, --no-labels) chooses strace.
    case auto
}

/// The eBPF side of `record`: checks the machine, records, imports.
enum EBPFRecording {
    /// Records with eBPF when `record.backend` says so and the machine allows it.
    /// Returns false when `record` should go on with strace; throws exit 2 when eBPF
    /// was required and is unavailable.
    static func runIfChosen(_ record: Record) throws -> Bool {
        guard record.backend != .strace else { return false }
        if record.backend == .auto && record.asksForStrace { return false }
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
        if record.backend == .auto {
            FileHandle.standardError.write(Data("note: recording with eBPF (--backend strace records with strace)\n".utf8))
        }
        let logPath = record.log ?? FileManager.default.temporaryDirectory
            .appendingPathComponent("polltrace-record-\(getpid()).strace").path
        defer { if record.log == nil { try? FileManager.default.removeItem(atPath: logPath) } }
        if !record.force && FileManager.default.fileExists(atPath: record.output) {
            throw ImportOutput.fail("\(record.output) exists (--force replaces it)")
        }
        // Ctrl-C, SIGTERM and SIGHUP end the program (or, with --pid, the recording);
        // what was recorded is still imported.
        for stopSignal in [SIGINT, SIGTERM, SIGHUP] {
            signal(stopSignal) { ebpfStopSignal.store($0, ordering: .relaxed) }
        }
        let target: EBPFRecorder.Target = record.pid.map { .pid($0, seconds: record.seconds) } ?? .command(record.command)
        let outcome: EBPFRecorder.Outcome
        do {
            outcome = try EBPFRecorder(loader: loader)
                .record(target, log: logPath, workDirectory: FileManager.default.temporaryDirectory.path,
                        stdoutToStderr: record.json) {
                    let signal = ebpfStopSignal.load(ordering: .relaxed)
                    return signal == 0 ? nil : signal
                }
        } catch {
            throw ImportOutput.fail("\(error)")
        }
        if let signal = outcome.stoppedBy {
            FileHandle.standardError.write(Data("note: recording stopped by \(String(cString: strsignal(signal))); importing what was captured\n".utf8))
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
