/// Readiness and interest bits, as the trace stores them.
///
/// The raw values are the kernel's `EPOLL*` bits (a fixed Linux ABI), so a mask in a
/// trace reads the same in `sqlite3` as in `strace`. The epoll wrapper converts the
/// kernel's vocabulary into this one in exactly one place and checks that they agree.
public struct IOEvents: OptionSet, Hashable, Sendable, CustomStringConvertible {
    public var rawValue: UInt32
    public init(rawValue: UInt32) { self.rawValue = rawValue }

    public static let readable = IOEvents(rawValue: 0x001)        // EPOLLIN
    public static let priority = IOEvents(rawValue: 0x002)        // EPOLLPRI
    public static let writable = IOEvents(rawValue: 0x004)        // EPOLLOUT
    public static let error = IOEvents(rawValue: 0x008)           // EPOLLERR
    public static let hangup = IOEvents(rawValue: 0x010)          // EPOLLHUP
    public static let readHangup = IOEvents(rawValue: 0x2000)     // EPOLLRDHUP
    public static let exclusive = IOEvents(rawValue: 1 << 28)     // EPOLLEXCLUSIVE
    public static let oneShot = IOEvents(rawValue: 1 << 30)       // EPOLLONESHOT
    public static let edgeTriggered = IOEvents(rawValue: 1 << 31) // EPOLLET

    /// Conditions the kernel reports whether or not they were asked for.
    public static let alwaysReported: IOEvents = [.error, .hangup]
    /// Bits that change how the kernel reports, not what is ready.
    public static let modeFlags: IOEvents = [.exclusive, .oneShot, .edgeTriggered]

    /// What of this ready mask a registration with `interest` is told of: the bits
    /// it asked for, and errors and hangups, which the kernel reports whether asked
    /// for or not. The dispatcher delivers this; replay and the tests judge by it.
    @inline(__always)
    public func deliverable(to interest: IOEvents) -> IOEvents {
        intersection(interest.union(.alwaysReported))
    }

    private static let names: [(IOEvents, String)] = [
        (.readable, "IN"), (.priority, "PRI"), (.writable, "OUT"), (.error, "ERR"),
        (.hangup, "HUP"), (.readHangup, "RDHUP"), (.exclusive, "EXCLUSIVE"),
        (.oneShot, "ONESHOT"), (.edgeTriggered, "ET"),
    ]

    /// `IN|OUT`, or `0` when empty; unknown bits print as hex so nothing is hidden.
    public var description: String {
        var parts: [String] = []
        var rest = rawValue
        for (bit, name) in Self.names where contains(bit) {
            parts.append(name)
            rest &= ~bit.rawValue
        }
        if rest != 0 { parts.append("0x" + String(rest, radix: 16)) }
        return parts.isEmpty ? "0" : parts.joined(separator: "|")
    }
}
