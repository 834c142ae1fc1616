import Foundation
import XCTest

/// Checks a document against the Chrome trace-event format as the Perfetto UI and
/// chrome://tracing read it, and returns what it holds so tests can check content.
///
/// - every event has `ph`, `ts`, `pid`, `tid` and `name`; `X` events a `dur` >= 0;
/// - on one track (pid, tid), events are in non-decreasing `ts` order, and
///   complete events nest: each starts at or after its parent's start and ends at
///   or before its parent's end (a stack walk over the track);
/// - flow events pair up: each id has exactly one `s` and one `f`, the `f` not
///   before the `s`, and the `f` binds to its enclosing slice (`bp: e`).
struct TraceEventDocument {
    var events: [[String: Any]] = []
    var slices: [[String: Any]] { events.filter { $0["ph"] as? String == "X" } }
    var instants: [[String: Any]] { events.filter { $0["ph"] as? String == "i" } }
    var flowIDs: Set<Int> = []
    var threadNames: [Int: String] = [:]

    struct Failure: Error, CustomStringConvertible { var description: String }

    /// Times are microseconds with three decimals; sums of them in doubles are
    /// compared with this much slack (a tenth of a nanosecond).
    static let epsilon = 1e-4

    static func check(_ data: Data) throws -> TraceEventDocument {
        guard let root = try JSONSerialization.jsonObject(with: data) as? [String: Any],
              let events = root["traceEvents"] as? [[String: Any]] else {
            throw Failure(description: "not an object with a traceEvents array")
        }
        var doc = TraceEventDocument(events: events)
        var lastTS: [String: Double] = [:]
        var stacks: [String: [(start: Double, end: Double, name: String)]] = [:]
        var flowStarts: [Int: Double] = [:], flowEnds: [Int: Double] = [:]
        for (i, e) in events.enumerated() {
            for key in ["ph", "ts", "pid", "tid", "name"] where e[key] == nil {
                throw Failure(description: "event \(i) has no '\(key)': \(e)")
            }
            guard let ph = e["ph"] as? String, let ts = (e["ts"] as? NSNumber)?.doubleValue,
                  let pid = e["pid"] as? Int, let tid = e["tid"] as? Int, e["name"] is String else {
                throw Failure(description: "event \(i) has a key of the wrong type: \(e)")
            }
            if ph == "M" {
                if e["name"] as? String == "thread_name" { doc.threadNames[tid] = (e["args"] as? [String: Any])?["name"] as? String }
                continue
            }
            let track = "\(pid)/\(tid)"
            if let last = lastTS[track], ts < last {
                throw Failure(description: "event \(i) (\(e["name"]!)) at ts \(ts) comes after ts \(last) on track \(track)")
            }
            lastTS[track] = ts
            var stack = stacks[track] ?? []
            while let top = stack.last, ts >= top.end - epsilon, !(ph == "X" && abs(ts - top.end) < epsilon && (e["dur"] as? NSNumber)?.doubleValue == 0 && top.end > top.start) {
                stack.removeLast()
            }
            switch ph {
            case "X":
                guard let dur = (e["dur"] as? NSNumber)?.doubleValue, dur >= 0 else {
                    throw Failure(description: "complete event \(i) has no dur >= 0: \(e)")
                }
                if let top = stack.last, ts + dur > top.end + epsilon {
                    throw Failure(description: "slice '\(e["name"]!)' [\(ts), \(ts + dur)] overlaps '\(top.name)' [\(top.start), \(top.end)] on track \(track) without nesting in it")
                }
                stack.append((ts, ts + dur, e["name"] as! String))
            case "i", "I":
                break
            case "s", "f":
                guard let id = e["id"] as? Int else { throw Failure(description: "flow event \(i) has no integer id") }
                if ph == "s" {
                    if flowStarts.updateValue(ts, forKey: id) != nil { throw Failure(description: "flow id \(id) starts twice") }
                } else {
                    guard e["bp"] as? String == "e" else { throw Failure(description: "flow end \(id) does not bind to its enclosing slice") }
                    if flowEnds.updateValue(ts, forKey: id) != nil { throw Failure(description: "flow id \(id) ends twice") }
                }
            default:
                throw Failure(description: "event \(i) has an unexpected phase '\(ph)'")
            }
            stacks[track] = stack
        }
        guard Set(flowStarts.keys) == Set(flowEnds.keys) else {
            throw Failure(description: "unpaired flow ids: starts \(Set(flowStarts.keys).subtracting(flowEnds.keys).sorted()), ends \(Set(flowEnds.keys).subtracting(flowStarts.keys).sorted())")
        }
        for (id, start) in flowStarts where flowEnds[id]! < start {
            throw Failure(description: "flow \(id) ends at \(flowEnds[id]!) before it starts at \(start)")
        }
        doc.flowIDs = Set(flowStarts.keys)
        return doc
    }
}
