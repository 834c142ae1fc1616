import PollTraceCore

/// The analyzer as a library: what `polltrace analyze` and `verify` run, callable
/// from the demo and tests. Records are pulled one at a time, so memory follows
/// the live state of the traced process, not the trace's length.
public enum TraceAnalysis {
    /// Replays `next()`'s records (in sequence order) and classifies every dispatch.
    /// `progress` is called every `progressEvery` records with the count so far.
    public static func analyze(name: String, metadata: TraceMetadata?, options: ReplayOptions = ReplayOptions(),
                               progress: ((UInt64) -> Void)? = nil,
                               next: () throws -> TraceRecord?) rethrows -> AnalysisReport {
        var replayer = Replayer(options: options)
        var n: UInt64 = 0
        while let record = try next() {
            replayer.consume(record)
            n += 1
            if let progress, n & 0xFFFF == 0 { progress(n) }
        }
        replayer.finish()
        return AnalysisReport(trace: name, metadata: metadata, replayer: replayer)
    }

    /// Convenience for in-memory records (tests, small tools).
    public static func analyze(records: [TraceRecord], name: String = "(memory)", metadata: TraceMetadata? = nil,
                               options: ReplayOptions = ReplayOptions()) -> AnalysisReport {
        var iterator = records.makeIterator()
        return analyze(name: name, metadata: metadata, options: options) { iterator.next() }
    }
}

/// The fix verification as a library.
public enum FixVerification {
    public static func verify(name: String, metadata: TraceMetadata?, options: ReplayOptions = ReplayOptions(),
                              progress: ((UInt64) -> Void)? = nil,
                              next: () throws -> TraceRecord?) rethrows -> VerificationReport {
        let policies = metadata?.knownPolicies ?? [:]
        var verifier = FixVerifier(recordedPolicies: policies, options: options)
        var n: UInt64 = 0
        while let record = try next() {
            verifier.consume(record)
            n += 1
            if let progress, n & 0xFFFF == 0 { progress(n) }
        }
        verifier.finish()
        return VerificationReport(trace: name, metadata: metadata, verifier: verifier)
    }

    public static func verify(records: [TraceRecord], name: String = "(memory)", metadata: TraceMetadata? = nil,
                              options: ReplayOptions = ReplayOptions()) -> VerificationReport {
        var iterator = records.makeIterator()
        return verify(name: name, metadata: metadata, options: options) { iterator.next() }
    }
}
