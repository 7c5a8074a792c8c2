-- The head of a batch event (one naming at least 8 units): the event without its unit lists
-- (`items`, `children`, `inputs`, `outputs`) and how many unit keys those held. A unit's
-- passport reads the head instead of the whole body, which may name hundreds of other units.
-- Derived from the ledger body (not hashed); refilled by rebuild.
ALTER TABLE events ADD COLUMN head TEXT;
ALTER TABLE events ADD COLUMN units INTEGER;

-- The events already recorded: those the event index names at least 7 units in (a parent
-- row may be among them), then their own count of unit keys.
UPDATE events SET head = h.head, units = h.units
FROM (
    SELECT l.seq,
           json_remove(l.body, '$.entry', '$.items', '$.children', '$.inputs', '$.outputs') AS head,
           coalesce(json_array_length(l.body, '$.items'), 0)
             + coalesce(json_array_length(l.body, '$.children'), 0)
             + coalesce(json_array_length(l.body, '$.inputs'), 0)
             + coalesce(json_array_length(l.body, '$.outputs'), 0) AS units
    FROM (SELECT seq FROM event_items GROUP BY seq HAVING count(*) >= 7) AS c
    JOIN ledger l ON l.seq = c.seq
) AS h
WHERE events.seq = h.seq AND h.units >= 8;
