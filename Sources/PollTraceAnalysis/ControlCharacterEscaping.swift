extension String {
    /// The text with every control character (C0, DEL, C1) written as `\n`, `\t`,
    /// `\r`, `\0` or `\u{XX}`, for a value from a trace (a handler label, a program
    /// or host name) inside a text report: raw, an escape sequence could rewrite the
    /// terminal and a newline could forge a report line.
    public var escapingControlCharacters: String {
        guard unicodeScalars.contains(where: Self.isControl) else { return self }
        var out = ""
        for scalar in unicodeScalars {
            switch scalar {
            case "\n": out += "\\n"
            case "\t": out += "\\t"
            case "\r": out += "\\r"
            case "\0": out += "\\0"
            case _ where Self.isControl(scalar):
                out += "\\u{" + String(scalar.value, radix: 16, uppercase: true) + "}"
            default: out.unicodeScalars.append(scalar)
            }
        }
        return out
    }

    private static func isControl(_ scalar: Unicode.Scalar) -> Bool {
        scalar.value < 0x20 || (0x7F...0x9F).contains(scalar.value)
    }
}
