import ArgumentParser
import Glibc

/// Every byte `polltrace` writes goes through here, unbuffered, with write(2).
///
/// Output that cannot be written (a full disk, a closed stdout, a reader that went
/// away) ends the command with exit 2 and, where stderr still works, one line
/// saying so: a report that was not delivered must not look like a success.
/// SIGPIPE is ignored (`prepare`), so a closed pipe is the EPIPE error
/// here rather than a silent death by signal.
enum Console {
    static func out(_ text: String) { write(text, to: STDOUT_FILENO, name: "stdout") }
    static func err(_ text: String) { write(text, to: STDERR_FILENO, name: "stderr") }

    /// Reports a bad-input error (a file that cannot be read, SQL that is refused)
    /// and returns the exit code for it: 2, as documented.
    /// With `trace`, a hint follows when the trace cannot be read for a file
    /// missing beside it (`TraceFileHint`).
    static func badInput(_ error: Error, trace: String? = nil) -> ExitCode {
        err("polltrace: error: \(error)\n")
        if let trace, let hint = TraceFileHint.explain(trace) { err("polltrace: note: \(hint)\n") }
        return ExitCode(2)
    }

    /// Called once at start-up, before anything is written or opened: ignores
    /// SIGPIPE, and notes a standard stream that was closed and fills its slot with
    /// /dev/null, so that no file opened later (a trace) takes fd 1 or 2 and receives
    /// the report. Output to a stream that was closed fails with EBADF.
    static func prepare() {
        signal(SIGPIPE, SIG_IGN)
        for fd in [STDIN_FILENO, STDOUT_FILENO, STDERR_FILENO] where fcntl(fd, F_GETFD) == -1 && errno == EBADF {
            closedAtStart.insert(fd)
            let filler = open("/dev/null", fd == STDIN_FILENO ? O_RDONLY : O_WRONLY)
            if filler >= 0, filler != fd { dup2(filler, fd); close(filler) }
        }
    }

    nonisolated(unsafe) private static var closedAtStart: Set<Int32> = []

    private static func write(_ text: String, to fd: Int32, name: String) {
        var text = text
        let failure: Int32? = closedAtStart.contains(fd) ? EBADF : text.withUTF8 { bytes in
            var offset = 0
            while offset < bytes.count {
                let n = Glibc.write(fd, bytes.baseAddress! + offset, bytes.count - offset)
                if n > 0 { offset += n; continue }
                let code = n < 0 ? errno : ENOSPC
                if code == EINTR { continue }
                return code
            }
            return nil
        }
        guard let failure else { return }
        if fd != STDERR_FILENO, !closedAtStart.contains(STDERR_FILENO) {
            let message = "polltrace: error: cannot write to \(name): \(String(cString: strerror(failure)))\n"
            _ = message.withCString { Glibc.write(STDERR_FILENO, $0, strlen($0)) }
        }
        exit(2)
    }
}
