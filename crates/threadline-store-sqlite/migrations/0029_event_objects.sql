-- The objects an event names by an identifier Threadline records as given (Event::untracked:
-- a GRAI, GIAI, GSRN, GDTI, an SGLN named as an object, any other URI), so EPCIS MATCH_
-- queries on them narrow by an index instead of reading the ledger. Each object is one row
-- under its canonical form (the constrained Digital Link of a GS1 key, else as written) and,
-- when the event wrote it otherwise, one under the form as written. Derived from the ledger
-- body: written in the capture's transaction, refilled by rebuild.
CREATE TABLE event_objects (
    uri  TEXT     NOT NULL,
    seq  INTEGER  NOT NULL,
    role SMALLINT NOT NULL,  -- as event_items.role
    PRIMARY KEY (uri, seq, role)
) WITHOUT ROWID;

-- Projections a query may trust only once they hold every event (a name here). The objects of
-- events recorded before this migration are not indexed (their canonical form is computed by
-- threadline, not SQL): a database with a ledger trusts the index after `threadline rebuild`;
-- until then such queries read the ledger as before.
CREATE TABLE projection_complete (
    name TEXT PRIMARY KEY
) WITHOUT ROWID;
INSERT INTO projection_complete (name)
SELECT 'event_objects' WHERE NOT EXISTS (SELECT 1 FROM ledger);
