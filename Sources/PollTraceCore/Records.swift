/// One thing a traced process did to its fds or its event loop.
///
/// Every record carries `seq`, its place in a total order across all pollers of the
/// process, and `timeNs`, the monotonic clock when it happened. Because fds are
/// process-wide, a close on one poller and the reuse of its number on another must
/// order correctly: a close takes its number *before* `close(2)`, a new fd *after*
/// the call that created it, so a reuse can never sort before the close that freed it.
///
/// `poller` is the poller whose thread made the record (0 when it was made off any
/// poller thread). Records made on a poller's thread between one of its dispatches
/// and its next dispatch or batch are that dispatch's side effects: that is how the
/// analyzer knows which handler closed an fd or opened a new one.
public enum TraceRecord: Hashable, Sendable {
    case fdOpened(FDOpened)
    case registered(Registered)
    case modified(Modified)
    case unregistered(Unregistered)
    case closed(Closed)
    case batch(BatchHarvested)
    case dispatch(Dispatch)
    case gap(Gap)
    /// An `epoll_ctl` (or other fd call made through the poller) that failed.
    case callFailed(CallFailed)
    /// A system call on an fd seen in an imported strace log (no EventPoller record
    /// says what the loop did, so the analyzer reasons from these calls).
    case syscall(SyscallRecord)

    public var seq: SequenceNumber {
        switch self {
        case .fdOpened(let r): r.seq
        case .registered(let r): r.seq
        case .modified(let r): r.seq
        case .unregistered(let r): r.seq
        case .closed(let r): r.seq
        case .batch(let r): r.seq
        case .dispatch(let r): r.seq
        case .gap(let r): r.seq
        case .callFailed(let r): r.seq
        case .syscall(let r): r.seq
        }
    }

    public var poller: PollerID {
        switch self {
        case .fdOpened(let r): r.poller
        case .registered(let r): r.poller
        case .modified(let r): r.poller
        case .unregistered(let r): r.poller
        case .closed(let r): r.poller
        case .batch(let r): r.poller
        case .dispatch(let r): r.poller
        case .gap: 0
        case .callFailed(let r): r.poller
        case .syscall(let r): r.poller
        }
    }

    public var timeNs: UInt64 {
        switch self {
        case .fdOpened(let r): r.timeNs
        case .registered(let r): r.timeNs
        case .modified(let r): r.timeNs
        case .unregistered(let r): r.timeNs
        case .closed(let r): r.timeNs
        case .batch(let r): r.timeNs
        case .dispatch(let r): r.timeNs
        case .gap(let r): r.timeNs
        case .callFailed(let r): r.timeNs
        case .syscall(let r): r.timeNs
        }
    }

    public var kind: RecordKind {
        switch self {
        case .fdOpened: .fdOpened
        case .registered: .registered
        case .modified: .modified
        case .unregistered: .unregistered
        case .closed: .closed
        case .batch: .batch
        case .dispatch: .dispatch
        case .gap: .gap
        case .callFailed: .callFailed
        case .syscall: .syscall
        }
    }
}

/// The kind of a record, as stored in the `kind` columns of the schema.
public enum RecordKind: UInt8, CaseIterable, Sendable, CustomStringConvertible {
    case fdOpened = 1, registered, modified, unregistered, closed, batch, dispatch, gap, callFailed, syscall

    public var description: String {
        switch self {
        case .fdOpened: "fd_opened"
        case .registered: "registered"
        case .modified: "modified"
        case .unregistered: "unregistered"
        case .closed: "closed"
        case .batch: "batch"
        case .dispatch: "dispatch"
        case .gap: "gap"
        case .callFailed: "call_failed"
        case .syscall: "syscall"
        }
    }
}

/// What created an fd. Stored as its raw value.
public enum FDOrigin: UInt8, CaseIterable, Sendable, CustomStringConvertible {
    case socket = 1, accept, eventfd, timerfd, pipe, epoll, dup, file, socketpair, signalfd, memfd
    /// Created outside the poller and reported to it (`EventPoller.adopt`).
    case reported
    case other

    public var description: String {
        switch self {
        case .socket: "socket"
        case .accept: "accept"
        case .eventfd: "eventfd"
        case .timerfd: "timerfd"
        case .pipe: "pipe"
        case .epoll: "epoll"
        case .dup: "dup"
        case .file: "file"
        case .socketpair: "socketpair"
        case .signalfd: "signalfd"
        case .memfd: "memfd"
        case .reported: "reported"
        case .other: "other"
        }
    }
}

public struct FDOpened: Hashable, Sendable {
    public var seq: SequenceNumber
    public var timeNs: UInt64
    public var poller: PollerID
    public var fd: Int32
    public var origin: FDOrigin
    public init(seq: SequenceNumber, timeNs: UInt64, poller: PollerID, fd: Int32, origin: FDOrigin) {
        self.seq = seq; self.timeNs = timeNs; self.poller = poller; self.fd = fd; self.origin = origin
    }
}

/// `EPOLL_CTL_ADD` succeeded: `fd` is now in `poller`'s interest list under a new id.
public struct Registered: Hashable, Sendable {
    public var seq: SequenceNumber
    public var timeNs: UInt64
    public var poller: PollerID
    public var registrationID: RegistrationID
    public var fd: Int32
    public var interest: IOEvents
    /// The word handed to the kernel in `epoll_data`; the kernel returns it verbatim.
    public var data: UInt64
    /// A human name for the handler ("rtp-udp:40000", "control-api").
    public var handlerLabel: String
    public init(seq: SequenceNumber, timeNs: UInt64, poller: PollerID, registrationID: RegistrationID,
                fd: Int32, interest: IOEvents, data: UInt64, handlerLabel: String) {
        self.seq = seq; self.timeNs = timeNs; self.poller = poller; self.registrationID = registrationID
        self.fd = fd; self.interest = interest; self.data = data; self.handlerLabel = handlerLabel
    }
}

/// `EPOLL_CTL_MOD` succeeded.
public struct Modified: Hashable, Sendable {
    public var seq: SequenceNumber
    public var timeNs: UInt64
    public var poller: PollerID
    public var registrationID: RegistrationID
    public var fd: Int32
    public var interest: IOEvents
    public init(seq: SequenceNumber, timeNs: UInt64, poller: PollerID, registrationID: RegistrationID,
                fd: Int32, interest: IOEvents) {
        self.seq = seq; self.timeNs = timeNs; self.poller = poller; self.registrationID = registrationID
        self.fd = fd; self.interest = interest
    }
}

/// `EPOLL_CTL_DEL` succeeded, or a registration ended because its fd was closed.
public struct Unregistered: Hashable, Sendable {
    public var seq: SequenceNumber
    public var timeNs: UInt64
    public var poller: PollerID
    public var registrationID: RegistrationID
    public var fd: Int32
    public init(seq: SequenceNumber, timeNs: UInt64, poller: PollerID, registrationID: RegistrationID, fd: Int32) {
        self.seq = seq; self.timeNs = timeNs; self.poller = poller; self.registrationID = registrationID; self.fd = fd
    }
}

/// `close(fd)` is about to be called. The number is taken before the call so that
/// no reuse of `fd` can be ordered before it.
public struct Closed: Hashable, Sendable {
    public var seq: SequenceNumber
    public var timeNs: UInt64
    public var poller: PollerID
    public var fd: Int32
    public init(seq: SequenceNumber, timeNs: UInt64, poller: PollerID, fd: Int32) {
        self.seq = seq; self.timeNs = timeNs; self.poller = poller; self.fd = fd
    }
}

/// One event as `epoll_wait` returned it.
public struct HarvestedEvent: Hashable, Sendable {
    public var fd: Int32
    public var mask: IOEvents
    /// `epoll_data.u64` exactly as the kernel returned it.
    public var data: UInt64
    public init(fd: Int32, mask: IOEvents, data: UInt64) {
        self.fd = fd; self.mask = mask; self.data = data
    }
}

/// `epoll_wait` returned. `timeNs` is when it returned (the harvest).
public struct BatchHarvested: Hashable, Sendable {
    public var seq: SequenceNumber
    public var timeNs: UInt64
    public var poller: PollerID
    /// Counts this poller's batches from 1.
    public var batchNumber: UInt64
    /// The timeout passed to `epoll_wait`, in ms; -1 waits forever.
    public var timeoutMs: Int32
    /// How long `epoll_wait` blocked.
    public var waitedNs: UInt64
    /// In the order the kernel returned them; the loop dispatches them in this order.
    public var events: [HarvestedEvent]
    public init(seq: SequenceNumber, timeNs: UInt64, poller: PollerID, batchNumber: UInt64,
                timeoutMs: Int32, waitedNs: UInt64, events: [HarvestedEvent]) {
        self.seq = seq; self.timeNs = timeNs; self.poller = poller; self.batchNumber = batchNumber
        self.timeoutMs = timeoutMs; self.waitedNs = waitedNs; self.events = events
    }
}

/// What a dispatch was for.
public enum DispatchSource: UInt8, Sendable, CaseIterable {
    /// An event of a batch (`batchSeq`, `eventIndex`).
    case event = 1
    case timer
    /// A task posted from another thread.
    case task
}

/// Why a dispatch ran no handler. Stored as its raw value.
public enum SuppressionReason: UInt8, Hashable, Sendable, CaseIterable, CustomStringConvertible {
    /// The fd has a newer registration than the one the event was harvested for.
    case registrationReplaced = 1
    /// The registration the event was harvested for is closed or unregistered, and
    /// the fd number has no current registration.
    case registrationGone
    /// The registration is current, but none of the ready bits are in its interest now.
    case notInterested
    /// The loop found no handler for the fd (naive or snapshot lookup came back empty).
    case noHandler

    public var description: String {
        switch self {
        case .registrationReplaced: "registration_replaced"
        case .registrationGone: "registration_gone"
        case .notInterested: "not_interested"
        case .noHandler: "no_handler"
        }
    }

    /// True when the suppression was the stale-event guard at work, as opposed to
    /// the loop simply having no handler or no interest.
    public var isStalenessGuard: Bool { self == .registrationReplaced || self == .registrationGone }
}

/// A handler ran (or was suppressed) for one event, timer or task.
///
/// `seq` is taken when the dispatch *starts*, before the handler runs; the record is
/// appended when it ends. So replay in sequence order sees the fd table exactly as
/// the handler saw it, and the handler's own closes and opens follow the dispatch.
public struct Dispatch: Hashable, Sendable {
    public var seq: SequenceNumber
    /// When the dispatch started.
    public var timeNs: UInt64
    public var poller: PollerID
    public var source: DispatchSource
    /// For `.event`: the batch record's seq and the event's index in it. 0 otherwise.
    public var batchSeq: SequenceNumber
    public var eventIndex: UInt32
    /// The registration whose handler ran; for timers and tasks, their id. 0 when suppressed.
    public var ranRegistrationID: RegistrationID
    /// The mask handed to the handler (after any intersection with the interest).
    public var deliveredMask: IOEvents
    /// nil when a handler ran.
    public var suppression: SuppressionReason?
    /// The handler threw; the loop logged it and went on.
    public var handlerThrew: Bool
    public var durationNs: UInt64
    public init(seq: SequenceNumber, timeNs: UInt64, poller: PollerID, source: DispatchSource,
                batchSeq: SequenceNumber, eventIndex: UInt32, ranRegistrationID: RegistrationID,
                deliveredMask: IOEvents, suppression: SuppressionReason?, handlerThrew: Bool, durationNs: UInt64) {
        self.seq = seq; self.timeNs = timeNs; self.poller = poller; self.source = source
        self.batchSeq = batchSeq; self.eventIndex = eventIndex; self.ranRegistrationID = ranRegistrationID
        self.deliveredMask = deliveredMask; self.suppression = suppression; self.handlerThrew = handlerThrew
        self.durationNs = durationNs
    }
}

/// Records `firstLost...lastLost` were dropped because the writer fell behind in
/// `drop` mode. The gap takes a sequence number of its own, after the lost ones.
public struct Gap: Hashable, Sendable {
    public var seq: SequenceNumber
    public var timeNs: UInt64
    public var firstLost: SequenceNumber
    public var lastLost: SequenceNumber
    /// How many records were lost (sequence numbers in the range may belong to
    /// records that were kept, when several threads record at once).
    public var lostCount: UInt64
    /// When the first and last lost records were made.
    public var fromTimeNs: UInt64
    public var toTimeNs: UInt64
    public init(seq: SequenceNumber, timeNs: UInt64, firstLost: SequenceNumber, lastLost: SequenceNumber,
                lostCount: UInt64, fromTimeNs: UInt64, toTimeNs: UInt64) {
        self.seq = seq; self.timeNs = timeNs; self.firstLost = firstLost; self.lastLost = lastLost
        self.lostCount = lostCount; self.fromTimeNs = fromTimeNs; self.toTimeNs = toTimeNs
    }
}

/// The fd call made through the poller that failed.
public enum FDCall: UInt8, Sendable, CaseIterable, CustomStringConvertible {
    case epollAdd = 1, epollModify, epollDelete, close, accept, socket, other
    public var description: String {
        switch self {
        case .epollAdd: "epoll_ctl_add"
        case .epollModify: "epoll_ctl_mod"
        case .epollDelete: "epoll_ctl_del"
        case .close: "close"
        case .accept: "accept"
        case .socket: "socket"
        case .other: "other"
        }
    }
}

public struct CallFailed: Hashable, Sendable {
    public var seq: SequenceNumber
    public var timeNs: UInt64
    public var poller: PollerID
    public var call: FDCall
    public var fd: Int32
    public var errno: Int32
    public init(seq: SequenceNumber, timeNs: UInt64, poller: PollerID, call: FDCall, fd: Int32, errno: Int32) {
        self.seq = seq; self.timeNs = timeNs; self.poller = poller; self.call = call; self.fd = fd; self.errno = errno
    }
}

/// A system call on an fd, from an imported strace log.
public struct SyscallRecord: Hashable, Sendable {
    public var seq: SequenceNumber
    public var timeNs: UInt64
    /// The poller (epoll fd of one process) the calling thread last waited on; 0 if none.
    public var poller: PollerID
    /// The thread that made the call.
    public var tid: Int32
    public var fd: Int32
    /// The syscall's name as strace printed it ("read", "accept4").
    public var name: String
    /// The return value; -1 with `errno` set on failure.
    public var result: Int64
    public var errno: Int32
    /// True for the read/recv/accept/write/send family: the calls that *handle* an
    /// event, as opposed to setup calls such as setsockopt or fcntl.
    public var isDataCall: Bool
    /// The line of the strace log this call was printed on (its start, for split calls).
    public var sourceLine: UInt32
    public init(seq: SequenceNumber, timeNs: UInt64, poller: PollerID, tid: Int32, fd: Int32, name: String,
                result: Int64, errno: Int32, isDataCall: Bool, sourceLine: UInt32) {
        self.seq = seq; self.timeNs = timeNs; self.poller = poller; self.tid = tid; self.fd = fd; self.name = name
        self.result = result; self.errno = errno; self.isDataCall = isDataCall; self.sourceLine = sourceLine
    }
}
