-- EPCIS named queries (`/epcis/queries`): a name and the Simple Event Query parameters it
-- stands for. Plain rows, kept across restarts and rebuilds.
CREATE TABLE epcis_queries (
    name       TEXT COLLATE "C" PRIMARY KEY,
    query      TEXT   NOT NULL,                      -- JSON object: parameter -> value
    created_at BIGINT NOT NULL,                          -- µs UTC
    created_by TEXT   NOT NULL
);
