-- Authenticity checks (防伪): each check of a code from outside, where, and the verdict. Rows
-- beside the ledger (a check changes no unit), read to judge the next check of the same unit.
CREATE TABLE authenticity_checks (
    id       INTEGER PRIMARY KEY,
    at       INTEGER NOT NULL,            -- µs UTC
    code     TEXT    NOT NULL,
    product  TEXT,
    serial   TEXT,
    region   TEXT,
    channel  TEXT,
    verdict  TEXT    NOT NULL,            -- genuine | suspicious | unknown | not_ours
    reasons  TEXT    NOT NULL,            -- comma-separated reason codes
    actor    TEXT    NOT NULL
);
CREATE INDEX authenticity_checks_unit ON authenticity_checks (product, serial);
CREATE INDEX authenticity_checks_at ON authenticity_checks (at);
