import Foundation
import Glibc

/// strace running for `record`, and how it is stopped.
///
/// strace runs in polltrace's process group, so a terminal's Ctrl-C reaches
/// polltrace, strace and (without `--pid`) the program, as for any foreground
/// command. polltrace blocks SIGINT, SIGTERM and SIGHUP and takes them while it
/// waits, so it is never killed before it imports what strace captured:
///
/// - Without `--pid`, a stop signal stops the program: polltrace passes on a
///   signal that was sent to it alone (the terminal already sent Ctrl-C to the
///   program), then SIGTERM after half a second and SIGKILL after one for a
///   program that ignores it. strace logs the program's end and exits by itself.
/// - With `--pid` (and when `--seconds` runs out), strace gets SIGINT, on which it
///   detaches (again after 0.5 and 1 s); the program keeps running. strace is
///   killed if it has not exited 1.5 s later.
struct StraceRun {
    enum Stop: Equatable {
        case none
        case signal(Int32)
        case timeLimit
    }

    let strace: pid_t
    let attached: Bool

    static func start(strace path: String, arguments: [String], attached: Bool, stdoutToStderr: Bool = false) throws -> StraceRun {
        ProcessCalls.blockStopSignals()
        return StraceRun(strace: try ProcessCalls.spawn(path, arguments, stdoutToStderr: stdoutToStderr), attached: attached)
    }

    /// Waits for strace to exit, stopping it as described above on a stop signal or
    /// when `deadline` passes. Returns how strace ended and what stopped it.
    func wait(deadline: Date?) -> (ending: ProcessCalls.Ending, stop: Stop) {
        var stop = Stop.none
        var stoppedAt: Date?
        var escalations = 0
        while true {
            if let ending = ProcessCalls.reap(strace) { return (ending, stop) }
            if let received = ProcessCalls.waitForSignal(milliseconds: 50), stop == .none {
                stop = .signal(received.signal)
                stoppedAt = Date()
                begin(signal: received.signal, sentByKill: received.sentByKill)
            } else if stop == .none, let deadline, Date() >= deadline {
                stop = .timeLimit
                stoppedAt = Date()
                ProcessCalls.send(SIGINT, to: strace)
            } else if let stoppedAt, Date().timeIntervalSince(stoppedAt) >= 0.5 * Double(escalations + 1) {
                escalations += 1
                escalate(step: escalations)
            }
        }
    }

    private func begin(signal: Int32, sentByKill: Bool) {
        if attached {
            if sentByKill { ProcessCalls.send(SIGINT, to: strace) }
        } else if sentByKill {
            for program in ProcessCalls.children(of: strace) { ProcessCalls.send(signal, to: program) }
        }
    }

    private func escalate(step: Int) {
        if attached {
            if step >= 3 { ProcessCalls.send(SIGKILL, to: strace) } else { ProcessCalls.send(SIGINT, to: strace) }
            return
        }
        let programs = ProcessCalls.children(of: strace)
        if programs.isEmpty {
            if step >= 3 { ProcessCalls.send(SIGKILL, to: strace) }
            return
        }
        for program in programs { ProcessCalls.send(step == 1 ? SIGTERM : SIGKILL, to: program) }
    }
}
