/// Small byte-level helpers the parser is built from.
///
/// The importer reads hundreds of megabytes of log, so it never turns a whole line
/// into a `String`: every step below works on a borrowed `UnsafeBufferPointer<UInt8>`
/// and a `Range<Int>` into it, and only the few names that end up in records become
/// strings.
typealias LineBytes = UnsafeBufferPointer<UInt8>

enum ASCII {
    static let space: UInt8 = 0x20
    static let tab: UInt8 = 0x09
    static let newline: UInt8 = 0x0A
    static let carriageReturn: UInt8 = 0x0D
    static let quote: UInt8 = 0x22
    static let backslash: UInt8 = 0x5C
    static let comma: UInt8 = 0x2C
    static let openParen: UInt8 = 0x28
    static let closeParen: UInt8 = 0x29
    static let openBracket: UInt8 = 0x5B
    static let closeBracket: UInt8 = 0x5D
    static let openBrace: UInt8 = 0x7B
    static let closeBrace: UInt8 = 0x7D
    static let less: UInt8 = 0x3C
    static let greater: UInt8 = 0x3E
    static let equals: UInt8 = 0x3D
    static let minus: UInt8 = 0x2D
    static let plus: UInt8 = 0x2B
    static let dot: UInt8 = 0x2E
    static let colon: UInt8 = 0x3A
    static let pipe: UInt8 = 0x7C
    static let question: UInt8 = 0x3F
    static let zero: UInt8 = 0x30
    static let nine: UInt8 = 0x39
    static let lowerX: UInt8 = 0x78

    @inline(__always) static func isDigit(_ b: UInt8) -> Bool { b >= zero && b <= nine }
    @inline(__always) static func isNameByte(_ b: UInt8) -> Bool {
        (b >= 0x61 && b <= 0x7A) || (b >= 0x41 && b <= 0x5A) || isDigit(b) || b == 0x5F
    }
    /// True for the bytes that can change an argument scan's state: `()[]{}`, `,`,
    /// `"`, `<` and `/`. Names, digits, blanks, `=` and `|`, most of a line, are
    /// passed over with this one test instead of a comparison per kind of byte.
    @inline(__always) static func isStructural(_ b: UInt8) -> Bool {
        // Bit k of `low` stands for byte k (0x00-0x3F), bit k of `high` for byte 0x40 + k.
        let low: UInt64 = 1 << 0x22 | 1 << 0x28 | 1 << 0x29 | 1 << 0x2C | 1 << 0x2F | 1 << 0x3C
        let high: UInt64 = 1 << (0x5B - 0x40) | 1 << (0x5D - 0x40) | 1 << (0x7B - 0x40) | 1 << (0x7D - 0x40)
        return b < 0x80 && ((b < 0x40 ? low : high) >> UInt64(b & 0x3F)) & 1 != 0
    }
    @inline(__always) static func hexValue(_ b: UInt8) -> UInt64? {
        switch b {
        case 0x30...0x39: UInt64(b - 0x30)
        case 0x61...0x66: UInt64(b - 0x61 + 10)
        case 0x41...0x46: UInt64(b - 0x41 + 10)
        default: nil
        }
    }
}

extension UnsafeBufferPointer where Element == UInt8 {
    @inline(__always) func skipSpaces(from index: Int, to end: Int) -> Int {
        var i = index
        while i < end, self[i] == ASCII.space || self[i] == ASCII.tab { i += 1 }
        return i
    }

    /// The range without leading and trailing blanks.
    func trimmed(_ range: Range<Int>) -> Range<Int> {
        var lo = range.lowerBound, hi = range.upperBound
        while lo < hi, self[lo] == ASCII.space || self[lo] == ASCII.tab { lo += 1 }
        while hi > lo, self[hi - 1] == ASCII.space || self[hi - 1] == ASCII.tab { hi -= 1 }
        return lo..<hi
    }

    /// True when `literal` occurs at `index`.
    @inline(__always) func matches(_ literal: StaticString, at index: Int, end: Int) -> Bool {
        let count = literal.utf8CodeUnitCount
        guard index >= 0, index + count <= end else { return false }
        let lit = literal.utf8Start
        for k in 0..<count where self[index + k] != lit[k] { return false }
        return true
    }

    /// True when the range ends with `literal`.
    @inline(__always) func hasSuffix(_ literal: StaticString, in range: Range<Int>) -> Bool {
        matches(literal, at: range.upperBound - literal.utf8CodeUnitCount, end: range.upperBound)
    }

    /// True when the range holds exactly `literal`.
    @inline(__always) func equals(_ literal: StaticString, in range: Range<Int>) -> Bool {
        range.count == literal.utf8CodeUnitCount && matches(literal, at: range.lowerBound, end: range.upperBound)
    }

    /// A signed decimal or `0x` hex integer at the start of `range`, and where it ended.
    func parseInteger(in range: Range<Int>) -> (value: Int64, end: Int)? {
        var i = range.lowerBound
        let end = range.upperBound
        guard i < end else { return nil }
        var negative = false
        if self[i] == ASCII.minus { negative = true; i += 1 }
        guard i < end, ASCII.isDigit(self[i]) else { return nil }
        var magnitude: UInt64 = 0
        if self[i] == ASCII.zero, i + 1 < end, self[i + 1] == ASCII.lowerX {
            i += 2
            let start = i
            while i < end, let digit = ASCII.hexValue(self[i]) {
                magnitude = magnitude &* 16 &+ digit
                i += 1
            }
            guard i > start else { return nil }
        } else {
            while i < end, ASCII.isDigit(self[i]) {
                magnitude = magnitude &* 10 &+ UInt64(self[i] - ASCII.zero)
                i += 1
            }
        }
        let value = Int64(bitPattern: magnitude)
        return (negative ? 0 &- value : value, i)
    }

    func string(_ range: Range<Int>) -> String {
        String(decoding: UnsafeBufferPointer(rebasing: self[range]), as: UTF8.self)
    }
}
