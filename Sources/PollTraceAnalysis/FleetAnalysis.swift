import Foundation
import PollTraceCore
import Synchronization

/// Many traces analyzed at once, each independently (`polltrace analyze DIR --jobs N`):
/// what one trace contributes to a fleet report, how a batch of traces runs on N
/// threads, and what the batch adds up to.
///
/// Each job is a thread of its own that takes the next trace, analyzes it to the
/// end and keeps only its `FleetEntry` (counts and handler pairs, not the
/// findings), so memory follows the jobs, not the number of traces. Analysis blocks
/// on SQLite reads, so the jobs are plain threads, not tasks on Swift's
/// cooperative pool, which they would starve.
public enum FleetAnalysis {
    /// Runs `analyze` on every path, at most `jobs` at a time; the entries come back
    /// in the order of `paths`, whatever order they finished in.
    public static func run(paths: [String], jobs: Int, analyze: @escaping @Sendable (String) -> FleetEntry) -> [FleetEntry] {
        let results = Mutex<[FleetEntry?]>(Array(repeating: nil, count: paths.count))
        let next = Atomic<Int>(0)
        let workers = max(1, min(jobs, paths.count))
        @Sendable func work() {
            while true {
                let index = next.wrappingAdd(1, ordering: .relaxed).oldValue
                guard index < paths.count else { return }
                let entry = analyze(paths[index])
                results.withLock { $0[index] = entry }
            }
        }
        // A job that cannot get a thread leaves its share to the others; with no
        // thread at all, the calling thread does the work.
        let threads = (0..<workers).compactMap { worker in try? NamedThread(name: "polltrace-job-\(worker + 1)", work) }
        if threads.isEmpty { work() }
        for thread in threads { thread.join() }
        return results.withLock { $0.map { $0! } }
    }
}

/// Harvested-for handler, handler that ran, and the finding's kind: the shape of
/// one kind of bug across a fleet ("rtp-udp" -> "rtp-tcp-accept", misrouted).
public struct HandlerPair: Hashable, Sendable, Comparable {
    public var kind: String
    /// The harvested-for registration's handler label; "(none)" for an orphan event.
    public var harvestedFor: String
    /// The handler that ran; "(suppressed)" when none did.
    public var ran: String

    public init(kind: String, harvestedFor: String, ran: String) {
        self.kind = kind; self.harvestedFor = harvestedFor; self.ran = ran
    }

    /// A handler label without its instance number: "rtp-udp:40000" is "rtp-udp", so
    /// that the same bug on a thousand ports is one pair, not a thousand.
    public static func handler(_ label: String) -> String {
        guard let colon = label.lastIndex(of: ":"), colon != label.startIndex,
              label[label.index(after: colon)...].allSatisfy(\.isNumber),
              label.index(after: colon) != label.endIndex else { return label }
        return String(label[..<colon])
    }

    public static func < (a: HandlerPair, b: HandlerPair) -> Bool {
        (a.kind, a.harvestedFor, a.ran) < (b.kind, b.harvestedFor, b.ran)
    }
}

/// One trace's line in a fleet report.
public struct FleetEntry: Sendable {
    public enum Status: String, Sendable {
        case clean
        case findings
        /// Replay found records that contradict each other (exit 2, as for one trace).
        case inconsistent
        /// The trace could not be read at all.
        case badInput = "bad_input"
    }

    public var trace: String
    public var status: Status
    /// Imported from an strace log: the foreign-loop hazard analysis ran instead of replay.
    public var imported = false
    public var records: UInt64 = 0
    /// Problem findings by kind (kinds with none are left out).
    public var findingsByKind: [String: UInt64] = [:]
    public var staleDispatches: UInt64 = 0
    public var inconsistencies: UInt64 = 0
    /// Counted over the findings the analysis listed (`--limit`), see `handlerPairsComplete`.
    public var handlerPairs: [HandlerPair: UInt64] = [:]
    /// False when the trace had more findings than were listed, so the pairs
    /// undercount (`--limit 0` lists all).
    public var handlerPairsComplete = true
    /// What was wrong with a trace that could not be read.
    public var error: String?

    public var problems: UInt64 { findingsByKind.values.reduce(0, +) }

    public init(trace: String, status: Status) {
        self.trace = trace; self.status = status
    }

    /// A trace that could not be read: `error` says why.
    public static func badInput(_ trace: String, error: String) -> FleetEntry {
        var entry = FleetEntry(trace: trace, status: .badInput)
        entry.error = error
        return entry
    }

    /// A replayed trace, reduced to what the fleet report needs.
    public init(report: AnalysisReport) {
        trace = report.trace
        status = report.inconsistencyCount > 0 ? .inconsistent : (report.problemCount > 0 ? .findings : .clean)
        records = report.recordCount
        for kind in FindingKind.allCases where kind.isProblem && report.count(kind) > 0 {
            findingsByKind[kind.rawValue] = report.count(kind)
        }
        staleDispatches = report.staleDispatchCount
        inconsistencies = report.inconsistencyCount
        for finding in report.findings where finding.kind.isProblem {
            let harvested = finding.harvestedFor.map { HandlerPair.handler($0.handlerLabel) } ?? "(none)"
            let ran = finding.dispatch?.suppression != nil ? "(suppressed)" : (finding.ran.map { HandlerPair.handler($0.handlerLabel) } ?? "(none)")
            let pair = HandlerPair(kind: finding.kind.rawValue, harvestedFor: harvested, ran: ran)
            handlerPairs[pair, default: 0] += 1
        }
        handlerPairsComplete = !report.findingsTruncated
    }
}

/// What a batch of traces adds up to.
public struct FleetSummary: Sendable {
    public var traces = 0
    public var clean = 0
    /// Traces whose status is `findings` (readable, consistent, with problems).
    public var withFindings = 0
    /// Traces with at least one problem finding, inconsistent ones included.
    public var tracesWithFindings = 0
    public var inconsistent = 0
    public var badInput = 0
    public var records: UInt64 = 0
    public var findingsByKind: [String: UInt64] = [:]
    /// How many traces have at least one finding of the kind.
    public var tracesByKind: [String: Int] = [:]
    public var handlerPairs: [HandlerPair: UInt64] = [:]
    public var tracesByHandlerPair: [HandlerPair: Int] = [:]
    public var handlerPairsComplete = true

    public init(_ entries: [FleetEntry]) {
        for entry in entries {
            traces += 1
            switch entry.status {
            case .clean: clean += 1
            case .findings: withFindings += 1
            case .inconsistent: inconsistent += 1
            case .badInput: badInput += 1
            }
            records += entry.records
            if entry.problems > 0 { tracesWithFindings += 1 }
            for (kind, count) in entry.findingsByKind {
                findingsByKind[kind, default: 0] += count
                tracesByKind[kind, default: 0] += 1
            }
            for (pair, count) in entry.handlerPairs {
                handlerPairs[pair, default: 0] += count
                tracesByHandlerPair[pair, default: 0] += 1
            }
            if !entry.handlerPairsComplete { handlerPairsComplete = false }
        }
    }

    /// 2 if any trace is bad input or inconsistent, else 1 if any has findings, else 0.
    public var exitCode: Int32 { badInput + inconsistent > 0 ? 2 : (withFindings > 0 ? 1 : 0) }

    /// Handler pairs, most frequent first (ties in a fixed order).
    public var rankedHandlerPairs: [(pair: HandlerPair, count: UInt64, traces: Int)] {
        handlerPairs.map { ($0.key, $0.value, tracesByHandlerPair[$0.key] ?? 0) }
            .sorted { $0.count != $1.count ? $0.count > $1.count : $0.pair < $1.pair }
    }
}
