//! Embedded, append-only migrations. An applied migration is never edited; a database that has
//! migrations this binary does not know is refused rather than guessed at.

use rusqlite::Connection;
use threadline_store::StoreError;

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
    (31, include_str!("../migrations/0031_discrepancy_kind.sql")),
    (
        33,
        include_str!("../migrations/0033_discrepancies_by_code.sql"),
    ),
];

pub fn run(conn: &mut Connection) -> Result<(), StoreError> {
    conn.execute_batch(
        "CREATE TABLE IF NOT EXISTS schema_migrations (version INTEGER PRIMARY KEY, applied_at TEXT NOT NULL)",
    )
    .map_err(StoreError::db)?;
    let current: i64 = conn
        .query_row(
            "SELECT COALESCE(MAX(version), 0) FROM schema_migrations",
            [],
            |r| r.get(0),
        )
        .map_err(StoreError::db)?;
    let known = MIGRATIONS.last().map(|m| m.0).unwrap_or(0);
    if current > known {
        return Err(StoreError::Schema(format!(
            "the database is at schema version {current}, newer than this threadline ({known}); upgrade threadline"
        )));
    }
    // Every migration not applied yet, not only those above the highest: numbers are reserved
    // ahead, so a lower one can land after a higher one was applied.
    let applied: std::collections::HashSet<i64> = conn
        .prepare("SELECT version FROM schema_migrations")
        .and_then(|mut st| st.query_map([], |r| r.get(0))?.collect::<Result<_, _>>())
        .map_err(StoreError::db)?;
    for (version, sql) in MIGRATIONS.iter().filter(|m| !applied.contains(&m.0)) {
        let tx = conn.transaction().map_err(StoreError::db)?;
        tx.execute_batch(sql)
            .map_err(|e| StoreError::Schema(format!("migration {version}: {e}")))?;
        tx.execute(
            "INSERT INTO schema_migrations (version, applied_at) VALUES (?1, datetime('now'))",
            [version],
        )
        .map_err(StoreError::db)?;
        tx.commit().map_err(StoreError::db)?;
    }
    Ok(())
}

pub fn latest() -> i64 {
    MIGRATIONS.last().map(|m| m.0).unwrap_or(0)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_version_1_database_keeps_its_users_through_the_access_migration() {
        let mut c = Connection::open_in_memory().unwrap();
        c.execute_batch(
            "CREATE TABLE schema_migrations (version INTEGER PRIMARY KEY, applied_at TEXT NOT NULL)",
        )
        .unwrap();
        c.execute_batch(MIGRATIONS[0].1).unwrap();
        c.execute_batch(
            "INSERT INTO schema_migrations VALUES (1, 'then');
             INSERT INTO users (name, password_hash, role, created_at) VALUES ('admin', 'h', 'admin', 0);",
        )
        .unwrap();
        run(&mut c).unwrap();
        let (roles, disabled, failed): (String, i64, i64) = c
            .query_row(
                "SELECT roles, disabled, failed_logins FROM users WHERE name = 'admin'",
                [],
                |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)),
            )
            .unwrap();
        assert_eq!((roles.as_str(), disabled, failed), ("admin", 0, 0));
        run(&mut c).unwrap();
        assert_eq!(
            applied(&c),
            MIGRATIONS.iter().map(|m| m.0).collect::<Vec<_>>()
        );
    }

    fn applied(c: &Connection) -> Vec<i64> {
        c.prepare("SELECT version FROM schema_migrations ORDER BY version")
            .unwrap()
            .query_map([], |r| r.get(0))
            .unwrap()
            .collect::<Result<_, _>>()
            .unwrap()
    }

    #[test]
    fn a_migration_that_lands_after_a_higher_one_is_still_applied() {
        let mut c = Connection::open_in_memory().unwrap();
        c.execute_batch(
            "CREATE TABLE schema_migrations (version INTEGER PRIMARY KEY, applied_at TEXT NOT NULL)",
        )
        .unwrap();
        // A database that took every migration but 10 (it landed later under its number).
        for (version, sql) in MIGRATIONS.iter().filter(|m| m.0 != 10) {
            c.execute_batch(sql).unwrap();
            c.execute(
                "INSERT INTO schema_migrations VALUES (?1, 'then')",
                [version],
            )
            .unwrap();
        }
        run(&mut c).unwrap();
        assert_eq!(
            applied(&c),
            MIGRATIONS.iter().map(|m| m.0).collect::<Vec<_>>()
        );
        let tables: i64 = c
            .query_row(
                "SELECT count(*) FROM sqlite_master WHERE name = 'epcis_queries'",
                [],
                |r| r.get(0),
            )
            .unwrap();
        assert_eq!(tables, 1, "migration 10 ran");
        run(&mut c).unwrap();
    }

    #[test]
    fn deliveries_queued_before_migrations_20_and_23_keep_their_event_and_attempts() {
        let mut c = Connection::open_in_memory().unwrap();
        c.execute_batch(
            "CREATE TABLE schema_migrations (version INTEGER PRIMARY KEY, applied_at TEXT NOT NULL)",
        )
        .unwrap();
        for (version, sql) in MIGRATIONS.iter().filter(|m| m.0 < 20) {
            c.execute_batch(sql).unwrap();
            c.execute(
                "INSERT INTO schema_migrations VALUES (?1, 'then')",
                [version],
            )
            .unwrap();
        }
        c.execute_batch(
            "INSERT INTO webhooks VALUES ('h1', 'erp', 'https://x', 'json', 's', '{}', 'en', 1, 1, 0, 0, 'a');
             INSERT INTO webhook_deliveries VALUES ('d1', 'h1', 'e1', 7, 'event', 'dead', 3, 0, 0, 5, 500, 'down');
             INSERT INTO webhook_attempts VALUES ('d1', 5, 500, 'down', 12);",
        )
        .unwrap();
        run(&mut c).unwrap();
        let row: (String, Option<i64>, i64, String, Option<String>) = c
            .query_row(
                "SELECT event_id, check_id, seq, status, last_error FROM webhook_deliveries WHERE id = 'd1'",
                [],
                |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?, r.get(4)?)),
            )
            .unwrap();
        assert_eq!(
            row,
            ("e1".into(), None, 7, "dead".into(), Some("down".into()))
        );
        let attempts: i64 = c
            .query_row(
                "SELECT count(*) FROM webhook_attempts WHERE delivery_id = 'd1'",
                [],
                |r| r.get(0),
            )
            .unwrap();
        assert_eq!(attempts, 1);
        // A delivery carries an event, a check or a subscription's report (migration 23),
        // exactly one of them.
        let insert = |event: &str, check: &str, report: &str| {
            c.execute_batch(&format!(
                "INSERT INTO webhook_deliveries (id, webhook_id, event_id, check_id, report, seq, topics, status, attempts, next_attempt_at, created_at)
                 VALUES ('d2', 'h1', {event}, {check}, {report}, 8, 'event', 'pending', 0, 0, 0)"
            ))
        };
        for (event, check, report) in [
            ("NULL", "NULL", "NULL"),
            ("'e2'", "1", "NULL"),
            ("'e2'", "NULL", "'[]'"),
        ] {
            assert!(
                insert(event, check, report).is_err(),
                "{event} {check} {report}"
            );
        }
        insert("NULL", "NULL", "'[\"e2\"]'").unwrap();
    }
}
