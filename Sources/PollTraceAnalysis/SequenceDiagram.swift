import PollTraceCore

/// A finding's interleaving drawn as a small sequence diagram (inline SVG): one
/// lifeline for the loop that harvested the batch and one per handler involved
/// (the one that closed the fd, the one that reused its number, the one that ran
/// the stale event), with the steps top to bottom in sequence order.
public struct SequenceDiagram: Sendable {
    public struct Step: Sendable {
        /// Index into `actors`; 0 is the loop.
        public var actor: Int
        public var text: String
        /// Where it is in the trace: "seq 379" or "line 16".
        public var at: String
        public var isStale: Bool
    }

    /// A lifeline: what part it plays ("closed by") and who ("control-conn, seq 377").
    public struct Actor: Sendable {
        public var role: String
        public var who: String
    }

    public var actors: [Actor]
    public var steps: [Step]

    /// The steps of a replay finding, from what it records about its interleaving.
    public init(finding f: Finding) {
        actors = [Actor(role: "loop", who: "poller \(f.poller)")]
        steps = []
        let fd = f.event.fd
        let harvested = f.harvestedFor.map { "#\($0.registrationID) \($0.handlerLabel)" } ?? "no live registration"
        steps.append(Step(actor: 0, text: "harvest batch #\(f.batch.batchNumber): event \(f.eventIndex) = fd \(fd) \(f.event.mask), for \(harvested)",
                          at: "seq \(f.batch.seq)", isStale: false))
        if let h = f.harvestedFor, let end = h.fdClose ?? h.end {
            let who = end.by.map { "\($0.handlerLabel), seq \($0.seq)" } ?? "outside any handler"
            let actor = add(Actor(role: "closed by", who: who))
            steps.append(Step(actor: actor, text: end.reason == .closed || h.fdClose != nil ? "close fd \(fd): #\(h.registrationID) ends" : "unregister #\(h.registrationID) (fd \(fd))",
                              at: "seq \(end.seq)", isStale: false))
        }
        if let r = f.ran, r.registrationID != f.harvestedFor?.registrationID {
            let by = r.fdOpenedBy ?? r.registeredBy
            let who = by.map { "\($0.handlerLabel), seq \($0.seq)" } ?? "outside any handler"
            let actor = add(Actor(role: "reused by", who: who))
            steps.append(Step(actor: actor, text: "new fd \(r.fd) (\(r.fdOrigin.map { "\($0)" } ?? "?")), registered #\(r.registrationID) \(r.handlerLabel)",
                              at: "seq \(r.fdOpenedSeq > 0 ? r.fdOpenedSeq : r.registeredSeq)", isStale: false))
        }
        if let d = f.dispatch {
            if let reason = d.suppression {
                let actor = add(Actor(role: "guard", who: "dispatch seq \(d.seq)"))
                steps.append(Step(actor: actor, text: "event \(f.eventIndex) (fd \(fd)) suppressed: \(reason) (\(f.kind.rawValue))",
                                  at: "seq \(d.seq)", isStale: f.kind.isProblem))
            } else {
                let ran = f.ran.map { "#\($0.registrationID) \($0.handlerLabel)" } ?? "registration #\(d.ranRegistrationID)"
                let actor = add(Actor(role: "ran", who: ran))
                steps.append(Step(actor: actor, text: "event \(f.eventIndex) (fd \(fd) \(f.event.mask)) dispatched to \(ran): \(f.kind.rawValue.uppercased())",
                                  at: "seq \(d.seq)", isStale: f.kind.isProblem))
            }
        }
    }

    /// The steps of a hazard found in an imported strace log, by log line.
    public init(mark m: LineMark) {
        actors = [Actor(role: "epoll_wait", who: "strace log"), Actor(role: "thread", who: "after the wait")]
        steps = [Step(actor: 0, text: "harvest: fd \(m.fd) in the batch", at: "line \(m.waitLine)", isStale: false)]
        if let close = m.closeLine { steps.append(Step(actor: 1, text: "close fd \(m.fd) before its event was handled", at: "line \(close)", isStale: false)) }
        if let reuse = m.reuseLine { steps.append(Step(actor: 1, text: "fd number \(m.fd) created again", at: "line \(reuse)", isStale: m.accessLine == nil)) }
        if let access = m.accessLine { steps.append(Step(actor: 1, text: "new fd \(m.fd) accessed before the next wait: \(m.kind)", at: "line \(access)", isStale: true)) }
    }

    private mutating func add(_ actor: Actor) -> Int {
        actors.append(actor)
        return actors.count - 1
    }

    /// The SVG, sized by its viewBox so it scales to the width it is given.
    public func svg(title: String) -> String {
        let columnWidth = 190, left = 10, top = 44, rowHeight = 46
        let width = left * 2 + columnWidth * actors.count
        let height = top + rowHeight * steps.count + 16
        func x(_ actor: Int) -> Int { left + columnWidth * actor + columnWidth / 2 }
        var out = "<svg class=\"seq\" viewBox=\"0 0 \(width) \(height)\" role=\"img\" aria-label=\"\(HTMLText.escape(title))\" xmlns=\"http://www.w3.org/2000/svg\">"
        out += "<title>\(HTMLText.escape(title))</title>"
        out += "<defs><marker id=\"arrow\" viewBox=\"0 0 10 10\" refX=\"9\" refY=\"5\" markerWidth=\"7\" markerHeight=\"7\" orient=\"auto-start-reverse\"><path d=\"M0,0L10,5L0,10z\" fill=\"context-stroke\"/></marker></defs>"
        for (i, actor) in actors.enumerated() {
            out += "<rect class=\"actor\" x=\"\(left + columnWidth * i + 4)\" y=\"2\" width=\"\(columnWidth - 8)\" height=\"32\" rx=\"4\"><title>\(HTMLText.escape(actor.role + ": " + actor.who))</title></rect>"
            out += "<text class=\"actor-name\" x=\"\(x(i))\" y=\"15\" text-anchor=\"middle\">\(HTMLText.escape(HTMLText.clip(actor.role, 30)))</text>"
            out += "<text class=\"actor-who\" x=\"\(x(i))\" y=\"29\" text-anchor=\"middle\">\(HTMLText.escape(HTMLText.clip(actor.who, 30)))</text>"
            out += "<line class=\"lifeline\" x1=\"\(x(i))\" y1=\"34\" x2=\"\(x(i))\" y2=\"\(height - 4)\"/>"
        }
        for (n, step) in steps.enumerated() {
            let y = top + rowHeight * n + 26
            let cls = step.isStale ? "msg stale" : "msg"
            if step.actor == 0 {
                out += "<path class=\"\(cls)\" d=\"M\(x(0)),\(y - 8) h24 v12 h-22\" fill=\"none\" marker-end=\"url(#arrow)\"/>"
            } else {
                out += "<line class=\"\(cls)\" x1=\"\(x(0))\" y1=\"\(y)\" x2=\"\(x(step.actor) - 4)\" y2=\"\(y)\" marker-end=\"url(#arrow)\"/>"
            }
            let textX = step.actor == 0 ? x(0) + 30 : x(0) + 8
            // The label may run past its arrow, up to the diagram's right edge.
            let room = (width - textX - 4) * 10 / 62
            out += "<text class=\"\(step.isStale ? "label stale" : "label")\" x=\"\(textX)\" y=\"\(y - 6)\">\(n + 1). \(HTMLText.escape(HTMLText.clip(step.text, room)))<title>\(HTMLText.escape(step.text))</title></text>"
            out += "<text class=\"at\" x=\"\(textX)\" y=\"\(y + 13)\">\(HTMLText.escape(step.at))</text>"
        }
        out += "</svg>"
        return out
    }
}
