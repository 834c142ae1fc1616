/// Position of a record in the process-wide total order. Starts at 1; 0 means "none".
public typealias SequenceNumber = UInt64

/// Identifies one poller (one event loop thread) within a traced process. 0 means
/// "not on a poller thread" (for example an fd opened by `main` before any loop ran).
public typealias PollerID = UInt32

/// Identifies one registration of one fd with one poller, unique within a process.
///
/// A 32-bit id travels in the upper half of `epoll_data.u64` beside the fd (see
/// `EpollData`), which is how the guarded policy recognises an event harvested for
/// a registration that has since been replaced. It wraps after 2^32 registrations;
/// 0 is skipped on wrap so it can keep meaning "none". A collision would need the
/// same fd number to be re-registered exactly 2^32 registrations later while a
/// stale event for the first is still pending in one batch, which cannot happen in
/// one `epoll_wait` batch's lifetime in practice.
public typealias RegistrationID = UInt32

/// How the guarded policy packs a registration into the 64-bit `epoll_data` word:
/// registration id in the high 32 bits, fd in the low 32. Naive and snapshot loops
/// store only the fd (as the seed's loop did), so for them `registrationID` is 0.
public enum EpollData {
    public static func pack(registrationID: RegistrationID, fd: Int32) -> UInt64 {
        (UInt64(registrationID) << 32) | UInt64(UInt32(bitPattern: fd))
    }

    public static func fd(_ data: UInt64) -> Int32 {
        Int32(bitPattern: UInt32(truncatingIfNeeded: data))
    }

    public static func registrationID(_ data: UInt64) -> RegistrationID {
        RegistrationID(truncatingIfNeeded: data >> 32)
    }
}
