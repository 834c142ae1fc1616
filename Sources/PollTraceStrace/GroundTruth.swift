import Foundation
import PollTraceCore

/// Compares the foreign-trace analysis with what a program wrote down about itself
/// (the harness `Tests/StraceFixtures/truth_loop.c`): for every event that is a
/// finding, which kind, keyed by the harvesting thread, its epoll fd, the batch
/// number on that epoll fd and the event's fd.
public enum GroundTruth {
    public struct EventKey: Hashable, Comparable, CustomStringConvertible, Sendable {
        public var tid: Int32
        public var epollFD: Int32
        public var batch: UInt64
        public var fd: Int32
        public static func < (a: EventKey, b: EventKey) -> Bool {
            (a.tid, a.epollFD, a.batch, a.fd) < (b.tid, b.epollFD, b.batch, b.fd)
        }
        public var description: String { "tid \(tid) epoll fd \(epollFD) batch \(batch) fd \(fd)" }
    }

    /// What the program says: per schedule (seed), its findings and dispatch counts.
    public struct Truth: Sendable {
        public var findings: [EventKey: ForeignFinding.Kind] = [:]
        public var seedOfTID: [Int32: UInt64] = [:]
        public var schedules: [UInt64: String] = [:]
        public var dispatches = 0
        /// Dispatches that ran another registration's handler (the stale dispatches).
        public var staleDispatches = 0
        /// Dispatches a guard dropped (or that found no handler).
        public var dropped = 0
        /// Lines where the program could not tell an event's registration.
        public var unexplained: [String] = []
    }

    public static func parseTruth(_ text: String) -> Truth {
        var truth = Truth()
        for line in text.split(separator: "\n") {
            let f = line.split(separator: " ")
            guard let tag = f.first, f.count >= 2, let seed = UInt64(f[1]) else { continue }
            switch tag {
            case "S" where f.count >= 6:
                if let pid = Int32(f[2]) { truth.seedOfTID[pid] = seed }
                truth.schedules[seed] = truth.schedules[seed] ?? f[3...].joined(separator: " ")
            case "D" where f.count >= 10:
                truth.dispatches += 1
                if let tid = Int32(f[2]) { truth.seedOfTID[tid] = seed }
                if f[8] == "0" { truth.dropped += 1 } else if f[8] != f[7] && f[8] != "-1" { truth.staleDispatches += 1 }
            case "F" where f.count >= 7:
                guard let tid = Int32(f[2]), let epfd = Int32(f[3]), let batch = UInt64(f[4]), let fd = Int32(f[5])
                else { continue }
                truth.seedOfTID[tid] = seed
                let kind: ForeignFinding.Kind? = switch f[6] {
                case "likely": .likelyStaleDispatch
                case "hazard": .reuseWithinBatch
                case "orphan": .orphanEvent
                default: nil
                }
                if let kind { truth.findings[EventKey(tid: tid, epollFD: epfd, batch: batch, fd: fd)] = kind }
            case "X":
                truth.unexplained.append(String(line))
            default:
                break
            }
        }
        return truth
    }

    /// The analysis of a log, keyed like the truth.
    public static func analyze(logText: String) -> (findings: [EventKey: ForeignFinding.Kind], report: ForeignReport) {
        let analyzer = ForeignHazardAnalyzer()
        let batches = BatchLines()
        let outcome = StraceImport.run(text: logText, sequence: SequenceCounter(), consumers: [batches, analyzer])
        analyzer.finish()
        var findings: [EventKey: ForeignFinding.Kind] = [:]
        for finding in analyzer.findings {
            let batch = batches.batchAtLine[finding.waitLine] ?? 0
            findings[EventKey(tid: finding.tid, epollFD: finding.epollFD, batch: batch, fd: finding.fd)] = finding.kind
        }
        return (findings, ForeignReport(findings: analyzer.findings, statistics: analyzer.stats,
                                        diagnostics: outcome.diagnostics))
    }

    /// Counts over many schedules.
    public struct Score: Sendable {
        public var schedules = 0
        public var truthLikely = 0, foundLikely = 0, likelyBoth = 0
        public var truthHazards = 0, foundHazards = 0, hazardsBoth = 0
        public var truthOrphans = 0, orphansBoth = 0
        public var ghosts = 0
        public var disagreements = 0
        public var staleDispatches = 0, dispatches = 0, dropped = 0
        /// The first schedule whose findings differ: seed, event, truth, analysis.
        public var firstDisagreement: String?
        public init() {}

        public var recall: Double { truthLikely == 0 ? 1 : Double(likelyBoth) / Double(truthLikely) }
        public var precision: Double { foundLikely == 0 ? 1 : Double(likelyBoth) / Double(foundLikely) }
        public var hazardsExact: Bool { truthHazards == foundHazards && hazardsBoth == truthHazards }

        public var summary: String {
            String(format: """
                schedules %d, dispatches %d (stale %d, dropped by a guard or no handler %d)
                likely stale dispatches: truth %d, found %d, both %d: recall %.4f, precision %.4f
                reuse-within-batch hazards: truth %d, found %d, both %d (%@)
                orphan events: truth %d, both %d; ghost events found: %d
                events where analysis and truth disagree: %d
                """, schedules, dispatches, staleDispatches, dropped, truthLikely, foundLikely, likelyBoth, recall,
                precision, truthHazards, foundHazards, hazardsBoth, hazardsExact ? "exact" : "NOT exact",
                truthOrphans, orphansBoth, ghosts, disagreements)
                + (firstDisagreement.map { "\nfirst disagreement: \($0)" } ?? "")
        }

        /// Adds one log's comparison (`label` names the log, e.g. its format).
        public mutating func add(truth: Truth, found: [EventKey: ForeignFinding.Kind], label: String) {
            schedules += truth.schedules.count
            dispatches += truth.dispatches
            staleDispatches += truth.staleDispatches
            dropped += truth.dropped
            for (key, kind) in truth.findings {
                switch kind {
                case .likelyStaleDispatch: truthLikely += 1
                case .reuseWithinBatch: truthHazards += 1
                case .orphanEvent: truthOrphans += 1
                case .ghostEvent: break
                }
                if found[key] == kind {
                    switch kind {
                    case .likelyStaleDispatch: likelyBoth += 1
                    case .reuseWithinBatch: hazardsBoth += 1
                    case .orphanEvent: orphansBoth += 1
                    case .ghostEvent: break
                    }
                }
            }
            for kind in found.values {
                if kind == .likelyStaleDispatch { foundLikely += 1 }
                if kind == .reuseWithinBatch { foundHazards += 1 }
                if kind == .ghostEvent { ghosts += 1 }
            }
            var differing: [EventKey] = []
            for key in Set(truth.findings.keys).union(found.keys) where truth.findings[key] != found[key] {
                differing.append(key)
            }
            disagreements += differing.count
            if !truth.unexplained.isEmpty { disagreements += truth.unexplained.count }
            if firstDisagreement == nil, let key = differing.min() {
                let seed = truth.seedOfTID[key.tid].map(String.init) ?? "?"
                firstDisagreement = "schedule seed \(seed) (\(truth.schedules[truth.seedOfTID[key.tid] ?? 0] ?? "?")), "
                    + "\(label): \(key): truth \(truth.findings[key]?.rawValue ?? "none"), "
                    + "analysis \(found[key]?.rawValue ?? "none")"
            } else if firstDisagreement == nil, let line = truth.unexplained.first {
                firstDisagreement = "\(label): \(line)"
            }
        }
    }
}

/// The batch number of every wait line, for keying findings like the truth.
private final class BatchLines: ImportConsumer {
    var batchAtLine: [UInt32: UInt64] = [:]
    func pollerStarted(_ info: PollerInfo) {}
    func consume(_ record: TraceRecord, origin: LineOrigin) {
        if case .batch(let b) = record { batchAtLine[origin.line] = b.batchNumber }
    }
}
