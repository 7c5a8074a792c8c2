//! What only the PostgreSQL engine has to get right: several processes on one database, and
//! migrations that start at the same time or meet a newer database.
//!
//! Run with `THREADLINE_TEST_PG=postgres://…`; without it each test says so and passes.

// Test helpers panic on any failure, which is what a test should do with it.
#![allow(clippy::unwrap_used)]

use std::collections::BTreeSet;

use serde_json::json;
use threadline_store::{CaptureOutcome, IdempotencyKey, MasterWrite, Receipt, Store, StoreError};
use threadline_store_postgres::{PgStore, testing};
use threadline_testkit::fixtures::{
    at, commission_boards, commission_phones, event, master, now, plant,
};
use tokio_postgres::NoTls;
use uuid::Uuid;

fn server() -> Option<String> {
    let url = threadline_testkit::pg_url();
    if url.is_none() {
        eprintln!("THREADLINE_TEST_PG is not set: PostgreSQL engine test skipped");
    }
    url
}

async fn sql(config: &tokio_postgres::Config) -> tokio_postgres::Client {
    let (client, connection) = config.connect(NoTls).await.unwrap();
    tokio::spawn(connection);
    client
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn migrating_an_up_to_date_schema_is_a_no_op_even_when_two_start_at_once() {
    let Some(url) = server() else { return };
    let (config, _guard) = testing::empty_schema(&url).await.unwrap();

    // Two processes starting on an empty schema: one migrates, the other waits and finds the
    // work done.
    let (a, b) = tokio::join!(
        PgStore::from_config(config.clone()),
        PgStore::from_config(config.clone())
    );
    let a = a.unwrap();
    b.unwrap();
    plant(&a).await;
    let before = a.snapshot().await.unwrap();

    let again = PgStore::from_config(config.clone()).await.unwrap();
    assert_eq!(
        again.snapshot().await.unwrap(),
        before,
        "a second migration run changed the data"
    );
    assert!(again.verify().await.unwrap().first_break.is_none());
    let versions: Vec<i64> = sql(&config)
        .await
        .query(
            "SELECT version FROM schema_migrations ORDER BY version",
            &[],
        )
        .await
        .unwrap()
        .iter()
        .map(|r| r.get(0))
        .collect();
    // Each known migration once (numbers are reserved ahead, so the list may have gaps).
    assert_eq!(versions.last().copied(), Some(PgStore::schema_version()));
    assert!(versions.windows(2).all(|w| w[0] < w[1]), "{versions:?}");
    assert!(
        versions.contains(&1) && versions.contains(&12),
        "{versions:?}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_database_from_a_newer_threadline_is_refused() {
    let Some(url) = server() else { return };
    let (config, _guard) = testing::empty_schema(&url).await.unwrap();
    PgStore::from_config(config.clone()).await.unwrap();
    let newer = PgStore::schema_version() + 1;
    sql(&config)
        .await
        .execute(
            "INSERT INTO schema_migrations (version) VALUES ($1)",
            &[&newer],
        )
        .await
        .unwrap();

    match PgStore::from_config(config).await {
        Err(StoreError::Schema(m)) => {
            assert!(m.contains(&format!("schema version {newer}")), "{m}");
            assert!(m.contains("newer than this threadline"), "{m}");
        }
        other => panic!("expected a schema refusal, got {other:?}"),
    }
}

/// Commissions `per_batch` phones per event, `events` events per batch, under a worker prefix.
fn batch(
    worker: usize,
    n: usize,
    events: usize,
    per_event: usize,
) -> Vec<threadline_domain::Event> {
    (0..events)
        .map(|e| {
            let serials: Vec<String> = (0..per_event)
                .map(|i| format!("W{worker}-{n}-{e}-{i}"))
                .collect();
            let refs: Vec<&str> = serials.iter().map(String::as_str).collect();
            commission_phones(&refs, 30)
        })
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_processes_writing_at_once_never_fork_the_chain() {
    let Some(url) = server() else { return };
    let (config, _guard) = testing::empty_schema(&url).await.unwrap();
    let a = PgStore::from_config(config.clone()).await.unwrap();
    let b = PgStore::from_config(config.clone()).await.unwrap();
    plant(&a).await;
    let planted = a.verify().await.unwrap().entries;

    let mut workers = tokio::task::JoinSet::new();
    for w in 0..6 {
        let store = if w % 2 == 0 { a.clone() } else { b.clone() };
        workers.spawn(async move {
            let mut receipts: Vec<Receipt> = Vec::new();
            for n in 0..8 {
                // Every other batch makes 150 new units: their row ids are reserved from the
                // sequence the small batches' inserts draw from, and both processes do both.
                let per_event = if n % 2 == 0 { 4 } else { 30 };
                let out = store
                    .capture(batch(w, n, 5, per_event), None)
                    .await
                    .unwrap();
                receipts.extend(out.receipts().iter().cloned());
                // Master writes take the same head lock as captures.
                let r = store
                    .put_master(MasterWrite {
                        record: master("party", json!({"code": format!("C-{w}-{n}"), "name": "Customer", "kind": "customer"})),
                        actor: "test".into(),
                        now: now(),
                        id: Uuid::now_v7(),
                        replaces: None,
                    })
                    .await
                    .unwrap();
                receipts.push(r);
            }
            receipts
        });
    }
    // The same retried request sent to both processes at once is recorded once.
    let key = IdempotencyKey {
        key: "retry-1".into(),
        request_hash: [7; 32],
    };
    let retried = batch(99, 0, 2, 3);
    let (first, second) = tokio::join!(
        a.capture(retried.clone(), Some(key.clone())),
        b.capture(retried, Some(key))
    );
    let (first, second) = (first.unwrap(), second.unwrap());
    assert_eq!(first.receipts(), second.receipts());
    let recorded = [&first, &second]
        .iter()
        .filter(|o| matches!(o, CaptureOutcome::Recorded(_)))
        .count();
    assert_eq!(
        recorded, 1,
        "exactly one of the two identical requests is recorded"
    );

    let mut seqs: Vec<i64> = first.receipts().iter().map(|r| r.seq).collect();
    while let Some(done) = workers.join_next().await {
        seqs.extend(done.unwrap().iter().map(|r| r.seq));
    }
    let expected = planted + 6 * 8 * 6 + 2;
    let distinct: BTreeSet<i64> = seqs.iter().copied().collect();
    assert_eq!(
        distinct.len(),
        seqs.len(),
        "two entries were given the same place in the ledger"
    );
    assert_eq!(
        distinct,
        (planted + 1..=expected).collect(),
        "the ledger has a gap"
    );

    for store in [&a, &b] {
        let report = store.verify().await.unwrap();
        assert_eq!(report.first_break, None);
        assert_eq!(report.entries, expected);
    }
    let live = a.snapshot().await.unwrap();
    assert_eq!(live, b.snapshot().await.unwrap());
    assert_eq!(live.items.len(), 6 * 4 * 5 * (4 + 30) + 6);
    b.rebuild().await.unwrap();
    assert_eq!(
        a.snapshot().await.unwrap(),
        live,
        "rebuilt projection differs from the live one"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_capture_waits_for_a_rebuild_and_then_sees_its_result() {
    let Some(url) = server() else { return };
    let (config, _guard) = testing::empty_schema(&url).await.unwrap();
    let a = PgStore::from_config(config.clone()).await.unwrap();
    let b = PgStore::from_config(config).await.unwrap();
    plant(&a).await;
    a.capture(vec![commission_phones(&["R1", "R2"], 20)], None)
        .await
        .unwrap();

    // Racing a capture against a rebuild must neither lose the unit nor let it be registered
    // twice: whichever runs second sees the other's committed work.
    let again = commission_phones(&["R2"], 10);
    let (rebuilt, captured) = tokio::join!(b.rebuild(), a.capture(vec![again], None));
    rebuilt.unwrap();
    match captured {
        Err(StoreError::Invalid(v)) => assert_eq!(v[0].code, "duplicate_serial"),
        other => panic!("R2 was registered twice: {other:?}"),
    }
    let ship = event(
        json!({"type": "object", "action": "OBSERVE", "event_time": at(5), "biz_step": "storing",
        "disposition": "sellable_not_accessible", "biz_location": "SZ-WH-A1", "items": [{"product": "PHONE", "serial": "R1"}]}),
    );
    b.capture(vec![ship], None).await.unwrap();
    assert!(a.verify().await.unwrap().first_break.is_none());
}

/// A unit's history (the passport's read) goes out as one pipeline in its own read-only
/// transaction: while another process records events of the unit, each history's state agrees
/// with its own timeline, and the connection it used is left outside any transaction — the
/// next write on it goes through.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_unit_history_is_one_snapshot_and_leaves_its_connection_outside_a_transaction() {
    let Some(url) = server() else { return };
    let (config, _guard) = testing::empty_schema(&url).await.unwrap();
    let reader = PgStore::from_config(config.clone()).await.unwrap();
    let writer = PgStore::from_config(config).await.unwrap();
    plant(&writer).await;
    writer
        .capture(vec![commission_phones(&["H1"], 60)], None)
        .await
        .unwrap();
    let observe = |minutes_ago: i64| {
        event(
            json!({"type": "object", "action": "OBSERVE", "event_time": at(minutes_ago),
            "biz_step": "storing", "disposition": "sellable_not_accessible",
            "biz_location": "SZ-WH-A1", "items": [{"product": "PHONE", "serial": "H1"}]}),
        )
    };
    let unit = key("PHONE", "H1");
    let writes = async {
        for n in 0..30 {
            writer.capture(vec![observe(50 - n)], None).await.unwrap();
        }
    };
    let reads = async {
        let mut lengths = Vec::new();
        for _ in 0..60 {
            let h = reader.unit_history(&unit).await.unwrap().unwrap();
            assert_eq!(h.state.event_count, h.timeline.len() as i64);
            assert_eq!(h.product.unwrap().def.code.as_str(), "PHONE");
            lengths.push(h.timeline.len());
        }
        lengths
    };
    let ((), lengths) = tokio::join!(writes, reads);
    assert!(lengths.windows(2).all(|w| w[0] <= w[1]), "{lengths:?}");
    let h = reader.unit_history(&unit).await.unwrap().unwrap();
    assert_eq!(h.timeline.len(), 31);

    // One connection at a time from here: the one the histories used.
    assert!(
        reader
            .unit_history(&key("PHONE", "NOT-THERE"))
            .await
            .unwrap()
            .is_none()
    );
    for (setting, outside) in [
        ("transaction_isolation", "read committed"),
        ("transaction_read_only", "off"),
    ] {
        assert_eq!(
            testing::session_setting(&reader, setting).await.unwrap(),
            outside
        );
    }
    reader.capture(vec![observe(10)], None).await.unwrap();
    assert_eq!(
        reader
            .unit_history(&unit)
            .await
            .unwrap()
            .unwrap()
            .timeline
            .len(),
        32
    );
}

fn key(product: &str, serial: &str) -> threadline_domain::codes::ItemKey {
    serde_json::from_value(json!({"product": product, "serial": serial})).unwrap()
}

/// Migration 0018 gives the batch events of an existing database their heads: timelines read
/// the same before and after it.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_migration_fills_the_heads_of_events_recorded_before_it() {
    let Some(url) = server() else { return };
    let (config, _guard) = testing::empty_schema(&url).await.unwrap();
    let serials: Vec<String> = (1..=10).map(|n| format!("H{n}")).collect();
    let serials: Vec<&str> = serials.iter().map(String::as_str).collect();
    let keys = [key("PHONE", "H3"), key("BOARD", "K1")];
    let store = PgStore::from_config(config.clone()).await.unwrap();
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
    let mut before = Vec::new();
    for k in &keys {
        before.push(store.unit_history(k).await.unwrap().unwrap());
    }
    drop(store);
    assert_eq!(before[0].timeline[0].others, 9);
    assert_eq!(before[1].timeline[0].others, 1);

    // As a database from before the migration: no head columns, migration 18 not applied.
    let c = sql(&config).await;
    let heads: i64 = c
        .query_one("SELECT count(*) FROM events WHERE head IS NOT NULL", &[])
        .await
        .unwrap()
        .get(0);
    assert_eq!(heads, 1, "only the ten-unit commissioning has a head");
    c.batch_execute(
        "ALTER TABLE events DROP COLUMN head, DROP COLUMN units;
         DELETE FROM schema_migrations WHERE version = 18;",
    )
    .await
    .unwrap();
    let store = PgStore::from_config(config.clone()).await.unwrap();
    for (k, t) in keys.iter().zip(&before) {
        assert_eq!(&store.unit_history(k).await.unwrap().unwrap(), t, "{k}");
    }
    let row = c
        .query_one(
            "SELECT count(*), sum(units)::bigint FROM events WHERE head IS NOT NULL",
            &[],
        )
        .await
        .unwrap();
    assert_eq!((row.get::<_, i64>(0), row.get::<_, i64>(1)), (1, 10));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sessions_run_without_jit_and_keep_the_options_the_url_gives() {
    let Some(url) = server() else { return };
    let (config, guard) = testing::empty_schema(&url).await.unwrap();
    let store = PgStore::from_config(config.clone()).await.unwrap();
    assert_eq!(
        testing::session_setting(&store, "jit").await.unwrap(),
        "off"
    );
    // The schema the configuration's own options chose is still the one in use.
    assert_eq!(
        testing::session_setting(&store, "search_path")
            .await
            .unwrap(),
        guard.schema()
    );
    // Options in the URL come after Threadline's and win.
    let mut on = config.clone();
    on.options(format!("{} -c jit=on", config.get_options().unwrap()));
    let store = PgStore::from_config(on).await.unwrap();
    assert_eq!(testing::session_setting(&store, "jit").await.unwrap(), "on");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_planner_is_told_how_many_distinct_ids_the_genealogy_holds() {
    let Some(url) = server() else { return };
    let (config, guard) = testing::empty_schema(&url).await.unwrap();
    PgStore::from_config(config.clone()).await.unwrap();
    // Sampled, the child ids of a 10 M-event genealogy came out a hundredfold too few and every
    // wide level of a trace was planned as a scan of the whole table.
    let rows = sql(&config)
        .await
        .query(
            "SELECT a.attname::text,
                    (SELECT o FROM unnest(a.attoptions) o WHERE o LIKE 'n\\_distinct=%')
             FROM pg_attribute a JOIN pg_class c ON c.oid = a.attrelid
             JOIN pg_namespace n ON n.oid = c.relnamespace
             WHERE n.nspname = $1 AND c.relname = 'genealogy'
               AND a.attname IN ('child_id', 'parent_id')
             ORDER BY 1",
            &[&guard.schema()],
        )
        .await
        .unwrap();
    let options: Vec<(String, Option<String>)> =
        rows.iter().map(|r| (r.get(0), r.get(1))).collect();
    assert_eq!(
        options,
        [
            ("child_id".to_owned(), Some("n_distinct=-0.5".to_owned())),
            ("parent_id".to_owned(), Some("n_distinct=-0.4".to_owned())),
        ]
    );
}
