/// Knobs for replay.
public struct ReplayOptions: Hashable, Sendable {
    /// A registration that runs in this many consecutive batches of its poller with
    /// the same delivered mask, doing no visible work (no fd record from its
    /// dispatch) in any but the last, is reported as a spin. 8 is well above what a busy but
    /// healthy level-triggered socket shows in a short burst (it is drained within a
    /// batch or two) and far below the seed's dead loop, which never stops.
    public static let defaultSpinThreshold = 8
    public var spinThreshold: Int
    /// How many findings (and inconsistencies) are kept in detail; counts are always
    /// exact. nil keeps all. Keeps memory bounded on a trace full of findings.
    public var maxDetailed: Int?

    public init(spinThreshold: Int = ReplayOptions.defaultSpinThreshold, maxDetailed: Int? = 1000) {
        self.spinThreshold = max(2, spinThreshold); self.maxDetailed = maxDetailed
    }
}
