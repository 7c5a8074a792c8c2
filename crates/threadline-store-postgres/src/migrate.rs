//! Embedded, append-only migrations. An applied migration is never edited; a database that has
//! migrations this binary does not know is refused rather than guessed at.
//!
//! Several processes may start against one database at once, so the whole check-and-apply runs
//! in one transaction that first takes a transaction-scoped advisory lock, keyed by the schema:
//! the second process waits, then finds the work done. Schemas on one server (the tests make
//! one per test) do not wait for each other.

use deadpool_postgres::ClientWrapper;
use threadline_store::StoreError;

use crate::{col, db};

const MIGRATIONS: &[(i64, &str)] = &[
    (1, include_str!("../migrations/0001_ledger.sql")),
    (2, include_str!("../migrations/0002_access.sql")),
    (3, include_str!("../migrations/0003_serial_counters.sql")),
    (4, include_str!("../migrations/0004_process.sql")),
    (5, include_str!("../migrations/0005_recalls.sql")),
    (6, include_str!("../migrations/0006_label_templates.sql")),
    (7, include_str!("../migrations/0007_audit.sql")),
    (8, include_str!("../migrations/0008_epcis.sql")),
    (9, include_str!("../migrations/0009_webhooks.sql")),
    (10, include_str!("../migrations/0010_epcis_queries.sql")),
    (11, include_str!("../migrations/0011_serial_rules.sql")),
    (12, include_str!("../migrations/0012_partner_scope.sql")),
    (16, include_str!("../migrations/0016_recall_narrowing.sql")),
    (
        17,
        include_str!("../migrations/0017_authenticity_checks.sql"),
    ),
    (18, include_str!("../migrations/0018_event_heads.sql")),
    (
        19,
        include_str!("../migrations/0019_drop_event_hash_index.sql"),
    ),
    (20, include_str!("../migrations/0020_check_deliveries.sql")),
    (
        22,
        include_str!("../migrations/0022_drop_event_hash_column.sql"),
    ),
    (
        23,
        include_str!("../migrations/0023_epcis_subscriptions.sql"),
    ),
    (24, include_str!("../migrations/0024_custom_roles.sql")),
    (25, include_str!("../migrations/0025_capture_job_site.sql")),
    (27, include_str!("../migrations/0027_epcis_vocabulary.sql")),
    (28, include_str!("../migrations/0028_discrepancies.sql")),
    (29, include_str!("../migrations/0029_event_objects.sql")),
    (
        30,
        include_str!("../migrations/0030_genealogy_distinct.sql"),
    ),
    (31, include_str!("../migrations/0031_discrepancy_kind.sql")),
    (
        33,
        include_str!("../migrations/0033_discrepancies_by_code.sql"),
    ),
];

/// The first key of the advisory lock ("THLN"); the second is a hash of the schema name.
const LOCK_CLASS: i32 = 0x5448_4C4E;

pub(crate) async fn run(client: &mut ClientWrapper) -> Result<(), StoreError> {
    let tx = client.transaction().await.map_err(db)?;
    tx.execute(
        "SELECT pg_advisory_xact_lock($1, hashtext(coalesce(current_schema(), '')))",
        &[&LOCK_CLASS],
    )
    .await
    .map_err(db)?;
    tx.batch_execute(
        "CREATE TABLE IF NOT EXISTS schema_migrations (version BIGINT PRIMARY KEY, applied_at TIMESTAMPTZ NOT NULL DEFAULT now())",
    )
    .await
    .map_err(|e| StoreError::Schema(format!("cannot create the migrations table: {}", crate::describe(&e))))?;
    let row = tx
        .query_one(
            "SELECT COALESCE(MAX(version), 0) FROM schema_migrations",
            &[],
        )
        .await
        .map_err(db)?;
    let current: i64 = col(&row, 0)?;
    let known = latest();
    if current > known {
        return Err(StoreError::Schema(format!(
            "the database is at schema version {current}, newer than this threadline ({known}); upgrade threadline"
        )));
    }
    // Every migration not applied yet, not only those above the highest: numbers are reserved
    // ahead, so a lower one can land after a higher one was applied.
    let applied: std::collections::HashSet<i64> = tx
        .query("SELECT version FROM schema_migrations", &[])
        .await
        .map_err(db)?
        .iter()
        .map(|r| col(r, 0))
        .collect::<Result<_, _>>()?;
    for (version, sql) in MIGRATIONS.iter().filter(|m| !applied.contains(&m.0)) {
        tx.batch_execute(sql).await.map_err(|e| {
            StoreError::Schema(format!("migration {version}: {}", crate::describe(&e)))
        })?;
        tx.execute(
            "INSERT INTO schema_migrations (version) VALUES ($1)",
            &[version],
        )
        .await
        .map_err(db)?;
        tracing::info!(version, "applied PostgreSQL migration");
    }
    tx.commit().await.map_err(db)?;
    Ok(())
}

pub(crate) fn latest() -> i64 {
    MIGRATIONS.last().map(|m| m.0).unwrap_or(0)
}
