import PollTraceCore

/// What a timeline shows, independent of how it is drawn: tracks (one per poller
/// thread, or per thread of an imported trace), slices (batches and the dispatches
/// nested in them), instant events (fd and registration changes, marks) and flows
/// (arrows from the record that closed an fd and the one that reused its number to
/// the stale dispatch). `TraceEventExport` writes it as Chrome trace-event JSON,
/// `TimelineSVG` draws it into the HTML report.
public struct Timeline: Sendable {
    public struct Track: Hashable, Sendable {
        /// The thread id in the export: the poller number, or the traced thread's tid.
        public var id: Int64
        public var name: String
    }

    public enum Value: Hashable, Sendable {
        case int(Int64)
        case text(String)
    }

    /// A span of time on one track. Slices on one track nest or follow each other.
    public struct Slice: Sendable {
        public var track: Int64
        public var startNs: UInt64
        public var durationNs: UInt64
        public var name: String
        /// "batch", "dispatch", "dispatch,stale", "dispatch,suppressed", "timer", "task".
        public var category: String
        public var seq: SequenceNumber
        public var args: [(String, Value)]
        public var depth: Int
    }

    public struct Instant: Sendable {
        public var track: Int64
        public var timeNs: UInt64
        public var name: String
        /// "fd", "registration", "timer", "stale", "suppression", "gap", "syscall".
        public var category: String
        public var seq: SequenceNumber
        public var args: [(String, Value)]
        /// True for marks that concern the whole process (gaps).
        public var global: Bool
    }

    /// An arrow between two points of the timeline; `id` pairs its two ends.
    public struct Flow: Sendable {
        public var id: Int
        public var name: String
        public var fromTrack: Int64
        public var fromNs: UInt64
        public var fromSeq: SequenceNumber
        public var toTrack: Int64
        public var toNs: UInt64
        public var toSeq: SequenceNumber
    }

    public var processID: Int64
    public var processName: String
    /// Times are exported relative to this (the trace's start).
    public var baseNs: UInt64
    public var tracks: [Track] = []
    public var slices: [Slice] = []
    public var instants: [Instant] = []
    public var flows: [Flow] = []
    /// The records the window held, first and last seq (0 when empty).
    public var firstSeq: SequenceNumber = 0
    public var lastSeq: SequenceNumber = 0
    /// What the window was, in words ("seq 300...500").
    public var windowDescription: String = ""

    /// Events the export writes (slices, instants, two per flow), not counting track names.
    public var eventCount: Int { slices.count + instants.count + 2 * flows.count }
}
