-- The ledger: the source of truth. Append-only; `seq` is gapless from 1.
CREATE TABLE ledger (
    seq         INTEGER PRIMARY KEY,
    entry_id    BLOB    NOT NULL UNIQUE,      -- UUID, 16 bytes
    kind        TEXT    NOT NULL,             -- 'event' | 'master'
    recorded_at INTEGER NOT NULL,             -- µs since the Unix epoch, UTC
    body        TEXT    NOT NULL,             -- the exact JSON that was hashed
    hash        BLOB    NOT NULL              -- SHA-256(prev hash ‖ seq ‖ body)
);

-- The last entry, written in the same transaction as every append: a cut-off tail is detected.
CREATE TABLE ledger_head (
    id   INTEGER PRIMARY KEY CHECK (id = 1),
    seq  INTEGER NOT NULL,
    hash BLOB    NOT NULL
);
INSERT INTO ledger_head (id, seq, hash) VALUES (1, 0, zeroblob(32));

-- Retried requests: the receipts of the first attempt.
CREATE TABLE idempotency (
    key          TEXT    PRIMARY KEY,
    request_hash BLOB    NOT NULL,
    receipts     TEXT    NOT NULL,
    created_at   INTEGER NOT NULL
);

CREATE TABLE users (
    name          TEXT PRIMARY KEY,
    password_hash TEXT NOT NULL,
    role          TEXT NOT NULL,
    created_at    INTEGER NOT NULL
);

-- Projections of master entries.
CREATE TABLE products (
    id         INTEGER PRIMARY KEY,
    code       TEXT    NOT NULL UNIQUE,
    name       TEXT    NOT NULL,
    tracking   TEXT    NOT NULL,
    gtin       TEXT    UNIQUE,
    version    INTEGER NOT NULL,
    updated_at INTEGER NOT NULL,
    def        TEXT    NOT NULL             -- JSON of the current definition
);

CREATE TABLE parties (
    id         INTEGER PRIMARY KEY,
    code       TEXT    NOT NULL UNIQUE,
    name       TEXT    NOT NULL,
    kind       TEXT    NOT NULL,
    version    INTEGER NOT NULL,
    updated_at INTEGER NOT NULL,
    def        TEXT    NOT NULL
);

CREATE TABLE locations (
    id         INTEGER PRIMARY KEY,
    code       TEXT    NOT NULL UNIQUE,
    name       TEXT    NOT NULL,
    kind       TEXT    NOT NULL,
    parent     TEXT,
    version    INTEGER NOT NULL,
    updated_at INTEGER NOT NULL,
    def        TEXT    NOT NULL
);
CREATE INDEX locations_parent ON locations (parent);

-- Projections of events.
CREATE TABLE events (
    seq          INTEGER PRIMARY KEY,         -- = ledger.seq
    event_id     BLOB    NOT NULL UNIQUE,
    event_time   INTEGER NOT NULL,            -- µs UTC
    kind         TEXT    NOT NULL,
    action       TEXT,
    biz_step     TEXT,
    disposition  TEXT,
    biz_location TEXT,
    read_point   TEXT,
    corrects     BLOB                         -- event_id this one corrects
);
CREATE INDEX events_time ON events (event_time);
CREATE INDEX events_biz_step ON events (biz_step, event_time);
CREATE INDEX events_corrects ON events (corrects) WHERE corrects IS NOT NULL;

CREATE TABLE items (
    id          INTEGER PRIMARY KEY,
    product_id  INTEGER NOT NULL,
    serial      TEXT    NOT NULL,
    status      TEXT    NOT NULL,
    holds       INTEGER NOT NULL DEFAULT 0,
    location    TEXT,
    custodian   TEXT,
    lot         TEXT,
    parent_id   INTEGER,
    attributes  TEXT,                         -- JSON object or NULL
    UNIQUE (product_id, serial)
);
CREATE INDEX items_parent ON items (parent_id) WHERE parent_id IS NOT NULL;
CREATE INDEX items_serial ON items (serial);

CREATE TABLE lots (
    id              INTEGER PRIMARY KEY,
    product_id      INTEGER NOT NULL,
    code            TEXT    NOT NULL,
    production_date TEXT,
    expiry_date     TEXT,
    holds           INTEGER NOT NULL DEFAULT 0,
    UNIQUE (product_id, code)
);

CREATE TABLE lot_stock (
    lot_id   INTEGER NOT NULL,
    location TEXT    NOT NULL,
    quantity INTEGER NOT NULL,                -- thousandths
    PRIMARY KEY (lot_id, location)
) WITHOUT ROWID;

-- Which events name which unit / lot, in which role: the passport and trace indexes.
CREATE TABLE event_items (
    item_id INTEGER NOT NULL,
    seq     INTEGER NOT NULL,
    role    INTEGER NOT NULL,
    PRIMARY KEY (item_id, seq, role)
) WITHOUT ROWID;

CREATE TABLE event_lots (
    lot_id   INTEGER NOT NULL,
    seq      INTEGER NOT NULL,
    role     INTEGER NOT NULL,
    quantity INTEGER NOT NULL,
    PRIMARY KEY (lot_id, seq, role)
) WITHOUT ROWID;

CREATE TABLE event_transactions (
    type  TEXT    NOT NULL,
    tx_id TEXT    NOT NULL,
    seq   INTEGER NOT NULL,
    PRIMARY KEY (type, tx_id, seq)
) WITHOUT ROWID;

-- The genealogy: parent ← child links with the interval they held.
-- A node is ('i', item id) or ('l', lot id).
CREATE TABLE genealogy (
    id          INTEGER PRIMARY KEY,
    parent_type TEXT    NOT NULL,
    parent_id   INTEGER NOT NULL,
    child_type  TEXT    NOT NULL,
    child_id    INTEGER NOT NULL,
    kind        TEXT    NOT NULL,             -- aggregation | association | transformation
    quantity    INTEGER,                      -- thousandths, for lot children
    from_seq    INTEGER NOT NULL,
    from_time   INTEGER NOT NULL,
    to_seq      INTEGER,
    to_time     INTEGER
);
CREATE INDEX genealogy_parent ON genealogy (parent_type, parent_id);
CREATE INDEX genealogy_child ON genealogy (child_type, child_id);
