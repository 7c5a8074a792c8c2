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
    for (version, sql) in MIGRATIONS.iter().filter(|m| m.0 > current) {
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
        assert_eq!(latest(), i64::try_from(MIGRATIONS.len()).unwrap());
    }
}
