-- The head of a batch event (one naming at least 8 units): the event without its unit lists
-- (`items`, `children`, `inputs`, `outputs`) and how many unit keys those held. A unit's
-- passport reads the head instead of the whole body, which may name hundreds of other units.
-- Derived from the ledger body (not hashed); refilled by rebuild.
ALTER TABLE events ADD COLUMN head TEXT, ADD COLUMN units BIGINT;

-- The events already recorded: those the event index names at least 7 units in (a parent
-- row may be among them), then their own count of unit keys. A body jsonb cannot hold (an
-- escaped NUL) keeps no head and is read whole.
UPDATE events SET head = h.head, units = h.units
FROM (
    SELECT b.seq,
           (b.doc - 'entry' - 'items' - 'children' - 'inputs' - 'outputs')::text AS head,
           coalesce(jsonb_array_length(b.doc -> 'items'), 0)
             + coalesce(jsonb_array_length(b.doc -> 'children'), 0)
             + coalesce(jsonb_array_length(b.doc -> 'inputs'), 0)
             + coalesce(jsonb_array_length(b.doc -> 'outputs'), 0) AS units
    FROM (
        SELECT l.seq, l.body::jsonb AS doc
        FROM (SELECT seq FROM event_items GROUP BY seq HAVING count(*) >= 7) AS c
        JOIN ledger l ON l.seq = c.seq
        WHERE position('\u0000' IN l.body) = 0
    ) AS b
) AS h
WHERE events.seq = h.seq AND h.units >= 8;
