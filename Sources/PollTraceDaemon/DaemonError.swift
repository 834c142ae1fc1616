import EventPoller
import Glibc

/// Why the daemon could not start, in words an operator can act on.
public enum DaemonError: Error, CustomStringConvertible {
    case traceDirectory(path: String, reason: String)
    case traceFile(directory: String, reason: String)
    case listen(address: String, port: UInt16, reason: String)

    public var description: String {
        switch self {
        case .traceDirectory(let path, let reason):
            "cannot create the trace directory '\(path)': \(reason)"
        case .traceFile(let directory, let reason):
            "cannot create a trace file in '\(directory)': \(reason)"
        case .listen(let address, let port, let reason):
            "cannot listen on \(address):\(port): \(reason)"
        }
    }

    /// The system's words for a failed call ("Address already in use").
    static func reason(_ error: any Error) -> String {
        if let error = error as? SyscallError { return String(cString: strerror(error.errno)) }
        return "\(error)"
    }

    /// True when a failure means "that address is taken" (the API's 409).
    static func isAddressInUse(_ error: any Error) -> Bool {
        (error as? SyscallError)?.errno == EADDRINUSE
    }
}
