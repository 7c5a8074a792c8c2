-- Where a partner's EPCIS event disagreed with Threadline's state when it was applied (a child
-- unpacked from a parent it was not in, a lot taken with no place to take it from, an input
-- used up before…): the event is recorded all the same, and each disagreement is kept here.
-- Projection data: written in the capture's transaction and refilled by a rebuild, which
-- applies the same rule to the same ledger.
CREATE TABLE discrepancies (
    seq     BIGINT  NOT NULL,   -- the event's ledger position (= events.seq)
    n       INTEGER NOT NULL,   -- order within the event
    code    TEXT    NOT NULL,   -- the refusal code Threadline's own API would answer
    field   TEXT    NOT NULL,   -- in the EPCIS event's terms (childEPCs[0], bizLocation.id)
    message TEXT    NOT NULL,
    PRIMARY KEY (seq, n)
);
