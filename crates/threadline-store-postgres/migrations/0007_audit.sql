-- The audit trail: who changed what, when, from where, and what it was before. A chain of its
-- own (same hash rule as the ledger: SHA-256(prev hash ‖ seq ‖ body)), checked by `verify`.
-- `actor`, `object` and `recorded_at` are copies of the body's fields for searching; verify
-- checks that they match it.
CREATE TABLE audit_log (
    seq         BIGINT  PRIMARY KEY,
    record_id   UUID    NOT NULL UNIQUE,
    recorded_at BIGINT  NOT NULL,             -- µs since the Unix epoch, UTC
    actor       TEXT    COLLATE "C",
    object      TEXT    COLLATE "C" NOT NULL,
    body        TEXT    NOT NULL,             -- the exact JSON that was hashed
    hash        BYTEA    NOT NULL
);
CREATE INDEX audit_log_actor ON audit_log (actor, seq);
CREATE INDEX audit_log_object ON audit_log (object, seq);
CREATE INDEX audit_log_time ON audit_log (recorded_at, seq);

-- The last record, written with every append: a cut-off tail is detected.
CREATE TABLE audit_head (
    id   INTEGER PRIMARY KEY CHECK (id = 1),
    seq  BIGINT  NOT NULL,
    hash BYTEA   NOT NULL
);
INSERT INTO audit_head (id, seq, hash) VALUES (1, 0, decode(repeat('00', 32), 'hex'));
