/// Walks strace's argument syntax: nested `()[]{}`, quoted strings with escapes,
/// `-y`/`-yy` fd annotations (`5<TCP:[127.0.0.1:80->127.0.0.1:4242]>`) and
/// `/* comments */`, so that a `,` or `)` inside any of them is not taken for the
/// end of an argument.
enum ArgumentScanner {
    /// Skips the construct that starts at `i` if it is one that must be skipped
    /// whole (string, annotation, comment) and returns the index after it;
    /// returns nil when `i` starts no such construct.
    @inline(__always)
    static func skipOpaque(_ line: LineBytes, at i: Int, end: Int) -> Int? {
        let b = line[i]
        if b == ASCII.quote {
            var j = i + 1
            while j < end {
                let c = line[j]
                if c == ASCII.backslash { j += 2; continue }
                if c == ASCII.quote { return j + 1 }
                j += 1
            }
            return end
        }
        if b == ASCII.less, i > 0, ASCII.isDigit(line[i - 1]) {
            // An fd annotation. Socket annotations contain `->`, so only a `>`
            // outside square brackets ends it.
            var j = i + 1
            var square = 0
            while j < end {
                let c = line[j]
                if c == ASCII.openBracket { square += 1 }
                else if c == ASCII.closeBracket { square -= 1 }
                else if c == ASCII.greater, square <= 0 { return j + 1 }
                else if c == ASCII.newline { break }
                j += 1
            }
            return end
        }
        if b == 0x2F, i + 1 < end, line[i + 1] == 0x2A {  // "/*"
            var j = i + 2
            while j + 1 < end {
                if line[j] == 0x2A, line[j + 1] == 0x2F { return j + 2 }
                j += 1
            }
            return end
        }
        return nil
    }

    /// The index of the `)` that closes an argument list opened just before `start`,
    /// or nil when the line ends first (a truncated line).
    /// It also writes into `commas` (cleared first) where the list's top-level commas
    /// are, so that `arguments(_:_:commas:into:)` splits it without a second scan.
    static func closingParen(_ line: LineBytes, from start: Int, end: Int, commas: inout CommaList) -> Int? {
        commas.clear()
        var depth = 0
        var i = start
        while i < end {
            let b = line[i]
            guard ASCII.isStructural(b) else {
                i += 1
                continue
            }
            if b == ASCII.quote || b == ASCII.less || b == 0x2F, let next = skipOpaque(line, at: i, end: end) {
                i = next
                continue
            }
            switch b {
            case ASCII.openParen, ASCII.openBracket, ASCII.openBrace: depth += 1
            case ASCII.closeParen:
                if depth == 0 { return i }
                depth -= 1
            case ASCII.closeBracket, ASCII.closeBrace: depth -= 1
            case ASCII.comma where depth == 0: commas.append(i)
            default: break
            }
            i += 1
        }
        return nil
    }

    /// The arguments of `range`, an argument list whose top-level commas `closingParen`
    /// found, into `out` (cleared first), each trimmed of blanks: what `split` gives.
    ///
    /// The same commas as `split`'s: every string, annotation and comment that starts
    /// inside the list also ends inside it (the `)` was found after it), so the depth
    /// at each byte is the same whether the scan stops at the `)` or at the line's end.
    static func arguments(_ line: LineBytes, _ range: Range<Int>, commas: CommaList, into out: inout [Range<Int>]) {
        out.removeAll(keepingCapacity: true)
        var argStart = range.lowerBound
        for k in 0..<commas.count {
            let comma = commas[k]
            out.append(line.trimmed(argStart..<comma))
            argStart = comma + 1
        }
        let last = line.trimmed(argStart..<range.upperBound)
        if !last.isEmpty || !out.isEmpty { out.append(last) }
    }

    /// Splits `range` at its top-level commas into `out` (cleared first), each
    /// argument trimmed of blanks.
    static func split(_ line: LineBytes, _ range: Range<Int>, into out: inout [Range<Int>]) {
        out.removeAll(keepingCapacity: true)
        var depth = 0
        var i = range.lowerBound
        var argStart = i
        let end = range.upperBound
        while i < end {
            let b = line[i]
            guard ASCII.isStructural(b) else {
                i += 1
                continue
            }
            if b == ASCII.quote || b == ASCII.less || b == 0x2F, let next = skipOpaque(line, at: i, end: end) {
                i = next
                continue
            }
            switch b {
            case ASCII.openParen, ASCII.openBracket, ASCII.openBrace: depth += 1
            case ASCII.closeParen, ASCII.closeBracket, ASCII.closeBrace: depth -= 1
            case ASCII.comma where depth == 0:
                out.append(line.trimmed(argStart..<i))
                argStart = i + 1
            default: break
            }
            i += 1
        }
        let last = line.trimmed(argStart..<end)
        if !last.isEmpty || !out.isEmpty { out.append(last) }
    }

    /// An fd argument: the number, and its `-y`/`-yy` annotation without the `<>`.
    static func fdArgument(_ line: LineBytes, _ range: Range<Int>) -> (fd: Int32, annotation: Range<Int>?)? {
        // AT_FDCWD and friends are not fds.
        guard let (value, after) = line.parseInteger(in: range),
              value >= Int64(Int32.min), value <= Int64(Int32.max) else { return nil }
        var annotation: Range<Int>?
        if after < range.upperBound, line[after] == ASCII.less {
            let close = skipOpaque(line, at: after, end: range.upperBound) ?? range.upperBound
            annotation = (after + 1)..<max(after + 1, close - 1)
        }
        return (Int32(value), annotation)
    }

    /// The fds of an `[4, 5]` array, as pipe2 and socketpair print them.
    static func fdPair(_ line: LineBytes, _ range: Range<Int>) -> [Int32] {
        guard range.count >= 2, line[range.lowerBound] == ASCII.openBracket else { return [] }
        var parts: [Range<Int>] = []
        var inner = (range.lowerBound + 1)..<(range.upperBound - 1)
        if line[range.upperBound - 1] != ASCII.closeBracket { inner = (range.lowerBound + 1)..<range.upperBound }
        split(line, inner, into: &parts)
        return parts.compactMap { fdArgument(line, $0)?.fd }
    }
}

/// Where a line's top-level argument commas are: a list reused from line to line,
/// cleared by resetting its count (an array's `removeAll` is a call per line).
struct CommaList {
    private var storage: [Int] = []
    private(set) var count = 0

    @inline(__always) mutating func clear() { count = 0 }

    @inline(__always) mutating func append(_ index: Int) {
        if count < storage.count { storage[count] = index } else { storage.append(index) }
        count += 1
    }

    @inline(__always) subscript(k: Int) -> Int { storage[k] }
}
