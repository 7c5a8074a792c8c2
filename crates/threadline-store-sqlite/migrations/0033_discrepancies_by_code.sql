-- The discrepancies of one code, newest first (`GET /api/v1/discrepancies?code=on_hold`, the
-- dashboard's partner reports past a hold): read from this index's newest end instead of
-- every discrepancy the ledger ever had.
CREATE INDEX discrepancies_code ON discrepancies (code, seq);
