import CLinux
import Dispatch
import Logging
import PollTraceCore
import Synchronization

/// A real epoll event loop with a recorder hook.
///
/// Register fds with handlers, create and close fds through it, post tasks from any
/// thread, schedule timers; run the loop on the current thread (`run`) or on its
/// own (`start`). Every batch, registration change, fd creation, close and dispatch
/// goes to the recorder, with sequence numbers from the recorder's process-wide
/// counter. Which handler runs for an event is decided by `Dispatcher` (in
/// PollTraceCore), the same code the offline replayer runs.
///
/// Threading: methods that touch fds, registrations or timers are confined to the
/// loop thread while the loop runs (they assert it); while it does not run, one
/// thread at a time may call them (to set up before `start`, or in tests that drive
/// `runOnce`). `execute`, `stop`, `join` and `wakeUp` are safe from any thread.
public final class EventPoller: @unchecked Sendable {
    public let id: PollerID
    public let policy: DispatchPolicy
    public let label: String
    /// The epoll fd (for logs and the trace's poller table).
    public let epollFD: Int32

    let dispatcher: Dispatcher
    /// nil when not recording: every record site is then one `if let` and nothing else.
    ///
    /// Loop thread only: it reaches the recorder through a borrowed reference and the
    /// staging below, neither of which the runtime checks. Debug builds assert the
    /// thread on every read, so a record site reached off the loop fails a test
    /// instead of racing silently in a release build.
    var recording: Recording? {
        @inline(__always) get {
            assertOnLoopThread()
            return borrowedRecording
        }
    }
    private let borrowedRecording: Recording?
    /// Owns what `recording` borrows, for as long as the poller lives.
    private let recordingOwner: RecordingTargets?

    /// The recorder and its counter, held together so a record site unwraps one optional.
    ///
    /// Borrowed, not owned (`recordingOwner` owns them): each `if let recording`
    /// copies this value, and each call through a strong or `unowned(unsafe)`
    /// reference costs a retain and a release: with strong references, four of each
    /// per dispatch, half of what recording adds to the loop thread in the echo
    /// benchmark.
    struct Recording {
        let targets: Unmanaged<RecordingTargets>

        @inline(__always)
        func nextSequence() -> SequenceNumber { targets._withUnsafeGuaranteedRef { $0.sequence.next() } }

        @inline(__always)
        func record(_ record: consuming TraceRecord) {
            var handed: TraceRecord? = consume record
            targets._withUnsafeGuaranteedRef { $0.recorder.record(handed.take()!) }
        }

        func record(contentsOf records: [TraceRecord]) {
            targets._withUnsafeGuaranteedRef { $0.recorder.record(contentsOf: records) }
        }
    }

    final class RecordingTargets {
        let recorder: any TraceRecorder
        /// `recorder.sequence`, kept here: read once per record, it is not worth a
        /// protocol witness call each time.
        let sequence: SequenceCounter
        init(recorder: any TraceRecorder) {
            self.recorder = recorder
            self.sequence = recorder.sequence
        }
    }
    let logger: Logger

    // Confined to the loop thread (or the one thread driving an idle poller).
    let table = RegistrationTable()
    let wakeFD: Int32
    var wakeRegistration: Registration?
    var batchNumber: UInt64 = 0
    var timers = TimerQueue()
    var nextTimerID: UInt32 = 0
    var nextTaskID: UInt32 = 0
    /// `snapshot` only: the entries the current batch captured at harvest, kept so
    /// that a handler closed meanwhile can still be run (that is the policy's hazard).
    var capturedForBatch: [RegistrationEntry] = []
    /// The records of the iteration under way, handed to the recorder together when
    /// it ends (`StagedRecords`). Touched on every record, by the loop thread
    /// only, and nothing it calls comes back to it: the runtime's exclusivity
    /// check (a call and a walk of the thread's access set per record) is left out
    /// of the storage. What rules out overlapping access is the loop-thread
    /// confinement, so debug builds assert it on every access (release builds
    /// compile the assert out).
    var staged: StagedRecords {
        @inline(__always) _read {
            assertOnLoopThread()
            yield uncheckedStaged
        }
        @inline(__always) _modify {
            assertOnLoopThread()
            yield &uncheckedStaged
        }
    }
    @exclusivity(unchecked) private var uncheckedStaged = StagedRecords()
    let eventBuffer: UnsafeMutablePointer<epoll_event>
    let eventCapacity: Int32

    // Shared with other threads; every field is read and written under this lock.
    let shared = Mutex(SharedState())
    /// Wake-up writes claimed under `shared` but not yet done (`claimWakeLocked`).
    let wakeWritesInFlight = WritesInFlight()

    struct SharedState {
        var lifecycle: Lifecycle = .idle
        /// Tasks posted by `execute`, run on the loop in order.
        var tasks: [PostedTask] = []
        /// A wake-up write is outstanding; later posts need not write again.
        var wakePending = false
        var stopRequested = false
        /// The thread `start` made, until `join` collects it.
        var thread: NamedThread?
    }

    /// A task from `execute`, and what to call once its dispatch is recorded.
    struct PostedTask: Sendable {
        let body: @Sendable () throws -> Void
        let whenRecorded: (@Sendable () -> Void)?
    }

    enum Lifecycle: Equatable {
        case idle
        /// Inside `run` or `runOnce` on the thread with this pthread id.
        case running(thread: UInt)
        /// `close` is closing the poller's fds on this thread; no more tasks or wake-ups.
        case closing(thread: UInt)
        case closed

        /// The thread the poller is confined to now, if any.
        var thread: UInt? {
            switch self {
            case .running(let thread), .closing(let thread): thread
            case .idle, .closed: nil
            }
        }
    }

    /// Opens the epoll fd and the wake-up eventfd, and tells the recorder the poller exists.
    ///
    /// - Parameters:
    ///   - id: unique among the process's pollers (the trace's poller column). Not 0.
    ///   - policy: how dispatch picks a handler; `.guarded` unless reproducing the bug.
    ///   - recorder: where records go; nil records nothing at the cost of one branch per site.
    ///   - maxEventsPerBatch: the `maxevents` passed to `epoll_wait`.
    public init(id: PollerID, policy: DispatchPolicy = .guarded, recorder: (any TraceRecorder)? = nil,
                label: String = "poller", maxEventsPerBatch: Int32 = 256) throws {
        precondition(id != 0, "PollerID 0 means 'not on a poller' in the trace; give the poller another id")
        precondition(maxEventsPerBatch > 0, "maxEventsPerBatch must be positive")
        self.id = id
        self.policy = policy
        self.label = label
        self.dispatcher = Dispatcher(policy: policy)
        let owner = recorder.map(RecordingTargets.init(recorder:))
        self.recordingOwner = owner
        self.borrowedRecording = owner.map { Recording(targets: .passUnretained($0)) }
        var logger = Logger(label: "polltrace.poller")
        logger[metadataKey: "poller"] = "\(label)#\(id)"
        self.logger = logger
        self.epollFD = try Linux.Epoll.create()
        do {
            self.wakeFD = try Linux.EventFd.create()
        } catch {
            try? Linux.FileDescriptor.close(epollFD)
            throw error
        }
        self.eventCapacity = maxEventsPerBatch
        self.eventBuffer = .allocate(capacity: Int(maxEventsPerBatch))

        recorder?.pollerStarted(PollerInfo(poller: id, backend: "epoll", policy: policy, epollFD: epollFD, label: label))
        recordOpened(fd: epollFD, origin: .epoll)
        recordOpened(fd: wakeFD, origin: .eventfd)
        do {
            wakeRegistration = try register(fd: wakeFD, interest: .readable, label: HandlerLabels.pollerWakeUp) { _, context in
                // Only resets the counter: the loop drains the task queue every iteration.
                _ = try Linux.EventFd.read(fd: context.registration.fd)
            }
        } catch {
            shared.withLock { $0.lifecycle = .closed }
            try? Linux.FileDescriptor.close(wakeFD)
            try? Linux.FileDescriptor.close(epollFD)
            throw error
        }
    }

    deinit {
        assert(shared.withLock { $0.lifecycle } == .closed,
               "EventPoller '\(label)' deinitialized without close(): its fds leaked (forgot close?)")
        eventBuffer.deallocate()
    }

    /// True once `close` ran.
    /// How many times `epoll_wait` has returned (empty batches included). For
    /// benchmarks: how many events each wait returned decides much of a loop's
    /// syscall cost per event. Read it on the loop thread, or after the loop stopped.
    public var harvestedBatchCount: UInt64 { batchNumber }

    public var isClosed: Bool { shared.withLock { $0.lifecycle == .closed } }

    /// True while the loop runs (`run`, `runOnce`, or the thread `start` made).
    public var isRunning: Bool {
        shared.withLock { if case .running = $0.lifecycle { true } else { false } }
    }

    /// True on the thread running the loop, and on any thread while the loop does not run.
    public var isOnLoopThread: Bool {
        shared.withLock {
            if let thread = $0.lifecycle.thread { thread == NamedThread.currentID } else { true }
        }
    }

    @inline(__always)
    func assertOnLoopThread(_ function: StaticString = #function) {
        assert(isOnLoopThread, "EventPoller '\(label)': \(function) called off the loop thread; post it with execute")
    }

    func checkOpen() throws {
        if isClosed { throw EventPollerError.closed(poller: label) }
    }
}
