import PollTraceCore
import PollTraceStore

/// `polltrace stats`: counts gathered in one pass, in memory bounded by the number
/// of distinct fd numbers (never by the trace's length).
public struct TraceStatistics: Sendable {
    public var trace: String
    public var metadata: TraceMetadata?
    /// How the trace ended (nil for records that did not come from a file).
    public var end: TraceEnd?
    public private(set) var recordCount: UInt64 = 0
    public private(set) var byKind: [RecordKind: UInt64] = [:]
    public private(set) var batchesByPoller: [PollerID: UInt64] = [:]
    public private(set) var dispatchesByPoller: [PollerID: UInt64] = [:]
    public private(set) var eventCount: UInt64 = 0
    /// Batch sizes in buckets: 0, 1, 2, 3-4, 5-8, 9-16, 17-32, 33-64, 65+.
    public private(set) var batchSizeBuckets: [UInt64] = Array(repeating: 0, count: TraceStatistics.batchBucketLabels.count)
    public private(set) var largestBatch: Int = 0
    public private(set) var dispatchDurations = LogHistogram()
    public private(set) var suppressions: [SuppressionReason: UInt64] = [:]
    /// fd number -> how many times it was opened after having been closed.
    public private(set) var reuseByFD: [Int32: UInt64] = [:]
    public private(set) var firstTimeNs: UInt64?
    public private(set) var lastTimeNs: UInt64 = 0
    public private(set) var firstSeq: SequenceNumber = 0
    public private(set) var lastSeq: SequenceNumber = 0
    public private(set) var gaps: [Gap] = []
    public private(set) var gapRecordCount: UInt64 = 0
    public private(set) var lostRecords: UInt64 = 0
    /// Sequence numbers missing between consecutive records (whether or not a gap
    /// record explains them), as ranges; at most 100 listed.
    public private(set) var holes: [ClosedRange<SequenceNumber>] = []
    public private(set) var holeCount: UInt64 = 0
    private var closedOnce: Set<Int32> = []

    public static let batchBucketLabels = ["0", "1", "2", "3-4", "5-8", "9-16", "17-32", "33-64", "65+"]

    public init(trace: String, metadata: TraceMetadata?) { self.trace = trace; self.metadata = metadata }

    public mutating func consume(_ record: TraceRecord) {
        recordCount += 1
        byKind[record.kind, default: 0] += 1
        let seq = record.seq
        if recordCount == 1 { firstSeq = seq } else if seq > lastSeq + 1 {
            holeCount += 1
            if holes.count < 100 { holes.append((lastSeq + 1)...(seq - 1)) }
        }
        lastSeq = max(lastSeq, seq)
        if record.timeNs > 0 {
            firstTimeNs = min(firstTimeNs ?? record.timeNs, record.timeNs)
            lastTimeNs = max(lastTimeNs, record.timeNs)
        }
        switch record {
        case .batch(let b):
            batchesByPoller[b.poller, default: 0] += 1
            eventCount += UInt64(b.events.count)
            largestBatch = max(largestBatch, b.events.count)
            batchSizeBuckets[Self.bucket(b.events.count)] += 1
        case .dispatch(let d):
            dispatchesByPoller[d.poller, default: 0] += 1
            dispatchDurations.add(d.durationNs)
            if let reason = d.suppression { suppressions[reason, default: 0] += 1 }
        case .fdOpened(let o):
            if closedOnce.contains(o.fd) { reuseByFD[o.fd, default: 0] += 1 }
        case .closed(let c):
            closedOnce.insert(c.fd)
        case .gap(let g):
            gapRecordCount += 1
            lostRecords += g.lostCount
            if gaps.count < 100 { gaps.append(g) }
        case .registered, .modified, .unregistered, .callFailed, .syscall:
            break
        }
    }

    static func bucket(_ size: Int) -> Int {
        switch size {
        case 0: 0
        case 1: 1
        case 2: 2
        case 3...4: 3
        case 5...8: 4
        case 9...16: 5
        case 17...32: 6
        case 33...64: 7
        default: 8
        }
    }

    public var totalReuses: UInt64 { reuseByFD.values.reduce(0, +) }

    /// The most reused fd numbers, most first (ties by number), at most `limit`.
    public func mostReused(limit: Int = 10) -> [(fd: Int32, count: UInt64)] {
        reuseByFD.map { ($0.key, $0.value) }.sorted { $0.1 != $1.1 ? $0.1 > $1.1 : $0.0 < $1.0 }.prefix(limit).map { ($0.0, $0.1) }
    }
}

/// A histogram with logarithmic buckets (16 per power of two), so percentiles of
/// millions of durations cost a few kilobytes. Each percentile is reported as the
/// upper bound of its bucket: at most 1/16 (6.25%) above the true value.
public struct LogHistogram: Sendable {
    private var buckets: [UInt64] = Array(repeating: 0, count: 64 * 16)
    public private(set) var count: UInt64 = 0
    public private(set) var max: UInt64 = 0
    public private(set) var min: UInt64 = .max
    public private(set) var sum: UInt64 = 0

    public init() {}

    static func index(_ v: UInt64) -> Int {
        if v < 16 { return Int(v) }
        let exponent = 63 - v.leadingZeroBitCount          // >= 4
        let mantissa = Int((v >> UInt64(exponent - 4)) & 0xF)
        return (exponent - 3) * 16 + mantissa
    }

    static func upperBound(_ index: Int) -> UInt64 {
        if index < 16 { return UInt64(index) }
        let exponent = index / 16 + 3
        let mantissa = UInt64(index % 16)
        return ((16 + mantissa + 1) << UInt64(exponent - 4)) - 1
    }

    public mutating func add(_ v: UInt64) {
        buckets[Self.index(v)] += 1
        count += 1
        sum &+= v
        if v > max { max = v }
        if v < min { min = v }
    }

    /// The value at percentile `p` (0...100), as its bucket's upper bound (capped at max).
    public func percentile(_ p: Double) -> UInt64 {
        guard count > 0 else { return 0 }
        let rank = Swift.max(1, UInt64((p / 100 * Double(count)).rounded(.up)))
        var seen: UInt64 = 0
        for (i, n) in buckets.enumerated() where n > 0 {
            seen += n
            if seen >= rank { return Swift.min(Self.upperBound(i), max) }
        }
        return max
    }
}
