import CLinux

/// The one monotonic clock: every record's `timeNs`, every deadline, timeout and
/// interval in the project reads it, so times from the poller, the writer and the
/// daemon compare directly. `CLOCK_MONOTONIC` through the vDSO: no syscall on
/// x86_64, and a wall-clock jump never moves it.
public enum MonotonicClock {
    /// Nanoseconds since an arbitrary point fixed at boot.
    @inlinable
    public static func nowNs() -> UInt64 { UInt64(clinux_monotonic_ns()) }
}
