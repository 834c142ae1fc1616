import PollTraceCore

/// Turns strace log lines into trace records, one line at a time.
///
/// Memory holds only what is live: open fds, registrations, calls in flight. A log
/// of any length streams through. Feed it lines with `feed`, then call `finish`.
public final class StraceImporter {
    /// The state lives in one struct so that the hot path pays for one exclusivity
    /// check per line, not one per field it touches (about a tenth of the time when
    /// the state was this class's own properties).
    private var engine: ImportEngine

    /// A `ForeignHazardAnalyzer` among `consumers` reads the importer's interest
    /// lists instead of keeping its own.
    public init(sequence: SequenceCounter, consumers: [ImportConsumer]) {
        engine = ImportEngine(sequence: sequence, consumers: consumers)
        for case let analyzer as ForeignHazardAnalyzer in consumers { analyzer.readInterestLists(engine.interest) }
    }

    public var sequence: SequenceCounter { engine.sequence }
    public var diagnostics: ImportDiagnostics { engine.diagnostics }
    public var linesRead: UInt32 { engine.linesRead }
    /// The first `-ttt` time seen, ns since the epoch (nil when the log has none).
    public var firstEpochTimeNs: UInt64? { engine.firstEpochTimeNs }
    /// What the log's timestamps were.
    public var timestamps: LogTimestamps {
        engine.firstEpochTimeNs != nil ? .epoch : (engine.sawTimeOfDay ? .timeOfDay : .none)
    }

    /// One line, without its `\n`. `number` counts from 1.
    public func feed(_ line: UnsafeBufferPointer<UInt8>, number: UInt32) { engine.feed(line, number: number) }

    /// Line `number` was too long to read: counted, and skipped.
    public func skipOverlong(number: UInt32) { engine.skipOverlong(number: number) }

    /// Feeds every line `reader` has not handed out yet, as `feed` and `skipOverlong` would.
    ///
    /// The state is moved into a local variable for the loop, and the analysis of a
    /// `ForeignHazardAnalyzer` among the consumers into it (`ImportEngine.hazard`): a
    /// class's stored property costs a run-time exclusivity check on every access
    /// (one per line here, one per record in the analyzer), a local one costs none.
    /// While it runs, this importer's and the analyzer's properties read as empty.
    public func feedAll(from reader: LogReader) throws {
        var state = ImportEngine(sequence: engine.sequence, consumers: [])
        swap(&state, &engine)
        state.beginDirectAnalysis()
        defer {
            state.endDirectAnalysis()
            swap(&state, &engine)
        }
        try reader.forEachLine({ line, number in state.feed(line, number: number) },
                               overlong: { state.skipOverlong(number: $0) })
    }

    /// The log ended: calls still in flight never returned.
    public func finish() { engine.finish() }
}

/// The importer's state and the line-by-line work.
struct ImportEngine {
    let sequence: SequenceCounter
    /// The consumers `emit` calls, in order: `consumers`, then `hazard`, then
    /// `consumersAfter`. Outside `StraceImporter.feedAll` the last two are empty.
    private var consumers: [ImportConsumer]
    /// A `ForeignHazardAnalyzer` consumer's analysis while `StraceImporter.feedAll`
    /// runs: called in its turn among the consumers, directly.
    private var hazard: HazardEngine?
    private var consumersAfter: [ImportConsumer] = []
    private var directAnalyzer: ForeignHazardAnalyzer?
    /// A `TraceFileSink` consumer while `StraceImporter.feedAll` runs: called
    /// directly, last, rather than through the protocol.
    private var directSink: TraceFileSink?
    /// The consumers as given, while `beginDirectAnalysis` has some of them apart.
    private var savedConsumers: [ImportConsumer]?
    var diagnostics = ImportDiagnostics()
    var linesRead: UInt32 = 0
    private(set) var firstEpochTimeNs: UInt64?
    private(set) var sawTimeOfDay = false

    var fdTables = ProcessFDTables()
    var stitcher = CallStitcher()
    /// Every poller so far, by slot; `pollerSlots` finds the live one of an epoll fd.
    var pollerStates: [PollerState] = []
    /// Every poller's interest list, kept from the records `emit` hands out.
    let interest = EpollInterestLists()
    var pollerSlots: [PollerKey: Int] = [:]
    /// The last `pollerSlots` hit: a loop's calls are mostly on one epoll fd.
    /// Cleared whenever `pollerSlots` changes.
    var lastPollerLookup: (key: PollerKey, slot: Int)?
    var closeScratch: [Int] = []
    /// The last thread's table: consecutive lines are usually the same thread's.
    /// Cleared whenever `fdTables` changes which table a tid uses.
    var cachedTable: (tid: Int32, table: FDTableRef)?
    var pollerCount: PollerID = 0
    var nextRegistrationID: RegistrationID = 0
    /// The open file each registration was made on (for implicit unregistration).
    var registrationFile: [RegistrationID: OpenFileID] = [:]
    /// The poller each thread last waited on: the `poller` of its other records.
    var lastPoller = PollerByThread()
    private var seenTIDs: Set<Int32> = []
    /// The tid of the previous line, which is in `seenTIDs`: consecutive lines are
    /// usually one thread's, and this spares a hash per line.
    private var previousTID: Int32?
    /// Whether the unprefixed thread's tid has been learned.
    private var unprefixedThreadNamed = false
    private var stitchBuffer: [UInt8] = []
    var argumentScratch: [Range<Int>] = []
    /// The top-level commas of the current call's arguments (`LineBody.classify`).
    var commaScratch = CommaList()
    var syscallNames = SyscallNames()
    var eventScratch: [(mask: IOEvents, data: UInt64)] = []
    private var lastTimeNs: UInt64 = 0
    private var dayOffsetNs: UInt64 = 0
    var currentTimeNs: UInt64 = 0

    struct PollerKey: Hashable { var table: UInt32; var epollFD: Int32 }
    struct PollerState {
        var id: PollerID
        var epollFD: Int32
        var table: UInt32
        /// False when the log never showed `epoll_create` for it (attached mid-run):
        /// its registrations are partly unknown.
        var createdInLog: Bool
        var batches: UInt64 = 0
    }

    init(sequence: SequenceCounter, consumers: [ImportConsumer]) {
        self.sequence = sequence
        self.consumers = consumers
    }

    /// Takes the analysis of the first `ForeignHazardAnalyzer` among the consumers into
    /// `hazard`, and the first `TraceFileSink` into `directSink`, out of the consumers
    /// `emit` calls through the protocol.
    mutating func beginDirectAnalysis() {
        savedConsumers = consumers
        if let position = consumers.firstIndex(where: { $0 is TraceFileSink }) {
            directSink = consumers.remove(at: position) as? TraceFileSink
        }
        guard let position = consumers.firstIndex(where: { $0 is ForeignHazardAnalyzer }),
              let analyzer = consumers[position] as? ForeignHazardAnalyzer else { return }
        directAnalyzer = analyzer
        hazard = analyzer.takeEngine()
        consumersAfter = Array(consumers[(position + 1)...])
        consumers.removeSubrange(position...)
    }

    /// Hands the analysis back to its analyzer, and the consumers back to the protocol.
    mutating func endDirectAnalysis() {
        if let analyzer = directAnalyzer, let engine = hazard { analyzer.restoreEngine(engine) }
        hazard = nil
        directAnalyzer = nil
        directSink = nil
        consumersAfter = []
        if let saved = savedConsumers { consumers = saved }
        savedConsumers = nil
    }

    mutating func skipOverlong(number: UInt32) {
        linesRead = number
        diagnostics.note(.lineTooLong, line: number)
    }

    mutating func feed(_ line: UnsafeBufferPointer<UInt8>, number: UInt32) {
        linesRead = number
        let framed = LineFraming.frame(line)
        if let t = framed.timeNs { noteTime(t, epoch: framed.timeIsEpoch) }
        let body = LineBody.classify(line, framed.body, commas: &commaScratch)
        var tid = ProcessFDTables.unprefixedTID
        if let pid = framed.pid {
            tid = pid
            if pid != previousTID && !seenTIDs.contains(pid) { identifyNewThread(pid, line: line, body: body) }
        } else if tid != previousTID && !seenTIDs.contains(tid) {
            seenTIDs.insert(tid)
            unprefixedThreadNamed = false
        }
        previousTID = tid

        switch body {
        case .call(let name, let args, let rest):
            handleCall(line, tid: tid, number: number, name: name, args: args, rest: rest)
        case .unfinished(let name, let partial):
            if let role = syscallNames.lookup(line, name).role, role == .clone || role == .fork {
                fdTables.clonesInFlight[tid] = role == .clone && contains(line, partial, "CLONE_FILES")
            }
            if let replaced = stitcher.start(tid: tid, name: line[name], partialArgs: line[partial],
                                             line: number, timeNs: framed.timeNs) {
                diagnostics.note(.unfinishedReplaced, line: replaced.line)
            }
        case .resumed(let name, let rest):
            guard let start = stitcher.resume(tid: tid, name: line[name], rest: line[rest], into: &stitchBuffer) else {
                diagnostics.note(.resumedWithoutStart, line: number)
                return
            }
            diagnostics.stitchedCalls += 1
            let joined = stitchBuffer
            joined.withUnsafeBufferPointer { whole in
                let body = 0..<whole.count
                if case .call(let n, let a, let r) = LineBody.classify(whole, body, commas: &commaScratch) {
                    handleCall(whole, tid: tid, number: start.line, name: n, args: a, rest: r)
                } else {
                    diagnostics.note(.truncatedLine, line: number)
                }
            }
        case .exit:
            threadExited(tid, line: number)
        case .lost(let count):
            recordGap(lost: count, tid: tid, line: number)
        case .signal, .note:
            break
        case .truncated:
            diagnostics.note(.truncatedLine, line: number)
        case .garbage:
            diagnostics.note(.garbage, line: number)
        }
    }

    /// `strace -f` on a terminal prints no prefix until a second thread exists, so
    /// the first thread's early lines are unprefixed. A new tid is that thread when
    /// it resumes the unprefixed thread's call, or when no clone is in flight (a
    /// clone in flight means the new tid is most likely its child).
    private mutating func identifyNewThread(_ pid: Int32, line: LineBytes, body: LineBody) {
        seenTIDs.insert(pid)
        let unprefixed = ProcessFDTables.unprefixedTID
        guard seenTIDs.contains(unprefixed), !unprefixedThreadNamed else { return }
        var isUnprefixedThread = fdTables.clonesInFlight.isEmpty
        if case .resumed(let name, _) = body, stitcher.hasPending(tid: unprefixed, name: line[name]) {
            isUnprefixedThread = true
        }
        guard isUnprefixedThread else { return }
        unprefixedThreadNamed = true
        cachedTable = nil
        fdTables.rename(unprefixed, to: pid)
        stitcher.rename(unprefixed, to: pid)
        lastPoller.rename(unprefixed, to: pid)
        if let table = fdTables.tables[pid] {
            let record = SyscallRecord(seq: sequence.next(), timeNs: currentTimeNs, poller: lastPoller.of(pid),
                                       tid: pid, fd: -1, name: threadRenamedCallName, result: Int64(unprefixed),
                                       errno: 0, isDataCall: false, sourceLine: linesRead)
            emit(.syscall(record), tid: pid, line: linesRead, table: table)
        }
    }

    mutating func finish() {
        for (_, pending) in stitcher.unfinished { diagnostics.note(.neverResumed, line: pending.line) }
        diagnostics.reclassifyLastLine(linesRead)
    }

    // MARK: - Records

    /// Hands `record` to every consumer, then applies it to `interest`: consumers
    /// see the interest lists as they were before the record.
    mutating func emit(_ record: TraceRecord, tid: Int32, line: UInt32, table: FDTableRef) {
        let origin = LineOrigin(line: line, tid: tid, fdTable: table.id)
        for consumer in consumers { consumer.consume(record, origin: origin) }
        if hazard != nil { hazard!.consume(record, origin: origin) }
        for consumer in consumersAfter { consumer.consume(record, origin: origin) }
        interest.apply(record, origin: origin)
        if let sink = directSink { sink.consume(record, origin: origin) }
    }

    mutating func startPoller(_ state: PollerState, tid: Int32) {
        let info = PollerInfo(poller: state.id, backend: StraceBackend.name, policy: nil,
                              epollFD: state.epollFD,
                              label: "fd-table \(state.table) tid \(tid) epfd \(state.epollFD)")
        directSink?.pollerStarted(info)
        for consumer in consumers { consumer.pollerStarted(info) }
        if hazard != nil { hazard!.pollerStarted(info) }
        for consumer in consumersAfter { consumer.pollerStarted(info) }
    }

    private mutating func noteTime(_ t: UInt64, epoch: Bool) {
        if epoch {
            if firstEpochTimeNs == nil { firstEpochTimeNs = t }
        } else if !sawTimeOfDay {
            sawTimeOfDay = true
        } else if t < lastTimeNs, lastTimeNs - t > 43_200_000_000_000 {
            // -t/-tt print the time of day: past midnight it starts again from 0.
            dayOffsetNs &+= 86_400_000_000_000
        }
        lastTimeNs = t
        currentTimeNs = t &+ dayOffsetNs
    }

    /// Events the recorder lost: one sequence number stands for all of them (no
    /// record holds it), and the gap record that follows says how many.
    private mutating func recordGap(lost count: UInt64, tid: Int32, line: UInt32) {
        diagnostics.note(.lostEvents, line: line)
        let lost = sequence.next()
        let gap = Gap(seq: sequence.next(), timeNs: currentTimeNs, firstLost: lost, lastLost: lost, lostCount: count,
                      fromTimeNs: currentTimeNs, toTimeNs: currentTimeNs)
        emit(.gap(gap), tid: tid, line: line, table: tableOf(tid))
    }

    private mutating func threadExited(_ tid: Int32, line: UInt32) {
        if let pending = stitcher.drop(tid: tid) { diagnostics.note(.neverResumed, line: pending.line) }
        guard let table = fdTables.tables[tid] else { return }
        let record = SyscallRecord(seq: sequence.next(), timeNs: currentTimeNs, poller: lastPoller.of(tid), tid: tid,
                                   fd: -1, name: threadExitCallName, result: 0, errno: 0, isDataCall: false,
                                   sourceLine: line)
        emit(.syscall(record), tid: tid, line: line, table: table)
        cachedTable = nil
        fdTables.threadExited(tid)
        lastPoller.set(nil, for: tid)
    }

    /// The fd table `tid` uses (through the one-entry cache).
    mutating func tableOf(_ tid: Int32) -> FDTableRef {
        if let cached = cachedTable, cached.tid == tid { return cached.table }
        let table = fdTables.table(for: tid)
        cachedTable = (tid, table)
        return table
    }

    mutating func contains(_ line: LineBytes, _ range: Range<Int>, _ literal: StaticString) -> Bool {
        let count = literal.utf8CodeUnitCount
        var i = range.lowerBound
        while i + count <= range.upperBound {
            if line.matches(literal, at: i, end: range.upperBound) { return true }
            i += 1
        }
        return false
    }
}

/// The poller each thread last waited on, with the last answer cached: nearly
/// every record asks, and consecutive records are mostly one thread's.
struct PollerByThread {
    private var pollers: [Int32: PollerID] = [:]
    private var cached: (tid: Int32, poller: PollerID)?

    /// The thread's poller; 0 before its first wait.
    mutating func of(_ tid: Int32) -> PollerID {
        if let cached, cached.tid == tid { return cached.poller }
        let poller = pollers[tid] ?? 0
        cached = (tid, poller)
        return poller
    }

    mutating func set(_ poller: PollerID?, for tid: Int32) {
        pollers[tid] = poller
        cached = (tid, poller ?? 0)
    }

    mutating func rename(_ old: Int32, to new: Int32) {
        if let poller = pollers.removeValue(forKey: old) { pollers[new] = poller }
        cached = nil
    }
}

/// The timestamps an strace log carries, which decide what a trace's times mean.
public enum LogTimestamps: String, Sendable {
    /// `-ttt`: seconds since the epoch; record times are wall-clock times.
    case epoch
    /// `-t`/`-tt`: the time of day; record times count from the log's midnight.
    case timeOfDay = "time_of_day"
    /// None: every record time is 0.
    case none

    /// What a user should know, or nil when the times are whole.
    public func note(log: String) -> String? {
        switch self {
        case .epoch: nil
        case .timeOfDay: "\(log) has -t/-tt times of day, not -ttt: the trace's times count from midnight, not the epoch"
        case .none: "\(log) has no timestamps (strace -ttt): every time in the trace is 0"
        }
    }
}

/// How imported traces fill the poller fields that only PollTrace's own loop knows.
public enum StraceBackend {
    /// `pollers.backend` for every poller of an imported log.
    public static let name = PollerInfo.straceBackend
}

extension ImportDiagnostics {
    /// A cut line that is the log's last line is strace having been killed.
    mutating func reclassifyLastLine(_ lastLine: UInt32) {
        guard lastLine > 0, lines[.truncatedLine]?.last == lastLine else { return }
        removeLast(.truncatedLine)
        note(.truncatedLastLine, line: lastLine)
    }
}
