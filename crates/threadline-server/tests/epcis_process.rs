//! A partner's EPCIS event past the process rules, on both engines: captured through the EPCIS
//! binding it is recorded — the unit takes the step the partner reports — and each rule it
//! broke is a discrepancy of kind `process`, kept in the ledgered event body as the process in
//! force at capture judged it, so a rebuild after the process changed finds the same state
//! and the same discrepancies. Threadline's own API and operations refuse the same steps as
//! before, with nothing written; a partner's event past a hold is heard of (`past_hold`).

#![allow(clippy::unwrap_used)]

mod common;

use axum::body::Body;
use axum::http::{Request, StatusCode};
use common::Api;
use serde_json::{Value, json};
use threadline_testkit::fixtures::{at, plant};
use threadline_testkit::{TestStore, invariants, store_test};

const CONTEXT: &str = "https://ref.gs1.org/standards/epcis/2.0.0/epcis-context.jsonld";
/// The container the partner's shipping of P5 leaves behind.
const CASE: &str = "C1";

fn unit(serial: &str) -> Value {
    json!({"product": "PHONE", "serial": serial})
}

/// PHONE's GTIN is 09521234543213.
fn dl(serial: &str) -> String {
    format!("https://id.gs1.org/01/09521234543213/21/{serial}")
}

async fn recorded(api: &Api, ev: Value) {
    let r = api.post("/api/v1/events", ev).await;
    assert_eq!(r.status, StatusCode::CREATED, "{:?}", r.body);
}

/// Threadline's own events: P1 and P8 in production; P2 in stock on QC hold; P3 shipped; P4
/// sold; P5 in stock packed in a case; P6 in stock; P7 in stock on an admin hold. Then the
/// process: moving stock requires an `operator`.
async fn setup(s: &TestStore) -> Api {
    plant(&**s).await;
    let api = Api::new(s).await;
    let r = api
        .post(
            "/api/v1/products",
            json!({"code": "CASE", "name": "Shipping case", "tracking": "serial", "container": true}),
        )
        .await;
    assert_eq!(r.status, StatusCode::CREATED, "{:?}", r.body);
    let all: Vec<Value> = (1..=8).map(|i| unit(&format!("P{i}"))).collect();
    recorded(
        &api,
        json!({"type": "object", "action": "ADD", "event_time": at(100),
        "biz_step": "commissioning", "disposition": "active", "biz_location": "SZ-L1",
        "items": all, "ilmd": {"color": "black"}}),
    )
    .await;
    let stocked: Vec<Value> = (2..=7).map(|i| unit(&format!("P{i}"))).collect();
    recorded(
        &api,
        json!({"type": "object", "action": "OBSERVE", "event_time": at(90),
        "biz_step": "storing", "disposition": "sellable_not_accessible",
        "biz_location": "SZ-WH-A1", "items": stocked}),
    )
    .await;
    recorded(
        &api,
        json!({"type": "object", "action": "OBSERVE", "event_time": at(80),
        "biz_step": "inspecting", "disposition": "non_conformant", "items": [unit("P2")],
        "hold": {"place": "qc"}}),
    )
    .await;
    recorded(
        &api,
        json!({"type": "object", "action": "OBSERVE", "event_time": at(80),
        "biz_step": "inspecting", "items": [unit("P7")], "hold": {"place": "admin"}}),
    )
    .await;
    for serial in ["P3", "P4"] {
        recorded(
            &api,
            json!({"type": "object", "action": "OBSERVE", "event_time": at(70),
            "biz_step": "shipping", "disposition": "in_transit", "items": [unit(serial)],
            "destinations": [{"type": "owning_party", "id": "DIST-GD"}]}),
        )
        .await;
    }
    recorded(
        &api,
        json!({"type": "object", "action": "OBSERVE", "event_time": at(60),
        "biz_step": "retail_selling", "disposition": "retail_sold", "items": [unit("P4")],
        "destinations": [{"type": "owning_party", "id": "CUST1"}]}),
    )
    .await;
    recorded(
        &api,
        json!({"type": "object", "action": "ADD", "event_time": at(65),
        "biz_step": "commissioning", "disposition": "sellable_not_accessible",
        "biz_location": "SZ-WH-A1", "items": [{"product": "CASE", "serial": CASE}]}),
    )
    .await;
    recorded(
        &api,
        json!({"type": "aggregation", "action": "ADD", "event_time": at(60),
        "biz_step": "packing", "biz_location": "SZ-WH-A1",
        "parent": {"product": "CASE", "serial": CASE}, "children": [unit("P5")]}),
    )
    .await;
    let mut process = api.get("/api/v1/process").await.body;
    process.as_object_mut().unwrap().remove("version");
    process["required_fields"] = json!([{"operation": "store", "fields": ["operator"]}]);
    let r = api.put("/api/v1/process", "\"0\"", process).await;
    assert_eq!(r.status, StatusCode::OK, "{:?}", r.body);
    api
}

/// Each step a partner reports that the process refuses: the unit, Threadline's event request
/// for the same step, the refusal code and the EPCIS field of the discrepancy.
fn steps() -> Vec<(&'static str, Value, &'static str, &'static str)> {
    let ship = |serial: &str| {
        json!({"type": "object", "action": "OBSERVE", "event_time": at(10),
            "biz_step": "shipping", "disposition": "in_transit", "biz_location": "SZ-WH-A1",
            "items": [unit(serial)], "destinations": [{"type": "owning_party", "id": "DIST-GD"}]})
    };
    vec![
        ("P1", ship("P1"), "not_in_stock", "epcList[0]"),
        ("P2", ship("P2"), "qc_hold", "epcList[0]"),
        ("P3", ship("P3"), "already_shipped", "epcList[0]"),
        ("P4", ship("P4"), "already_sold", "epcList[0]"),
        ("P5", ship("P5"), "in_container", "epcList[0]"),
        (
            "P6",
            json!({"type": "object", "action": "OBSERVE", "event_time": at(10),
                "biz_step": "storing", "disposition": "sellable_not_accessible",
                "biz_location": "SZ-WH-A2", "items": [unit("P6")]}),
            "missing_field",
            "tlf:operator",
        ),
        ("P7", ship("P7"), "on_hold", "epcList[0]"),
        (
            "P8",
            json!({"type": "object", "action": "OBSERVE", "event_time": at(10),
                "biz_step": "receiving", "disposition": "sellable_not_accessible",
                "biz_location": "SZ-WH-A1", "items": [unit("P8")]}),
            "out_of_sequence",
            "epcList[0]",
        ),
    ]
}

/// The same step as a partner's EPCIS ObjectEvent.
fn epcis_event(serial: &str, own: &Value) -> Value {
    let mut ev = json!({"type": "ObjectEvent", "eventTime": own["event_time"],
        "eventTimeZoneOffset": "+08:00", "action": "OBSERVE",
        "bizStep": own["biz_step"], "disposition": own["disposition"],
        "epcList": [dl(serial)],
        "bizLocation": {"id": format!("urn:threadline:loc:{}", own["biz_location"].as_str().unwrap())}});
    if own.get("destinations").is_some() {
        ev["destinationList"] =
            json!([{"type": "owning_party", "destination": "urn:threadline:party:DIST-GD"}]);
    }
    ev
}

async fn capture(api: &Api, events: Vec<Value>) -> Value {
    let doc = json!({"@context": [CONTEXT], "type": "EPCISDocument", "schemaVersion": "2.0",
        "creationDate": "2026-06-01T11:55:00Z", "epcisBody": {"eventList": events}});
    let r = api
        .send(
            Request::post("/epcis/capture")
                .header("content-type", "application/ld+json")
                .body(Body::from(doc.to_string()))
                .unwrap(),
        )
        .await;
    assert_eq!(r.status, StatusCode::ACCEPTED, "{:?}", r.body);
    let job = r.headers["location"].to_str().unwrap().to_owned();
    let r = api.get(&job).await;
    assert_eq!(r.status, StatusCode::OK, "{:?}", r.body);
    r.body
}

store_test!(
    threadline_s_own_api_and_operations_still_refuse_each_step_with_nothing_written,
    |s: TestStore| async move {
        let api = setup(&s).await;
        let before = api.ledger_len().await;
        let snap = s.store.snapshot().await.unwrap();
        for (serial, own, code, _) in steps() {
            let r = api.post("/api/v1/events", own).await;
            assert_eq!(
                r.status,
                StatusCode::UNPROCESSABLE_ENTITY,
                "{serial}: {:?}",
                r.body
            );
            let field = if code == "missing_field" {
                "fields.operator"
            } else {
                "items[0].serial"
            };
            assert_eq!(
                r.codes(),
                [(code.to_owned(), field.to_owned())],
                "{serial}: {:?}",
                r.body
            );
        }
        // The operations likewise: shipping a unit on QC hold, moving one without an operator.
        let r = api
            .post(
                "/api/v1/ops/ship",
                json!({"time": at(5), "sales_order": "SO-9", "distributor": "DIST-GD",
                    "from": "SZ-WH-A1", "lines": [{"line": "1", "product": "PHONE", "serials": ["P2"]}]}),
            )
            .await;
        assert_eq!(r.status, StatusCode::UNPROCESSABLE_ENTITY, "{:?}", r.body);
        assert!(
            r.codes().iter().any(|(c, _)| c == "qc_hold"),
            "{:?}",
            r.body
        );
        let r = api
            .post(
                "/api/v1/ops/ship",
                json!({"time": at(5), "sales_order": "SO-9", "distributor": "DIST-GD",
                    "from": "SZ-WH-A1", "lines": [{"line": "1", "product": "PHONE", "serials": ["P5"]}]}),
            )
            .await;
        assert_eq!(r.status, StatusCode::UNPROCESSABLE_ENTITY, "{:?}", r.body);
        assert!(
            r.codes().iter().any(|(c, _)| c == "in_container"),
            "{:?}",
            r.body
        );
        assert_eq!(api.ledger_len().await, before);
        assert_eq!(s.store.snapshot().await.unwrap(), snap);
    }
);

store_test!(
    a_partner_s_event_past_the_process_is_recorded_with_its_discrepancies_kept_across_a_process_change,
    |s: TestStore| async move {
        let api = setup(&s).await;
        let r = api
            .post(
                "/api/v1/webhooks",
                json!({"name": "holds", "url": "https://hooks.example.com/threadline",
                    "filter": {"topics": ["past_hold"]}}),
            )
            .await;
        assert_eq!(r.status, StatusCode::CREATED, "{:?}", r.body);
        let before = api.ledger_len().await;

        let steps = steps();
        let events: Vec<Value> = steps
            .iter()
            .map(|(serial, own, _, _)| epcis_event(serial, own))
            .collect();
        let job = capture(&api, events).await;
        assert_eq!(job["success"], true, "{job:#}");
        assert_eq!(api.ledger_len().await, before + 8);
        let listed: Vec<(String, String, String)> = job["discrepancies"]
            .as_array()
            .unwrap()
            .iter()
            .map(|d| {
                (
                    d["title"].as_str().unwrap().to_owned(),
                    d["field"].as_str().unwrap().to_owned(),
                    d["kind"].as_str().unwrap().to_owned(),
                )
            })
            .collect();
        let expected: Vec<(String, String, String)> = steps
            .iter()
            .enumerate()
            .map(|(i, (_, _, code, field))| {
                (
                    (*code).to_owned(),
                    format!("epcisBody.eventList[{i}].{field}"),
                    "process".to_owned(),
                )
            })
            .collect();
        assert_eq!(listed, expected, "{job:#}");

        // Each unit took the step as the partner reported it.
        for serial in ["P1", "P2", "P3", "P4", "P5", "P7"] {
            let item = api.item("PHONE", serial).await;
            assert_eq!(item["status"], "in_transit", "{serial}: {item:#}");
            assert_eq!(item["custodian"], "DIST-GD", "{serial}: {item:#}");
        }
        // Held units keep their holds.
        assert_eq!(api.item("PHONE", "P2").await["holds"], json!(["qc"]));
        assert_eq!(api.item("PHONE", "P7").await["holds"], json!(["admin"]));
        // The unit shipped without its case left it; the case stays where it was.
        assert!(api.item("PHONE", "P5").await["parent"].is_null());
        let case = api.item("CASE", CASE).await;
        assert_eq!(case["status"], "in_stock", "{case:#}");
        assert_eq!(case["location"], "SZ-WH-A1", "{case:#}");
        // The move without its required field happened; nothing was filled in.
        let p6 = api.item("PHONE", "P6").await;
        assert_eq!(p6["location"], "SZ-WH-A2", "{p6:#}");
        assert_eq!(api.item("PHONE", "P8").await["status"], "in_stock");

        // The passport marks each event, and the event shows its discrepancy.
        for (serial, _, code, _) in &steps {
            let passport = api
                .get(&format!("/api/v1/items/PHONE/{serial}/passport"))
                .await;
            assert_eq!(passport.status, StatusCode::OK, "{:?}", passport.body);
            let marked: Vec<&Value> = passport.body["timeline"]
                .as_array()
                .unwrap()
                .iter()
                .filter(|e| e.get("discrepancies").is_some())
                .collect();
            assert_eq!(marked.len(), 1, "{serial}: {:#}", passport.body);
            assert_eq!(marked[0]["discrepancies"][0]["code"], *code);
            assert_eq!(marked[0]["discrepancies"][0]["kind"], "process");
            let id = marked[0]["id"].as_str().unwrap();
            let event = api.get(&format!("/api/v1/events/{id}")).await;
            assert_eq!(event.status, StatusCode::OK, "{:?}", event.body);
            assert_eq!(event.body["discrepancies"][0]["code"], *code);
            assert_eq!(event.body["discrepancies"][0]["kind"], "process");
            assert_eq!(
                event.body["process_discrepancies"][0]["code"], *code,
                "kept in the event as recorded: {:#}",
                event.body
            );
        }
        for (lang, sentence) in [
            ("en", "on QC hold: recorded, the hold stays"),
            ("zh", "单品质检冻结期间被合作方上报作业：已记录，冻结保留"),
        ] {
            let (st, _, page) = api
                .get_file(&format!("/unit?lang={lang}&product=PHONE&serial=P2"))
                .await;
            assert_eq!(st, StatusCode::OK);
            let page = String::from_utf8(page).unwrap();
            assert!(page.contains(sentence), "{page}");
        }

        // Someone hears of the events that moved held units: P2's and P7's.
        let r = api.get("/api/v1/webhooks/holds/deliveries").await;
        assert_eq!(r.status, StatusCode::OK, "{:?}", r.body);
        let queued = r.body["deliveries"].as_array().unwrap();
        assert_eq!(queued.len(), 2, "{:#}", r.body);
        for d in queued {
            assert!(
                d["topics"].as_array().unwrap().contains(&json!("past_hold")),
                "{d:#}"
            );
        }

        // The process changes — nothing is refused any more —, and a rebuild still finds the
        // live state and every discrepancy, read back from the ledgered bodies.
        let r = api
            .put(
                "/api/v1/process",
                "\"1\"",
                json!({"steps": [], "required_fields": []}),
            )
            .await;
        assert_eq!(r.status, StatusCode::OK, "{:?}", r.body);
        let live = s.store.snapshot().await.unwrap();
        assert_eq!(live.discrepancies.len(), 8);
        assert!(
            live.discrepancies
                .iter()
                .all(|(_, d)| d.kind == threadline_domain::projection::DiscrepancyKind::Process)
        );
        s.store.rebuild().await.unwrap();
        assert_eq!(s.store.snapshot().await.unwrap(), live);
        invariants::check(&*s.store, "after a partner's events past the process").await;
        assert!(s.store.verify().await.unwrap().first_break.is_none());
    }
);

fn board(serial: &str) -> String {
    format!("urn:threadline:unit:BOARD:{serial}")
}

store_test!(
    a_unit_commissioned_again_or_no_longer_there_keeps_its_state_and_a_cycle_is_refused,
    |s: TestStore| async move {
        let api = setup(&s).await;
        recorded(
            &api,
            json!({"type": "object", "action": "ADD", "event_time": at(50),
            "biz_step": "commissioning", "disposition": "active", "biz_location": "SZ-L1",
            "items": [{"product": "BOARD", "serial": "B1"}, {"product": "BOARD", "serial": "B2"},
                {"product": "BOARD", "serial": "B3"}]}),
        )
        .await;
        recorded(
            &api,
            json!({"type": "object", "action": "DELETE", "event_time": at(40),
            "biz_step": "destroying", "items": [{"product": "BOARD", "serial": "B2"}]}),
        )
        .await;
        recorded(
            &api,
            json!({"type": "aggregation", "action": "ADD", "event_time": at(40),
            "biz_step": "assembling", "parent": {"product": "BOARD", "serial": "B1"},
            "children": [{"product": "BOARD", "serial": "B3"}]}),
        )
        .await;

        // Threadline's own API refuses each, with nothing written.
        let before = api.ledger_len().await;
        let again = json!({"type": "object", "action": "ADD", "event_time": at(10),
            "biz_step": "commissioning", "disposition": "sellable_not_accessible",
            "biz_location": "SZ-WH-A2", "items": [{"product": "BOARD", "serial": "B1"}]});
        let stored = json!({"type": "object", "action": "OBSERVE", "event_time": at(10),
            "biz_step": "storing", "disposition": "sellable_not_accessible",
            "biz_location": "SZ-WH-A2", "items": [{"product": "BOARD", "serial": "B2"}],
            "fields": {"operator": "Wu"}});
        let packed = json!({"type": "aggregation", "action": "ADD", "event_time": at(10),
            "biz_step": "packing", "biz_location": "SZ-WH-A1",
            "parent": {"product": "CASE", "serial": CASE},
            "children": [{"product": "BOARD", "serial": "B2"}]});
        for (ev, status, code, field) in [
            (
                &again,
                StatusCode::CONFLICT,
                "duplicate_serial",
                "items[0].serial",
            ),
            (
                &stored,
                StatusCode::UNPROCESSABLE_ENTITY,
                "item_scrapped",
                "items[0].serial",
            ),
            (
                &packed,
                StatusCode::UNPROCESSABLE_ENTITY,
                "item_scrapped",
                "children[0].serial",
            ),
        ] {
            let r = api.post("/api/v1/events", ev.clone()).await;
            assert_eq!(r.status, status, "{:?}", r.body);
            assert_eq!(
                r.codes(),
                [(code.to_owned(), field.to_owned())],
                "{:?}",
                r.body
            );
        }
        assert_eq!(api.ledger_len().await, before);

        // A partner's reports of the same are recorded, each with its discrepancy.
        let job = capture(
            &api,
            vec![
                json!({"type": "ObjectEvent", "eventTime": at(10), "eventTimeZoneOffset": "+08:00",
                    "action": "ADD", "bizStep": "commissioning",
                    "disposition": "sellable_not_accessible", "epcList": [board("B1")],
                    "bizLocation": {"id": "urn:threadline:loc:SZ-WH-A2"}}),
                json!({"type": "ObjectEvent", "eventTime": at(10), "eventTimeZoneOffset": "+08:00",
                    "action": "OBSERVE", "bizStep": "storing",
                    "disposition": "sellable_not_accessible", "epcList": [board("B2")],
                    "bizLocation": {"id": "urn:threadline:loc:SZ-WH-A2"}}),
                json!({"type": "AggregationEvent", "eventTime": at(10),
                    "eventTimeZoneOffset": "+08:00", "action": "ADD", "bizStep": "packing",
                    "parentID": format!("urn:threadline:unit:CASE:{CASE}"),
                    "childEPCs": [board("B2")],
                    "bizLocation": {"id": "urn:threadline:loc:SZ-WH-A1"}}),
            ],
        )
        .await;
        assert_eq!(job["success"], true, "{job:#}");
        let listed: Vec<(&str, &str, &str)> = job["discrepancies"]
            .as_array()
            .unwrap()
            .iter()
            .map(|d| {
                (
                    d["title"].as_str().unwrap(),
                    d["field"].as_str().unwrap(),
                    d["kind"].as_str().unwrap(),
                )
            })
            .collect();
        assert_eq!(
            listed,
            [
                (
                    "duplicate_serial",
                    "epcisBody.eventList[0].epcList[0]",
                    "state"
                ),
                // The process (moving stock requires an operator) judged it too.
                (
                    "missing_field",
                    "epcisBody.eventList[1].tlf:operator",
                    "process"
                ),
                (
                    "item_scrapped",
                    "epcisBody.eventList[1].epcList[0]",
                    "state"
                ),
                (
                    "item_scrapped",
                    "epcisBody.eventList[2].childEPCs[0]",
                    "state"
                ),
            ],
            "{job:#}"
        );
        assert_eq!(api.ledger_len().await, before + 3);
        // B1 keeps what it was commissioned with; B2 stays scrapped where it was, in nothing.
        let b1 = api.item("BOARD", "B1").await;
        assert_eq!(
            (&b1["status"], &b1["location"]),
            (&json!("in_production"), &json!("SZ-L1")),
            "{b1:#}"
        );
        let b2 = api.item("BOARD", "B2").await;
        assert_eq!(b2["status"], "scrapped", "{b2:#}");
        assert_ne!(b2["location"], "SZ-WH-A2", "{b2:#}");
        assert!(b2["parent"].is_null(), "{b2:#}");
        assert_eq!(
            api.item("CASE", CASE).await["children"],
            json!([unit("P5")])
        );
        for (serial, code) in [("B1", "duplicate_serial"), ("B2", "item_scrapped")] {
            let passport = api
                .get(&format!("/api/v1/items/BOARD/{serial}/passport"))
                .await;
            assert!(
                passport.body["timeline"]
                    .as_array()
                    .unwrap()
                    .iter()
                    .any(|e| e["discrepancies"][0]["code"] == code),
                "{serial}: {:#}",
                passport.body
            );
        }

        // A cycle cannot be recorded consistently: a partner's is refused, nothing written.
        let before = api.ledger_len().await;
        let job = capture(
            &api,
            vec![json!({"type": "AggregationEvent", "eventTime": at(5),
                "eventTimeZoneOffset": "+08:00", "action": "ADD", "bizStep": "assembling",
                "parentID": board("B3"), "childEPCs": [board("B1")]})],
        )
        .await;
        assert_eq!(job["success"], false, "{job:#}");
        assert!(
            job["errors"]
                .as_array()
                .unwrap()
                .iter()
                .any(|e| e["title"] == "assembly_cycle"),
            "{job:#}"
        );
        assert_eq!(api.ledger_len().await, before);

        let live = s.store.snapshot().await.unwrap();
        s.store.rebuild().await.unwrap();
        assert_eq!(s.store.snapshot().await.unwrap(), live);
        invariants::check(
            &*s.store,
            "after a partner's reports of units it cannot change",
        )
        .await;
    }
);
