/// What the importer could not read, counted by kind, with the first line numbers of
/// each so a user can look at them. Import goes on past every one of these.
public struct ImportDiagnostics: Sendable, Equatable {
    public enum Kind: String, CaseIterable, Sendable, Comparable {
        /// The last line ends mid-call (strace was killed while printing).
        case truncatedLastLine = "truncated_last_line"
        /// A call line cut short before its end, not at the end of the log.
        case truncatedLine = "truncated_line"
        /// Not a call, signal, exit or strace message.
        case garbage
        /// A name no Linux kernel has as a syscall.
        case unknownSyscall = "unknown_syscall"
        /// `<... x resumed>` with no `x(… <unfinished ...>` before it on that thread.
        case resumedWithoutStart = "resumed_without_start"
        /// A thread started a second call before the first resumed.
        case unfinishedReplaced = "unfinished_replaced"
        /// Still unfinished when the log ended or the thread exited.
        case neverResumed = "never_resumed"
        /// A call the importer follows whose arguments or result it could not read.
        case unreadableArguments = "unreadable_arguments"
        /// strace abbreviated an epoll_wait event array (`...`); events are missing.
        case abbreviatedEvents = "abbreviated_events"
        /// A new fd took a number the log never showed closed (closed outside the
        /// log, e.g. by exec's close-on-exec); the importer closed it first.
        case openedWhileOpen = "opened_while_open"
        /// A line longer than the reader's limit (`LogReader.maxLineBytes`): skipped.
        case lineTooLong = "line_too_long"
        /// A `+++ lost N events +++` line: the recorder dropped events here (each is
        /// a gap record in the trace).
        case lostEvents = "lost_events"

        public static func < (a: Kind, b: Kind) -> Bool { a.rawValue < b.rawValue }
    }

    /// How many line numbers of each kind are kept.
    public static let keptLinesPerKind = 20

    public private(set) var counts: [Kind: Int] = [:]
    public private(set) var lines: [Kind: [UInt32]] = [:]
    /// Calls whose two halves were joined (interleaved threads); not an error.
    public internal(set) var stitchedCalls = 0

    public init() {}

    mutating func note(_ kind: Kind, line: UInt32) {
        counts[kind, default: 0] += 1
        if lines[kind, default: []].count < Self.keptLinesPerKind { lines[kind, default: []].append(line) }
    }

    mutating func restore(_ kind: Kind, count: Int, lines kept: [UInt32]) {
        counts[kind] = count
        lines[kind] = kept
    }

    mutating func removeLast(_ kind: Kind) {
        guard let count = counts[kind], count > 0 else { return }
        counts[kind] = count == 1 ? nil : count - 1
        if count == 1 { lines[kind] = nil } else if lines[kind]?.count == count { lines[kind]?.removeLast() }
    }

    public var total: Int { counts.values.reduce(0, +) }

    /// One line per kind: `garbage: 2 (lines 7, 19)`.
    public var summary: [String] {
        counts.keys.sorted().map { kind in
            let shown = (lines[kind] ?? []).map(String.init).joined(separator: ", ")
            let more = counts[kind]! > (lines[kind]?.count ?? 0) ? ", …" : ""
            return "\(kind.rawValue): \(counts[kind]!) (line\(counts[kind]! == 1 ? "" : "s") \(shown)\(more))"
        }
    }
}
