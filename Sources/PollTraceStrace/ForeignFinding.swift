import PollTraceCore
/// One hazard found in a foreign (strace-imported) trace, with the log lines that
/// show it. Line numbers are 1-based lines of the strace log.
public struct ForeignFinding: Hashable, Sendable, Comparable {
    public enum Kind: String, Sendable, CaseIterable {
        /// An fd from a batch was closed before its event was handled, and its number
        /// was created again before the thread's next wait on that epoll fd: a loop
        /// that looks handlers up by fd would hand the old event to the new fd.
        case reuseWithinBatch = "reuse_within_batch"
        /// The same, and the new fd was then read, written, accepted… before the next
        /// wait: the seed's bug, most likely happening.
        case likelyStaleDispatch = "likely_stale_dispatch"
        /// An event for a registration whose fd number was closed (a dup kept the
        /// file open, so the kernel kept the registration).
        case orphanEvent = "orphan_event"
        /// An event whose `epoll_data` no registration on that epoll fd ever carried.
        case ghostEvent = "ghost_event"
    }

    public var kind: Kind
    /// The thread that harvested the event.
    public var tid: Int32
    public var fdTable: UInt32
    public var epollFD: Int32
    /// The fd the event was for (-1 for a ghost event).
    public var fd: Int32
    public var mask: String
    public var data: UInt64
    public var waitLine: UInt32
    public var closeLine: UInt32?
    /// The line that took the event's key again: created its fd number again, or
    /// (when `followsWord`) registered its data word for an fd.
    public var reuseLine: UInt32?
    /// The fd that took the key first (the same number, unless `followsWord`).
    public var reuseFD: Int32?
    /// True when `epoll_data` is not the fd (a pointer): the loop finds the handler
    /// by the word, so the event is followed to the fds its word is registered for.
    public var followsWord = false
    /// The first data call on the new fd before the next wait.
    public var accessLine: UInt32?
    public var accessCall: String?
    public var accessResult: Int64?
    public var accessErrno: Int32?
    /// The label of the registration the event was harvested for (the fd's `-yy`
    /// annotation at its ADD: a socket's addresses, a file's path), when the log has it.
    public var handler: String?
    /// The label of the registration whose handler the stale dispatch reached.
    public var accessHandler: String?
    /// For orphan events: where the registration was made.
    public var registeredLine: UInt32?

    public static func < (a: ForeignFinding, b: ForeignFinding) -> Bool {
        (a.waitLine, a.fd, a.kind.rawValue) < (b.waitLine, b.fd, b.kind.rawValue)
    }

    /// ` (label)`, with control characters escaped so a label cannot forge report lines.
    private func named(_ label: String?) -> String {
        guard let label, !label.isEmpty else { return "" }
        var out = ""
        for scalar in label.unicodeScalars {
            if scalar.value < 0x20 || scalar.value == 0x7F { out += "\\x" + String(scalar.value, radix: 16) }
            else { out.unicodeScalars.append(scalar) }
        }
        return " (\(out))"
    }

    private var reuse: String {
        followsWord
            ? "its epoll_data registered again for fd \(reuseFD ?? -1) at line \(reuseLine ?? 0)"
            : "number reused at line \(reuseLine ?? 0)"
    }

    /// One sentence a user can check against the log.
    public var sentence: String {
        let at = "epoll fd \(epollFD) (tid \(tid)), wait at line \(waitLine)"
        switch kind {
        case .reuseWithinBatch:
            return "reuse within batch: fd \(fd)\(named(handler)) [\(mask)] harvested at \(at); closed unhandled at line "
                + "\(closeLine ?? 0), \(reuse) before the next wait"
        case .likelyStaleDispatch:
            var access = "\(accessCall ?? "?") at line \(accessLine ?? 0)"
            if let result = accessResult {
                access += result < 0 && (accessErrno ?? 0) != 0 ? " = -1 \(ErrnoNames.name(accessErrno!))" : " (= \(result))"
            }
            return "likely stale dispatch: fd \(fd)\(named(handler)) [\(mask)] harvested at \(at); closed unhandled at line "
                + "\(closeLine ?? 0), \(reuse), new fd\(named(accessHandler)) accessed by \(access)"
        case .orphanEvent:
            return "orphan event: fd \(fd) [\(mask)] at \(at); the fd was closed at line \(closeLine ?? 0) "
                + "but its registration (line \(registeredLine ?? 0)) lives on through another fd to the same file"
        case .ghostEvent:
            return "ghost event: data 0x\(String(data, radix: 16)) [\(mask)] at \(at); "
                + "no registration on this epoll fd ever carried it"
        }
    }
}
