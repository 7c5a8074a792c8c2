//! Long random sequences of the business operations (`ops::perform`, exactly what
//! `/api/v1/ops/…` records), accepted and refused alike, on both engines. After each sequence:
//! every unit is in one place and at most one parent, no lot quantity is negative, and the
//! projection equals a rebuild from the ledger. An operation may be refused (that is the
//! point of most of them); it may never fail any other way.

#![allow(clippy::unwrap_used)] // tests unwrap: a panic is the failure report

use serde_json::{Value, json};
use threadline_domain::event::CaptureContext;
use threadline_server::error::AppError;
use threadline_server::ops::{self, Operation};
use threadline_testkit::fixtures::{at, now, plant, put};
use threadline_testkit::rng::Rng;
use threadline_testkit::{TestStore, store_test};
use uuid::Uuid;

const PHONES: &[&str] = &[
    "P0", "P1", "P2", "P3", "P4", "P5", "P6", "P7", "P8", "P9", "P10", "P11",
];
const BOARDS: &[&str] = &["B0", "B1", "B2", "B3", "B4", "B5", "B6", "B7"];
const CASES: &[&str] = &["K0", "K1", "K2"];
const LOTS: &[&str] = &["L0", "L1", "L2"];
const BINS: &[&str] = &["SZ-WH-A1", "SZ-WH-A2", "SZ-L1"];

fn unit(product: &str, serial: &str) -> Value {
    json!({"product": product, "serial": serial})
}

struct Driver<'a> {
    s: &'a TestStore,
    rng: Rng,
    minutes: i64,
    /// Events recorded so far (a correction names one of them).
    recorded: Vec<Uuid>,
    accepted: usize,
    refused: usize,
    /// Accepted operations by name.
    kinds: std::collections::BTreeMap<&'static str, usize>,
}

impl Driver<'_> {
    async fn perform<T: Operation>(&mut self, body: Value) {
        let op: T = match serde_json::from_value(body.clone()) {
            Ok(op) => op,
            Err(e) => panic!("{} body {body}: {e}", T::NAME),
        };
        let ctx = CaptureContext {
            actor: "prop".into(),
            now: now(),
        };
        match ops::perform(&**self.s, &ctx, &op).await {
            Ok(receipts) => {
                self.accepted += 1;
                *self.kinds.entry(T::NAME).or_default() += 1;
                self.recorded.extend(receipts.iter().map(|r| r.id));
            }
            Err(AppError::Rule(_) | AppError::Malformed(_) | AppError::Conflict(_)) => {
                self.refused += 1
            }
            Err(e) => panic!("{} {body}: not a refusal but {e:?}", T::NAME),
        }
    }

    fn time(&mut self) -> String {
        self.minutes -= 2;
        at(self.minutes)
    }

    fn phone(&mut self) -> Value {
        unit("PHONE", self.rng.of(PHONES))
    }
    fn board(&mut self) -> Value {
        unit("BOARD", self.rng.of(BOARDS))
    }
    fn case(&mut self) -> Value {
        unit("CASE", self.rng.of(CASES))
    }
    fn any_unit(&mut self) -> Value {
        match self.rng.below(3) {
            0 => self.board(),
            1 => self.case(),
            _ => self.phone(),
        }
    }
    fn quantity(&mut self) -> String {
        format!("{}.{}", self.rng.below(8), self.rng.below(1000))
    }
    fn resin(&mut self) -> Value {
        let lot = self.rng.of(LOTS);
        let q = self.quantity();
        json!({"product": "RESIN", "lot": lot, "quantity": q})
    }

    /// One random operation.
    async fn step(&mut self) {
        let t = self.time();
        let bin = self.rng.of(BINS);
        match self.rng.below(27) {
            0 => {
                let (boards, lot) = (self.rng.of(BOARDS), self.resin());
                let lot = json!({"lot": lot["lot"], "quantity": lot["quantity"]});
                self.perform::<ops::Receive>(json!({"time": t, "supplier": "SUP1", "purchase_order": "PO-1", "location": bin,
                    "lines": [{"product": "BOARD", "serials": [boards]}, {"product": "RESIN", "lots": [lot]}]}))
                    .await
            }
            1 | 21 | 22 => {
                let p = self.rng.of(PHONES);
                self.perform::<ops::Commission>(
                    json!({"time": t, "product": "PHONE", "serials": [p], "work_order": "WO-1",
                    "line": "SZ-L1", "attributes": {"color": "black"}}),
                )
                .await
            }
            2 => {
                let (parent, child, lot) = (self.phone(), self.board(), self.resin());
                let lots = if self.rng.below(2) == 0 {
                    json!([lot])
                } else {
                    json!([])
                };
                self.perform::<ops::Assemble>(
                    json!({"time": t, "parent": parent, "components": [child],
                    "component_lots": lots, "location": bin}),
                )
                .await
            }
            3 => {
                let (parent, child) = (self.phone(), self.board());
                self.perform::<ops::Remove>(
                    json!({"time": t, "parent": parent, "components": [child]}),
                )
                .await
            }
            4 => {
                let (parent, old, new) = (self.phone(), self.board(), self.board());
                self.perform::<ops::Replace>(
                    json!({"time": t, "parent": parent, "parts": [{"old": old, "new": new}]}),
                )
                .await
            }
            5 => {
                let input = self.resin();
                let out = self.rng.of(&["H0", "H1"]);
                let q = self.quantity();
                self.perform::<ops::Transform>(json!({"time": t, "location": bin, "input_lots": [input],
                    "output_lots": [{"product": "HOUSING", "lot": out, "quantity": q}], "equipment": "M-1",
                    "parameters": {"temperature_c": 180}}))
                    .await
            }
            6 => {
                let u = self.phone();
                let result = self.rng.of(&["pass", "fail", "conditional"]);
                self.perform::<ops::Inspect>(
                    json!({"time": t, "items": [u], "result": result, "inspector": "Zhao"}),
                )
                .await
            }
            7 => {
                let u = self.phone();
                let decision =
                    self.rng
                        .of(&["rework", "use_as_is", "rework", "use_as_is", "scrap"]);
                self.perform::<ops::QcDisposition>(
                    json!({"time": t, "items": [u], "decision": decision,
                    "reason": "decided", "approved_by": "Sun"}),
                )
                .await
            }
            8 => {
                let (case, a) = (self.case(), self.any_unit());
                self.perform::<ops::Pack>(
                    json!({"time": t, "container": case, "items": [a], "location": bin}),
                )
                .await
            }
            9 => {
                let case = self.case();
                let items = if self.rng.below(2) == 0 {
                    json!([])
                } else {
                    json!([self.any_unit()])
                };
                self.perform::<ops::Unpack>(json!({"time": t, "container": case, "items": items}))
                    .await
            }
            10 | 23 | 24 | 25 => {
                let u = self.any_unit();
                let put_away = self.rng.below(4) != 0;
                self.perform::<ops::Move>(
                    json!({"time": t, "items": [u], "to": bin, "put_away": put_away}),
                )
                .await
            }
            11 => {
                let (lot, from) = (self.resin(), self.rng.of(BINS));
                self.perform::<ops::Move>(
                    json!({"time": t, "lots": [lot], "from": from, "to": bin}),
                )
                .await
            }
            12 => {
                let (from, p, case) = (self.rng.of(BINS), self.rng.of(PHONES), self.case());
                let (lines, containers) = if self.rng.below(2) == 0 {
                    (json!([{"product": "PHONE", "serials": [p]}]), json!([]))
                } else {
                    (json!([]), json!([case]))
                };
                self.perform::<ops::Ship>(
                    json!({"time": t, "sales_order": "SO-1", "distributor": "DIST-GD", "from": from,
                    "to": "EXT-GD", "lines": lines, "containers": containers}),
                )
                .await
            }
            13 => {
                let u = self.any_unit();
                self.perform::<ops::DistributorReceipt>(
                    json!({"time": t, "distributor": "DIST-GD", "location": "EXT-GD",
                    "items": [u]}),
                )
                .await
            }
            14 => {
                let u = self.phone();
                self.perform::<ops::Sell>(
                    json!({"time": t, "customer": "CUST1", "seller": "DIST-GD", "items": [u]}),
                )
                .await
            }
            15 => {
                let u = self.phone();
                let outcome = self.rng.of(&["quarantine", "restock", "repair"]);
                self.perform::<ops::Return>(
                    json!({"time": t, "rma": "RMA-1", "customer": "CUST1", "reason": "broken",
                    "condition": "used", "outcome": outcome, "location": bin, "items": [u]}),
                )
                .await
            }
            16 => {
                let (u, old, new) = (self.phone(), self.board(), self.board());
                let parts = if self.rng.below(2) == 0 {
                    json!([{"old": old, "new": new}])
                } else {
                    json!([])
                };
                let completed = self.rng.below(2) == 0;
                self.perform::<ops::Repair>(
                    json!({"time": t, "repair_order": "RO-1", "unit": u, "fault": "dead",
                    "engineer": "Chen", "parts": parts, "completed": completed, "location": bin}),
                )
                .await
            }
            17 => {
                let body = if self.rng.below(3) == 0 {
                    json!({"time": t, "items": [self.any_unit()], "reason": "broken"})
                } else {
                    json!({"time": t, "lots": [self.resin()], "location": bin, "reason": "spilt"})
                };
                self.perform::<ops::Scrap>(body).await
            }
            18 | 19 => {
                let kind = self.rng.of(&["qc", "recall", "admin"]);
                let lot = self.rng.of(LOTS);
                let body = match self.rng.below(3) {
                    0 => {
                        json!({"time": t, "kind": kind, "items": [self.any_unit()], "reason": "check"})
                    }
                    1 => {
                        json!({"time": t, "kind": kind, "lots": [{"product": "RESIN", "lot": lot}], "reason": "check"})
                    }
                    _ => {
                        json!({"time": t, "kind": kind, "produced_from": [{"product": "RESIN", "lot": lot}], "reason": "check"})
                    }
                };
                if self.rng.below(2) == 0 {
                    self.perform::<ops::Hold>(body).await
                } else {
                    self.perform::<ops::Release>(body).await
                }
            }
            20 | 26 => {
                let Some(&event) = self
                    .recorded
                    .get(self.rng.below(self.recorded.len().max(1)))
                else {
                    return;
                };
                let body = match self.rng.below(3) {
                    0 => json!({"time": t, "event": event, "reason": "wrong bin", "location": bin}),
                    1 => {
                        json!({"time": t, "event": event, "reason": "wrong state", "status": "in_stock"})
                    }
                    _ => {
                        json!({"time": t, "event": event, "reason": "did not happen", "void": true})
                    }
                };
                self.perform::<ops::Correct>(body).await
            }
            _ => unreachable!("below(27)"),
        }
    }
}

async fn setup(s: &TestStore) {
    plant(&**s).await;
    put(
        &**s,
        "product",
        json!({"code": "CASE", "name": "Case", "tracking": "serial", "container": true}),
    )
    .await;
    put(
        &**s,
        "product",
        json!({"code": "HOUSING", "name": "Housing", "tracking": "lot"}),
    )
    .await;
    put(&**s, "location", json!({"code": "EXT-GD", "name": "DIST-GD warehouse", "kind": "external", "party": "DIST-GD"})).await;
}

async fn run(s: TestStore, seed: u64) {
    setup(&s).await;
    let mut d = Driver {
        s: &s,
        rng: Rng(seed),
        minutes: 20_000,
        recorded: Vec::new(),
        accepted: 0,
        refused: 0,
        kinds: Default::default(),
    };
    for round in 0..4 {
        for _ in 0..150 {
            d.step().await;
        }
        threadline_testkit::invariants::check(&**d.s, &format!("seed {seed}, round {round}")).await;
    }
    assert!(
        d.accepted > 100 && d.refused > 50 && d.kinds.len() >= 16,
        "seed {seed}: too few accepted ({}) or refused ({}) operations, or too few kinds, to mean anything: {:?}",
        d.accepted,
        d.refused,
        d.kinds
    );
}

store_test!(operations_keep_the_invariants_seed_1, |s: TestStore| run(
    s, 1
));
store_test!(operations_keep_the_invariants_seed_2, |s: TestStore| run(
    s,
    0x5EED_2026
));
store_test!(operations_keep_the_invariants_seed_3, |s: TestStore| run(
    s, 77
));
