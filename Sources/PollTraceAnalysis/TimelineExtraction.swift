import PollTraceCore
import PollTraceStore

/// Builds the timeline of one window of a trace file (`polltrace timeline`, and the
/// report's timeline around its first findings).
public enum TimelineExtraction {
    public enum Failure: Error, CustomStringConvertible, Equatable {
        /// The window holds more events than the caller allowed.
        case tooLarge(limit: Int, window: String, reachedSeq: SequenceNumber)
        /// There is no finding with this number.
        case noSuchFinding(index: Int, found: Int)

        public var description: String {
            switch self {
            case .tooLarge(let limit, let window, let seq):
                "the timeline of \(window) has more than \(limit) events (limit reached at seq \(seq)); "
                    + "narrow it with --around SEQ, --finding N or --from/--to, or raise --max-events"
            case .noSuchFinding(let index, let found):
                found == 0 ? "finding \(index) does not exist: the trace has no findings"
                    : "finding \(index) does not exist: the trace has \(found) (numbered from 1, as `polltrace analyze` lists them)"
            }
        }
    }

    /// The timeline of `window`. Throws `Failure.tooLarge` as soon as it holds more
    /// than `maxEvents` events, and `TraceStoreError` for a trace that cannot be read.
    /// `marks` place the findings of an imported trace (by log line).
    /// `usesTables: false` replays from the first record even where a v7 trace's tables
    /// could answer (the reference the table path is tested against).
    public static func extract(path: String, window: TraceWindow, maxEvents: Int = 1_000_000,
                               marks: [LineMark] = [], usesTables: Bool = true) throws -> Timeline {
        let reader = try TraceReader(path: path)
        var threads = try ImportedThreads(reader)
        if reader.isPlain, threads == nil, usesTables {
            return try PlainTimelineWindow.extract(reader: reader, window: window, maxEvents: maxEvents)
        }
        var annotator = DispatchAnnotator()
        var builder = TimelineBuilder(metadata: reader.metadata, marks: marks)
        let base = reader.metadata.startMonotonicNs
        // The batch each poller was in when the window opened: its dispatches in the
        // window are drawn inside it.
        var openBatches: [PollerID: TraceRecord] = [:]
        try TraceWindowReader.read(path: path, window: window, baseNs: base, before: { record in
            if threads == nil {
                annotator.skip(record)
                if case .batch(let b) = record { openBatches[b.poller] = record }
            }
        }, inside: { record in
            // A poller's batch from before the window is drawn when the window
            // opens on its dispatches, not when it opens on a new batch.
            if let batch = openBatches.removeValue(forKey: record.poller), record.kind != .batch {
                builder.add(batch, annotation: nil, origin: nil)
            }
            if threads != nil {
                builder.add(record, annotation: nil, origin: try threads!.origin(of: record.seq) ?? (0, 0))
            } else {
                builder.add(record, annotation: annotator.annotate(record), origin: nil)
            }
            if builder.timeline.eventCount > maxEvents {
                throw Failure.tooLarge(limit: maxEvents, window: window.description, reachedSeq: record.seq)
            }
            return true
        })
        return builder.finish(window: window)
    }

    /// The seq of finding `index` (from 1, in the order `polltrace analyze` lists
    /// findings), found by replaying until it appears.
    public static func seq(ofFinding index: Int, path: String, options: ReplayOptions = ReplayOptions(),
                           usesTables: Bool = true) throws -> SequenceNumber {
        precondition(index >= 1)
        if usesTables, options.spinThreshold == ReplayOptions().spinThreshold {
            let reader = try TraceReader(path: path)
            if reader.isPlain, try ImportedThreads(reader) == nil {
                return try PlainTimelineWindow.seq(ofFinding: index, reader: reader)
            }
        }
        var replay = Replayer(options: ReplayOptions(spinThreshold: options.spinThreshold, maxDetailed: index))
        var found: SequenceNumber?
        try TraceWindowReader.read(path: path, window: .whole, baseNs: 0, before: { _ in }, inside: { record in
            replay.consume(record)
            if replay.findings.count >= index {
                found = replay.findings[index - 1].seq
                return false
            }
            return true
        })
        guard let found else {
            replay.finish()
            throw Failure.noSuchFinding(index: index, found: replay.findings.count)
        }
        return found
    }

    /// The seq of the first record an imported trace made from strace log line `line`.
    public static func seq(ofLogLine line: UInt32, path: String) throws -> SequenceNumber? {
        try ImportedThreads.seq(ofLine: line, in: try TraceReader(path: path))
    }
}
