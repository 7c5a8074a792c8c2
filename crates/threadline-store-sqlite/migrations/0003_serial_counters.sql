-- Serial counters: the next value of each sequence scope (rule, period, product, line…).
-- A projection of the allocation events in the ledger.
CREATE TABLE serial_counters (
    scope TEXT   PRIMARY KEY,
    next  BIGINT NOT NULL
);
