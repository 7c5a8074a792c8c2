-- The index on events.hash_id answered no query: events are found by event_id, epcis_id and,
-- for EPCIS duplicate detection, dedup (unique). Each capture paid a random 32-byte key per
-- event into it — about 40 % of SQLite capture throughput (docs/BENCHMARKS.md, 2026-12-05).
DROP INDEX IF EXISTS events_hash_id;
