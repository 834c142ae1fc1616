import PollTraceCore
import PollTraceStore

/// What `polltrace analyze` found in one trace.
public struct AnalysisReport: Sendable {
    /// The trace's path (or a name, for in-memory records).
    public var trace: String
    public var metadata: TraceMetadata?
    public var options: ReplayOptions
    public var recordCount: UInt64
    /// Every kind, including `correct`, with exact counts.
    public var counts: [FindingKind: UInt64]
    /// In sequence order; at most `options.maxDetailed` of them.
    public var findings: [Finding]
    public var inconsistencies: [Inconsistency]
    public var inconsistencyCount: UInt64
    public var gaps: [GapReport]
    public var gapCount: UInt64
    public var gapAffectedRecords: UInt64
    public var undispatchedEvents: UInt64
    /// How the trace ended (nil for records that did not come from a file).
    public var end: TraceEnd?

    public init(trace: String, metadata: TraceMetadata?, replayer: Replayer) {
        self.trace = trace
        self.metadata = metadata
        options = replayer.options
        recordCount = replayer.recordCount
        counts = replayer.counts
        findings = replayer.findings
        inconsistencies = replayer.inconsistencies
        inconsistencyCount = replayer.inconsistencyCount
        gaps = replayer.gaps
        gapCount = replayer.gapCount
        gapAffectedRecords = replayer.gapAffectedRecords
        undispatchedEvents = replayer.undispatchedEvents
    }

    public func count(_ kind: FindingKind) -> UInt64 { counts[kind] ?? 0 }

    /// Findings that are problems in the traced loop (not `correct`, not justified suppressions).
    public var problemCount: UInt64 { FindingKind.allCases.filter(\.isProblem).reduce(0) { $0 + count($1) } }
    public var staleDispatchCount: UInt64 { count(.misrouted) + count(.deadRegistration) }
    public var isClean: Bool { problemCount == 0 && inconsistencyCount == 0 }
    /// True when some findings are counted but not listed (see `ReplayOptions.maxDetailed`).
    public var findingsTruncated: Bool {
        UInt64(findings.count) < FindingKind.allCases.filter { $0 != .correct }.reduce(0) { $0 + count($1) }
    }
}

/// What `polltrace verify` found in one trace.
public struct VerificationReport: Sendable {
    public var analysis: AnalysisReport
    public var staleSuppressed: UInt64
    public var correctKept: UInt64
    public var narrowedByInterest: UInt64
    public var suppressionsKept: UInt64
    public var lostEventsDelivered: UInt64
    public var divergentDispatches: UInt64
    public var skippedEffectRecords: UInt64
    public var suppressedWithEffects: UInt64
    public var failures: [VerificationFailure]
    public var failureCount: UInt64
    /// The policy each poller was recorded under.
    public var recordedPolicies: [PollerID: DispatchPolicy]

    public init(trace: String, metadata: TraceMetadata?, verifier: FixVerifier) {
        analysis = AnalysisReport(trace: trace, metadata: metadata, replayer: verifier.replayer)
        staleSuppressed = verifier.staleSuppressed
        correctKept = verifier.correctKept
        narrowedByInterest = verifier.narrowedByInterest
        suppressionsKept = verifier.suppressionsKept
        lostEventsDelivered = verifier.lostEventsDelivered
        divergentDispatches = verifier.divergentDispatches
        skippedEffectRecords = verifier.skippedEffectRecords
        suppressedWithEffects = verifier.suppressedWithEffects
        failures = verifier.failures
        failureCount = verifier.failureCount
        recordedPolicies = metadata?.knownPolicies ?? [:]
    }

    /// Every stale dispatch suppressed, no correct one, and (on guarded pollers) the
    /// recording agrees with the replay. Inconsistent records also fail verification.
    public var passed: Bool { failureCount == 0 && analysis.inconsistencyCount == 0 }
}
