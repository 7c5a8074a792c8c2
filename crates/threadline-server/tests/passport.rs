//! A unit's passport shows each batch event with that unit only — a work order of thousands
//! would otherwise be listed whole in every passport — and says how many others it named; a
//! parent keeps its components. The event itself stays whole. Both engines.

#![allow(clippy::unwrap_used)] // tests unwrap: a panic is the failure report

mod common;

use common::{Api, history};
use serde_json::{Value, json};
use threadline_testkit::fixtures::plant;
use threadline_testkit::{TestStore, store_test};

fn by_step<'a>(timeline: &'a Value, step: &str) -> &'a Value {
    timeline
        .as_array()
        .unwrap()
        .iter()
        .find(|e| e["biz_step"] == step)
        .unwrap_or_else(|| panic!("no {step} in {timeline}"))
}

store_test!(
    a_passport_shows_batch_events_with_its_unit_only,
    |s: TestStore| async move {
        plant(&*s).await;
        let api = Api::new(&s).await;
        history(&api).await;
        // P1, P2 and P3 were commissioned by one operation; P1 is built from board B1.
        let p1 = api.get("/api/v1/items/PHONE/P1/passport").await.body;
        let commissioning = by_step(&p1["timeline"], "commissioning");
        assert_eq!(
            commissioning["items"],
            json!([{"product": "PHONE", "serial": "P1"}]),
            "{commissioning}"
        );
        assert_eq!(commissioning["others"], 2, "{commissioning}");
        let assembly = by_step(&p1["timeline"], "assembling");
        assert_eq!(
            assembly["children"],
            json!([{"product": "BOARD", "serial": "B1"}]),
            "{assembly}"
        );
        assert!(assembly.get("others").is_none(), "{assembly}");
        // The board's passport shows what it went into.
        let b1 = api.get("/api/v1/items/BOARD/B1/passport").await.body;
        let assembly = by_step(&b1["timeline"], "assembling");
        assert_eq!(assembly["parent"]["serial"], "P1", "{assembly}");
        // The event itself is whole.
        let id = commissioning["id"].as_str().unwrap();
        let whole = api.get(&format!("/api/v1/events/{id}")).await.body;
        assert_eq!(whole["items"].as_array().unwrap().len(), 3, "{whole}");
        assert!(whole.get("others").is_none());
        // The page says so, in the reader's language.
        let r = api.get("/unit?product=PHONE&serial=P1&lang=zh").await;
        let page = r.body.as_str().unwrap();
        assert!(page.contains("（同批另有 2 个单元）"), "{page}");
    }
);

/// What the passport of `key` must show of `whole` (an event as `/api/v1/events/{id}` gives
/// it): the unit itself in its lists, the parent's components when `key` is the parent, and
/// the count of what was left out.
fn narrowed(whole: &Value, key: &Value) -> Value {
    let mut e = whole.clone();
    let is_parent = e.get("parent") == Some(key);
    let mut others = 0;
    for list in ["items", "children", "inputs", "outputs"] {
        if list == "children" && is_parent {
            continue;
        }
        let Some(all) = e.get(list).and_then(Value::as_array).cloned() else {
            continue;
        };
        let kept: Vec<Value> = all.iter().filter(|k| *k == key).cloned().collect();
        others += all.len() - kept.len();
        if kept.is_empty() {
            e.as_object_mut().unwrap().remove(list);
        } else {
            e[list] = Value::Array(kept);
        }
    }
    if others > 0 {
        e["others"] = json!(others);
    }
    e
}

async fn check_timeline(api: &Api, product: &str, serial: &str) -> Value {
    let key = json!({"product": product, "serial": serial});
    let p = api
        .get(&format!("/api/v1/items/{product}/{serial}/passport"))
        .await;
    assert_eq!(p.status, 200, "{}", p.body);
    let timeline = p.body["timeline"].as_array().unwrap().clone();
    assert!(!timeline.is_empty());
    for shown in &timeline {
        let id = shown["id"].as_str().unwrap();
        let whole = api.get(&format!("/api/v1/events/{id}")).await.body;
        assert_eq!(shown, &narrowed(&whole, &key), "{product} {serial}");
    }
    p.body["timeline"].clone()
}

store_test!(
    batch_events_read_from_their_heads_match_the_whole_event,
    |s: TestStore| async move {
        plant(&*s).await;
        let api = Api::new(&s).await;
        // Nine boards received at once, twelve phones commissioned at once: batch events, read
        // from their heads; Q1 built from all nine boards: its passport keeps the components.
        let boards: Vec<String> = (1..=9).map(|n| format!("C{n}")).collect();
        let phones: Vec<String> = (1..=12).map(|n| format!("Q{n}")).collect();
        for (op, body) in [
            (
                "receive",
                json!({"time": "2026-05-20T09:00:00+08:00", "supplier": "SUP1", "purchase_order": "PO-9",
                "location": "SZ-WH-A1", "lines": [{"product": "BOARD", "serials": boards}]}),
            ),
            (
                "commission",
                json!({"time": "2026-05-25T09:00:00+08:00", "product": "PHONE", "serials": phones,
                "work_order": "WO-9", "line": "SZ-L1", "attributes": {"color": "black"}}),
            ),
            (
                "assemble",
                json!({"time": "2026-05-25T10:00:00+08:00", "parent": {"product": "PHONE", "serial": "Q1"},
                "components": boards.iter().map(|b| json!({"product": "BOARD", "serial": b})).collect::<Vec<_>>()}),
            ),
        ] {
            let r = api.post(&format!("/api/v1/ops/{op}"), body).await;
            assert!(r.status.is_success(), "{op}: {}", r.body);
        }
        // A correction of the commissioning shows on every unit's timeline.
        let q2 = check_timeline(&api, "PHONE", "Q2").await;
        let commission = by_step(&q2, "commissioning")["id"]
            .as_str()
            .unwrap()
            .to_owned();
        let r = api
            .post(
                "/api/v1/ops/correct",
                json!({"time": "2026-05-25T09:30:00+08:00", "event": commission,
                "reason": "operator badge not scanned", "fields": {"operator": "Wang"}}),
            )
            .await;
        assert!(r.status.is_success(), "{}", r.body);

        let q2 = check_timeline(&api, "PHONE", "Q2").await;
        let shown = by_step(&q2, "commissioning");
        assert_eq!(shown["others"], 11, "{shown}");
        assert_eq!(
            shown["corrected_by"].as_array().map(Vec::len),
            Some(1),
            "{shown}"
        );
        let q1 = check_timeline(&api, "PHONE", "Q1").await;
        let assembly = by_step(&q1, "assembling");
        assert_eq!(
            assembly["children"].as_array().map(Vec::len),
            Some(9),
            "{assembly}"
        );
        let c5 = check_timeline(&api, "BOARD", "C5").await;
        assert_eq!(by_step(&c5, "assembling")["others"], 8);
        assert_eq!(by_step(&c5, "receiving")["others"], 8);

        // Heads are projection: a rebuild from the ledger gives the same passports.
        s.rebuild().await.unwrap();
        assert_eq!(check_timeline(&api, "PHONE", "Q2").await, q2);
        assert_eq!(check_timeline(&api, "PHONE", "Q1").await, q1);
        assert_eq!(check_timeline(&api, "BOARD", "C5").await, c5);
    }
);
