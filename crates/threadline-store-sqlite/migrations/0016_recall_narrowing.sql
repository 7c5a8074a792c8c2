-- Narrowing a recall campaign (e.g. to the units whose component came from one supplier lot):
-- each narrowing is recorded with who, when, why and the narrower scope; the units and lots it
-- took out of the campaign stay in `recall_members`, marked with the narrowing that removed them.
ALTER TABLE recall_members ADD COLUMN dropped INTEGER;   -- NULL: still covered; else recall_narrowings.n

CREATE TABLE recall_narrowings (
    recall        TEXT    NOT NULL REFERENCES recalls (code),
    n             INTEGER NOT NULL,               -- 1, 2, … per campaign
    at            INTEGER NOT NULL,               -- µs UTC
    actor         TEXT    NOT NULL,
    reason        TEXT    NOT NULL,
    scope         TEXT    NOT NULL,               -- JSON of the checked narrower scope
    removed_units INTEGER NOT NULL,
    removed_lots  INTEGER NOT NULL,
    released      INTEGER NOT NULL,               -- recall holds released (units and lots)
    PRIMARY KEY (recall, n)
) WITHOUT ROWID;
