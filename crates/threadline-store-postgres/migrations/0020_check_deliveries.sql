-- Webhook deliveries about authenticity checks (防伪). A check is a row beside the ledger, not
-- a ledger event, so a delivery now carries either the ledger event it is about (`event_id`)
-- or the check (`check_id`), never both; it is queued in the transaction that records the
-- check. `seq` of a check's delivery is the ledger's length when the check was made, so the
-- log keeps reading in order.
ALTER TABLE webhook_deliveries ALTER COLUMN event_id DROP NOT NULL;
ALTER TABLE webhook_deliveries ADD COLUMN check_id BIGINT REFERENCES authenticity_checks (id);
ALTER TABLE webhook_deliveries ADD CONSTRAINT webhook_deliveries_one_subject
    CHECK ((event_id IS NULL) <> (check_id IS NULL));
