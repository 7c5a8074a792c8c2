//! Every operation of `/api/v1/ops`, through the API, on both engines: the whole lifecycle from
//! raw material to scrap, and every refusal at the scan (named by the operation's own field,
//! nothing written).

#![allow(clippy::unwrap_used)] // tests unwrap: a panic is the failure report

mod common;

use axum::http::StatusCode;
use common::{Api, Reply};
use serde_json::{Value, json};
use threadline_domain::access::Role;
use threadline_testkit::fixtures::{at, plant};
use threadline_testkit::{TestStore, store_test};

fn unit(product: &str, serial: &str) -> Value {
    json!({"product": product, "serial": serial})
}

const CASE: &str = "00095212345000000018";

/// The fixture plant plus a container product, a lot-tracked housing and a distributor's
/// warehouse.
async fn setup(s: &TestStore) -> Api {
    plant(&**s).await;
    let api = Api::new(s).await;
    for (uri, body) in [
        (
            "/api/v1/products",
            json!({"code": "CASE", "name": "Shipping case", "tracking": "serial", "container": true}),
        ),
        (
            "/api/v1/products",
            json!({"code": "HOUSING", "name": "Moulded housing", "tracking": "lot"}),
        ),
        (
            "/api/v1/locations",
            json!({"code": "EXT-GD", "name": "DIST-GD warehouse", "kind": "external", "party": "DIST-GD"}),
        ),
    ] {
        let r = api.post(uri, body).await;
        assert_eq!(r.status, StatusCode::CREATED, "{:?}", r.body);
    }
    api
}

async fn ok(api: &Api, op: &str, body: Value) -> Reply {
    let r = api.post(&format!("/api/v1/ops/{op}"), body).await;
    assert_eq!(r.status, StatusCode::CREATED, "{op}: {:?}", r.body);
    r
}

async fn status(api: &Api, product: &str, serial: &str) -> String {
    api.item(product, serial).await["status"]
        .as_str()
        .unwrap()
        .to_owned()
}

/// Material receipt, production, assembly and QC: the state the refusal tests start from.
async fn produce(api: &Api) {
    ok(api, "receive", json!({"time": at(600), "supplier": "SUP1", "purchase_order": "PO-1", "location": "SZ-WH-A1", "inspector": "Wu",
        "lines": [
            {"line": "10", "product": "RESIN", "lots": [
                {"lot": "L1", "quantity": "50", "production_date": "2026-04-01", "expiry_date": "2027-04-01"},
                {"lot": "L2", "quantity": "20", "production_date": "2026-05-01", "expiry_date": "2026-09-01"}]},
            {"line": "20", "product": "BOARD", "serials": ["B1", "B2", "B3", "B4"]}]})).await;
    ok(
        api,
        "move",
        json!({"time": at(590), "lots": [{"product": "RESIN", "lot": "L1", "quantity": "10"}],
        "from": "SZ-WH-A1", "to": "SZ-L1", "operator": "Liu"}),
    )
    .await;
    ok(api, "transform", json!({"time": at(580), "location": "SZ-L1",
        "input_lots": [{"product": "RESIN", "lot": "L1", "quantity": "4"}],
        "output_lots": [{"product": "HOUSING", "lot": "H1", "quantity": "4"}],
        "equipment": "MOULD-3", "parameters": {"temperature_c": 180, "pressure_bar": 90}, "work_order": "WO-1"})).await;
    ok(api, "commission", json!({"time": at(570), "product": "PHONE", "serials": ["P1", "P2", "P3", "P4"], "work_order": "WO-1",
        "line": "SZ-L1", "station": "FA-01", "operator": "Li", "revision": "C", "attributes": {"color": "black"}})).await;
    ok(api, "assemble", json!({"time": at(560), "parent": unit("PHONE", "P1"), "components": [unit("BOARD", "B1")],
        "component_lots": [{"product": "HOUSING", "lot": "H1", "quantity": "1"}], "location": "SZ-L1", "work_order": "WO-1"})).await;
    ok(api, "assemble", json!({"time": at(559), "parent": unit("PHONE", "P2"), "components": [unit("BOARD", "B2")]})).await;
    ok(api, "inspect", json!({"time": at(550), "items": [unit("PHONE", "P1"), unit("PHONE", "P3"), unit("PHONE", "P4")], "result": "pass",
        "measurements": [{"name": "output_voltage", "value": 5.01, "unit": "V", "low": 4.8, "high": 5.2}],
        "inspector": "Zhao", "equipment": "ATE-07"})).await;
    ok(api, "inspect", json!({"time": at(549), "items": [unit("PHONE", "P2")], "result": "fail",
        "measurements": [{"name": "output_voltage", "value": 4.6, "unit": "V", "low": 4.8, "high": 5.2}],
        "defect_codes": ["E-VOLT-LOW"], "inspector": "Zhao", "equipment": "ATE-07"})).await;
}

store_test!(
    the_whole_lifecycle_through_the_operations,
    |s: TestStore| async move {
        let api = setup(&s).await;
        produce(&api).await;
        let l1 = api.get("/api/v1/lots/RESIN/L1").await.body;
        assert_eq!(
            l1["stock"],
            json!([{"location": "SZ-L1", "quantity": "6"}, {"location": "SZ-WH-A1", "quantity": "40"}])
        );
        assert_eq!(api.item("BOARD", "B1").await["parent"], unit("PHONE", "P1"));
        let p2 = api.item("PHONE", "P2").await;
        assert_eq!(p2["holds"], json!(["qc"]));

        // Pick suggestions: FIFO takes the oldest lot, FEFO the nearest expiry.
        let r = api
            .get("/api/v1/ops/pick?product=RESIN&quantity=45&strategy=fifo")
            .await;
        assert_eq!(r.status, StatusCode::OK, "{:?}", r.body);
        let lots: Vec<&str> = r.body["picks"]
            .as_array()
            .unwrap()
            .iter()
            .map(|p| p["lot"].as_str().unwrap())
            .collect();
        assert_eq!(lots[0], "L1");
        assert_eq!(r.body["short"], "0");
        let r = api
            .get("/api/v1/ops/pick?product=RESIN&quantity=25&strategy=fefo")
            .await;
        assert_eq!(
            (
                r.body["picks"][0]["lot"].as_str(),
                r.body["picks"][0]["quantity"].as_str()
            ),
            (Some("L2"), Some("20"))
        );
        let r = api.get("/api/v1/ops/pick?product=PHONE&quantity=1").await;
        assert_eq!(r.body["picks"], json!([]), "nothing is in stock yet");
        assert_eq!(r.body["short"], "1");

        // QC disposition: rework releases the hold.
        ok(&api, "disposition", json!({"time": at(540), "items": [unit("PHONE", "P2")], "decision": "rework", "reason": "re-soldered"})).await;
        assert_eq!(api.item("PHONE", "P2").await["holds"], json!([]));
        ok(&api, "replace", json!({"time": at(535), "parent": unit("PHONE", "P2"), "parts": [{"old": unit("BOARD", "B2"), "new": unit("BOARD", "B4")}]})).await;
        assert_eq!(api.item("BOARD", "B4").await["parent"], unit("PHONE", "P2"));
        assert!(api.item("BOARD", "B2").await["parent"].is_null());

        // Put away, pack, ship the case and a loose unit, receive at the distributor.
        ok(&api, "move", json!({"time": at(530), "items": [unit("PHONE", "P1"), unit("PHONE", "P2"), unit("PHONE", "P3"), unit("PHONE", "P4")],
            "to": "SZ-WH-A2", "put_away": true})).await;
        assert_eq!(status(&api, "PHONE", "P1").await, "in_stock");
        let r = api.get("/api/v1/ops/pick?product=PHONE&quantity=2").await;
        assert_eq!(r.body["picks"].as_array().unwrap().len(), 2);
        ok(&api, "pack", json!({"time": at(520), "container": unit("CASE", CASE), "items": [unit("PHONE", "P1"), unit("PHONE", "P2")], "location": "SZ-WH-A2"})).await;
        assert_eq!(
            api.item("CASE", CASE).await["children"]
                .as_array()
                .unwrap()
                .len(),
            2
        );
        ok(&api, "ship", json!({"time": at(500), "sales_order": "SO-1", "distributor": "DIST-GD", "ship_to_region": "CN-GD",
            "carrier": "SF Express", "tracking_number": "SF1001", "from": "SZ-WH-A2", "to": "EXT-GD",
            "lines": [{"line": "1", "product": "PHONE", "serials": ["P3"]}], "containers": [unit("CASE", CASE)]})).await;
        for serial in ["P1", "P2", "P3"] {
            let u = api.item("PHONE", serial).await;
            assert_eq!(
                (u["status"].as_str(), u["custodian"].as_str()),
                (Some("in_transit"), Some("DIST-GD")),
                "{serial}"
            );
        }
        ok(&api, "distributor-receipt", json!({"time": at(480), "distributor": "DIST-GD", "location": "EXT-GD", "sales_order": "SO-1",
            "items": [unit("CASE", CASE), unit("PHONE", "P3")]})).await;
        assert_eq!(api.item("PHONE", "P1").await["location"], "EXT-GD");
        ok(
            &api,
            "unpack",
            json!({"time": at(470), "container": unit("CASE", CASE), "location": "EXT-GD"}),
        )
        .await;
        assert!(api.item("PHONE", "P1").await["parent"].is_null());

        // Sold: the warranty starts.
        ok(&api, "sell", json!({"time": at(460), "customer": "CUST1", "seller": "DIST-GD", "region": "CN-GD", "items": [unit("PHONE", "P1")]})).await;
        let passport = api.get("/api/v1/items/PHONE/P1/passport").await.body;
        assert_eq!(passport["warranty"]["status"], "active");

        // Returned for repair; the board is swapped; the old board is scrapped.
        ok(&api, "return", json!({"time": at(400), "rma": "RMA-1", "customer": "CUST1", "reason": "does not power on",
            "condition": "cosmetically fine", "outcome": "repair", "location": "SZ-WH-A1", "items": [unit("PHONE", "P1")]})).await;
        assert_eq!(status(&api, "PHONE", "P1").await, "in_repair");
        let r = ok(&api, "repair", json!({"time": at(390), "repair_order": "RO-1", "unit": unit("PHONE", "P1"), "fault": "dead board",
            "fault_code": "F-BOARD", "engineer": "Chen", "parts": [{"old": unit("BOARD", "B1"), "new": unit("BOARD", "B3")}],
            "completed": true, "location": "SZ-WH-A1"})).await;
        assert_eq!(r.body["events"].as_array().unwrap().len(), 3);
        assert_eq!(status(&api, "PHONE", "P1").await, "in_stock");
        assert_eq!(api.item("BOARD", "B3").await["parent"], unit("PHONE", "P1"));
        let repair = api
            .get("/api/v1/events?transaction_type=ro&transaction_id=RO-1")
            .await
            .body;
        let last = repair["items"].as_array().unwrap().last().unwrap().clone();
        assert_eq!(
            (
                last["fields"]["warranty"].as_str(),
                last["fields"]["engineer"].as_str()
            ),
            (Some("in_warranty"), Some("Chen"))
        );
        ok(
            &api,
            "scrap",
            json!({"time": at(380), "items": [unit("BOARD", "B1")], "reason": "burnt"}),
        )
        .await;
        ok(&api, "scrap", json!({"time": at(379), "lots": [{"product": "RESIN", "lot": "L2", "quantity": "5"}], "location": "SZ-WH-A1", "reason": "expired"})).await;
        assert_eq!(status(&api, "BOARD", "B1").await, "scrapped");

        // A recall hold on everything made from resin lot L1, and its release.
        let r = ok(&api, "hold", json!({"time": at(300), "kind": "recall", "produced_from": [{"product": "RESIN", "lot": "L1"}], "reason": "supplier notice"})).await;
        assert!(r.body["units"].as_u64().unwrap() >= 1);
        assert_eq!(api.item("PHONE", "P1").await["holds"], json!(["recall"]));
        assert_eq!(
            api.get("/api/v1/lots/HOUSING/H1").await.body["holds"],
            json!(["recall"])
        );
        ok(&api, "release", json!({"time": at(290), "kind": "recall", "produced_from": [{"product": "RESIN", "lot": "L1"}], "reason": "cleared"})).await;
        assert_eq!(api.item("PHONE", "P1").await["holds"], json!([]));
        ok(&api, "remove", json!({"time": at(280), "parent": unit("PHONE", "P2"), "components": [unit("BOARD", "B4")], "reason": "teardown"})).await;

        // The ledger is intact and rebuilds to the same state.
        assert!(api.get("/api/v1/ledger/verify").await.body["first_break"].is_null());
        let live = s.snapshot().await.unwrap();
        s.rebuild().await.unwrap();
        assert_eq!(s.snapshot().await.unwrap(), live);
    }
);

/// A refused operation: the status, every `(code, field)`, the first message, and nothing
/// written.
async fn refused(api: &Api, op: &str, body: Value) -> (StatusCode, Vec<(String, String)>, String) {
    let before = api.ledger_len().await;
    let r = api.post(&format!("/api/v1/ops/{op}"), body).await;
    assert_ne!(r.status, StatusCode::CREATED, "{op} was accepted");
    assert_eq!(api.ledger_len().await, before, "a refusal wrote something");
    (r.status, r.codes(), r.message())
}

fn pair(code: &str, field: &str) -> (String, String) {
    (code.to_owned(), field.to_owned())
}

store_test!(
    every_refusal_at_the_scan_names_the_serial_and_writes_nothing,
    |s: TestStore| async move {
        let api = setup(&s).await;
        produce(&api).await;
        ok(&api, "move", json!({"time": at(530), "items": [unit("PHONE", "P1"), unit("PHONE", "P2"), unit("PHONE", "P3")], "to": "SZ-WH-A2", "put_away": true})).await;
        let ship = |lines: Value| json!({"time": at(100), "sales_order": "SO-9", "customer": "CUST1", "from": "SZ-WH-A2", "lines": lines});
        let phones = |serials: &[&str]| json!([{"product": "PHONE", "serials": serials}]);

        // Unknown serial.
        let (st, codes, msg) = refused(&api, "ship", ship(phones(&["NOPE"]))).await;
        assert_eq!(
            (st, codes),
            (
                StatusCode::UNPROCESSABLE_ENTITY,
                vec![pair("unknown_serial", "lines[0].serials[0]")]
            )
        );
        assert!(msg.contains("NOPE"), "{msg}");
        // A serial of another product than the order line.
        let (_, codes, msg) = refused(&api, "ship", ship(phones(&["B3"]))).await;
        assert!(
            codes.contains(&pair("wrong_product", "lines[0].serials[0]")),
            "{codes:?}"
        );
        assert!(msg.contains("B3") && msg.contains("BOARD"), "{msg}");
        // The same unit scanned twice.
        let (_, codes, _) = refused(&api, "ship", ship(json!([{"product": "PHONE", "serials": ["P1"]}, {"product": "PHONE", "serials": ["P1"]}]))).await;
        assert_eq!(codes, vec![pair("duplicate_scan", "lines[1].serials[0]")]);
        // Failed QC, not in stock; a batch names every bad line at once.
        let (_, codes, msg) = refused(&api, "ship", ship(phones(&["P2", "P4", "P1"]))).await;
        assert_eq!(
            codes,
            vec![
                pair("qc_hold", "lines[0].serials[0]"),
                pair("not_in_stock", "lines[0].serials[1]")
            ]
        );
        assert!(msg.contains("P2") && msg.contains("QC"), "{msg}");
        // On hold.
        ok(&api, "hold", json!({"time": at(200), "kind": "admin", "items": [unit("PHONE", "P3")], "reason": "count"})).await;
        let (_, codes, _) = refused(&api, "ship", ship(phones(&["P3"]))).await;
        assert_eq!(codes, vec![pair("on_hold", "lines[0].serials[0]")]);
        // Already shipped.
        ok(&api, "ship", ship(phones(&["P1"]))).await;
        let (_, codes, msg) = refused(&api, "ship", ship(phones(&["P1"]))).await;
        assert_eq!(codes, vec![pair("already_shipped", "lines[0].serials[0]")]);
        assert!(msg.contains("P1"), "{msg}");
        // A component installed elsewhere.
        let (_, codes, msg) = refused(&api, "assemble", json!({"time": at(90), "parent": unit("PHONE", "P4"), "components": [unit("BOARD", "B1")]})).await;
        assert_eq!(codes, vec![pair("already_assembled", "components[0]")]);
        assert!(msg.contains("B1") && msg.contains("P1"), "{msg}");
        // More of a lot than is on hand.
        let (_, codes, msg) = refused(&api, "transform", json!({"time": at(90), "location": "SZ-L1",
            "input_lots": [{"product": "RESIN", "lot": "L1", "quantity": "7"}], "output_lots": [{"product": "HOUSING", "lot": "H2", "quantity": "7"}]})).await;
        assert_eq!(
            codes,
            vec![pair("insufficient_quantity", "input_lots[0].quantity")]
        );
        assert!(msg.contains("L1") && msg.contains('6'), "{msg}");
        // An event time in the future beyond the tolerance.
        let future =
            chrono::DateTime::parse_from_rfc3339(&at(0)).unwrap() + chrono::Duration::minutes(30);
        let (_, codes, _) = refused(
            &api,
            "commission",
            json!({"time": future.to_rfc3339(), "product": "PHONE", "serials": ["P9"],
            "work_order": "WO-2", "line": "SZ-L1", "attributes": {"color": "white"}}),
        )
        .await;
        assert_eq!(codes, vec![pair("future_event_time", "time")]);
        // Out of sequence: selling a unit still in production, repairing one never returned.
        let (_, codes, msg) = refused(
            &api,
            "sell",
            json!({"time": at(80), "customer": "CUST1", "items": [unit("PHONE", "P4")]}),
        )
        .await;
        assert_eq!(codes, vec![pair("out_of_sequence", "items[0]")]);
        assert!(msg.contains("P4") && msg.contains("in production"), "{msg}");
        // A custom attribute is checked on every operation.
        let (_, codes, _) = refused(
            &api,
            "commission",
            json!({"time": at(80), "product": "PHONE", "serials": ["P9"],
            "work_order": "WO-2", "line": "SZ-L1", "attributes": {"color": "pink"}}),
        )
        .await;
        assert_eq!(codes, vec![pair("invalid_attribute", "attributes.color")]);
        // QC: a pass outside the limits; use-as-is without an approval.
        let (_, codes, _) = refused(
            &api,
            "inspect",
            json!({"items": [unit("PHONE", "P4")], "result": "pass", "inspector": "Zhao",
            "measurements": [{"name": "output_voltage", "value": 4.1, "low": 4.8, "high": 5.2}]}),
        )
        .await;
        assert_eq!(codes, vec![pair("out_of_limits", "measurements[0].value")]);
        let (_, codes, _) = refused(
            &api,
            "disposition",
            json!({"items": [unit("PHONE", "P2")], "decision": "use_as_is", "reason": "cosmetic"}),
        )
        .await;
        assert_eq!(codes, vec![pair("approval_required", "approved_by")]);
        // Bad input names the field of the operation's body.
        let (st, codes, _) = refused(
            &api,
            "receive",
            json!({"supplier": "SUP1", "purchase_order": "PO-2", "location": "SZ-WH-A1",
            "lines": [{"product": "RESIN", "lots": [{"lot": "L3", "quantity": "-1"}]}]}),
        )
        .await;
        assert_eq!(
            (st, codes),
            (
                StatusCode::UNPROCESSABLE_ENTITY,
                vec![pair("invalid_quantity", "lines[0].lots[0].quantity")]
            )
        );
        let (st, codes, _) = refused(
            &api,
            "receive",
            json!({"supplier": "SUP1", "purchase_order": "PO-2", "location": "SZ-WH-A1",
            "lines": [{"product": "RESIN", "lots": [{"lot": "L3", "quantity": "x"}]}]}),
        )
        .await;
        assert_eq!(
            (st, codes[0].1.as_str()),
            (StatusCode::BAD_REQUEST, "lines[0].lots[0].quantity")
        );

        // Permissions: the route's, then each planned event's.
        let qc = Api::with_roles(&s, "qc-1", &[Role::Qc]).await;
        let r = qc.post("/api/v1/ops/ship", ship(phones(&["P3"]))).await;
        assert_eq!(r.status, StatusCode::FORBIDDEN);
        let before = api.ledger_len().await;
        let r = qc.post("/api/v1/ops/disposition", json!({"items": [unit("PHONE", "P2")], "decision": "scrap", "reason": "beyond repair"})).await;
        assert_eq!(r.status, StatusCode::FORBIDDEN);
        assert!(r.message().contains("scrap"), "{}", r.message());
        let warehouse = Api::with_roles(&s, "wh-1", &[Role::Warehouse]).await;
        assert_eq!(
            warehouse
                .post(
                    "/api/v1/ops/inspect",
                    json!({"items": [unit("PHONE", "P4")], "result": "pass", "inspector": "x"})
                )
                .await
                .status,
            StatusCode::FORBIDDEN
        );
        assert_eq!(api.ledger_len().await, before);
    }
);

/// The id of the first event an operation recorded.
fn first_id(r: &Reply) -> String {
    r.body["events"][0]["id"].as_str().unwrap().to_owned()
}

async fn stock(api: &Api, product: &str, lot: &str) -> Value {
    api.get(&format!("/api/v1/lots/{product}/{lot}")).await.body["stock"].clone()
}

store_test!(
    a_correction_amends_or_voids_an_event_and_the_original_stays,
    |s: TestStore| async move {
        let api = setup(&s).await;
        produce(&api).await;

        // Put away to the wrong bin: the units are really in A1.
        let wrong = ok(
            &api,
            "move",
            json!({"time": at(530), "items": [unit("PHONE", "P1"), unit("PHONE", "P3")],
            "to": "SZ-WH-A2", "put_away": true}),
        )
        .await;
        let wrong = first_id(&wrong);
        let r = ok(
            &api,
            "correct",
            json!({"time": at(520), "event": wrong, "reason": "put away to the wrong bin", "location": "SZ-WH-A1"}),
        )
        .await;
        let fix = first_id(&r);
        for serial in ["P1", "P3"] {
            let u = api.item("PHONE", serial).await;
            assert_eq!(
                (u["location"].as_str(), u["status"].as_str()),
                (Some("SZ-WH-A1"), Some("in_stock")),
                "{serial}"
            );
        }
        let original = api.get(&format!("/api/v1/events/{wrong}")).await.body;
        assert_eq!(original["corrected_by"], json!([fix]));
        assert_eq!(original["biz_location"], "SZ-WH-A2", "the original stays");
        let correction = api.get(&format!("/api/v1/events/{fix}")).await.body;
        assert_eq!(
            correction["corrects"],
            json!({"event": wrong, "reason": "put away to the wrong bin"})
        );

        // A lot received into the wrong bin: its quantity moves to the right one.
        let receipt = ok(&api, "receive", json!({"time": at(510), "supplier": "SUP1", "purchase_order": "PO-7", "location": "SZ-WH-A1",
            "lines": [{"product": "RESIN", "lots": [{"lot": "L7", "quantity": "12.5"}]}]})).await;
        ok(&api, "correct", json!({"time": at(505), "event": first_id(&receipt), "reason": "wrong bin", "location": "SZ-WH-A2"})).await;
        assert_eq!(
            stock(&api, "RESIN", "L7").await,
            json!([{"location": "SZ-WH-A2", "quantity": "12.5"}])
        );

        // Data recorded wrong: the operator, and a custom attribute (checked like any other).
        let commission = ok(
            &api,
            "commission",
            json!({"time": at(500), "product": "PHONE", "serials": ["P7"], "work_order": "WO-2",
            "line": "SZ-L1", "operator": "Li", "attributes": {"color": "black"}}),
        )
        .await;
        let commission = first_id(&commission);
        let before = api.ledger_len().await;
        let r = api
            .post(
                "/api/v1/ops/correct",
                json!({"time": at(495), "event": commission, "reason": "wrong colour scanned",
            "fields": {"color": "pink"}}),
            )
            .await;
        assert_eq!(
            (r.status, r.codes()),
            (
                StatusCode::UNPROCESSABLE_ENTITY,
                vec![pair("invalid_attribute", "fields.color")]
            )
        );
        assert_eq!(api.ledger_len().await, before);
        ok(&api, "correct", json!({"time": at(495), "event": commission, "reason": "wrong colour and operator scanned",
            "fields": {"color": "white", "operator": "Wang"}})).await;
        assert_eq!(
            api.item("PHONE", "P7").await["attributes"]["color"],
            "white"
        );

        // The state was wrong: P4 was put away, not left in production.
        let p4 = api.get("/api/v1/events?product=PHONE&serial=P4").await.body;
        let p4_commission = p4["items"][0]["id"].as_str().unwrap().to_owned();
        ok(
            &api,
            "correct",
            json!({"time": at(490), "event": p4_commission, "reason": "put-away scan lost",
            "status": "in_stock", "location": "SZ-WH-A2"}),
        )
        .await;
        let u = api.item("PHONE", "P4").await;
        assert_eq!(
            (u["status"].as_str(), u["location"].as_str()),
            (Some("in_stock"), Some("SZ-WH-A2"))
        );

        // An inspection recorded on the wrong unit did not occur: declared, nothing changes.
        let inspection = ok(&api, "inspect", json!({"time": at(480), "items": [unit("PHONE", "P3")], "result": "pass", "inspector": "Zhao"})).await;
        let inspection = first_id(&inspection);
        let state = api.item("PHONE", "P3").await;
        let r = ok(&api, "correct", json!({"time": at(470), "event": inspection, "reason": "scanned the neighbour's unit", "void": true})).await;
        let declaration = api
            .get(&format!("/api/v1/events/{}", first_id(&r)))
            .await
            .body;
        assert_eq!(declaration["error_declaration"]["reason"], "did_not_occur");
        assert_eq!(
            declaration["biz_step"], "inspecting",
            "a copy of the original"
        );
        let after = api.item("PHONE", "P3").await;
        assert_eq!(
            (&after["status"], &after["location"], &after["holds"]),
            (&state["status"], &state["location"], &state["holds"])
        );

        // Refusals name the field and write nothing.
        let before = api.ledger_len().await;
        let (st, codes, msg) = refused(&api, "correct", json!({"event": "0193a0d2-7c4e-7b7a-9f1e-2a4b6c8d0e1f", "reason": "typo", "location": "SZ-WH-A1"})).await;
        assert_eq!(
            (st, codes),
            (
                StatusCode::UNPROCESSABLE_ENTITY,
                vec![pair("unknown_event", "event")]
            )
        );
        assert!(msg.contains("0193a0d2"), "{msg}");
        let (_, codes, _) = refused(
            &api,
            "correct",
            json!({"event": wrong, "reason": " ", "location": "SZ-WH-A1"}),
        )
        .await;
        assert_eq!(codes, vec![pair("required", "reason")]);
        let (_, codes, _) =
            refused(&api, "correct", json!({"event": wrong, "reason": "oops"})).await;
        assert_eq!(codes, vec![pair("required", "void")]);
        let (_, codes, _) = refused(
            &api,
            "correct",
            json!({"event": wrong, "reason": "oops", "status": "scrapped"}),
        )
        .await;
        assert_eq!(codes, vec![pair("invalid_state", "status")]);
        let (_, codes, _) = refused(
            &api,
            "correct",
            json!({"event": wrong, "reason": "oops", "location": "NOWHERE"}),
        )
        .await;
        assert_eq!(codes, vec![pair("unknown_location", "location")]);
        let (st, codes, _) = refused(
            &api,
            "correct",
            json!({"event": wrong, "reason": "oops", "status": "lost"}),
        )
        .await;
        assert_eq!(
            (st, codes[0].1.as_str()),
            (StatusCode::BAD_REQUEST, "status")
        );
        // Correcting needs `correct`: the warehouse may move, not correct.
        let warehouse = Api::with_roles(&s, "wh-2", &[Role::Warehouse]).await;
        let r = warehouse
            .post(
                "/api/v1/ops/correct",
                json!({"event": wrong, "reason": "oops", "location": "SZ-WH-A2"}),
            )
            .await;
        assert_eq!(r.status, StatusCode::FORBIDDEN);
        assert_eq!(api.ledger_len().await, before);

        assert!(api.get("/api/v1/ledger/verify").await.body["first_break"].is_null());
        let live = s.snapshot().await.unwrap();
        s.rebuild().await.unwrap();
        assert_eq!(s.snapshot().await.unwrap(), live);
    }
);

store_test!(
    containers_carry_their_contents_and_repacking_is_recorded,
    |s: TestStore| async move {
        let api = setup(&s).await;
        produce(&api).await;
        ok(&api, "move", json!({"time": at(530), "items": [unit("PHONE", "P1"), unit("PHONE", "P3"), unit("PHONE", "P4")],
            "to": "SZ-WH-A2", "put_away": true})).await;
        const CASE2: &str = "00095212345000000025";
        ok(&api, "pack", json!({"time": at(520), "container": unit("CASE", CASE), "items": [unit("PHONE", "P1"), unit("PHONE", "P3")],
            "location": "SZ-WH-A2"})).await;
        // Moving the case moves what is in it.
        ok(
            &api,
            "move",
            json!({"time": at(515), "items": [unit("CASE", CASE)], "to": "SZ-WH-A1"}),
        )
        .await;
        for serial in ["P1", "P3"] {
            assert_eq!(
                api.item("PHONE", serial).await["location"],
                "SZ-WH-A1",
                "{serial}"
            );
        }
        // A unit is in one container at a time, and moves only with it.
        let (_, codes, msg) = refused(
            &api,
            "pack",
            json!({"time": at(510), "container": unit("CASE", CASE2),
            "items": [unit("PHONE", "P4"), unit("PHONE", "P1")], "location": "SZ-WH-A1"}),
        )
        .await;
        assert_eq!(codes, vec![pair("already_packed", "items[1]")]);
        assert!(msg.contains("P1") && msg.contains(CASE), "{msg}");
        let (_, codes, _) = refused(
            &api,
            "move",
            json!({"time": at(510), "items": [unit("PHONE", "P3")], "to": "SZ-WH-A2"}),
        )
        .await;
        assert_eq!(codes, vec![pair("in_container", "items[0]")]);
        // Repacked: out of one case, into another; both steps are in the unit's history.
        ok(&api, "unpack", json!({"time": at(505), "container": unit("CASE", CASE), "items": [unit("PHONE", "P3")], "location": "SZ-WH-A1"})).await;
        ok(&api, "pack", json!({"time": at(500), "container": unit("CASE", CASE2), "items": [unit("PHONE", "P3"), unit("PHONE", "P4")],
            "location": "SZ-WH-A1"})).await;
        assert_eq!(api.item("PHONE", "P3").await["parent"], unit("CASE", CASE2));
        let history = api.get("/api/v1/events?product=PHONE&serial=P3").await.body;
        let steps: Vec<&str> = history["items"]
            .as_array()
            .unwrap()
            .iter()
            .filter_map(|e| e["biz_step"].as_str())
            .collect();
        assert!(
            steps.ends_with(&["packing", "unpacking", "packing"]),
            "{steps:?}"
        );
        // Returned goods restocked; selling a unit twice is refused.
        ok(
            &api,
            "ship",
            json!({"time": at(400), "sales_order": "SO-5", "customer": "CUST1", "from": "SZ-WH-A1",
            "containers": [unit("CASE", CASE2)]}),
        )
        .await;
        ok(
            &api,
            "unpack",
            json!({"time": at(395), "container": unit("CASE", CASE2)}),
        )
        .await;
        ok(
            &api,
            "sell",
            json!({"time": at(390), "customer": "CUST1", "items": [unit("PHONE", "P4")]}),
        )
        .await;
        let (_, codes, msg) = refused(
            &api,
            "sell",
            json!({"time": at(380), "customer": "CUST1", "items": [unit("PHONE", "P4")]}),
        )
        .await;
        assert_eq!(codes, vec![pair("already_sold", "items[0]")]);
        assert!(msg.contains("P4"), "{msg}");
        ok(&api, "return", json!({"time": at(370), "rma": "RMA-5", "customer": "CUST1", "reason": "wrong model ordered",
            "condition": "sealed", "outcome": "restock", "location": "SZ-WH-A2", "items": [unit("PHONE", "P4")]})).await;
        let u = api.item("PHONE", "P4").await;
        assert_eq!(
            (u["status"].as_str(), u["location"].as_str()),
            (Some("in_stock"), Some("SZ-WH-A2"))
        );
        let live = s.snapshot().await.unwrap();
        s.rebuild().await.unwrap();
        assert_eq!(s.snapshot().await.unwrap(), live);
    }
);

store_test!(
    a_pallet_received_at_once_reports_every_bad_line_in_one_answer,
    |s: TestStore| async move {
        let api = setup(&s).await;
        produce(&api).await;
        // 300 scans of one pallet: two already registered, one scanned twice, one line of a
        // product that does not exist.
        let mut serials: Vec<String> = (0..300).map(|i| format!("BX{i:04}")).collect();
        serials[17] = "B1".into();
        serials[250] = "B2".into();
        serials[299] = "BX0100".into();
        let (st, codes, _) = refused(
            &api,
            "receive",
            json!({"time": at(300), "supplier": "SUP1", "purchase_order": "PO-9",
            "location": "SZ-WH-A1", "lines": [
                {"line": "1", "product": "BOARD", "serials": serials},
                {"line": "2", "product": "GHOST", "serials": ["G1"]}]}),
        )
        .await;
        assert_eq!(st, StatusCode::UNPROCESSABLE_ENTITY);
        for want in [
            pair("duplicate_scan", "lines[0].serials[299]"),
            pair("duplicate_serial", "lines[0].serials[17]"),
            pair("duplicate_serial", "lines[0].serials[250]"),
        ] {
            assert!(codes.contains(&want), "{want:?} not in {codes:?}");
        }
        assert!(
            codes
                .iter()
                .any(|(c, f)| c == "unknown_product" && f.starts_with("lines[1].serials[0]")),
            "{codes:?}"
        );
        // Fixed, the same pallet goes in at once.
        serials[17] = "BX0017".into();
        serials[250] = "BX0250".into();
        serials[299] = "BX0299".into();
        let r = ok(&api, "receive", json!({"time": at(300), "supplier": "SUP1", "purchase_order": "PO-9",
            "location": "SZ-WH-A1", "lines": [{"line": "1", "product": "BOARD", "serials": serials}]})).await;
        assert_eq!(r.body["events"].as_array().unwrap().len(), 1);
        assert_eq!(api.item("BOARD", "BX0299").await["status"], "in_stock");
    }
);

store_test!(
    the_process_decides_what_an_operation_needs,
    |s: TestStore| async move {
        let api = setup(&s).await;
        produce(&api).await;
        let mut def = api.get("/api/v1/process").await.body;
        def["required_fields"] =
            json!([{"operation": "inspect", "fields": ["inspector", "equipment"]}]);
        assert_eq!(
            api.put("/api/v1/process", "\"0\"", def).await.status,
            StatusCode::OK
        );
        let (_, codes, msg) = refused(
            &api,
            "inspect",
            json!({"time": at(100), "items": [unit("PHONE", "P3")], "result": "pass", "inspector": "Zhao"}),
        )
        .await;
        assert_eq!(codes, vec![pair("missing_field", "equipment")]);
        assert!(msg.contains("equipment"), "{msg}");
        ok(&api, "inspect", json!({"time": at(100), "items": [unit("PHONE", "P3")], "result": "pass", "inspector": "Zhao",
            "equipment": "ATE-07"})).await;
    }
);

store_test!(
    a_lot_through_qc_and_a_repair_out_of_warranty,
    |s: TestStore| async move {
        let api = setup(&s).await;
        produce(&api).await;
        // A sample of lot L2 fails: the whole lot is on QC hold.
        ok(&api, "inspect", json!({"time": at(500), "lots": [{"product": "RESIN", "lot": "L2", "quantity": "0.5"}], "result": "fail",
            "defect_codes": ["MOISTURE"], "inspector": "Zhao", "equipment": "KF-TITRATOR", "attachments": ["doc://qc/L2-report.pdf"]})).await;
        assert_eq!(
            api.get("/api/v1/lots/RESIN/L2").await.body["holds"],
            json!(["qc"])
        );
        // Part of it is scrapped (where from must be said), the rest used as it is.
        let (_, codes, _) = refused(
            &api,
            "disposition",
            json!({"time": at(490), "lots": [{"product": "RESIN", "lot": "L2", "quantity": "5"}],
            "decision": "scrap", "reason": "wet"}),
        )
        .await;
        assert_eq!(codes, vec![pair("location_required", "location")]);
        let (_, codes, msg) = refused(
            &api,
            "disposition",
            json!({"time": at(490), "lots": [{"product": "RESIN", "lot": "L2", "quantity": "25"}],
            "decision": "scrap", "reason": "wet", "location": "SZ-WH-A1"}),
        )
        .await;
        assert_eq!(
            codes,
            vec![pair("insufficient_quantity", "lots[0].quantity")]
        );
        assert!(msg.contains("L2") && msg.contains("20"), "{msg}");
        ok(
            &api,
            "disposition",
            json!({"time": at(490), "lots": [{"product": "RESIN", "lot": "L2", "quantity": "5"}],
            "decision": "scrap", "reason": "wet", "location": "SZ-WH-A1"}),
        )
        .await;
        assert_eq!(
            stock(&api, "RESIN", "L2").await,
            json!([{"location": "SZ-WH-A1", "quantity": "15"}])
        );
        ok(
            &api,
            "disposition",
            json!({"time": at(480), "lots": [{"product": "RESIN", "lot": "L2", "quantity": "15"}],
            "decision": "use_as_is", "approved_by": "Sun", "reason": "dried and re-tested"}),
        )
        .await;
        assert_eq!(
            api.get("/api/v1/lots/RESIN/L2").await.body["holds"],
            json!([])
        );

        // A unit with a one-month warranty sold two months ago comes back: out of warranty.
        assert_eq!(
            api.post(
                "/api/v1/products",
                json!({"code": "GADGET", "name": "Gadget", "tracking": "serial", "warranty_months": 1})
            )
            .await
            .status,
            StatusCode::CREATED
        );
        let two_months = 61 * 24 * 60;
        ok(&api, "commission", json!({"time": at(two_months + 60), "product": "GADGET", "serials": ["G1"], "work_order": "WO-9", "line": "SZ-L1"})).await;
        ok(&api, "move", json!({"time": at(two_months + 30), "items": [unit("GADGET", "G1")], "to": "SZ-WH-A1", "put_away": true})).await;
        ok(
            &api,
            "sell",
            json!({"time": at(two_months), "customer": "CUST1", "items": [unit("GADGET", "G1")]}),
        )
        .await;
        ok(&api, "return", json!({"time": at(100), "rma": "RMA-9", "customer": "CUST1", "reason": "rattles", "condition": "worn",
            "outcome": "repair", "location": "SZ-WH-A1", "items": [unit("GADGET", "G1")]})).await;
        ok(&api, "repair", json!({"time": at(90), "repair_order": "RO-9", "unit": unit("GADGET", "G1"), "fault": "loose screw",
            "engineer": "Chen", "completed": true, "location": "SZ-WH-A1"})).await;
        let repair = api
            .get("/api/v1/events?transaction_type=ro&transaction_id=RO-9")
            .await
            .body;
        assert_eq!(repair["items"][0]["fields"]["warranty"], "out_of_warranty");
    }
);

/// The steps of a passport's timeline, each with the container it came through (`-` for the
/// unit's own events).
async fn timeline(api: &Api, serial: &str) -> Vec<(String, String)> {
    let r = api
        .get(&format!("/api/v1/items/PHONE/{serial}/passport"))
        .await;
    assert_eq!(r.status, StatusCode::OK, "{:?}", r.body);
    r.body["timeline"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| {
            (
                e["biz_step"].as_str().unwrap_or("").to_owned(),
                e["via"]["serial"].as_str().unwrap_or("-").to_owned(),
            )
        })
        .collect()
}

fn steps(list: &[(&str, &str)]) -> Vec<(String, String)> {
    list.iter()
        .map(|(a, b)| ((*a).to_owned(), (*b).to_owned()))
        .collect()
}

store_test!(
    a_unit_packed_in_a_container_shows_the_steps_it_took_inside_it,
    |s: TestStore| async move {
        let api = setup(&s).await;
        produce(&api).await;
        const PALLET: &str = "00095212345000000025";
        for (uri, body) in [
            (
                "/api/v1/products",
                json!({"code": "PALLET", "name": "Pallet", "tracking": "serial", "container": true}),
            ),
            (
                "/api/v1/locations",
                json!({"code": "EXT-GD-B", "name": "DIST-GD shop", "kind": "external", "party": "DIST-GD"}),
            ),
        ] {
            assert_eq!(api.post(uri, body).await.status, StatusCode::CREATED);
        }
        ok(&api, "move", json!({"time": at(530), "items": [unit("PHONE", "P1"), unit("PHONE", "P3"), unit("PHONE", "P4")],
            "to": "SZ-WH-A2", "put_away": true})).await;
        // Three phones in a case, the case on a pallet; the pallet is shipped and received.
        ok(&api, "pack", json!({"time": at(520), "container": unit("CASE", CASE),
            "items": [unit("PHONE", "P1"), unit("PHONE", "P3"), unit("PHONE", "P4")], "location": "SZ-WH-A2"})).await;
        ok(&api, "pack", json!({"time": at(515), "container": unit("PALLET", PALLET), "items": [unit("CASE", CASE)],
            "location": "SZ-WH-A2"})).await;
        ok(&api, "ship", json!({"time": at(510), "sales_order": "SO-7", "distributor": "DIST-GD", "from": "SZ-WH-A2",
            "to": "EXT-GD", "containers": [unit("PALLET", PALLET)]})).await;
        ok(
            &api,
            "distributor-receipt",
            json!({"time": at(500), "distributor": "DIST-GD", "location": "EXT-GD",
            "items": [unit("PALLET", PALLET)]}),
        )
        .await;
        // The case comes off the pallet, one phone out of the case; the case moves on.
        ok(
            &api,
            "unpack",
            json!({"time": at(495), "container": unit("PALLET", PALLET), "location": "EXT-GD"}),
        )
        .await;
        ok(
            &api,
            "unpack",
            json!({"time": at(490), "container": unit("CASE", CASE), "items": [unit("PHONE", "P3")],
            "location": "EXT-GD"}),
        )
        .await;
        ok(
            &api,
            "move",
            json!({"time": at(480), "items": [unit("CASE", CASE)], "to": "EXT-GD-B"}),
        )
        .await;

        let before_packing = [
            ("commissioning", "-"),
            ("assembling", "-"),
            ("inspecting", "-"),
            ("storing", "-"),
            ("packing", "-"),
        ];
        let mut p1 = steps(&before_packing);
        p1.extend(steps(&[
            ("shipping", PALLET),
            ("receiving", PALLET),
            ("storing", CASE),
        ]));
        assert_eq!(timeline(&api, "P1").await, p1);
        let mut p3 = steps(&before_packing[..1]);
        p3.extend(steps(&before_packing[2..]));
        p3.extend(steps(&[
            ("shipping", PALLET),
            ("receiving", PALLET),
            ("unpacking", "-"),
        ]));
        assert_eq!(
            timeline(&api, "P3").await,
            p3,
            "not the case's move after it left"
        );
        let mut p4 = steps(&before_packing[..1]);
        p4.extend(steps(&before_packing[2..]));
        p4.extend(steps(&[
            ("shipping", PALLET),
            ("receiving", PALLET),
            ("storing", CASE),
        ]));
        assert_eq!(timeline(&api, "P4").await, p4);
        // The event is shown as it named the container; the state agrees with the timeline.
        let passport = api.get("/api/v1/items/PHONE/P1/passport").await.body;
        let shipping = passport["timeline"]
            .as_array()
            .unwrap()
            .iter()
            .find(|e| e["biz_step"] == "shipping")
            .unwrap()
            .clone();
        assert_eq!(shipping["items"], json!([unit("PALLET", PALLET)]));
        assert_eq!(shipping["via"], unit("PALLET", PALLET));
        assert_eq!(passport["state"]["location"], "EXT-GD-B");
        assert_eq!(api.item("PHONE", "P3").await["location"], "EXT-GD");
        // The page marks it too.
        let (status, _, page) = api.get_file("/unit?code=P1&lang=en").await;
        let page = String::from_utf8(page).unwrap();
        assert_eq!(status, StatusCode::OK, "{page}");
        assert!(
            page.contains(&format!("(inside container {PALLET})")),
            "{page}"
        );
    }
);

store_test!(
    a_returned_unit_is_back_in_our_custody,
    |s: TestStore| async move {
        let api = setup(&s).await;
        produce(&api).await;
        ok(&api, "move", json!({"time": at(530), "items": [unit("PHONE", "P3"), unit("PHONE", "P4")], "to": "SZ-WH-A2",
            "put_away": true})).await;
        ok(&api, "ship", json!({"time": at(500), "sales_order": "SO-8", "distributor": "DIST-GD", "from": "SZ-WH-A2",
            "to": "EXT-GD", "lines": [{"product": "PHONE", "serials": ["P3", "P4"]}]})).await;
        ok(
            &api,
            "distributor-receipt",
            json!({"time": at(490), "distributor": "DIST-GD", "location": "EXT-GD",
            "items": [unit("PHONE", "P3"), unit("PHONE", "P4")]}),
        )
        .await;
        ok(
            &api,
            "sell",
            json!({"time": at(480), "customer": "CUST1", "seller": "DIST-GD",
            "items": [unit("PHONE", "P3"), unit("PHONE", "P4")]}),
        )
        .await;
        assert_eq!(api.item("PHONE", "P3").await["custodian"], "CUST1");
        // One comes back to quarantine, one is restocked.
        ok(&api, "return", json!({"time": at(470), "rma": "RMA-8", "customer": "CUST1", "reason": "no power",
            "condition": "scuffed", "outcome": "quarantine", "location": "SZ-WH-A1", "items": [unit("PHONE", "P3")]})).await;
        ok(&api, "return", json!({"time": at(460), "rma": "RMA-9", "reason": "unwanted",
            "condition": "sealed", "outcome": "restock", "location": "SZ-WH-A2", "items": [unit("PHONE", "P4")]})).await;
        for (serial, status, location) in [
            ("P3", "returned", "SZ-WH-A1"),
            ("P4", "in_stock", "SZ-WH-A2"),
        ] {
            let u = api.item("PHONE", serial).await;
            assert_eq!(
                (
                    u["status"].as_str(),
                    u["location"].as_str(),
                    &u["custodian"]
                ),
                (Some(status), Some(location), &Value::Null),
                "{serial}"
            );
            let passport = api
                .get(&format!("/api/v1/items/PHONE/{serial}/passport"))
                .await
                .body;
            assert!(passport["state"]["custodian"].is_null(), "{passport}");
        }
        // Shipped again, it is the new consignee's.
        ok(
            &api,
            "ship",
            json!({"time": at(450), "sales_order": "SO-9", "customer": "CUST1", "from": "SZ-WH-A2",
            "lines": [{"product": "PHONE", "serials": ["P4"]}]}),
        )
        .await;
        assert_eq!(api.item("PHONE", "P4").await["custodian"], "CUST1");
        let live = s.snapshot().await.unwrap();
        s.rebuild().await.unwrap();
        assert_eq!(s.snapshot().await.unwrap(), live);
    }
);

store_test!(
    a_late_correction_does_not_roll_back_what_later_events_did,
    |s: TestStore| async move {
        let api = setup(&s).await;
        produce(&api).await;
        let r = api
            .post(
                "/api/v1/locations",
                json!({"code": "SZ-WH-A3", "name": "Bin A3", "kind": "bin", "parent": "SZ-WH"}),
            )
            .await;
        assert_eq!(r.status, StatusCode::CREATED);
        // Put away to A2 — P3 and P4 were really put in A3. P1 has moved on since, and P4 went
        // on inside a case.
        let put_away = ok(
            &api,
            "move",
            json!({"time": at(530), "items": [unit("PHONE", "P1"), unit("PHONE", "P3"),
            unit("PHONE", "P4")], "to": "SZ-WH-A2", "put_away": true}),
        )
        .await;
        let put_away = first_id(&put_away);
        ok(
            &api,
            "move",
            json!({"time": at(520), "items": [unit("PHONE", "P1")], "to": "SZ-WH-A1"}),
        )
        .await;
        ok(
            &api,
            "pack",
            json!({"time": at(515), "container": unit("CASE", CASE), "items": [unit("PHONE", "P4")],
            "location": "SZ-WH-A2"}),
        )
        .await;
        ok(
            &api,
            "move",
            json!({"time": at(510), "items": [unit("CASE", CASE)], "to": "SZ-L1"}),
        )
        .await;
        let r = ok(
            &api,
            "correct",
            json!({"time": at(500), "event": put_away, "reason": "put away to the wrong bin",
            "location": "SZ-WH-A3"}),
        )
        .await;
        let fix = first_id(&r);
        let place = |v: Value| v["location"].as_str().unwrap_or_default().to_owned();
        assert_eq!(
            place(api.item("PHONE", "P3").await),
            "SZ-WH-A3",
            "nothing moved P3 since"
        );
        assert_eq!(
            place(api.item("PHONE", "P1").await),
            "SZ-WH-A1",
            "P1 was moved on since"
        );
        assert_eq!(
            place(api.item("PHONE", "P4").await),
            "SZ-L1",
            "P4 went on in its case"
        );
        // The record is corrected all the same.
        let original = api.get(&format!("/api/v1/events/{put_away}")).await.body;
        assert_eq!(original["corrected_by"], json!([fix]));
        let correction = api.get(&format!("/api/v1/events/{fix}")).await.body;
        assert_eq!(correction["biz_location"], "SZ-WH-A3");
        assert_eq!(correction["items"].as_array().unwrap().len(), 3);
        // The state a later event did not set is still corrected: P1's move set no state.
        let r = ok(
            &api,
            "correct",
            json!({"time": at(495), "event": put_away, "reason": "not put away yet",
            "status": "in_production"}),
        )
        .await;
        assert!(!first_id(&r).is_empty());
        assert_eq!(api.item("PHONE", "P1").await["status"], "in_production");
        // Correcting the latest move still moves the unit; a second correction of the same
        // event is not held back by the first.
        let moved = api.get("/api/v1/events?product=PHONE&serial=P1").await.body;
        let last_move = moved["items"]
            .as_array()
            .unwrap()
            .iter()
            .rev()
            .find(|e| e["biz_step"] == "storing" && e["corrects"].is_null())
            .unwrap()["id"]
            .as_str()
            .unwrap()
            .to_owned();
        ok(
            &api,
            "correct",
            json!({"time": at(490), "event": last_move, "reason": "scanned at the wrong bin",
            "location": "SZ-WH-A2"}),
        )
        .await;
        assert_eq!(place(api.item("PHONE", "P1").await), "SZ-WH-A2");
        ok(
            &api,
            "correct",
            json!({"time": at(485), "event": last_move, "reason": "no, the bin beside it",
            "location": "SZ-WH-A3"}),
        )
        .await;
        assert_eq!(place(api.item("PHONE", "P1").await), "SZ-WH-A3");

        let live = s.snapshot().await.unwrap();
        s.rebuild().await.unwrap();
        assert_eq!(s.snapshot().await.unwrap(), live);
    }
);
