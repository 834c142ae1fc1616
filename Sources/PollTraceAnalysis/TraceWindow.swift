import Foundation
import PollTraceCore

/// The part of a trace a timeline shows.
public enum TraceWindow: Hashable, Sendable, CustomStringConvertible {
    /// Every record.
    case whole
    /// Records whose seq is in the range.
    case seq(ClosedRange<SequenceNumber>)
    /// Records made in the range, in nanoseconds since the trace's start.
    case time(ClosedRange<UInt64>)

    enum Place { case before, inside, after }

    /// Where `record` falls; `baseNs` is the trace's start on the records' clock.
    func place(_ record: TraceRecord, baseNs: UInt64) -> Place {
        switch self {
        case .whole: return .inside
        case .seq(let range):
            return record.seq < range.lowerBound ? .before : record.seq > range.upperBound ? .after : .inside
        case .time(let range):
            let t = record.timeNs >= baseNs ? record.timeNs - baseNs : 0
            return t < range.lowerBound ? .before : t > range.upperBound ? .after : .inside
        }
    }

    /// The seq window of `radius` records either side of `seq`.
    public static func around(_ seq: SequenceNumber, radius: UInt64) -> TraceWindow {
        .seq((seq > radius ? seq - radius : 1)...(seq &+ radius < seq ? .max : seq + radius))
    }

    public var description: String {
        switch self {
        case .whole: "the whole trace"
        case .seq(let range): "seq \(range.lowerBound)...\(range.upperBound)"
        case .time(let range): "t+\(Self.seconds(range.lowerBound))...t+\(Self.seconds(range.upperBound)) s"
        }
    }

    static func seconds(_ ns: UInt64) -> String {
        let whole = ns / 1_000_000_000, frac = ns % 1_000_000_000
        let digits = String(frac)
        return "\(whole)." + String(repeating: "0", count: 9 - digits.count) + digits
    }
}

/// Reads the records of a window, and the ones before it (which replay needs to
/// know the fd table and the registrations at the window's start).
///
/// The replay path, for traces without v7 tables (and imports): it streams the
/// trace from its first record through `TraceReader.records()` (on a second thread,
/// `RecordPipeline`) and stops after the window's last record, so its cost grows
/// with the window's *end*, not its size. A v7 trace's window is read with range
/// queries instead (`PlainTimelineWindow`).
enum TraceWindowReader {
    /// Hands every record before `window` to `before` and every record in it to
    /// `inside`, in sequence order, and stops after the window (or when `inside`
    /// returns false).
    static func read(path: String, window: TraceWindow, baseNs: UInt64,
                     before: (TraceRecord) throws -> Void, inside: (TraceRecord) throws -> Bool) throws {
        let pipeline = RecordPipeline(path: path)
        defer { pipeline.cancel() }
        while var chunk = try pipeline.nextChunk() {
            for record in chunk {
                switch window.place(record, baseNs: baseNs) {
                case .before: try before(record)
                case .inside: if try !inside(record) { return }
                case .after: return
                }
            }
            pipeline.recycle(&chunk)
        }
    }
}

/// One end of a `--from`/`--to` window: a seq ("1200") or a time since the trace's
/// start with its unit ("1.5s", "250ms", "40us", "800ns").
public enum WindowBound: Hashable, Sendable {
    case seq(SequenceNumber)
    case time(UInt64)

    public init?(parsing text: String) {
        let s = text.trimmingCharacters(in: .whitespaces)
        if let n = UInt64(s) { self = .seq(n); return }
        for (unit, scale) in [("ns", 1.0), ("us", 1e3), ("ms", 1e6), ("s", 1e9)] where s.hasSuffix(unit) {
            guard let value = Double(s.dropLast(unit.count)), value >= 0, value.isFinite, value * scale < 1.8e19 else { return nil }
            self = .time(UInt64((value * scale).rounded()))
            return
        }
        return nil
    }

    /// The window between two bounds (either may be missing, not both of different kinds).
    public static func window(from: WindowBound?, to: WindowBound?) -> TraceWindow? {
        switch (from, to) {
        case (nil, nil): return .whole
        case (.seq(let a)?, nil): return .seq(a...SequenceNumber.max)
        case (nil, .seq(let b)?): return .seq(0...b)
        case (.seq(let a)?, .seq(let b)?): return a <= b ? .seq(a...b) : nil
        case (.time(let a)?, nil): return .time(a...UInt64.max)
        case (nil, .time(let b)?): return .time(0...b)
        case (.time(let a)?, .time(let b)?): return a <= b ? .time(a...b) : nil
        default: return nil
        }
    }
}
