-- Serial-number rules as master data: a projection of the `serial_rule` master entries in the
-- ledger, and which product category takes which rule (a category has at most one).
CREATE TABLE serial_rules (
    code       TEXT    PRIMARY KEY,
    name       TEXT    NOT NULL,
    version    INTEGER NOT NULL,
    updated_at INTEGER NOT NULL,
    def        TEXT    NOT NULL
);

CREATE TABLE serial_rule_categories (
    category TEXT PRIMARY KEY,
    rule     TEXT NOT NULL REFERENCES serial_rules (code)
);
CREATE INDEX serial_rule_categories_rule ON serial_rule_categories (rule);
