import CLinux
import Glibc

/// A system call failed. `call` names it (the name its wrapper passes to `syscall`),
/// `errno` says why.
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
/// call. The name has no default: a default of `#function` names the Swift wrapper
/// (`create()`), not the call that failed (`epoll_create1`).
///
/// `@inline(never)`, like every wrapper that calls it: errno is thread-local and
/// any code the compiler inlines between the call and the read (ARC traffic, a
/// `deinit`) may overwrite it. Keeping the call and the read in one small, opaque
/// frame leaves nothing in between.
@inline(never)
func syscall<T: FixedWidthInteger & Sendable>(
    _ name: String,
    blocking: Bool,
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
            throw SyscallError(call: name, errno: err)
        }
    }
}

/// `syscall` for calls that cannot return `EAGAIN` (or where it would be a failure).
@inline(never)
func syscallValue<T: FixedWidthInteger & Sendable>(
    _ name: String,
    _ body: () throws -> T
) throws -> T {
    switch try syscall(name, blocking: true, body) {
    case .processed(let value): return value
    case .wouldBlock: throw SyscallError(call: name, errno: EAGAIN)
    }
}
