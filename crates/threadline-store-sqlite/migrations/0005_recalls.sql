-- Recall campaigns: what was decided (scope, reason, severity), by whom and when, and the units
-- and lots the scope covered then. The recall holds themselves are ledger events; `opened_seq`
-- is the ledger position after them, so later events tell the campaign's progress.
CREATE TABLE recalls (
    code        TEXT    PRIMARY KEY,
    reason      TEXT    NOT NULL,
    severity    TEXT    NOT NULL,
    scope       TEXT    NOT NULL,             -- JSON of the checked trace scope
    opened_seq  INTEGER NOT NULL,
    created_at  INTEGER NOT NULL,             -- µs UTC
    created_by  TEXT    NOT NULL,
    closed_at   INTEGER,
    closed_by   TEXT,
    close_note  TEXT
);

CREATE TABLE recall_members (
    recall    TEXT    NOT NULL REFERENCES recalls (code),
    ord       INTEGER NOT NULL,               -- trace order
    node_type TEXT    NOT NULL,               -- 'i' unit | 'l' lot
    product   TEXT    NOT NULL,
    code      TEXT    NOT NULL,               -- serial or lot
    depth     INTEGER NOT NULL,
    held      INTEGER NOT NULL,               -- 1: this recall placed a recall hold on it
    PRIMARY KEY (recall, ord)
) WITHOUT ROWID;
