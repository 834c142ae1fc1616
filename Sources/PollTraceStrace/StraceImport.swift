import PollTraceCore

/// One call that reads a log and runs the importer over it, for the CLI, tests and
/// the benchmark.
public enum StraceImport {
    public struct Outcome {
        public var linesRead: UInt32
        public var diagnostics: ImportDiagnostics
        public var firstEpochTimeNs: UInt64?
        public var timestamps: LogTimestamps
    }

    /// Imports `path` into `consumers`.
    public static func run(path: String, sequence: SequenceCounter, consumers: [ImportConsumer]) throws -> Outcome {
        try run(reader: LogReader(path: path), sequence: sequence, consumers: consumers)
    }

    /// Imports what `reader` has not handed out yet into `consumers`.
    public static func run(reader: LogReader, sequence: SequenceCounter, consumers: [ImportConsumer]) throws -> Outcome {
        let importer = StraceImporter(sequence: sequence, consumers: consumers)
        try importer.feedAll(from: reader)
        importer.finish()
        return Outcome(linesRead: importer.linesRead, diagnostics: importer.diagnostics,
                       firstEpochTimeNs: importer.firstEpochTimeNs, timestamps: importer.timestamps)
    }

    /// Imports log text held in memory.
    public static func run(text: String, sequence: SequenceCounter, consumers: [ImportConsumer]) -> Outcome {
        let importer = StraceImporter(sequence: sequence, consumers: consumers)
        LogReader.forEachLine(text: text) { line, number in importer.feed(line, number: number) }
        importer.finish()
        return Outcome(linesRead: importer.linesRead, diagnostics: importer.diagnostics,
                       firstEpochTimeNs: importer.firstEpochTimeNs, timestamps: importer.timestamps)
    }

    /// Imports text and analyses it in memory, without a trace file.
    public static func analyze(text: String) -> (report: ForeignReport, records: [(TraceRecord, LineOrigin)]) {
        let analyzer = ForeignHazardAnalyzer()
        let collector = OriginCollector()
        let outcome = run(text: text, sequence: SequenceCounter(), consumers: [collector, analyzer])
        analyzer.finish()
        return (ForeignReport(findings: analyzer.findings, statistics: analyzer.stats,
                              diagnostics: outcome.diagnostics), collector.records)
    }

    /// Imports a file and analyses it in memory, keeping no records.
    public static func analyze(path: String) throws -> ForeignReport {
        let analyzer = ForeignHazardAnalyzer()
        let outcome = try run(path: path, sequence: SequenceCounter(), consumers: [analyzer])
        analyzer.finish()
        return ForeignReport(findings: analyzer.findings, statistics: analyzer.stats, diagnostics: outcome.diagnostics)
    }
}

/// Keeps every record with its origin. For tests and small logs.
public final class OriginCollector: ImportConsumer {
    public private(set) var records: [(TraceRecord, LineOrigin)] = []
    public private(set) var pollers: [PollerInfo] = []
    public init() {}
    public func pollerStarted(_ info: PollerInfo) { pollers.append(info) }
    public func consume(_ record: TraceRecord, origin: LineOrigin) { records.append((record, origin)) }
}
