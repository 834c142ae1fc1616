/// Live control connections per client address, so one address cannot take every
/// connection slot (otherwise a slowloris holding a thousand half-sent requests
/// gets every other client a 503). Loop-confined to the control poller.
struct PeerConnectionCount {
    let limit: Int
    private var counts: [UInt32: Int] = [:]

    init(limit: Int) { self.limit = limit }

    /// Counts a connection from `peer` if it is under the limit; false means refuse it.
    mutating func admit(_ peer: UInt32) -> Bool {
        let current = counts[peer, default: 0]
        guard current < limit else { return false }
        counts[peer] = current + 1
        return true
    }

    mutating func release(_ peer: UInt32) {
        guard let current = counts[peer] else { return }
        if current <= 1 { counts.removeValue(forKey: peer) } else { counts[peer] = current - 1 }
    }

    static func describe(_ peer: UInt32) -> String {
        "\(peer >> 24).\((peer >> 16) & 0xFF).\((peer >> 8) & 0xFF).\(peer & 0xFF)"
    }
}
