-- Webhook deliveries about authenticity checks (防伪). A check is a row beside the ledger, not
-- a ledger event, so a delivery now carries either the ledger event it is about (`event_id`)
-- or the check (`check_id`), never both; it is queued in the transaction that records the
-- check. `seq` of a check's delivery is the ledger's length when the check was made, so the
-- log keeps reading in order. SQLite cannot drop NOT NULL in place: the table is rebuilt.
-- Foreign keys are enforced on these connections and cannot be switched off inside the
-- migration's transaction, so dropping the old table deletes the attempts that reference it
-- (ON DELETE CASCADE): they are kept aside and put back.
CREATE TEMP TABLE webhook_attempts_0020 AS SELECT * FROM webhook_attempts ORDER BY rowid;
CREATE TABLE webhook_deliveries_0020 (
    id              TEXT    PRIMARY KEY,     -- UUID
    webhook_id      TEXT    NOT NULL REFERENCES webhooks (id) ON DELETE CASCADE,
    event_id        TEXT,                    -- UUID of the ledger event, or
    check_id        INTEGER REFERENCES authenticity_checks (id), -- the authenticity check
    seq             BIGINT  NOT NULL,
    topics          TEXT    NOT NULL,        -- comma-separated
    status          TEXT    NOT NULL,        -- pending | delivered | dead
    attempts        INTEGER NOT NULL,
    next_attempt_at BIGINT  NOT NULL,
    created_at      BIGINT  NOT NULL,
    last_attempt_at BIGINT,
    last_status     INTEGER,
    last_error      TEXT,
    CHECK ((event_id IS NULL) <> (check_id IS NULL))
);
INSERT INTO webhook_deliveries_0020
    (id, webhook_id, event_id, check_id, seq, topics, status, attempts, next_attempt_at,
     created_at, last_attempt_at, last_status, last_error)
SELECT id, webhook_id, event_id, NULL, seq, topics, status, attempts, next_attempt_at,
       created_at, last_attempt_at, last_status, last_error
FROM webhook_deliveries;
DROP TABLE webhook_deliveries;
ALTER TABLE webhook_deliveries_0020 RENAME TO webhook_deliveries;
CREATE INDEX webhook_deliveries_due ON webhook_deliveries (status, next_attempt_at);
CREATE INDEX webhook_deliveries_by_webhook ON webhook_deliveries (webhook_id, seq);
INSERT INTO webhook_attempts (delivery_id, at, status, error, duration_ms)
SELECT delivery_id, at, status, error, duration_ms FROM webhook_attempts_0020 ORDER BY rowid;
DROP TABLE webhook_attempts_0020;
