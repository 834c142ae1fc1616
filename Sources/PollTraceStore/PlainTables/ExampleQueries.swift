/// The example queries of docs/schema.md, verbatim (a test checks that the doc and
/// these strings agree, and runs each against a real trace). `polltrace query` can
/// offer them by name.
public enum ExampleQueries {
    /// (a) Every batch with its events, in order.
    public static let batchesWithEvents = """
        SELECT batch_seq, poller, batch_number, event_index, fd, mask_text, data
        FROM batch_events ORDER BY batch_seq, event_index;
        """

    /// (b) Every dispatch whose fd was closed between its batch's harvest and the dispatch.
    public static let dispatchesAfterClose = """
        SELECT * FROM (
            SELECT d.seq, d.poller, d.batch_seq, d.event_index, d.fd, d.ran_registration_id,
                   d.handler_label, d.suppression,
                   (SELECT min(c.seq) FROM fd_closes c
                    WHERE c.fd = d.fd AND c.seq > d.batch_seq AND c.seq < d.seq) AS closed_seq
            FROM dispatches d WHERE d.source = 'event')
        WHERE closed_seq IS NOT NULL ORDER BY seq;
        """

    /// (c) The registrations alive at sequence number `:n`.
    public static let registrationsAliveAt = """
        SELECT registration_id, poller, fd, interest_text, handler_label, registered_seq, ended_seq
        FROM registrations
        WHERE registered_seq <= :n AND (ended_seq IS NULL OR ended_seq > :n)
        ORDER BY poller, fd;
        """

    /// (d) The ten handlers with the most total dispatch time.
    public static let topHandlersByTime = """
        SELECT handler, dispatches, total_duration_ns
        FROM handler_time ORDER BY total_duration_ns DESC LIMIT 10;
        """

    /// (e) The misrouted dispatches: the handler each event was harvested for, the one
    /// that ran, and the records that closed and reused the fd number.
    public static let misrouted = """
        SELECT seq, poller, fd, harvested_label, ran_label, closed_seq, closed_by_label, reused_seq, reused_by_label
        FROM findings WHERE kind = 'misrouted' ORDER BY seq;
        """

    /// (f) What `polltrace analyze` found, by kind.
    public static let findingsByKind = """
        SELECT kind, count(*) AS findings FROM findings GROUP BY kind ORDER BY kind;
        """

    public static let all: [(name: String, sql: String)] = [
        ("batches-with-events", batchesWithEvents),
        ("dispatches-after-close", dispatchesAfterClose),
        ("registrations-alive-at", registrationsAliveAt),
        ("top-handlers-by-time", topHandlersByTime),
        ("misrouted", misrouted),
        ("findings-by-kind", findingsByKind),
    ]
}
