-- Which rule a partner's EPCIS event was recorded past: 'state' (Threadline's state disagreed;
-- recomputed by a rebuild) or 'process' (the process definition in force at capture refused
-- it; kept in the ledgered event body, from which a rebuild refills it). Rows written before
-- are all 'state'.
ALTER TABLE discrepancies ADD COLUMN kind TEXT NOT NULL DEFAULT 'state';
