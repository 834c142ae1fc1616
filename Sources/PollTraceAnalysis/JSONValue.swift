/// A JSON value with ordered object keys, so `--json` output is byte-identical
/// across runs (Foundation's encoder orders keys only when asked and formats
/// numbers differently across platforms; this writer has one spelling for each).
public indirect enum JSONValue: Hashable, Sendable {
    case null
    case bool(Bool)
    case int(Int64)
    case uint(UInt64)
    case double(Double)
    /// A number already spelled (e.g. a SQLite real, printed in full).
    case number(String)
    case string(String)
    case array([JSONValue])
    case object([(String, JSONValue)])

    /// JSON another module already rendered (the strace analysis's report), placed
    /// as it is inside a larger document.
    public static func verbatim(_ json: String) -> JSONValue {
        var trimmed = Substring(json)
        while trimmed.last?.isNewline == true { trimmed.removeLast() }
        return .number(String(trimmed))
    }

    public static func == (lhs: JSONValue, rhs: JSONValue) -> Bool { lhs.rendered() == rhs.rendered() }
    public func hash(into hasher: inout Hasher) { hasher.combine(rendered()) }

    /// Pretty-printed with two-space indentation and a trailing newline.
    public func rendered() -> String {
        var out = ""
        write(into: &out, indent: 0, compact: false)
        out.append("\n")
        return out
    }

    /// On one line, without blanks (JSON Lines), and no trailing newline.
    public func renderedOnOneLine() -> String {
        var out = ""
        write(into: &out, indent: 0, compact: true)
        return out
    }

    private func write(into out: inout String, indent: Int, compact: Bool) {
        switch self {
        case .null: out.append("null")
        case .bool(let b): out.append(b ? "true" : "false")
        case .int(let i): out.append(String(i))
        case .uint(let u): out.append(String(u))
        case .double(let d):
            if d.isFinite {
                // Fixed three decimals: stable across platforms and enough for ms and ratios.
                let scaled = (d * 1000).rounded()
                let negative = scaled < 0
                let magnitude = Int64(abs(scaled))
                let frac = magnitude % 1000
                out.append((negative ? "-" : "") + String(magnitude / 1000) + "." + String(repeating: "0", count: 3 - String(frac).count) + String(frac))
            } else {
                out.append("null")
            }
        case .number(let n): out.append(n)
        case .string(let s): Self.writeString(s, into: &out)
        case .array(let items):
            if items.isEmpty { out.append("[]"); return }
            if compact {
                out.append("[")
                for (i, item) in items.enumerated() {
                    if i > 0 { out.append(",") }
                    item.write(into: &out, indent: 0, compact: true)
                }
                out.append("]")
                return
            }
            out.append("[\n")
            for (i, item) in items.enumerated() {
                out.append(String(repeating: " ", count: indent + 2))
                item.write(into: &out, indent: indent + 2, compact: false)
                out.append(i + 1 < items.count ? ",\n" : "\n")
            }
            out.append(String(repeating: " ", count: indent) + "]")
        case .object(let fields):
            if fields.isEmpty { out.append("{}"); return }
            if compact {
                out.append("{")
                for (i, (key, value)) in fields.enumerated() {
                    if i > 0 { out.append(",") }
                    Self.writeString(key, into: &out)
                    out.append(":")
                    value.write(into: &out, indent: 0, compact: true)
                }
                out.append("}")
                return
            }
            out.append("{\n")
            for (i, (key, value)) in fields.enumerated() {
                out.append(String(repeating: " ", count: indent + 2))
                Self.writeString(key, into: &out)
                out.append(": ")
                value.write(into: &out, indent: indent + 2, compact: false)
                out.append(i + 1 < fields.count ? ",\n" : "\n")
            }
            out.append(String(repeating: " ", count: indent) + "}")
        }
    }

    static func writeString(_ s: String, into out: inout String) {
        out.append("\"")
        for scalar in s.unicodeScalars {
            switch scalar {
            case "\"": out.append("\\\"")
            case "\\": out.append("\\\\")
            case "\n": out.append("\\n")
            case "\r": out.append("\\r")
            case "\t": out.append("\\t")
            default:
                if scalar.value < 0x20 {
                    let hex = String(scalar.value, radix: 16)
                    out.append("\\u" + String(repeating: "0", count: 4 - hex.count) + hex)
                } else {
                    out.unicodeScalars.append(scalar)
                }
            }
        }
        out.append("\"")
    }
}

extension Optional where Wrapped == JSONValue {
    var orNull: JSONValue { self ?? .null }
}
