//! Capture throughput on PostgreSQL with 1,000-event batches: commissioning new units,
//! shipping existing ones, and packing one unit into another.
//!
//! A measurement, not a check, so it is ignored by default. Run it in release:
//! `THREADLINE_TEST_PG=postgres://… cargo test --release -p threadline-store-postgres --test throughput -- --ignored --nocapture`

// Test helpers panic on any failure, which is what a test should do with it.
#![allow(clippy::unwrap_used)]

use std::time::{Duration, Instant};

use serde_json::{Value, json};
use threadline_domain::Event;
use threadline_store::Store;
use threadline_store_postgres::testing::fresh_schema;
use threadline_testkit::fixtures::{at, event, plant};

const BATCH: usize = 1000;
const BATCHES: usize = 20;

fn phone(s: &str) -> Value {
    json!({"product": "PHONE", "serial": s})
}

fn board(s: &str) -> Value {
    json!({"product": "BOARD", "serial": s})
}

fn batches(f: impl Fn(usize) -> Value) -> Vec<Vec<Event>> {
    (0..BATCHES)
        .map(|b| (0..BATCH).map(|i| event(f(b * BATCH + i))).collect())
        .collect()
}

async fn timed(store: &dyn Store, what: &str, work: Vec<Vec<Event>>) -> f64 {
    let mut spent = Duration::ZERO;
    for batch in work {
        let started = Instant::now();
        store.capture(batch, None).await.unwrap();
        spent += started.elapsed();
    }
    let rate = (BATCH * BATCHES) as f64 / spent.as_secs_f64();
    eprintln!(
        "{what:>13}: {rate:>8.0} events/s ({BATCHES} batches of {BATCH}, {:.1} ms a batch)",
        spent.as_secs_f64() * 1000.0 / BATCHES as f64
    );
    rate
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "a measurement: run in release with --ignored --nocapture"]
async fn capture_throughput() {
    let Some(url) = threadline_testkit::pg_url() else {
        eprintln!("THREADLINE_TEST_PG is not set: nothing measured");
        return;
    };
    let (store, _guard) = fresh_schema(&url).await.unwrap();
    plant(&store).await;
    // Warm the connection's statement cache and the tables.
    store.capture(vec![event(json!({"type": "object", "action": "ADD", "event_time": at(600), "biz_location": "SZ-L1",
        "items": [phone("WARM")], "ilmd": {"color": "black"}}))], None).await.unwrap();

    let commission = batches(|n| {
        json!({"type": "object", "action": "ADD", "event_time": at(500), "biz_step": "commissioning", "disposition": "active",
               "biz_location": "SZ-L1", "items": [phone(&format!("P{n:07}"))], "ilmd": {"color": "black"},
               "biz_transactions": [{"type": "prodorder", "id": "WO-1"}]})
    });
    let boards = batches(
        |n| json!({"type": "object", "action": "ADD", "event_time": at(450), "biz_location": "SZ-L1", "items": [board(&format!("B{n:07}"))]}),
    );
    let pack = batches(|n| {
        json!({"type": "aggregation", "action": "ADD", "event_time": at(400), "biz_step": "assembling",
               "parent": phone(&format!("P{n:07}")), "children": [board(&format!("B{n:07}"))]})
    });
    let ship = batches(|n| {
        json!({"type": "object", "action": "OBSERVE", "event_time": at(300), "biz_step": "shipping", "disposition": "in_transit",
               "items": [phone(&format!("P{n:07}"))], "destinations": [{"type": "owning_party", "id": "DIST-GD"}],
               "biz_transactions": [{"type": "so", "id": format!("SO-{}", n / 100)}]})
    });

    let rate = timed(&store, "commissioning", commission).await;
    timed(&store, "boards", boards).await;
    timed(&store, "packing", pack).await;
    timed(&store, "shipping", ship).await;
    let report = store.verify().await.unwrap();
    assert!(report.first_break.is_none());
    eprintln!("ledger: {} entries, intact", report.entries);
    assert!(rate > 0.0);
}
