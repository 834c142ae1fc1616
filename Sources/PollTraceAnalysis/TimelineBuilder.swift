import PollTraceCore

/// Turns the records of a window, in sequence order, into a `Timeline`: each
/// batch a slice holding the dispatches that follow it on its track, every fd and
/// registration change an instant, and each stale dispatch marked with arrows from
/// the records that closed its fd and reused the number.
struct TimelineBuilder {
    private(set) var timeline: Timeline
    private let trackNames: [Int64: String]
    private var known: Set<Int64> = []
    /// Per track: the open batch (slice index) and its events.
    private var openBatch: [Int64: (slice: Int, events: [HarvestedEvent])] = [:]
    /// Per track: the last slice drawn, so that the next one starts no earlier than
    /// it ends. A loop runs one handler at a time, so this only trims clock jitter
    /// (and traces whose clocks disagree), but a viewer needs slices that nest.
    private var lastSlice: [Int64: Int] = [:]
    /// Where the records that a flow can start from were drawn (closes, opens,
    /// registrations), by seq.
    private var points: [SequenceNumber: (track: Int64, timeNs: UInt64)] = [:]
    /// Imported traces: marks by the line they start from or point to.
    private var marksByLine: [UInt32: [Int]] = [:]
    private let marks: [LineMark]
    private var markPoints: [UInt32: (track: Int64, timeNs: UInt64, seq: SequenceNumber)] = [:]
    private var nextFlow = 1

    init(metadata: TraceMetadata, marks: [LineMark] = []) {
        let base = metadata.startMonotonicNs
        timeline = Timeline(processID: Int64(metadata.pid == 0 ? 1 : metadata.pid),
                            processName: "\(metadata.program) (pid \(metadata.pid))", baseNs: base)
        var names: [Int64: String] = [0: "off-loop"]
        for p in metadata.pollers where p.backend != PollerInfo.straceBackend {
            names[Int64(p.poller)] = "poller \(p.poller) (\(p.policyName))" + (p.label.isEmpty ? "" : " \(p.label)")
        }
        trackNames = names
        self.marks = marks
        for (i, mark) in marks.enumerated() {
            for line in [mark.closeLine, mark.reuseLine, mark.targetLine].compactMap({ $0 }) { marksByLine[line, default: []].append(i) }
        }
    }

    private mutating func track(_ id: Int64, imported: Bool) {
        guard known.insert(id).inserted else { return }
        let name = imported ? (id == 0 ? "process" : "thread \(id)") : trackNames[id] ?? "poller \(id)"
        timeline.tracks.append(Timeline.Track(id: id, name: name))
    }

    /// Adds one record. `annotation` comes from replay (native traces); `origin`
    /// from the import's line runs (imported traces).
    mutating func add(_ record: TraceRecord, annotation: DispatchAnnotation?, origin: (tid: Int32, line: UInt32)?) {
        let imported = origin != nil
        let trackID = origin.map { Int64($0.tid) } ?? Int64(record.poller)
        track(trackID, imported: imported)
        if timeline.firstSeq == 0 { timeline.firstSeq = record.seq }
        timeline.lastSeq = record.seq
        let t = record.timeNs
        extendBatch(trackID, to: t)
        switch record {
        case .batch(let b):
            closeBatch(trackID, at: b.timeNs)
            let slice = Timeline.Slice(track: trackID, startNs: b.timeNs, durationNs: 0,
                                       name: "batch #\(b.batchNumber) (\(b.events.count) event\(b.events.count == 1 ? "" : "s"))",
                                       category: "batch", seq: b.seq,
                                       args: [("seq", .int(Int64(b.seq))), ("poller", .int(Int64(b.poller))), ("events", .int(Int64(b.events.count))),
                                              ("fds", .text(b.events.map { "\($0.fd) \($0.mask)" }.joined(separator: ", "))),
                                              ("waited_ns", .int(Int64(b.waitedNs))), ("timeout_ms", .int(Int64(b.timeoutMs)))],
                                       depth: 0)
            timeline.slices.append(slice)
            openBatch[trackID] = (timeline.slices.count - 1, b.events)
            lastSlice[trackID] = nil
        case .dispatch(let d):
            addDispatch(d, track: trackID, annotation: annotation)
        case .registered(let r):
            instant(trackID, r.timeNs, "register fd \(r.fd) #\(r.registrationID)" + (r.handlerLabel.isEmpty ? "" : " " + r.handlerLabel), "registration", r.seq,
                    [("fd", .int(Int64(r.fd))), ("registration", .int(Int64(r.registrationID))), ("handler", .text(r.handlerLabel)),
                     ("interest", .text(r.interest.description))])
            points[r.seq] = (trackID, t)
        case .modified(let m):
            instant(trackID, m.timeNs, "modify fd \(m.fd) #\(m.registrationID) \(m.interest)", "registration", m.seq,
                    [("fd", .int(Int64(m.fd))), ("registration", .int(Int64(m.registrationID))), ("interest", .text(m.interest.description))])
        case .unregistered(let u):
            instant(trackID, u.timeNs, "unregister fd \(u.fd) #\(u.registrationID)", "registration", u.seq,
                    [("fd", .int(Int64(u.fd))), ("registration", .int(Int64(u.registrationID)))])
            points[u.seq] = (trackID, t)
        case .closed(let c):
            instant(trackID, c.timeNs, "close fd \(c.fd)", "fd", c.seq, [("fd", .int(Int64(c.fd)))])
            points[c.seq] = (trackID, t)
        case .fdOpened(let o):
            instant(trackID, o.timeNs, "open fd \(o.fd) (\(o.origin))", "fd", o.seq, [("fd", .int(Int64(o.fd))), ("origin", .text(o.origin.description))])
            points[o.seq] = (trackID, t)
        case .gap(let g):
            instant(trackID, g.timeNs, "gap: \(g.lostCount) records lost (seq \(g.firstLost)...\(g.lastLost))", "gap", g.seq,
                    [("lost", .int(Int64(clamping: g.lostCount))), ("first_lost", .int(Int64(clamping: g.firstLost))),
                     ("last_lost", .int(Int64(clamping: g.lastLost)))],
                    global: true)
        case .callFailed(let f):
            instant(trackID, f.timeNs, "\(f.call) fd \(f.fd) failed (errno \(f.errno))", "fd", f.seq,
                    [("fd", .int(Int64(f.fd))), ("errno", .int(Int64(f.errno)))])
        case .syscall(let s):
            instant(trackID, s.timeNs, "\(s.name)(\(s.fd)) = \(s.result)", "syscall", s.seq,
                    [("fd", .int(Int64(s.fd))), ("result", .int(s.result)), ("errno", .int(Int64(s.errno)))])
        }
        if let origin { placeMarks(line: origin.line, record: record, track: trackID) }
    }

    private mutating func addDispatch(_ d: Dispatch, track trackID: Int64, annotation a: DispatchAnnotation?) {
        let batch = openBatch[trackID]
        var args: [(String, Timeline.Value)] = [("seq", .int(Int64(d.seq)))]
        var category: String
        switch d.source {
        case .event: category = d.suppression == nil ? "dispatch" : "dispatch,suppressed"
        case .timer: category = "timer"
        case .task: category = "task"
        }
        if d.source == .event {
            if let batch, Int(d.eventIndex) < batch.events.count {
                let event = batch.events[Int(d.eventIndex)]
                args += [("fd", .int(Int64(event.fd))), ("mask", .text(event.mask.description))]
            }
            args += [("batch_seq", .int(Int64(d.batchSeq))), ("event", .int(Int64(d.eventIndex))),
                     ("registration", .int(Int64(d.ranRegistrationID)))]
            if let a {
                args.append(("harvested_for", .text(a.harvestedFor == 0 ? "none" : "#\(a.harvestedFor) \(a.harvestedLabel ?? "")")))
            }
        }
        if let reason = d.suppression { args.append(("suppression", .text(reason.description))) }
        if let verdict = a?.verdict { args.append(("verdict", .text(verdict.rawValue))) }
        if d.handlerThrew { args.append(("threw", .int(1))) }
        args.append(("duration_ns", .int(Int64(d.durationNs))))
        let stale = a?.verdict?.isStaleDispatch == true
        if stale { category = "dispatch,stale" }
        // Starts no earlier than its batch and the dispatch before it on this track.
        var start = d.timeNs
        if let batch { start = max(start, timeline.slices[batch.slice].startNs) }
        if let previous = lastSlice[trackID] {
            let end = timeline.slices[previous].startNs + timeline.slices[previous].durationNs
            if start < end { trim(previous, to: start) }
        }
        let end = max(start, d.timeNs + d.durationNs)
        lastSlice[trackID] = timeline.slices.count
        timeline.slices.append(Timeline.Slice(track: trackID, startNs: start, durationNs: end - start,
                                              name: a?.ranLabel ?? (d.source == .event ? "registration #\(d.ranRegistrationID)" : "\(d.source) #\(d.ranRegistrationID)"),
                                              category: category, seq: d.seq, args: args, depth: batch == nil ? 0 : 1))
        extendBatch(trackID, to: end)
        if d.source == .timer {
            instant(trackID, start, "timer #\(d.ranRegistrationID) fired", "timer", d.seq, [("timer", .int(Int64(d.ranRegistrationID)))])
        }
        guard let a, let verdict = a.verdict else { return }
        if stale {
            instant(trackID, d.timeNs, "STALE \(verdict.rawValue): \(a.ranLabel)", "stale", d.seq,
                    [("verdict", .text(verdict.rawValue)), ("harvested_for", .text(a.harvestedLabel ?? "none"))])
        } else if let reason = d.suppression, reason.isStalenessGuard || verdict == .justifiedSuppression {
            instant(trackID, d.timeNs, "guard suppressed (\(reason)): \(verdict.rawValue)", "suppression", d.seq,
                    [("verdict", .text(verdict.rawValue)), ("suppression", .text(reason.description))])
        }
        if let close = a.closeSeq, let from = points[close] {
            flow("fd closed", from: from, fromSeq: close, to: (trackID, d.timeNs), toSeq: d.seq)
        }
        if let reuse = a.reuseSeq, let from = points[reuse] {
            flow("fd number reused", from: from, fromSeq: reuse, to: (trackID, d.timeNs), toSeq: d.seq)
        }
    }

    /// Imported traces: the close and reuse a mark names become flow starts; its
    /// target line gets the mark and the flows' ends.
    private mutating func placeMarks(line: UInt32, record: TraceRecord, track trackID: Int64) {
        guard let indices = marksByLine[line], markPoints[line] == nil else { return }
        markPoints[line] = (trackID, record.timeNs, record.seq)
        for i in indices where marks[i].targetLine == line {
            let mark = marks[i]
            instant(trackID, record.timeNs, "STALE \(mark.kind): fd \(mark.fd)", "stale", record.seq,
                    [("verdict", .text(mark.kind)), ("finding", .text(mark.sentence)), ("line", .int(Int64(line)))])
            for (name, from) in [("fd closed", mark.closeLine), ("fd number reused", mark.reuseLine)] {
                guard let from, from != line, let point = markPoints[from] else { continue }
                flow(name, from: (point.track, point.timeNs), fromSeq: point.seq, to: (trackID, record.timeNs), toSeq: record.seq)
            }
        }
    }

    private mutating func instant(_ track: Int64, _ timeNs: UInt64, _ name: String, _ category: String, _ seq: SequenceNumber,
                                  _ args: [(String, Timeline.Value)], global: Bool = false) {
        timeline.instants.append(Timeline.Instant(track: track, timeNs: timeNs, name: name, category: category, seq: seq,
                                                  args: [("seq", .int(Int64(seq)))] + args, global: global))
    }

    private mutating func flow(_ name: String, from: (track: Int64, timeNs: UInt64), fromSeq: SequenceNumber,
                               to: (Int64, UInt64), toSeq: SequenceNumber) {
        timeline.flows.append(Timeline.Flow(id: nextFlow, name: name, fromTrack: from.track, fromNs: from.timeNs, fromSeq: fromSeq,
                                            toTrack: to.0, toNs: to.1, toSeq: toSeq))
        nextFlow += 1
    }

    private mutating func extendBatch(_ track: Int64, to end: UInt64) {
        guard let open = openBatch[track] else { return }
        let start = timeline.slices[open.slice].startNs
        if end > start { timeline.slices[open.slice].durationNs = max(timeline.slices[open.slice].durationNs, end - start) }
    }

    /// Ends the open batch of `track` where the next one starts, at the latest.
    private mutating func closeBatch(_ track: Int64, at next: UInt64) {
        if let last = lastSlice[track] { trim(last, to: next) }
        if let open = openBatch[track] { trim(open.slice, to: next) }
        openBatch[track] = nil
        lastSlice[track] = nil
    }

    /// Shortens slice `i` so that it ends by `time` (never before it starts).
    private mutating func trim(_ i: Int, to time: UInt64) {
        let start = timeline.slices[i].startNs
        let end = start + timeline.slices[i].durationNs
        if end > time { timeline.slices[i].durationNs = time > start ? time - start : 0 }
    }

    /// Call after the last record.
    mutating func finish(window: TraceWindow) -> Timeline {
        openBatch = [:]
        timeline.windowDescription = window.description
        return timeline
    }
}
