/// Replay across lost records: gap records, and holes in the sequence with none.
extension Replayer {
    mutating func gap(_ g: Gap) {
        afterGap = true
        appendGap(GapReport(seq: g.seq, firstLost: g.firstLost, lastLost: g.lastLost, lostCount: g.lostCount,
                            fromTimeNs: g.fromTimeNs, toTimeNs: g.toTimeNs, unannounced: false))
        // Holes in the sequence that this gap explains are not reported separately.
        let before = pendingHoles.count
        pendingHoles.removeAll { $0.firstLost >= g.firstLost && $0.lastLost <= g.lastLost }
        pendingHoleCount -= UInt64(before - pendingHoles.count)
    }

    mutating func noteHole(from first: SequenceNumber, to last: SequenceNumber, atTime timeNs: UInt64) {
        // A hole with no gap record (yet): the records are missing, so what they did
        // is unknown. Replay goes on as after a gap.
        afterGap = true
        pendingHoleCount += 1
        if options.maxDetailed.map({ pendingHoles.count < $0 }) ?? true {
            pendingHoles.append(GapReport(seq: 0, firstLost: first, lastLost: last, lostCount: last - first + 1,
                                          fromTimeNs: timeNs, toTimeNs: timeNs, unannounced: true))
        }
    }

    mutating func appendGap(_ gap: GapReport) {
        gapCount += 1
        if options.maxDetailed.map({ gaps.count < $0 }) ?? true { gaps.append(gap) }
    }
}
