-- Webhook subscriptions and their outbox. Plain rows, not ledger entries: a subscription
-- records nothing about goods. Deliveries are written by capture in the same transaction as
-- the event they carry; a worker claims the due ones and logs every attempt.
CREATE TABLE webhooks (
    id         TEXT    PRIMARY KEY,          -- UUID
    name       TEXT    NOT NULL UNIQUE,
    url        TEXT    NOT NULL,
    format     TEXT    NOT NULL,             -- json | dingtalk | wecom
    secret     TEXT    NOT NULL,             -- signs deliveries; needed in the clear to sign
    filter     TEXT    NOT NULL,             -- JSON (threadline_store::webhook::WebhookFilter)
    language   TEXT    NOT NULL,
    active     INTEGER NOT NULL,
    version    INTEGER NOT NULL,
    created_at BIGINT  NOT NULL,             -- µs UTC
    updated_at BIGINT  NOT NULL,
    updated_by TEXT    NOT NULL
);

CREATE TABLE webhook_deliveries (
    id              TEXT    PRIMARY KEY,     -- UUID
    webhook_id      TEXT    NOT NULL REFERENCES webhooks (id) ON DELETE CASCADE,
    event_id        TEXT    NOT NULL,        -- UUID of the ledger event
    seq             BIGINT  NOT NULL,
    topics          TEXT    NOT NULL,        -- comma-separated
    status          TEXT    NOT NULL,        -- pending | delivered | dead
    attempts        INTEGER NOT NULL,
    next_attempt_at BIGINT  NOT NULL,
    created_at      BIGINT  NOT NULL,
    last_attempt_at BIGINT,
    last_status     INTEGER,
    last_error      TEXT
);
CREATE INDEX webhook_deliveries_due ON webhook_deliveries (status, next_attempt_at);
CREATE INDEX webhook_deliveries_by_webhook ON webhook_deliveries (webhook_id, seq);

CREATE TABLE webhook_attempts (
    delivery_id TEXT    NOT NULL REFERENCES webhook_deliveries (id) ON DELETE CASCADE,
    at          BIGINT  NOT NULL,
    status      INTEGER,
    error       TEXT,
    duration_ms INTEGER NOT NULL
);
CREATE INDEX webhook_attempts_by_delivery ON webhook_attempts (delivery_id, at);
