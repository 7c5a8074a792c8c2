-- An event's CBV 2.0 hash ID lives in its ledger body (`hash_id`), where EPCIS answers and
-- `GET /api/v1/events` read it; no query reads the copy in the event index, whose 80 bytes
-- per row only made every capture write more pages.
ALTER TABLE events DROP COLUMN hash_id;
