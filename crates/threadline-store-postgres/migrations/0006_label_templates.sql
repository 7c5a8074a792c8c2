-- Label templates: definitions (JSON read by threadline-labels) managed through the API.
-- Plain rows, versioned for optimistic concurrency; not ledger entries (a template prints
-- nothing by itself; reprints are recorded in the ledger).
CREATE TABLE label_templates (
    name       TEXT    PRIMARY KEY,
    definition TEXT    NOT NULL,
    version    INTEGER NOT NULL,
    updated_at BIGINT  NOT NULL,
    updated_by TEXT    NOT NULL
);
