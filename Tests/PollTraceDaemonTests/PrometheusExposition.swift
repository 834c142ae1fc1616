import Foundation

/// The Prometheus text format (version 0.0.4), parsed strictly enough for the
/// tests to read samples and to notice a malformed line.
struct PrometheusExposition {
    struct Family {
        var help: String?
        var type: String?
    }

    /// "name{a="1",b="2"}" (labels in the order sent) -> value.
    private(set) var samples: [String: Double] = [:]
    private(set) var families: [String: Family] = [:]
    /// Lines that are neither a comment, blank, nor a well-formed sample.
    private(set) var malformed: [String] = []

    init(_ text: String) {
        for line in text.split(separator: "\n", omittingEmptySubsequences: true) {
            if line.hasPrefix("# HELP ") || line.hasPrefix("# TYPE ") {
                let parts = line.split(separator: " ", maxSplits: 3)
                guard parts.count == 4 else { malformed.append(String(line)); continue }
                let name = String(parts[2])
                if parts[1] == "HELP" { families[name, default: Family()].help = String(parts[3]) }
                else { families[name, default: Family()].type = String(parts[3]) }
                continue
            }
            if line.hasPrefix("#") { continue }
            guard let space = line.lastIndex(of: " "), let value = Double(line[line.index(after: space)...]) else {
                malformed.append(String(line))
                continue
            }
            samples[String(line[..<space])] = value
        }
    }

    /// The metric name of a sample key.
    static func name(of key: String) -> String { String(key.prefix { $0 != "{" }) }

    /// The value of `name` with exactly `labels` (in the order the daemon sends them).
    func value(_ name: String, _ labels: [(String, String)] = []) -> Double? {
        let key = labels.isEmpty ? name : name + "{" + labels.map { "\($0.0)=\"\($0.1)\"" }.joined(separator: ",") + "}"
        return samples[key]
    }

    /// The sum of every sample of `name` whose labels include `matching`.
    func sum(_ name: String, matching: [(String, String)] = []) -> Double {
        samples.filter { key, _ in
            Self.name(of: key) == name && matching.allSatisfy { key.contains("\($0.0)=\"\($0.1)\"") }
        }.values.reduce(0, +)
    }
}
