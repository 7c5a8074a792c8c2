-- EPCIS 2.0 query subscriptions (`/epcis/queries/{name}/subscriptions`). A subscription is a
-- webhook of format `epcis` (same id) plus what it asks of its named query: each matching
-- event as it is recorded (`stream`), or on a schedule what matched since the last run.
-- `after_seq` is the ledger sequence the last run read up to; the worker queues a run's
-- deliveries in the transaction that moves it. Deleting the webhook or the query deletes it.
CREATE TABLE epcis_subscriptions (
    id                  TEXT    PRIMARY KEY REFERENCES webhooks (id) ON DELETE CASCADE,
    query_name          TEXT    NOT NULL REFERENCES epcis_queries (name) ON DELETE CASCADE,
    stream              INTEGER NOT NULL,
    schedule            TEXT,                -- JSON object: field -> pattern; NULL for a stream
    report_if_empty     INTEGER NOT NULL,
    initial_record_time BIGINT,              -- µs UTC
    after_seq           BIGINT  NOT NULL,
    next_run_at         BIGINT,              -- µs UTC; NULL for a stream
    created_at          BIGINT  NOT NULL,
    created_by          TEXT    NOT NULL
);
CREATE INDEX epcis_subscriptions_by_query ON epcis_subscriptions (query_name);

-- A delivery now carries an event, a check, or a scheduled subscription's report (`report`:
-- the JSON array of its event ids), exactly one. SQLite cannot change a CHECK in place: the
-- table is rebuilt as in 0020, its attempts kept aside from the cascade and put back.
CREATE TEMP TABLE webhook_attempts_0023 AS SELECT * FROM webhook_attempts ORDER BY rowid;
CREATE TABLE webhook_deliveries_0023 (
    id              TEXT    PRIMARY KEY,     -- UUID
    webhook_id      TEXT    NOT NULL REFERENCES webhooks (id) ON DELETE CASCADE,
    event_id        TEXT,                    -- UUID of the ledger event, or
    check_id        INTEGER REFERENCES authenticity_checks (id), -- the authenticity check, or
    report          TEXT,                    -- a subscription's report: JSON array of event ids
    seq             BIGINT  NOT NULL,
    topics          TEXT    NOT NULL,        -- comma-separated
    status          TEXT    NOT NULL,        -- pending | delivered | dead
    attempts        INTEGER NOT NULL,
    next_attempt_at BIGINT  NOT NULL,
    created_at      BIGINT  NOT NULL,
    last_attempt_at BIGINT,
    last_status     INTEGER,
    last_error      TEXT,
    CHECK ((event_id IS NOT NULL) + (check_id IS NOT NULL) + (report IS NOT NULL) = 1)
);
INSERT INTO webhook_deliveries_0023
    (id, webhook_id, event_id, check_id, report, seq, topics, status, attempts, next_attempt_at,
     created_at, last_attempt_at, last_status, last_error)
SELECT id, webhook_id, event_id, check_id, NULL, seq, topics, status, attempts, next_attempt_at,
       created_at, last_attempt_at, last_status, last_error
FROM webhook_deliveries;
DROP TABLE webhook_deliveries;
ALTER TABLE webhook_deliveries_0023 RENAME TO webhook_deliveries;
CREATE INDEX webhook_deliveries_due ON webhook_deliveries (status, next_attempt_at);
CREATE INDEX webhook_deliveries_by_webhook ON webhook_deliveries (webhook_id, seq);
INSERT INTO webhook_attempts (delivery_id, at, status, error, duration_ms)
SELECT delivery_id, at, status, error, duration_ms FROM webhook_attempts_0023 ORDER BY rowid;
DROP TABLE webhook_attempts_0023;
