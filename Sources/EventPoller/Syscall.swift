import CLinux
import Glibc

/// A system call failed. `call` names it (the wrapper's `#function`), `errno` says why.
public struct SyscallError: Error, Hashable, Sendable, CustomStringConvertible {
    public var call: String
    public var errno: Int32

    public init(call: String, errno: Int32) {
        self.call = call; self.errno = errno
    }

    public var description: String {
        let reason = String(cString: strerror(errno))
        return "\(call) failed: \(reason) (errno \(errno))"
    }
}

/// What a non-blocking call did: its result, or "try again later" (`EAGAIN`), which
/// is an ordinary outcome on a non-blocking fd and not an error.
public enum IOResult<Value: Sendable>: Sendable {
    case processed(Value)
    case wouldBlock
}

extension IOResult: Equatable where Value: Equatable {}

/// Runs one system call: retries `EINTR`, reports `EAGAIN` as `.wouldBlock` (when the
/// fd is non-blocking), and throws every other failure as a `SyscallError` naming the
/// call.
///
/// `@inline(never)`, like every wrapper that calls it: errno is thread-local and
/// any code the compiler inlines between the call and the read (ARC traffic, a
/// `deinit`) may overwrite it. Keeping the call and the read in one small, opaque
/// frame leaves nothing in between.
@inline(never)
func syscall<T: FixedWidthInteger & Sendable>(
    blocking: Bool,
    where function: String = #function,
    _ body: () throws -> T
) throws -> IOResult<T> {
    while true {
        let result = try body()
        if result != -1 { return .processed(result) }
        let err = clinux_errno()
        switch err {
        case EINTR:
            continue
        case EAGAIN where !blocking, EWOULDBLOCK where !blocking:
            return .wouldBlock
        default:
            throw SyscallError(call: function, errno: err)
        }
    }
}

/// `syscall` for calls that cannot return `EAGAIN` (or where it would be a failure).
@inline(never)
func syscallValue<T: FixedWidthInteger & Sendable>(
    where function: String = #function,
    _ body: () throws -> T
) throws -> T {
    switch try syscall(blocking: true, where: function, body) {
    case .processed(let value): return value
    case .wouldBlock: throw SyscallError(call: function, errno: EAGAIN)
    }
}

/// The monotonic clock every record's `timeNs` uses.
@inline(__always)
func monotonicNow() -> UInt64 { UInt64(clinux_monotonic_ns()) }
