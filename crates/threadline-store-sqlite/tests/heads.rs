//! Migration 0018 gives the batch events of an existing database their heads: a database
//! whose events were recorded before it reads the same timelines after it as one written with
//! heads from the start.

// Test helpers panic on any failure, which is what a test should do with it.
#![allow(clippy::unwrap_used)]

use threadline_domain::codes::ItemKey;
use threadline_store::Store;
use threadline_store_sqlite::{Durability, SqliteStore};
use threadline_testkit::fixtures::{commission_boards, commission_phones, plant};

fn key(product: &str, serial: &str) -> ItemKey {
    serde_json::from_value(serde_json::json!({"product": product, "serial": serial})).unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_migration_fills_the_heads_of_events_recorded_before_it() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("plant.db");
    let serials: Vec<String> = (1..=10).map(|n| format!("H{n}")).collect();
    let serials: Vec<&str> = serials.iter().map(String::as_str).collect();
    let keys = [key("PHONE", "H3"), key("BOARD", "K1")];
    let before = {
        let store = SqliteStore::open(&path, Durability::Power).unwrap();
        plant(&store).await;
        store
            .capture(
                vec![
                    commission_phones(&serials, 60),
                    commission_boards(&["K1", "K2"], 50),
                ],
                None,
            )
            .await
            .unwrap();
        let mut t = Vec::new();
        for k in &keys {
            t.push(store.unit_history(k).await.unwrap().unwrap());
        }
        t
    };
    assert_eq!(before[0].timeline[0].others, 9);
    assert_eq!(before[1].timeline[0].others, 1);

    // As a database from before the migration: no head columns, migration 18 not applied.
    {
        let c = rusqlite::Connection::open(&path).unwrap();
        let heads: i64 = c
            .query_row(
                "SELECT count(*) FROM events WHERE head IS NOT NULL",
                [],
                |r| r.get(0),
            )
            .unwrap();
        assert_eq!(heads, 1, "only the ten-unit commissioning has a head");
        c.execute_batch(
            "ALTER TABLE events DROP COLUMN head; ALTER TABLE events DROP COLUMN units;
             DELETE FROM schema_migrations WHERE version = 18;",
        )
        .unwrap();
    }
    let store = SqliteStore::open(&path, Durability::Power).unwrap();
    for (k, t) in keys.iter().zip(&before) {
        assert_eq!(&store.unit_history(k).await.unwrap().unwrap(), t, "{k}");
    }
    drop(store);
    let c = rusqlite::Connection::open(&path).unwrap();
    let (heads, units): (i64, i64) = c
        .query_row(
            "SELECT count(*), sum(units) FROM events WHERE head IS NOT NULL",
            [],
            |r| Ok((r.get(0)?, r.get(1)?)),
        )
        .unwrap();
    assert_eq!((heads, units), (1, 10));
}
