import PollTraceCore

/// What replay says about one dispatch, for drawing it: its verdict, the handler
/// that ran and the one the event was harvested for, and, for a stale dispatch,
/// the records that closed the fd and reused its number.
struct DispatchAnnotation: Sendable {
    var verdict: FindingKind?
    var ranLabel: String
    var harvestedFor: RegistrationID
    var harvestedLabel: String?
    /// The close of the harvested-for registration's fd (or its end, when the fd
    /// was not closed), for a stale dispatch.
    var closeSeq: SequenceNumber?
    /// The open of the fd number that the handler which ran was registered on (or
    /// its registration), for a misrouted dispatch; for a suppression because the
    /// registration was replaced, the open of the replacing one.
    var reuseSeq: SequenceNumber?
}

/// Runs replay beside the timeline: records before the window only advance it,
/// dispatches in the window are annotated with what it concluded.
struct DispatchAnnotator {
    private(set) var replayer: Replayer

    init(options: ReplayOptions = ReplayOptions(maxDetailed: 0)) { replayer = Replayer(options: options) }

    mutating func skip(_ record: TraceRecord) { replayer.consume(record) }

    /// Consumes `record`; for a dispatch, returns what replay made of it.
    mutating func annotate(_ record: TraceRecord) -> DispatchAnnotation? {
        guard case .dispatch(let d) = record else {
            replayer.consume(record)
            return nil
        }
        let harvested = d.source == .event ? replayer.harvestedFor(poller: d.poller, eventIndex: Int(d.eventIndex)) : nil
        replayer.consume(record)
        let verdict = replayer.lastDispatchVerdict
        let ran = d.suppression == nil ? replayer.registration(d.ranRegistrationID) : nil
        let label: String
        switch d.source {
        case .event:
            if let reason = d.suppression { label = "suppressed (\(reason))" } else { label = ran?.handlerLabel ?? "registration #\(d.ranRegistrationID)" }
        case .timer: label = "timer #\(d.ranRegistrationID)"
        case .task: label = "task #\(d.ranRegistrationID)"
        }
        var annotation = DispatchAnnotation(verdict: verdict, ranLabel: label, harvestedFor: harvested ?? 0)
        if let harvested, let record = replayer.registration(harvested) {
            annotation.harvestedLabel = record.handlerLabel
            if verdict?.isStaleDispatch == true || verdict == .justifiedSuppression {
                annotation.closeSeq = record.fdClose?.seq ?? record.end?.seq
            }
        }
        // An orphan event run by an ended registration: the close that ended the
        // registration which ran is the one that made it stale.
        if annotation.closeSeq == nil, verdict == .deadRegistration, let ran {
            annotation.closeSeq = ran.fdClose?.seq ?? ran.end?.seq
        }
        if verdict == .misrouted, let ran {
            annotation.reuseSeq = ran.fdOpenedSeq > 0 ? ran.fdOpenedSeq : ran.registeredSeq
        }
        // The guard dropped the event because the number has a new registration:
        // the reuse is that registration's fd.
        if verdict == .justifiedSuppression, d.suppression == .registrationReplaced, let harvested,
           let fd = replayer.registration(harvested)?.fd,
           let current = replayer.interestList(d.poller).currentRegistration(forFD: fd),
           let newer = replayer.registration(current.registrationID) {
            annotation.reuseSeq = newer.fdOpenedSeq > 0 ? newer.fdOpenedSeq : newer.registeredSeq
        }
        return annotation
    }
}
