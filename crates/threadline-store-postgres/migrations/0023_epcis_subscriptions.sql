-- EPCIS 2.0 query subscriptions (`/epcis/queries/{name}/subscriptions`). A subscription is a
-- webhook of format `epcis` (same id) plus what it asks of its named query: each matching
-- event as it is recorded (`stream`), or on a schedule what matched since the last run.
-- `after_seq` is the ledger sequence the last run read up to; the worker queues a run's
-- deliveries in the transaction that moves it. Deleting the webhook or the query deletes it.
CREATE TABLE epcis_subscriptions (
    id                  TEXT    PRIMARY KEY REFERENCES webhooks (id) ON DELETE CASCADE,
    query_name          TEXT    COLLATE "C" NOT NULL REFERENCES epcis_queries (name) ON DELETE CASCADE,
    stream              BOOLEAN NOT NULL,
    schedule            TEXT,                -- JSON object: field -> pattern; NULL for a stream
    report_if_empty     BOOLEAN NOT NULL,
    initial_record_time BIGINT,              -- µs UTC
    after_seq           BIGINT  NOT NULL,
    next_run_at         BIGINT,              -- µs UTC; NULL for a stream
    created_at          BIGINT  NOT NULL,
    created_by          TEXT    NOT NULL
);
CREATE INDEX epcis_subscriptions_by_query ON epcis_subscriptions (query_name);

-- A delivery now carries an event, a check, or a scheduled subscription's report (`report`:
-- the JSON array of its event ids), exactly one.
ALTER TABLE webhook_deliveries ADD COLUMN report TEXT;
ALTER TABLE webhook_deliveries DROP CONSTRAINT webhook_deliveries_one_subject;
ALTER TABLE webhook_deliveries ADD CONSTRAINT webhook_deliveries_one_subject
    CHECK (num_nonnulls(event_id, check_id, report) = 1);
