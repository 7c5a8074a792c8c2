-- Custom roles: the plant's own roles beside the shipped ones. A user or token names them in
-- its space-separated `roles` like a shipped role; what they grant is read from here on each
-- request. `permissions` is the permission names, space-separated. Not ledger entries: a
-- change is one transaction with its audit record, like users and tokens.
CREATE TABLE custom_roles (
    name        TEXT    PRIMARY KEY,
    label       TEXT    NOT NULL,
    description TEXT,
    permissions TEXT    NOT NULL,
    version     INTEGER NOT NULL,
    created_at  BIGINT  NOT NULL,   -- µs UTC
    created_by  TEXT    NOT NULL,
    updated_at  BIGINT  NOT NULL,   -- µs UTC
    updated_by  TEXT    NOT NULL
);
