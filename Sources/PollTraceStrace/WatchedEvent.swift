import PollTraceCore

/// One harvested event the hazard analysis is watching, from its harvest until it
/// is handled or its batch ends.
///
/// A loop finds an event's handler by the key in `epoll_data`: the fd number (when
/// the word's low 32 bits are the fd, as in redis, libuv, libevent or a word that
/// packs an id beside the fd) or the word itself (a pointer to a connection object,
/// as in nginx). A stale event reaches whatever holds that key when its turn comes,
/// so an event closed before it was handled is followed by its key: through any
/// number of close/reuse cycles of the number, or to every fd its data word is
/// registered for again.
final class WatchedEvent {
    enum State { case unhandled, handled, closed, finished }

    let fd: Int32
    let table: UInt32
    let mask: IOEvents
    let data: UInt64
    /// The harvesting thread (renamed with it); only its calls can be the dispatch.
    var tid: Int32
    /// The epoll fd's poller: a loop that finds handlers by number finds them in the
    /// table of this epoll fd, so only a new fd registered on it can receive the event.
    let poller: PollerID
    /// The batch it came in, to fold duplicate events of one fd in one batch.
    let batch: UInt64
    /// True when `data` is not the fd: the loop follows the word, not the number.
    let followsWord: Bool
    var state = State.unhandled
    var closeLine: UInt32?
    /// The first time the key was taken again after the close: the number created
    /// again, or the data word registered for an fd.
    var reuseLine: UInt32?
    var reuseFD: Int32?
    /// Where a stale dispatch would land now: the number while a new fd on it is
    /// registered on the same epoll fd or was made by another thread, or the fd that
    /// last took the data word. Nil while no handler holds the key.
    var target: Int32?
    /// The harvested registration's label, and that of the registration that took
    /// the key (the handler a stale dispatch would run), when the log named them.
    var label = ""
    var targetLabel = ""
    var accessLine: UInt32?
    var accessLabel = ""
    var accessCall: String?
    var accessResult: Int64 = 0
    var accessErrno: Int32 = 0

    init(fd: Int32, table: UInt32, mask: IOEvents, data: UInt64, tid: Int32, poller: PollerID, batch: UInt64) {
        self.fd = fd; self.table = table; self.mask = mask; self.data = data; self.tid = tid; self.poller = poller
        self.batch = batch
        followsWord = UInt32(truncatingIfNeeded: data) != UInt32(bitPattern: fd)
    }

    /// Nothing more can happen to it: it stops being watched.
    var isDone: Bool { state == .handled || state == .finished || accessLine != nil }

    /// The harvesting thread made a data call on the fd that holds the key (its name
    /// goes into `accessCall`).
    func noteAccess(result: Int64, errno: Int32, line: UInt32) {
        accessLine = line
        accessLabel = targetLabel
        accessResult = result
        accessErrno = errno
    }
}
