import PollTraceCore

/// Reads `struct epoll_event` in each format strace has printed:
///
/// | strace     | format                                    |
/// | ---------- | ----------------------------------------- |
/// | < 5.11     | `{EPOLLIN, {u32=5, u64=5}}`               |
/// | 5.11–6.12  | `{events=EPOLLIN, data={u32=5, u64=5}}`   |
/// | 6.13 on    | `{events=EPOLLIN, data=0x5}`              |
///
/// The format is recognised per struct, not per log, so a log that mixes them
/// (concatenated from two machines) still reads.
enum EpollEventFormat {
    /// One event: its mask and the full 64-bit `epoll_data` word.
    static func parseEvent(_ line: LineBytes, _ range: Range<Int>) -> (mask: IOEvents, data: UInt64)? {
        if let (event, next) = commonEvent(line, from: range.lowerBound, end: range.upperBound), next == range.upperBound {
            return event
        }
        let r = line.trimmed(range)
        guard r.count >= 2, line[r.lowerBound] == ASCII.openBrace, line[r.upperBound - 1] == ASCII.closeBrace else {
            return nil
        }
        // `{mask, data}`: split at the one top-level comma, without allocating.
        let inner = (r.lowerBound + 1)..<(r.upperBound - 1)
        guard let comma = topLevelComma(line, inner), topLevelComma(line, (comma + 1)..<inner.upperBound) == nil else {
            return nil
        }
        var maskRange = line.trimmed(inner.lowerBound..<comma)
        if line.matches("events=", at: maskRange.lowerBound, end: maskRange.upperBound) {
            maskRange = (maskRange.lowerBound + 7)..<maskRange.upperBound
        }
        var dataRange = line.trimmed((comma + 1)..<inner.upperBound)
        if line.matches("data=", at: dataRange.lowerBound, end: dataRange.upperBound) {
            dataRange = (dataRange.lowerBound + 5)..<dataRange.upperBound
        }
        guard let mask = parseMask(line, maskRange), let data = parseData(line, dataRange) else { return nil }
        return (mask, data)
    }

    /// `[{…}, {…}]` as epoll_wait prints its result. `truncated` is set when strace
    /// abbreviated the array with `...` (more events than its `-s` limit).
    static func parseEventArray(_ line: LineBytes, _ range: Range<Int>,
                                into events: inout [(mask: IOEvents, data: UInt64)]) -> (ok: Bool, truncated: Bool) {
        events.removeAll(keepingCapacity: true)
        let r = line.trimmed(range)
        guard r.count >= 2, line[r.lowerBound] == ASCII.openBracket, line[r.upperBound - 1] == ASCII.closeBracket else {
            return (false, false)
        }
        var truncated = false
        var start = r.lowerBound + 1
        let end = r.upperBound - 1
        while start < end {
            if let (event, next) = commonEvent(line, from: start, end: end) {
                events.append(event)
                start = next + 1
                continue
            }
            let stop = topLevelComma(line, start..<end) ?? end
            let item = line.trimmed(start..<stop)
            start = stop + 1
            if item.isEmpty && stop == end { break }
            if line.equals("...", in: item) { truncated = true; continue }
            guard let event = parseEvent(line, item) else { return (false, truncated) }
            events.append(event)
        }
        return (true, truncated)
    }

    /// The event at `start` (after blanks) in one pass, when it has one of the shapes
    /// strace prints: `{events=MASK, data={u32=N, u64=N}}`, `{MASK, {u32=N, u64=N}}`
    /// or `{events=MASK, data=0xN}`, with MASK only names, digits and `|`, and is
    /// followed by blanks and a `,` or the array's end (`end`), whose index is
    /// returned with it. Anything else gives nil, and the general path reads it.
    ///
    /// Same result as that path: such an event has one top-level comma (after the
    /// mask; the one between u32 and u64 is inside braces), and its mask and data are
    /// read by the same `parseMask` and `parseInteger`.
    static func commonEvent(_ line: LineBytes, from start: Int, end: Int) -> (event: (mask: IOEvents, data: UInt64), next: Int)? {
        var i = line.skipSpaces(from: start, to: end)
        guard i < end, line[i] == ASCII.openBrace else { return nil }
        i += 1
        if line.matches("events=", at: i, end: end) { i += 7 }
        let maskStart = i
        while i < end, ASCII.isNameByte(line[i]) || line[i] == ASCII.pipe { i += 1 }
        guard i > maskStart, i < end, line[i] == ASCII.comma else { return nil }
        let maskEnd = i
        i = line.skipSpaces(from: i + 1, to: end)
        if line.matches("data=", at: i, end: end) { i += 5 }
        guard i < end else { return nil }
        var valueStart = i
        let braced = line[i] == ASCII.openBrace
        if braced {
            guard line.matches("u32=", at: i + 1, end: end) else { return nil }
            var j = i + 5
            while j < end, ASCII.isDigit(line[j]) { j += 1 }
            guard j > i + 5, line.matches(", u64=", at: j, end: end) else { return nil }
            valueStart = j + 6
        }
        guard valueStart < end, ASCII.isDigit(line[valueStart]),
              let (value, after) = line.parseInteger(in: valueStart..<end) else { return nil }
        i = after
        if braced {
            guard i < end, line[i] == ASCII.closeBrace else { return nil }
            i += 1
        }
        guard i < end, line[i] == ASCII.closeBrace else { return nil }
        let next = line.skipSpaces(from: i + 1, to: end)
        guard next == end || line[next] == ASCII.comma, let mask = parseMask(line, maskStart..<maskEnd) else { return nil }
        return ((mask, UInt64(bitPattern: value)), next)
    }

    /// The first `,` in `range` outside brackets, braces, strings and annotations.
    static func topLevelComma(_ line: LineBytes, _ range: Range<Int>) -> Int? {
        var depth = 0
        var i = range.lowerBound
        while i < range.upperBound {
            let b = line[i]
            guard ASCII.isStructural(b) else {
                i += 1
                continue
            }
            if b == ASCII.quote || b == ASCII.less, let next = ArgumentScanner.skipOpaque(line, at: i, end: range.upperBound) {
                i = next
                continue
            }
            switch b {
            case ASCII.openParen, ASCII.openBracket, ASCII.openBrace: depth += 1
            case ASCII.closeParen, ASCII.closeBracket, ASCII.closeBrace: depth -= 1
            case ASCII.comma where depth == 0: return i
            default: break
            }
            i += 1
        }
        return nil
    }

    /// `EPOLLIN|EPOLLET`, `EPOLLIN|0x400`, `0x2001` or `0`.
    static func parseMask(_ line: LineBytes, _ range: Range<Int>) -> IOEvents? {
        var bits: UInt32 = 0
        var tokenStart = range.lowerBound
        var i = range.lowerBound
        while i <= range.upperBound {
            if i == range.upperBound || line[i] == ASCII.pipe {
                let token = line.trimmed(tokenStart..<i)
                guard !token.isEmpty else { return nil }
                if let (value, after) = line.parseInteger(in: token), after == token.upperBound {
                    bits |= UInt32(truncatingIfNeeded: value)
                } else if let bit = maskBit(line, token) {
                    bits |= bit
                } else {
                    return nil
                }
                tokenStart = i + 1
            }
            i += 1
        }
        return IOEvents(rawValue: bits)
    }

    private static let names: [(StaticString, UInt32)] = [
        ("EPOLLIN", 0x1), ("EPOLLPRI", 0x2), ("EPOLLOUT", 0x4), ("EPOLLERR", 0x8), ("EPOLLHUP", 0x10),
        ("EPOLLNVAL", 0x20), ("EPOLLRDNORM", 0x40), ("EPOLLRDBAND", 0x80), ("EPOLLWRNORM", 0x100),
        ("EPOLLWRBAND", 0x200), ("EPOLLMSG", 0x400), ("EPOLLRDHUP", 0x2000), ("EPOLLEXCLUSIVE", 1 << 28),
        ("EPOLLWAKEUP", 1 << 29), ("EPOLLONESHOT", 1 << 30), ("EPOLLET", 1 << 31),
    ]

    private static func maskBit(_ line: LineBytes, _ token: Range<Int>) -> UInt32? {
        for (name, bit) in names where line.equals(name, in: token) { return bit }
        return nil
    }

    /// `{u32=5, u64=5}` (the u64 is the whole word) or `0x5`.
    static func parseData(_ line: LineBytes, _ range: Range<Int>) -> UInt64? {
        let r = line.trimmed(range)
        guard !r.isEmpty else { return nil }
        if line[r.lowerBound] == ASCII.openBrace {
            var i = r.lowerBound
            while i + 4 <= r.upperBound {
                if line.matches("u64=", at: i, end: r.upperBound),
                   let (value, _) = line.parseInteger(in: (i + 4)..<r.upperBound) {
                    return UInt64(bitPattern: value)
                }
                i += 1
            }
            return nil
        }
        guard let (value, after) = line.parseInteger(in: r), after == r.upperBound else { return nil }
        return UInt64(bitPattern: value)
    }
}
