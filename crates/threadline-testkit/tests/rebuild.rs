//! The projection is a function of the ledger: after a long random sequence of operations
//! (accepted and refused alike), rebuilding from the ledger gives exactly the live state.

#![allow(clippy::unwrap_used)] // tests unwrap: a panic is the failure report

use serde_json::{Value, json};
use threadline_testkit::fixtures::*;
use threadline_testkit::{TestStore, store_test};

/// A small deterministic generator (SplitMix64), so a failure is reproducible from its seed.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }
    fn below(&mut self, n: u64) -> u64 {
        self.next() % n
    }
    fn pick<'a>(&mut self, xs: &'a [&'a str]) -> &'a str {
        xs[self.below(xs.len() as u64) as usize]
    }
}

const PHONES: &[&str] = &["P0", "P1", "P2", "P3", "P4", "P5"];
const BOARDS: &[&str] = &["B0", "B1", "B2", "B3", "B4", "B5"];
const LOTS: &[&str] = &["L0", "L1", "L2"];
const BINS: &[&str] = &["SZ-WH-A1", "SZ-WH-A2", "SZ-L1"];

fn random_event(r: &mut Rng, minutes_ago: i64) -> Value {
    let t = at(minutes_ago);
    let phone = json!({"product": "PHONE", "serial": r.pick(PHONES)});
    let board = json!({"product": "BOARD", "serial": r.pick(BOARDS)});
    let qty = format!("{}.{}", r.below(20), r.below(1000));
    let lotq = json!({"product": "RESIN", "lot": r.pick(LOTS), "quantity": qty});
    match r.below(14) {
        0 => {
            json!({"type": "object", "action": "ADD", "event_time": t, "biz_location": r.pick(BINS), "items": [phone], "ilmd": {"color": "white"}})
        }
        1 => {
            json!({"type": "object", "action": "ADD", "event_time": t, "biz_location": r.pick(BINS), "items": [board]})
        }
        2 => {
            json!({"type": "object", "action": "ADD", "event_time": t, "biz_location": r.pick(BINS), "lots": [lotq],
                     "ilmd": {"expiry_date": "2027-01-01"}})
        }
        3 => {
            json!({"type": "aggregation", "action": "ADD", "event_time": t, "parent": phone, "children": [board]})
        }
        4 => json!({"type": "aggregation", "action": "DELETE", "event_time": t, "parent": phone}),
        5 => {
            json!({"type": "aggregation", "action": "ADD", "event_time": t, "biz_location": r.pick(BINS), "parent": phone, "child_lots": [lotq]})
        }
        6 => {
            json!({"type": "object", "action": "OBSERVE", "event_time": t, "biz_step": "shipping", "disposition": "in_transit",
                     "items": [phone], "destinations": [{"type": "owning_party", "id": "DIST-GD"}]})
        }
        7 => json!({"type": "object", "action": "OBSERVE", "event_time": t, "lots": [lotq],
                     "sources": [{"type": "location", "id": r.pick(BINS)}], "destinations": [{"type": "location", "id": r.pick(BINS)}]}),
        8 => {
            json!({"type": "transformation", "event_time": t, "biz_location": r.pick(BINS), "input_lots": [lotq], "outputs": [board]})
        }
        9 => json!({"type": "object", "action": "OBSERVE", "event_time": t, "items": [phone],
                     "hold": if r.below(2) == 0 { json!({"place": "qc"}) } else { json!({"release": "qc"}) }}),
        11..=13 => {
            json!({"type": "object", "action": "OBSERVE", "event_time": t, "biz_step": "storing",
                          "disposition": "sellable_not_accessible", "biz_location": r.pick(BINS),
                          "items": [if r.below(2) == 0 { phone } else { board }]})
        }
        _ => {
            json!({"type": "object", "action": "DELETE", "event_time": t, "biz_step": "destroying", "items": [board]})
        }
    }
}

async fn run(s: TestStore, seed: u64) {
    plant(&*s).await;
    let mut r = Rng(seed);
    let mut accepted = 0;
    for i in 0..400 {
        // Mostly single events, sometimes batches of two or three that stand or fall together.
        let n = if r.below(4) == 0 {
            2 + r.below(2) as usize
        } else {
            1
        };
        let batch: Vec<_> = (0..n)
            .filter_map(|j| try_event(random_event(&mut r, 10_000 - i * 3 - j as i64)).ok())
            .collect();
        if batch.is_empty() {
            continue;
        }
        let len = batch.len();
        if s.capture(batch, None).await.is_ok() {
            accepted += len;
        }
    }
    assert!(
        accepted > 100,
        "too few accepted events to exercise the projection: {accepted}"
    );
    let live = s.snapshot().await.unwrap();
    assert!(
        live.stock.iter().all(|(_, _, q)| q.is_positive()),
        "no lot quantity is ever negative or kept at zero"
    );
    let report = s.rebuild().await.unwrap();
    assert_eq!(report.entries, s.verify().await.unwrap().entries);
    let rebuilt = s.snapshot().await.unwrap();
    assert_eq!(
        live, rebuilt,
        "seed {seed}: rebuilt projection differs from the live one"
    );
    assert!(s.verify().await.unwrap().first_break.is_none());
}

store_test!(rebuild_equals_live_seed_1, |s: TestStore| run(s, 1));
store_test!(rebuild_equals_live_seed_2, |s: TestStore| run(
    s, 0xDEADBEEF
));
store_test!(rebuild_equals_live_seed_3, |s: TestStore| run(s, 42));
