#![allow(clippy::unwrap_used)]
//! EPCIS events to Threadline requests and back.

use chrono::{TimeZone, Utc};
use serde_json::json;
use threadline_domain::event::{CaptureContext, Event};
use threadline_domain::master::Product;
use threadline_epcis::json::{context_of, event_json, to_request};
use threadline_epcis::{Catalogue, hash_id, parse_document};

fn catalogue() -> Catalogue {
    let mut c = Catalogue::default();
    for p in [
        json!({"code": "PJ-1", "name": "Projector", "gtin": "10614141073464", "tracking": "serial"}),
        json!({"code": "RESIN", "name": "Resin", "gtin": "04012345999884", "tracking": "lot", "uom": "KGM"}),
    ] {
        c.insert(&serde_json::from_value::<Product>(p).unwrap());
    }
    c
}

fn fixture(name: &str) -> threadline_epcis::Document {
    let path = format!("{}/tests/fixtures/{name}", env!("CARGO_MANIFEST_DIR"));
    parse_document(&std::fs::read(path).unwrap()).unwrap()
}

fn event_of(inbound: threadline_epcis::Inbound) -> Event {
    let ctx = CaptureContext {
        actor: "test".into(),
        now: Utc.with_ymd_and_hms(2026, 11, 22, 0, 0, 0).unwrap(),
    };
    let mut ev = Event::from_request(inbound.request.clone(), &ctx, uuid::Uuid::now_v7()).unwrap();
    inbound.finish(&mut ev);
    ev
}

#[test]
fn an_epcis_event_becomes_the_same_request_threadline_makes_and_reads_back_with_its_hash() {
    let d = fixture("epcisDocWithSingleEvent.jsonld");
    let c = catalogue();
    let inbound = to_request(&d.events[0], &d.context, &c).unwrap();
    let r = &inbound.request;
    assert_eq!(r.items.len(), 2);
    assert_eq!(r.items[0].product.as_str(), "PJ-1");
    assert_eq!(r.items[0].serial.as_str(), "2017");
    assert_eq!(r.biz_step.as_ref().unwrap().as_str(), "shipping");
    assert_eq!(
        r.read_point.as_ref().unwrap().as_str(),
        "0614141073467.1234"
    );
    assert_eq!(
        r.biz_transactions[0].id.as_str(),
        "http://transaction.acme.com/po/12345678"
    );
    assert_eq!(
        inbound.epcis_id.as_deref(),
        Some(inbound.hash_id.as_str()),
        "no eventID given: the hash is the ID"
    );
    let hash = inbound.hash_id.clone();

    let ev = event_of(inbound);
    let out = event_json(&ev, &c);
    assert_eq!(out["eventID"], hash);
    assert_eq!(
        out["epcList"][0],
        "https://id.gs1.org/01/10614141073464/21/2017"
    );
    assert_eq!(hash_id(&out, &context_of([&ev])), hash);
}

#[test]
fn quantities_keep_their_unit_and_every_problem_is_named() {
    let d = fixture("transactionEvents.jsonld");
    let c = catalogue();
    let inbound = to_request(&d.events[1], &d.context, &c).unwrap();
    assert_eq!(
        inbound.request.lots[0].quantity.unwrap().to_string(),
        "2030"
    );
    let ev = event_of(inbound.clone());
    assert_eq!(
        hash_id(&event_json(&ev, &c), &context_of([&ev])),
        inbound.hash_id
    );

    // A quantity in another unit than its product's is kept in that unit.
    let mut litres = d.events[1].clone();
    litres["quantityList"][0]["uom"] = json!("LTR");
    let inbound = to_request(&litres, &d.context, &c).unwrap();
    assert_eq!(inbound.request.lots[0].uom.as_deref(), Some("LTR"));
    let ev = event_of(inbound.clone());
    assert_eq!(event_json(&ev, &c)["quantityList"][0]["uom"], "LTR");
    assert_eq!(
        hash_id(&event_json(&ev, &c), &context_of([&ev])),
        inbound.hash_id
    );

    let mut bad = d.events[1].clone();
    bad["quantityList"][0]["uom"] = json!("kg");
    bad["bizStep"] = json!("transporting_by_drone");
    bad.insert("myField".into(), json!(1));
    let errors = to_request(&bad, &d.context, &c).unwrap_err();
    let fields: Vec<_> = errors
        .iter()
        .map(|e| (e.code, e.field.clone().unwrap()))
        .collect();
    assert!(
        fields.contains(&("invalid_uom", "quantityList[0].uom".into())),
        "{fields:?}"
    );
    assert!(
        fields.contains(&("unknown_vocabulary", "bizStep".into())),
        "{fields:?}"
    );
    assert!(
        fields.contains(&("unknown_field", "myField".into())),
        "{fields:?}"
    );

    // The first event names a GTIN no product holds (a partner's own product): its objects
    // are recorded as given and read back as sent, under the same hash ID.
    let inbound = to_request(&d.events[0], &d.context, &c).unwrap();
    assert!(inbound.request.items.is_empty());
    let given: Vec<&str> = d.events[0]["epcList"]
        .as_array()
        .unwrap()
        .iter()
        .map(|x| x.as_str().unwrap())
        .collect();
    let kept: Vec<&str> = inbound
        .request
        .untracked
        .iter()
        .map(|u| u.id.as_str())
        .collect();
    assert_eq!(kept, given);
    let ev = event_of(inbound.clone());
    let out = event_json(&ev, &c);
    assert_eq!(out["epcList"], d.events[0]["epcList"]);
    assert_eq!(hash_id(&out, &context_of([&ev])), inbound.hash_id);
}
