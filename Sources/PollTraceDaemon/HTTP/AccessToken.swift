/// The secret a control client must present as `Authorization: Bearer <token>`.
///
/// Required by polltraced whenever it listens on an address other than loopback
/// (`--token-file`); checked for every request in `ControlConnection`, before the
/// router, so every route has it. The comparison takes the same time whatever the
/// first differing byte is, so response timing does not leak the token a byte at a
/// time.
public struct AccessToken: Sendable {
    private let secret: [UInt8]

    /// The token is the file's text without surrounding whitespace (a trailing
    /// newline from `echo` or an editor is not part of it).
    public init?(fileContents: [UInt8]) {
        var bytes = ArraySlice(fileContents)
        while let last = bytes.last, Self.isSpace(last) { bytes.removeLast() }
        while let first = bytes.first, Self.isSpace(first) { bytes.removeFirst() }
        guard !bytes.isEmpty, !bytes.contains(where: { $0 < 0x21 || $0 > 0x7E }) else { return nil }
        secret = Array(bytes)
    }

    /// Shortest token accepted: 16 printable characters (e.g. `openssl rand -hex 16`
    /// gives 32).
    public static let minimumLength = 16

    public var isLongEnough: Bool { secret.count >= Self.minimumLength }

    /// Whether `authorization` (the header's value, nil when absent) carries this token.
    public func admits(authorization: String?) -> Bool {
        guard let authorization else { return false }
        let value = Array(authorization.utf8)
        let scheme = Array("bearer ".utf8)
        guard value.count > scheme.count,
              zip(value, scheme).allSatisfy({ $0 | 0x20 == $1 | 0x20 }) else { return false }
        var presented = value[scheme.count...]
        while let first = presented.first, first == 0x20 { presented.removeFirst() }
        return Self.constantTimeEqual(Array(presented), secret)
    }

    /// Compares every byte of the longer input, so the time depends only on the lengths.
    static func constantTimeEqual(_ a: [UInt8], _ b: [UInt8]) -> Bool {
        var difference = UInt8(truncatingIfNeeded: a.count ^ b.count) | (a.count == b.count ? 0 : 1)
        let length = max(a.count, b.count)
        for index in 0..<length {
            let x = index < a.count ? a[index] : 0
            let y = index < b.count ? b[index] : 0
            difference |= x ^ y
        }
        return difference == 0
    }

    private static func isSpace(_ byte: UInt8) -> Bool { byte == 0x20 || byte == 0x09 || byte == 0x0A || byte == 0x0D }
}
