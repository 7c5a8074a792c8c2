-- EPCIS identity of events (projection columns, refilled by rebuild from the ledger bodies):
-- the CBV 2.0 hash ID, the partner's eventID when it is not the ledger UUID, the declaration
-- time of an error declaration, and the key that refuses an EPCIS event captured twice (its
-- hash, marked for a declaration; NULL for Threadline's own events, which are never refused
-- for their hash).
ALTER TABLE events ADD COLUMN hash_id TEXT COLLATE "C";
ALTER TABLE events ADD COLUMN epcis_id TEXT COLLATE "C";
ALTER TABLE events ADD COLUMN declared BIGINT;       -- µs UTC
ALTER TABLE events ADD COLUMN dedup TEXT COLLATE "C";
CREATE UNIQUE INDEX events_dedup ON events (dedup);
CREATE INDEX events_hash_id ON events (hash_id);
CREATE INDEX events_epcis_id ON events (epcis_id) WHERE epcis_id IS NOT NULL;

-- EPCIS capture jobs (`GET /epcis/capture/{id}`): plain rows, kept across restarts; the
-- events themselves are in the ledger.
CREATE TABLE epcis_capture_jobs (
    id         TEXT   COLLATE "C" PRIMARY KEY,
    created_at BIGINT NOT NULL,                      -- µs UTC
    actor      TEXT   NOT NULL,
    job        TEXT   NOT NULL                       -- JSON, as GET answers it
);
CREATE INDEX epcis_capture_jobs_created ON epcis_capture_jobs (created_at);
