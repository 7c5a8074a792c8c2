-- Serial-number rules as master data: a projection of the `serial_rule` master entries in the
-- ledger, and which product category takes which rule (a category has at most one).
CREATE TABLE serial_rules (
    code       TEXT   COLLATE "C" PRIMARY KEY,
    name       TEXT   COLLATE "C" NOT NULL,
    version    BIGINT NOT NULL,
    updated_at BIGINT NOT NULL,
    def        TEXT   NOT NULL
);

CREATE TABLE serial_rule_categories (
    category TEXT COLLATE "C" PRIMARY KEY,
    rule     TEXT COLLATE "C" NOT NULL REFERENCES serial_rules (code)
);
CREATE INDEX serial_rule_categories_rule ON serial_rule_categories (rule);
