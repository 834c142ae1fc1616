import PollTraceCore

/// One pass over a trace for the HTML report: replay (for the verdict and the
/// findings) and the histograms, events per batch and dispatch durations per
/// handler kind (the handler's label up to its first ':', so "rtp-udp:40000" and
/// "rtp-udp:40002" count together). Memory follows the live registrations.
struct ReportTally {
    private(set) var replayer: Replayer
    /// Per `TraceStatistics.batchBucketLabels`.
    private(set) var batchSizes = [UInt64](repeating: 0, count: TraceStatistics.batchBucketLabels.count)
    private(set) var batches: UInt64 = 0
    private(set) var kinds: [String] = []
    /// Per kind, dispatch durations in power-of-two buckets: bucket k holds
    /// durations below 2^k ns (bucket 0 holds 0).
    private(set) var durations: [[UInt64]] = []
    private(set) var dispatches: [UInt64] = []
    private var kindIndex: [String: Int] = [:]
    private var kindOfRegistration: [RegistrationID: Int] = [:]
    private(set) var firstTimeNs: UInt64 = .max
    private(set) var lastTimeNs: UInt64 = 0

    static let durationBuckets = 41

    init(options: ReplayOptions) { replayer = Replayer(options: options) }

    mutating func consume(_ record: TraceRecord) {
        replayer.consume(record)
        let t = record.timeNs
        if t > 0 { firstTimeNs = min(firstTimeNs, t); lastTimeNs = max(lastTimeNs, t) }
        switch record {
        case .batch(let b):
            batches += 1
            batchSizes[TraceStatistics.bucket(b.events.count)] += 1
        case .registered(let r):
            kindOfRegistration[r.registrationID] = kind(Self.kind(ofLabel: r.handlerLabel))
        case .unregistered(let u):
            kindOfRegistration[u.registrationID] = nil
        case .dispatch(let d):
            let k: Int
            switch d.source {
            case .event:
                k = d.suppression != nil ? kind("(suppressed)") : kindOfRegistration[d.ranRegistrationID] ?? kind("(unknown registration)")
            case .timer: k = kind("timer")
            case .task: k = kind("task")
            }
            let bucket = d.durationNs == 0 ? 0 : min(Self.durationBuckets - 1, 64 - d.durationNs.leadingZeroBitCount)
            durations[k][bucket] += 1
            dispatches[k] += 1
        default:
            break
        }
    }

    static func kind(ofLabel label: String) -> String {
        let head = label.split(separator: ":", maxSplits: 1, omittingEmptySubsequences: false).first.map(String.init) ?? label
        return head.isEmpty ? "(no label)" : head
    }

    private mutating func kind(_ name: String) -> Int {
        if let i = kindIndex[name] { return i }
        kinds.append(name)
        durations.append([UInt64](repeating: 0, count: Self.durationBuckets))
        dispatches.append(0)
        kindIndex[name] = kinds.count - 1
        return kinds.count - 1
    }
}
