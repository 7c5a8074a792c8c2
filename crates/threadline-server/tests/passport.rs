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
