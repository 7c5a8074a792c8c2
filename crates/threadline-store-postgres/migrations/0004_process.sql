-- The process definition (which operation is allowed in which state, required fields): a
-- projection of the `process` master entries in the ledger. One row, code 'default'.
CREATE TABLE processes (
    code       TEXT   PRIMARY KEY,
    version    BIGINT NOT NULL,
    updated_at BIGINT NOT NULL,
    def        TEXT   NOT NULL
);
