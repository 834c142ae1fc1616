import PollTraceCore
import PollTraceStore

/// A generated trace for the analyze benchmark: four pollers (naive, snapshot,
/// guarded, guarded), batches of 1-8 level-triggered events, and handlers that now
/// and then close an fd and open a new one, which takes the lowest free number, as
/// in the seed. Every dispatch is decided by the real `Dispatcher`. Deterministic.
enum BenchWorkload {
    struct Table: RegistrationLookup {
        var byFD: [Int32: RegistrationState] = [:]
        func currentRegistration(forFD fd: Int32) -> RegistrationState? { byFD[fd] }
    }

    static func generate(path: String, records target: Int) throws -> Int {
        let policies: [DispatchPolicy] = [.naive, .snapshot, .guarded, .guarded]
        let pollers = policies.enumerated().map { PollerInfo(poller: PollerID($0.offset + 1), backend: "generated", policy: $0.element) }
        let metadata = TraceMetadata(pid: 1, program: "polltrace-bench analyze", host: "bench", startWallClockNs: 0,
                                     startMonotonicNs: 0, pollers: pollers)
        let writer = try TraceWriter(path: path, metadata: metadata, options: TraceWriterOptions(bufferCapacity: 1 << 18, overwrite: true))
        for p in pollers { writer.pollerStarted(p) }
        var rng: UInt64 = 0x5EED
        func random(_ n: Int) -> Int {
            rng = rng &* 6364136223846793005 &+ 1442695040888963407
            return Int((rng >> 33) % UInt64(n))
        }
        var time: UInt64 = 0
        var written = 0
        var open = [Bool](repeating: false, count: 4096)
        for fd in 0..<3 { open[fd] = true }
        var nextID: RegistrationID = 1
        var tables = pollers.map { _ in Table() }
        var fdsOf: [[Int32]] = pollers.map { _ in [] }
        let dispatchers = policies.map { Dispatcher(policy: $0) }
        var batchNumbers = [UInt64](repeating: 0, count: pollers.count)

        func emit(_ r: TraceRecord) { writer.record(r); written += 1 }
        func seq() -> SequenceNumber { time += 137; return writer.sequence.next() }
        func openFD(_ poller: PollerID) -> Int32 {
            let fd = Int32(open.firstIndex(of: false)!)
            open[Int(fd)] = true
            emit(.fdOpened(FDOpened(seq: seq(), timeNs: time, poller: poller, fd: fd, origin: .accept)))
            return fd
        }
        func register(_ fd: Int32, on p: Int) {
            let id = nextID
            nextID &+= 1
            let data = dispatchers[p].epollData(registrationID: id, fd: fd)
            tables[p].byFD[fd] = RegistrationState(registrationID: id, fd: fd, interest: .readable)
            fdsOf[p].append(fd)
            emit(.registered(Registered(seq: seq(), timeNs: time, poller: pollers[p].poller, registrationID: id, fd: fd,
                                        interest: .readable, data: data, handlerLabel: "conn-\(id % 64)")))
        }
        func closeFD(_ fd: Int32, on p: Int) {
            if let state = tables[p].byFD.removeValue(forKey: fd) {
                emit(.unregistered(Unregistered(seq: seq(), timeNs: time, poller: pollers[p].poller,
                                                registrationID: state.registrationID, fd: fd)))
            }
            fdsOf[p].removeAll { $0 == fd }
            emit(.closed(Closed(seq: seq(), timeNs: time, poller: pollers[p].poller, fd: fd)))
            open[Int(fd)] = false
        }
        for p in pollers.indices { for _ in 0..<64 { register(openFD(0), on: p) } }

        while written < target {
            let p = random(pollers.count)
            let poller = pollers[p].poller
            // A batch of distinct ready fds; their data words as the kernel has them.
            var events: [HarvestedEvent] = []
            var picked = Set<Int32>()
            for _ in 0..<(1 + random(8)) {
                let fd = fdsOf[p][random(fdsOf[p].count)]
                if picked.insert(fd).inserted, let state = tables[p].byFD[fd] {
                    events.append(HarvestedEvent(fd: fd, mask: .readable,
                                                 data: dispatchers[p].epollData(registrationID: state.registrationID, fd: fd)))
                }
            }
            batchNumbers[p] += 1
            let batchSeq = seq()
            emit(.batch(BatchHarvested(seq: batchSeq, timeNs: time, poller: poller, batchNumber: batchNumbers[p],
                                       timeoutMs: 10, waitedNs: 1000, events: events)))
            let pending = dispatchers[p].harvest(events, lookup: tables[p])
            for (index, event) in pending.enumerated() {
                let s = seq()
                switch dispatchers[p].decide(event, lookup: tables[p]) {
                case .run(let id, let mask):
                    emit(.dispatch(Dispatch(seq: s, timeNs: time, poller: poller, source: .event, batchSeq: batchSeq,
                                            eventIndex: UInt32(index), ranRegistrationID: id, deliveredMask: mask,
                                            suppression: nil, handlerThrew: false, durationNs: UInt64(500 + random(5000)))))
                case .suppress(let reason):
                    emit(.dispatch(Dispatch(seq: s, timeNs: time, poller: poller, source: .event, batchSeq: batchSeq,
                                            eventIndex: UInt32(index), ranRegistrationID: 0, deliveredMask: [],
                                            suppression: reason, handlerThrew: false, durationNs: 50)))
                }
                // Churn: the handler releases a connection and accepts a new one, which
                // takes the lowest free number (often the one just closed).
                if random(100) < 4, fdsOf[p].count > 8 {
                    closeFD(fdsOf[p][random(fdsOf[p].count)], on: p)
                    register(openFD(poller), on: p)
                }
            }
        }
        try writer.close()
        return written
    }
}
