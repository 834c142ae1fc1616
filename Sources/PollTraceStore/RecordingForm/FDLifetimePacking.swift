import PollTraceCore

/// Schema v6 stores a registration's end in the registration's own row when the
/// end comes in the same commit: the unregistration and the fd's close (which
/// `FDRecordPairing` already keeps together) go into the registration's
/// `fd_records` row as three numbers, and get no row of their own:
/// - `i`: the close's seq minus the registration's (the unregistration is at `seq + i - 1`);
/// - `j`: the close's time minus the registration's;
/// - `k`: the close's time minus the unregistration's (`FDRecordPairing`'s `c`).
///
/// Why: a short connection was three rows, its registration (with the fd open
/// packed in), its close (with the unregistration packed in) and, for one handed
/// to another poller, the open. Rows are what the writer thread pays for (SQLite's
/// insert per row); leaving the close row out took polltraced's traced flood
/// about 1% faster in a side-by-side A/B (an A/B with bench-daemon.sh side-by-side). A
/// reader takes the two records out when it reaches the row and returns them in
/// their own seq order later (they are later records, like a batch's packed
/// dispatches), so no other row has to move.
enum FDLifetimePacking {
    /// The largest seq and time distances packed, so that the views' `seq + i` and
    /// `t + j` cannot overflow SQLite's 64-bit integers.
    static let maxDistance: UInt64 = 1 << 62

    /// The registrations of `chunk` whose unregistration (immediately followed by
    /// the fd's close, on the same poller) comes later in `chunk`: pairs of indexes
    /// (registration, unregistration), in order of the registration, and `ends`,
    /// the unregistrations' indexes in order. Reuses `scratch` and the output
    /// arrays' storage, so that a commit allocates nothing once they have grown.
    static func lifetimes(in chunk: [TraceRecord], closes: (Int) -> Bool, scratch open: inout [UInt64: OpenRegistration],
                          into found: inout [(registration: Int, unregistration: Int)], ends: inout [Int]) {
        open.removeAll(keepingCapacity: true)
        found.removeAll(keepingCapacity: true)
        ends.removeAll(keepingCapacity: true)
        for index in chunk.indices {
            switch chunk[index] {
            case .registered(let r):
                open[key(r.poller, r.registrationID)] = OpenRegistration(index: index, seq: r.seq, timeNs: r.timeNs, fd: r.fd)
            case .unregistered(let u):
                guard let r = open.removeValue(forKey: key(u.poller, u.registrationID)), r.fd == u.fd, closes(index),
                      case .closed(let c) = chunk[index + 1], c.seq > r.seq, c.seq - r.seq < maxDistance,
                      c.timeNs >= r.timeNs, c.timeNs - r.timeNs < maxDistance else { continue }
                found.append((r.index, index))
            default:
                continue
            }
        }
        // Found in order of their ends; the rows are written in order of their starts.
        for lifetime in found { ends.append(lifetime.unregistration) }
        found.sort { $0.registration < $1.registration }
    }

    /// What the search needs of a registration it has passed, so that it does not
    /// read (copy) the record again at its unregistration.
    struct OpenRegistration {
        let index: Int
        let seq: SequenceNumber
        let timeNs: UInt64
        let fd: Int32
    }

    @inline(__always)
    private static func key(_ poller: PollerID, _ registrationID: RegistrationID) -> UInt64 {
        UInt64(poller) << 32 | UInt64(registrationID)
    }

    /// The registration row `row` with the end (`unregistered`, then `closed`) packed in.
    static func pack(_ row: inout FDRow, registered r: Registered, unregistered u: Unregistered, closed c: Closed) {
        row.i = Int64(c.seq - r.seq)
        row.j = Int64(c.timeNs - r.timeNs)
        row.k = Int64(c.timeNs - u.timeNs)
    }

    /// The unregistration and close packed in a registration row read back, or nil if none.
    static func packedEnd(of r: Registered, i: Int64?, j: Int64?, k: Int64?) throws -> (Unregistered, Closed)? {
        guard let i else {
            guard j == nil, k == nil else { throw RowEncoding.DecodeError.bad("record \(r.seq): a packed close's times without its distance (i)") }
            return nil
        }
        guard let j, let k, i >= 2, UInt64(i) < maxDistance, j >= 0, UInt64(j) < maxDistance, k >= 0, UInt64(k) < maxDistance,
              r.seq <= UInt64.max - UInt64(i) else {
            throw RowEncoding.DecodeError.bad("record \(r.seq): a packed unregistration and close with bad distances (i \(i), j \(j.map(String.init) ?? "NULL"), k \(k.map(String.init) ?? "NULL"))")
        }
        let closedAt = r.timeNs &+ UInt64(j)
        let unregistered = Unregistered(seq: r.seq + UInt64(i) - 1, timeNs: closedAt &- UInt64(k), poller: r.poller,
                                        registrationID: r.registrationID, fd: r.fd)
        return (unregistered, Closed(seq: r.seq + UInt64(i), timeNs: closedAt, poller: r.poller, fd: r.fd))
    }
}
