import Foundation

/// Rewrites the epoll_event structs of a log printed by strace 5.11 to 6.12
/// (`{events=EPOLLIN, data={u32=5, u64=5}}`) into the format before 5.11
/// (`{EPOLLIN, {u32=5, u64=5}}`) or from 6.13 on (`{events=EPOLLIN, data=0x5}`), so
/// one real recording proves the analysis in every format.
public enum EventFormatRewrite {
    public enum Format: String, CaseIterable, Sendable { case before5_11 = "pre-5.11", from6_13 = "6.13" }

    private static let pattern = try! NSRegularExpression(
        pattern: #"\{events=([^,{}]*), data=\{u32=(\d+), u64=(\d+)\}\}"#)

    public static func rewrite(_ log: String, to format: Format) -> String {
        let ns = log as NSString
        var out = ""
        out.reserveCapacity(log.utf8.count)
        var last = 0
        for match in pattern.matches(in: log, range: NSRange(location: 0, length: ns.length)) {
            out += ns.substring(with: NSRange(location: last, length: match.range.location - last))
            let events = ns.substring(with: match.range(at: 1))
            let u32 = ns.substring(with: match.range(at: 2))
            let u64 = ns.substring(with: match.range(at: 3))
            switch format {
            case .before5_11: out += "{\(events), {u32=\(u32), u64=\(u64)}}"
            case .from6_13: out += "{events=\(events), data=0x\(String(UInt64(u64) ?? 0, radix: 16))}"
            }
            last = match.range.location + match.range.length
        }
        out += ns.substring(from: last)
        return out
    }
}
