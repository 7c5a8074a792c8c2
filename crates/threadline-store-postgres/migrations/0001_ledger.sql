-- The PostgreSQL twin of the SQLite engine's 0001_ledger.sql: the same tables and columns, in
-- PostgreSQL types. Three choices keep the two engines answering identically:
--   * Text that is compared, ordered or paged on is `COLLATE "C"`: byte order, as SQLite's BINARY,
--     whatever the database's locale; and `lower()` then folds ASCII only, as SQLite's does.
--   * Times are BIGINT microseconds since the Unix epoch, UTC, and lot dates are the TEXT chrono
--     wrote: every value the domain accepts round-trips exactly, as it does on SQLite.
--   * JSON (entry bodies, definitions, attributes) is TEXT, never JSONB: the ledger hashes the
--     exact stored text, and snapshots compare it.

-- The ledger: the source of truth. Append-only; `seq` is gapless from 1.
CREATE TABLE ledger (
    seq         BIGINT  PRIMARY KEY,
    entry_id    UUID    NOT NULL UNIQUE,
    kind        TEXT    NOT NULL,             -- 'event' | 'master'
    recorded_at BIGINT  NOT NULL,             -- µs since the Unix epoch, UTC
    body        TEXT    NOT NULL,             -- the exact JSON that was hashed
    hash        BYTEA   NOT NULL              -- SHA-256(prev hash ‖ seq ‖ body)
);

-- The last entry, written in the same transaction as every append: a cut-off tail is detected.
-- Every writer locks this row first (SELECT … FOR UPDATE), so appends from several processes
-- queue up behind one another and the chain cannot fork.
CREATE TABLE ledger_head (
    id   INTEGER PRIMARY KEY CHECK (id = 1),
    seq  BIGINT  NOT NULL,
    hash BYTEA   NOT NULL
);
INSERT INTO ledger_head (id, seq, hash) VALUES (1, 0, decode(repeat('00', 32), 'hex'));

-- Retried requests: the receipts of the first attempt.
CREATE TABLE idempotency (
    key          TEXT    PRIMARY KEY,
    request_hash BYTEA   NOT NULL,
    receipts     TEXT    NOT NULL,
    created_at   BIGINT  NOT NULL
);

CREATE TABLE users (
    name          TEXT   COLLATE "C" PRIMARY KEY,
    password_hash TEXT   NOT NULL,
    role          TEXT   NOT NULL,
    created_at    BIGINT NOT NULL
);

-- Projections of master entries.
CREATE TABLE products (
    id         BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    code       TEXT   COLLATE "C" NOT NULL UNIQUE,
    name       TEXT   COLLATE "C" NOT NULL,
    tracking   TEXT   COLLATE "C" NOT NULL,
    gtin       TEXT   COLLATE "C" UNIQUE,
    version    BIGINT NOT NULL,
    updated_at BIGINT NOT NULL,
    def        TEXT   NOT NULL                -- JSON of the current definition
);

CREATE TABLE parties (
    id         BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    code       TEXT   COLLATE "C" NOT NULL UNIQUE,
    name       TEXT   COLLATE "C" NOT NULL,
    kind       TEXT   COLLATE "C" NOT NULL,
    version    BIGINT NOT NULL,
    updated_at BIGINT NOT NULL,
    def        TEXT   NOT NULL
);

CREATE TABLE locations (
    id         BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    code       TEXT   COLLATE "C" NOT NULL UNIQUE,
    name       TEXT   COLLATE "C" NOT NULL,
    kind       TEXT   COLLATE "C" NOT NULL,
    parent     TEXT   COLLATE "C",
    version    BIGINT NOT NULL,
    updated_at BIGINT NOT NULL,
    def        TEXT   NOT NULL
);
CREATE INDEX locations_parent ON locations (parent);

-- Projections of events.
CREATE TABLE events (
    seq          BIGINT PRIMARY KEY,          -- = ledger.seq
    event_id     UUID   NOT NULL UNIQUE,
    event_time   BIGINT NOT NULL,             -- µs UTC
    kind         TEXT   COLLATE "C" NOT NULL,
    action       TEXT   COLLATE "C",
    biz_step     TEXT   COLLATE "C",
    disposition  TEXT   COLLATE "C",
    biz_location TEXT   COLLATE "C",
    read_point   TEXT   COLLATE "C",
    corrects     UUID                         -- event_id this one corrects
);
CREATE INDEX events_time ON events (event_time);
CREATE INDEX events_biz_step ON events (biz_step, event_time);
CREATE INDEX events_corrects ON events (corrects) WHERE corrects IS NOT NULL;

CREATE TABLE items (
    id          BIGINT   GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    product_id  BIGINT   NOT NULL,
    serial      TEXT     COLLATE "C" NOT NULL,
    status      TEXT     COLLATE "C" NOT NULL,
    holds       SMALLINT NOT NULL DEFAULT 0,
    location    TEXT     COLLATE "C",
    custodian   TEXT     COLLATE "C",
    lot         TEXT     COLLATE "C",
    parent_id   BIGINT,
    attributes  TEXT,                         -- JSON object or NULL
    UNIQUE (product_id, serial)
);
CREATE INDEX items_parent ON items (parent_id) WHERE parent_id IS NOT NULL;
CREATE INDEX items_serial ON items (serial);

CREATE TABLE lots (
    id              BIGINT   GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    product_id      BIGINT   NOT NULL,
    code            TEXT     COLLATE "C" NOT NULL,
    production_date TEXT,                     -- YYYY-MM-DD as chrono writes it
    expiry_date     TEXT,
    holds           SMALLINT NOT NULL DEFAULT 0,
    UNIQUE (product_id, code)
);

CREATE TABLE lot_stock (
    lot_id   BIGINT NOT NULL,
    location TEXT   COLLATE "C" NOT NULL,
    quantity BIGINT NOT NULL,                 -- thousandths
    PRIMARY KEY (lot_id, location)
);

-- Which events name which unit / lot, in which role: the passport and trace indexes.
CREATE TABLE event_items (
    item_id BIGINT   NOT NULL,
    seq     BIGINT   NOT NULL,
    role    SMALLINT NOT NULL,
    PRIMARY KEY (item_id, seq, role)
);

CREATE TABLE event_lots (
    lot_id   BIGINT   NOT NULL,
    seq      BIGINT   NOT NULL,
    role     SMALLINT NOT NULL,
    quantity BIGINT   NOT NULL,
    PRIMARY KEY (lot_id, seq, role)
);

CREATE TABLE event_transactions (
    type  TEXT   COLLATE "C" NOT NULL,
    tx_id TEXT   COLLATE "C" NOT NULL,
    seq   BIGINT NOT NULL,
    PRIMARY KEY (type, tx_id, seq)
);

-- The genealogy: parent ← child links with the interval they held.
-- A node is ('i', item id) or ('l', lot id).
CREATE TABLE genealogy (
    id          BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    parent_type TEXT   COLLATE "C" NOT NULL,
    parent_id   BIGINT NOT NULL,
    child_type  TEXT   COLLATE "C" NOT NULL,
    child_id    BIGINT NOT NULL,
    kind        TEXT   COLLATE "C" NOT NULL,  -- aggregation | association | transformation
    quantity    BIGINT,                       -- thousandths, for lot children
    from_seq    BIGINT NOT NULL,
    from_time   BIGINT NOT NULL,
    to_seq      BIGINT,
    to_time     BIGINT
);
CREATE INDEX genealogy_parent ON genealogy (parent_type, parent_id);
CREATE INDEX genealogy_child ON genealogy (child_type, child_id);
