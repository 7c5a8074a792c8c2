//! Forward trace from every kind of starting point, its exports, and recall campaigns — all
//! through the HTTP router, on both engines.

#![allow(clippy::unwrap_used)] // tests unwrap: a panic is the failure report

use std::collections::BTreeSet;
use std::sync::Arc;

use axum::body::Body;
use axum::http::{Request, StatusCode};
use http_body_util::BodyExt;
use serde_json::{Value, json};
use threadline_domain::access::Role;
use threadline_server::{AppState, FixedClock, app};
use threadline_testkit::fixtures::{at, now, plant, put, token};
use threadline_testkit::{TestStore, store_test};
use tower::ServiceExt;

struct Api {
    router: axum::Router,
}

struct Reply {
    status: StatusCode,
    content_type: String,
    bytes: Vec<u8>,
    body: Value,
}

impl Api {
    fn new(s: &TestStore) -> Api {
        let state = AppState {
            clock: Arc::new(FixedClock(now())),
            ..AppState::new(s.store.clone())
        };
        Api { router: app(state) }
    }

    async fn send(&self, auth: &str, mut req: Request<Body>) -> Reply {
        req.headers_mut()
            .insert("authorization", format!("Bearer {auth}").parse().unwrap());
        let resp = self.router.clone().oneshot(req).await.unwrap();
        let status = resp.status();
        let content_type = resp
            .headers()
            .get("content-type")
            .map(|v| v.to_str().unwrap().to_owned())
            .unwrap_or_default();
        let bytes = resp
            .into_body()
            .collect()
            .await
            .unwrap()
            .to_bytes()
            .to_vec();
        let body = serde_json::from_slice(&bytes).unwrap_or(Value::Null);
        Reply {
            status,
            content_type,
            bytes,
            body,
        }
    }

    async fn get(&self, auth: &str, uri: &str) -> Reply {
        self.send(auth, Request::get(uri).body(Body::empty()).unwrap())
            .await
    }

    async fn post(&self, auth: &str, uri: &str, body: Value) -> Reply {
        self.send(
            auth,
            Request::post(uri)
                .header("content-type", "application/json")
                .body(Body::from(body.to_string()))
                .unwrap(),
        )
        .await
    }
}

fn unit(product: &str, serial: &str) -> Value {
    json!({"product": product, "serial": serial})
}

fn units(product: &str, serials: &[&str]) -> Value {
    serials.iter().map(|s| unit(product, s)).collect()
}

/// Two resin lots from SUP1 on line 1; boards B1–B3 take resin R1, B4 takes R2; phone Pn is
/// built from board Bn. P1 is in stock, P2 at the Guangdong distributor, P3 sold on to a
/// customer, P4 (resin R2) in stock.
async fn genealogy(s: &TestStore, api: &Api, admin: &str) {
    plant(&**s).await;
    put(
        &**s,
        "location",
        json!({"code": "SZ-L2", "name": "Line 2", "kind": "line", "parent": "SZ"}),
    )
    .await;
    put(&**s, "location", json!({"code": "EXT-GD", "name": "GD warehouse", "kind": "external", "party": "DIST-GD", "region": "CN-GD"})).await;
    put(
        &**s,
        "party",
        json!({"code": "CUST9", "name": "Zhang San", "kind": "customer",
        "contact": {"person": "张三", "phone": "+86 138 0000 0000"}}),
    )
    .await;
    let mut events = Vec::new();
    for (lot, minutes) in [("R1", 300), ("R2", 299)] {
        events.push(json!({"type": "object", "action": "ADD", "event_time": at(minutes), "biz_step": "receiving",
            "biz_location": "SZ-L1", "lots": [{"product": "RESIN", "lot": lot, "quantity": "10"}],
            "sources": [{"type": "owning_party", "id": "SUP1"}], "biz_transactions": [{"type": "po", "id": "PO-7"}]}));
    }
    events.push(json!({"type": "object", "action": "ADD", "event_time": at(240), "biz_step": "commissioning",
        "disposition": "active", "biz_location": "SZ-L2", "items": units("BOARD", &["B1", "B2", "B3", "B4"]),
        "biz_transactions": [{"type": "prodorder", "id": "WO-B"}]}));
    for (i, b) in ["B1", "B2", "B3", "B4"].iter().enumerate() {
        let lot = if i < 3 { "R1" } else { "R2" };
        events.push(json!({"type": "aggregation", "action": "ADD", "event_time": at(230), "biz_step": "assembling",
            "biz_location": "SZ-L1", "parent": unit("BOARD", b),
            "child_lots": [{"product": "RESIN", "lot": lot, "quantity": "0.1"}]}));
    }
    events.push(json!({"type": "object", "action": "ADD", "event_time": at(120), "biz_step": "commissioning",
        "disposition": "active", "biz_location": "SZ-L1", "items": units("PHONE", &["P1", "P2", "P3", "P4"]),
        "ilmd": {"color": "black"}, "biz_transactions": [{"type": "prodorder", "id": "WO-1"}]}));
    for n in 1..=4 {
        events.push(json!({"type": "aggregation", "action": "ADD", "event_time": at(110), "biz_step": "assembling",
            "biz_location": "SZ-L1", "parent": unit("PHONE", &format!("P{n}")), "children": [unit("BOARD", &format!("B{n}"))]}));
    }
    events.push(
        json!({"type": "object", "action": "OBSERVE", "event_time": at(100), "biz_step": "storing",
        "disposition": "sellable_not_accessible", "biz_location": "SZ-WH-A1",
        "items": units("PHONE", &["P1", "P2", "P3", "P4"])}),
    );
    events.push(json!({"type": "object", "action": "OBSERVE", "event_time": at(90), "biz_step": "shipping",
        "disposition": "in_transit", "items": [unit("PHONE", "P2"), unit("PHONE", "P3")],
        "destinations": [{"type": "owning_party", "id": "DIST-GD"}, {"type": "location", "id": "EXT-GD"}]}));
    events.push(json!({"type": "object", "action": "OBSERVE", "event_time": at(80), "biz_step": "receiving",
        "disposition": "sellable_accessible", "biz_location": "EXT-GD", "items": [unit("PHONE", "P2"), unit("PHONE", "P3")],
        "destinations": [{"type": "possessing_party", "id": "DIST-GD"}]}));
    events.push(json!({"type": "object", "action": "OBSERVE", "event_time": at(70), "biz_step": "retail_selling",
        "disposition": "retail_sold", "items": [unit("PHONE", "P3")],
        "destinations": [{"type": "owning_party", "id": "CUST9"}]}));
    let r = api
        .post(admin, "/api/v1/events", Value::Array(events))
        .await;
    assert_eq!(r.status, StatusCode::CREATED, "{}", r.body);
}

fn labels(nodes: &Value) -> BTreeSet<String> {
    nodes
        .as_array()
        .unwrap()
        .iter()
        .map(|n| match (&n["node"]["item"], &n["node"]["lot"]) {
            (Value::Object(k), _) => format!(
                "{} {}",
                k["product"].as_str().unwrap(),
                k["serial"].as_str().unwrap()
            ),
            (_, Value::Object(k)) => format!(
                "{} lot {}",
                k["product"].as_str().unwrap(),
                k["lot"].as_str().unwrap()
            ),
            _ => panic!("not a node: {n}"),
        })
        .collect()
}

fn set(xs: &[&str]) -> BTreeSet<String> {
    xs.iter().map(|s| (*s).to_owned()).collect()
}

fn node<'a>(nodes: &'a Value, serial: &str) -> &'a Value {
    nodes
        .as_array()
        .unwrap()
        .iter()
        .find(|n| n["node"]["item"]["serial"] == serial)
        .unwrap_or_else(|| panic!("{serial} not in {nodes}"))
}

async fn ledger_len(api: &Api, admin: &str) -> i64 {
    api.get(admin, "/api/v1/ledger/verify").await.body["entries"]
        .as_i64()
        .unwrap()
}

store_test!(
    forward_trace_from_every_kind_of_start,
    |s: TestStore| async move {
        let api = Api::new(&s);
        let admin = token(&*s.store, "t-admin", &[Role::Admin]).await;
        genealogy(&s, &api, &admin).await;

        // From the lot: three boards and the three phones they went into, each with where it is.
        let r = api
            .get(&admin, "/api/v1/trace/forward?product=RESIN&lot=R1")
            .await;
        assert_eq!(r.status, StatusCode::OK, "{}", r.body);
        let nodes = &r.body["nodes"];
        assert_eq!(
            labels(nodes),
            set(&[
                "BOARD B1", "BOARD B2", "BOARD B3", "PHONE P1", "PHONE P2", "PHONE P3"
            ])
        );
        assert_eq!(node(nodes, "B1")["depth"], 1);
        assert_eq!(node(nodes, "P1")["depth"], 2);
        assert_eq!(node(nodes, "B1")["state"]["inside"]["serial"], "P1");
        let p1 = &node(nodes, "P1")["state"];
        assert_eq!(
            (
                p1["status"].as_str(),
                p1["in_our_hands"].as_bool(),
                p1["region"].as_str()
            ),
            (Some("in_stock"), Some(true), None)
        );
        let p2 = &node(nodes, "P2")["state"];
        assert_eq!(
            (
                p2["custodian"].as_str(),
                p2["distributor"].as_str(),
                p2["region"].as_str(),
                p2["in_our_hands"].as_bool()
            ),
            (Some("DIST-GD"), Some("DIST-GD"), Some("CN-GD"), Some(false))
        );
        // A sold unit: the projection knows the customer (the recall list also finds the
        // distributor it went through, from its history).
        let p3 = &node(nodes, "P3")["state"];
        assert_eq!(
            (
                p3["status"].as_str(),
                p3["customer"].as_str(),
                p3["location"].as_str()
            ),
            (Some("sold"), Some("CUST9"), None)
        );

        // From the supplier: both lots it delivered (depth 0) and everything they reached.
        let r = api.get(&admin, "/api/v1/trace/forward?supplier=SUP1").await;
        assert_eq!(r.status, StatusCode::OK, "{}", r.body);
        assert_eq!(
            labels(&r.body["nodes"]),
            set(&[
                "RESIN lot R1",
                "RESIN lot R2",
                "BOARD B1",
                "BOARD B2",
                "BOARD B3",
                "BOARD B4",
                "PHONE P1",
                "PHONE P2",
                "PHONE P3",
                "PHONE P4"
            ])
        );
        // A window before the receipts finds nothing.
        let r = api
            .get(
                &admin,
                &format!(
                    "/api/v1/trace/forward?supplier=SUP1&from={}&to={}",
                    enc(&at(600)),
                    enc(&at(400))
                ),
            )
            .await;
        assert_eq!(
            (r.status, r.body["nodes"].as_array().map(Vec::len)),
            (StatusCode::OK, Some(0)),
            "{}",
            r.body
        );

        // From a work order: the phones it made.
        let r = api
            .get(&admin, "/api/v1/trace/forward?work_order=WO-1")
            .await;
        assert_eq!(
            labels(&r.body["nodes"]),
            set(&["PHONE P1", "PHONE P2", "PHONE P3", "PHONE P4"])
        );

        // From a line and a shift: line 2 made the boards (and so reached the phones); a shift
        // that misses the commissioning time finds nothing.
        let r = api.get(&admin, "/api/v1/trace/forward?line=SZ-L2").await;
        assert_eq!(
            labels(&r.body["nodes"]),
            set(&[
                "BOARD B1", "BOARD B2", "BOARD B3", "BOARD B4", "PHONE P1", "PHONE P2", "PHONE P3",
                "PHONE P4"
            ])
        );
        let made = chrono::DateTime::parse_from_rfc3339(&at(240)).unwrap();
        let shift = |from: i64, to: i64| {
            let t = |m: i64| {
                (made + chrono::Duration::minutes(m))
                    .format("%H:%M")
                    .to_string()
            };
            format!(
                "/api/v1/trace/forward?line=SZ-L2&shift={}-{}",
                t(from),
                t(to)
            )
        };
        let r = api.get(&admin, &shift(-30, 30)).await;
        assert_eq!(
            r.body["nodes"].as_array().map(Vec::len),
            Some(8),
            "{}",
            r.body
        );
        let r = api.get(&admin, &shift(60, 120)).await;
        assert_eq!(
            r.body["nodes"].as_array().map(Vec::len),
            Some(0),
            "{}",
            r.body
        );

        // A production window: only what was made in it (the phones), not the boards before.
        let r = api
            .get(
                &admin,
                &format!(
                    "/api/v1/trace/forward?from={}&to={}",
                    enc(&at(130)),
                    enc(&at(115))
                ),
            )
            .await;
        assert_eq!(
            labels(&r.body["nodes"]),
            set(&["PHONE P1", "PHONE P2", "PHONE P3", "PHONE P4"])
        );

        // As of before the phones were assembled, the lot reached only the boards.
        let r = api
            .get(
                &admin,
                &format!(
                    "/api/v1/trace/forward?product=RESIN&lot=R1&as_of={}",
                    enc(&at(115))
                ),
            )
            .await;
        assert_eq!(
            labels(&r.body["nodes"]),
            set(&["BOARD B1", "BOARD B2", "BOARD B3"])
        );

        // Bad input names the field.
        for (query, field) in [
            ("supplier=SUP1&work_order=WO-1", "supplier"),
            ("work_order=WO-1&from=2026-01-01T00:00:00Z", "from"),
            ("line=SZ-L1&shift=25:00-03:00", "shift"),
            ("supplier=SUP1&shift=08:00-16:00", "shift"),
            ("supplier=SUP1&colour=red", "colour"),
            ("from=2026-01-01T00:00:00Z", "to"),
            (
                "supplier=SUP1&from=2026-02-01T00:00:00Z&to=2026-01-01T00:00:00Z",
                "to",
            ),
            ("product=RESIN&lot=R1&format=pdf", "format"),
            ("supplier=SUP1&as_of=yesterday", "as_of"),
        ] {
            let r = api
                .get(&admin, &format!("/api/v1/trace/forward?{query}"))
                .await;
            assert_eq!(
                (r.status, r.body["error"]["field"].as_str()),
                (StatusCode::BAD_REQUEST, Some(field)),
                "{query}: {}",
                r.body
            );
        }
        let r = api
            .get(&admin, "/api/v1/trace/forward?supplier=NOBODY")
            .await;
        assert_eq!(r.status, StatusCode::NOT_FOUND);
        let r = api
            .get(&admin, "/api/v1/trace/backward?supplier=SUP1")
            .await;
        assert_eq!(r.status, StatusCode::BAD_REQUEST);

        // Exports: CSV (a header and one row per node), XLSX (a zip).
        let r = api
            .get(
                &admin,
                "/api/v1/trace/forward?product=RESIN&lot=R1&format=csv",
            )
            .await;
        assert_eq!(
            (r.status, r.content_type.as_str()),
            (StatusCode::OK, "text/csv; charset=utf-8")
        );
        let text = String::from_utf8(r.bytes).unwrap();
        let lines: Vec<&str> = text.lines().collect();
        assert_eq!(lines.len(), 7, "{text}");
        assert!(
            lines[0].starts_with("depth,kind_of_node,product,serial_or_lot"),
            "{text}"
        );
        assert!(
            lines
                .iter()
                .any(|l| l.starts_with("2,unit,PHONE,P3,BOARD,B3,aggregation")
                    && l.contains("CUST9")),
            "{text}"
        );
        let r = api
            .get(&admin, "/api/v1/trace/forward?supplier=SUP1&format=xlsx")
            .await;
        assert_eq!(r.status, StatusCode::OK);
        assert!(
            r.content_type.contains("spreadsheetml"),
            "{}",
            r.content_type
        );
        assert_eq!(&r.bytes[..2], b"PK");
    }
);

fn enc(s: &str) -> String {
    s.replace('+', "%2B").replace(':', "%3A")
}

store_test!(
    a_recall_holds_what_we_have_and_lists_who_to_call,
    |s: TestStore| async move {
        let api = Api::new(&s);
        let admin = token(&*s.store, "t-admin", &[Role::Admin]).await;
        let quality = token(&*s.store, "t-quality", &[Role::Quality]).await;
        let production = token(&*s.store, "t-production", &[Role::Production]).await;
        genealogy(&s, &api, &admin).await;
        let before = ledger_len(&api, &admin).await;

        // Bad input: 400 naming the field, and nothing written.
        let good = json!({"code": "RC-1", "reason": "resin lot R1 is brittle", "severity": "critical",
            "scope": {"product": "RESIN", "lot": "R1"}});
        let mut cases = Vec::new();
        for (field, value, named) in [
            ("reason", json!("  "), "reason"),
            ("severity", json!("urgent"), "severity"),
            ("code", json!("RC 1"), "code"),
            ("scope", json!({"lot": "R1"}), "scope.product"),
            (
                "scope",
                json!({"product": "RESIN", "lot": "R1", "colour": "red"}),
                "scope.colour",
            ),
            (
                "scope",
                json!({"work_order": "WO-1", "from": "2026-01-01T00:00:00Z"}),
                "scope.from",
            ),
            ("extra", json!(1), "extra"),
        ] {
            let mut b = good.clone();
            b[field] = value;
            cases.push((b, named));
        }
        let mut missing = good.clone();
        missing.as_object_mut().unwrap().remove("reason");
        cases.push((missing, "reason"));
        for (body, named) in cases {
            let r = api.post(&quality, "/api/v1/recalls", body.clone()).await;
            assert_eq!(
                (r.status, r.body["error"]["field"].as_str()),
                (StatusCode::BAD_REQUEST, Some(named)),
                "{body}: {}",
                r.body
            );
        }
        // Without the recall permission: refused.
        let r = api.post(&production, "/api/v1/recalls", good.clone()).await;
        assert_eq!(r.status, StatusCode::FORBIDDEN);
        assert_eq!(ledger_len(&api, &admin).await, before);
        assert_eq!(
            api.get(&admin, "/api/v1/recalls").await.body["recalls"],
            json!([])
        );

        // One call: the campaign, its holds, the affected list and the contacts.
        let r = api.post(&quality, "/api/v1/recalls", good.clone()).await;
        assert_eq!(r.status, StatusCode::CREATED, "{}", r.body);
        let c = &r.body;
        assert_eq!(
            (
                c["code"].as_str(),
                c["status"].as_str(),
                c["severity"].as_str()
            ),
            (Some("RC-1"), Some("open"), Some("critical"))
        );
        assert_eq!(c["created_by"], "token:t-quality");
        // Units: three boards and three phones; the lot itself. Held: P1 (in stock; its board
        // is inside it) and what is left of the lot on the line.
        assert_eq!(
            (
                c["units"].as_u64(),
                c["lots"].as_u64(),
                c["held_units"].as_u64(),
                c["held_lots"].as_u64()
            ),
            (Some(6), Some(1), Some(1), Some(1)),
            "{c}"
        );
        assert_eq!(
            (c["in_our_hands"].as_u64(), c["outside"].as_u64()),
            (Some(1), Some(2))
        );
        assert_eq!(c["by_status"], json!({"in_stock": 2, "sold": 1}), "{c}");
        assert_eq!(c["by_custodian"], json!({"DIST-GD": 1, "CUST9": 1}), "{c}");
        let p = &c["progress"];
        assert_eq!(
            (
                p["units"].as_u64(),
                p["located"].as_u64(),
                p["not_found"].as_u64(),
                p["closed"].as_u64(),
                p["percent"].as_f64()
            ),
            (Some(3), Some(1), Some(2), Some(0), Some(0.0)),
            "{p}"
        );
        let contacts = c["contacts"].as_array().unwrap();
        assert_eq!(contacts.len(), 2, "{c}");
        let dist = contacts.iter().find(|x| x["party"] == "DIST-GD").unwrap();
        assert_eq!(
            (
                dist["kind"].as_str(),
                dist["units"].as_u64(),
                dist["regions"].clone()
            ),
            (Some("distributor"), Some(2), json!(["CN-GD"]))
        );
        let cust = contacts.iter().find(|x| x["party"] == "CUST9").unwrap();
        assert_eq!(
            (cust["kind"].as_str(), cust["units"].as_u64()),
            (Some("customer"), Some(1))
        );
        assert_eq!(cust["personal"]["phone"], "+86 138 0000 0000");
        assert!(cust.get("contact").is_none(), "{cust}");
        // The holds are two ledger events (units, lots), recorded as one batch.
        assert_eq!(ledger_len(&api, &admin).await, before + 2);
        let item = api.get(&admin, "/api/v1/items/PHONE/P1").await;
        assert_eq!(item.body["holds"], json!(["recall"]));
        let lot = api.get(&admin, "/api/v1/lots/RESIN/R1").await;
        assert_eq!(lot.body["holds"], json!(["recall"]));
        assert_eq!(
            api.get(&admin, "/api/v1/items/PHONE/P4").await.body["holds"],
            json!([])
        );

        // Shipping a held unit is refused.
        let r = api
            .post(
                &admin,
                "/api/v1/events",
                json!({"type": "object", "action": "OBSERVE", "event_time": at(0),
            "biz_step": "shipping", "disposition": "in_transit", "items": [unit("PHONE", "P1")]}),
            )
            .await;
        assert_eq!(
            (r.status, r.body["error"]["code"].as_str()),
            (StatusCode::UNPROCESSABLE_ENTITY, Some("on_hold")),
            "{}",
            r.body
        );

        // The same code again: 409, nothing written.
        let n = ledger_len(&api, &admin).await;
        let r = api.post(&quality, "/api/v1/recalls", good.clone()).await;
        assert_eq!(
            (r.status, r.body["error"]["field"].as_str()),
            (StatusCode::CONFLICT, Some("code"))
        );
        assert_eq!(ledger_len(&api, &admin).await, n);

        // Progress from later events: P2 comes back.
        let r = api.post(&admin, "/api/v1/events", json!({"type": "object", "action": "OBSERVE", "event_time": at(0),
            "biz_step": "receiving", "disposition": "returned", "biz_location": "SZ-WH-A2", "items": [unit("PHONE", "P2")],
            "biz_transactions": [{"type": "rma", "id": "RMA-1"}]})).await;
        assert_eq!(r.status, StatusCode::CREATED, "{}", r.body);
        let c = api.get(&quality, "/api/v1/recalls/RC-1").await.body;
        let p = &c["progress"];
        assert_eq!(
            (
                p["returned"].as_u64(),
                p["located"].as_u64(),
                p["not_found"].as_u64(),
                p["closed"].as_u64(),
                p["percent"].as_f64()
            ),
            (Some(1), Some(1), Some(1), Some(1), Some(33.3)),
            "{p}"
        );

        // The affected list, as JSON and as a spreadsheet; the contacts as a spreadsheet.
        let r = api.get(&admin, "/api/v1/recalls/RC-1/units").await;
        let list = r.body["units"].as_array().unwrap();
        assert_eq!(list.len(), 7);
        let p2 = list
            .iter()
            .find(|u| u["node"]["item"]["serial"] == "P2")
            .unwrap();
        assert_eq!(
            (p2["closure"].as_str(), p2["held_by_recall"].as_bool()),
            (Some("returned"), Some(false))
        );
        let r = api
            .get(&admin, "/api/v1/recalls/RC-1/units?format=csv")
            .await;
        let text = String::from_utf8(r.bytes).unwrap();
        assert_eq!(text.lines().count(), 8, "{text}");
        assert!(
            text.lines()
                .any(|l| l.starts_with("unit,PHONE,P1,2,located,yes,recall,in_stock")),
            "{text}"
        );
        let r = api
            .get(&admin, "/api/v1/recalls/RC-1/contacts?format=csv")
            .await;
        let text = String::from_utf8(r.bytes).unwrap();
        assert!(
            text.starts_with("party,kind,name,units,regions,contact_person"),
            "{text}"
        );
        assert!(
            text.lines()
                .any(|l| l.starts_with("CUST9,customer,Zhang San,1,CN-GD")
                    && l.contains("+86 138 0000 0000")),
            "{text}"
        );
        let r = api
            .get(&admin, "/api/v1/recalls/RC-1/units?format=xlsx")
            .await;
        assert_eq!(&r.bytes[..2], b"PK");
        // Contacts need read_customer_data; production has none.
        assert_eq!(
            api.get(&production, "/api/v1/recalls/RC-1/contacts")
                .await
                .status,
            StatusCode::FORBIDDEN
        );
        assert_eq!(
            api.get(&admin, "/api/v1/recalls/NOPE").await.status,
            StatusCode::NOT_FOUND
        );

        // Closing: once.
        let r = api
            .post(
                &quality,
                "/api/v1/recalls/RC-1/close",
                json!({"note": "all customers called"}),
            )
            .await;
        assert_eq!(
            (r.status, r.body["closed_by"].as_str()),
            (StatusCode::OK, Some("token:t-quality")),
            "{}",
            r.body
        );
        let r = api
            .post(&quality, "/api/v1/recalls/RC-1/close", json!({}))
            .await;
        assert_eq!(
            (r.status, r.body["error"]["code"].as_str()),
            (StatusCode::CONFLICT, Some("already_closed"))
        );
        let r = api
            .post(&quality, "/api/v1/recalls/RC-1/close", json!({"note": 5}))
            .await;
        assert_eq!(
            (r.status, r.body["error"]["field"].as_str()),
            (StatusCode::BAD_REQUEST, Some("note"))
        );
        let all = api.get(&admin, "/api/v1/recalls").await.body;
        assert_eq!(
            (
                all["recalls"][0]["code"].as_str(),
                all["recalls"][0]["close_note"].as_str()
            ),
            (Some("RC-1"), Some("all customers called"))
        );

        // A second campaign from the supplier: P1 and R1 already carry a recall hold; R2, P4 (in
        // stock) and P2 (returned, so in our hands again) are held now.
        let n = ledger_len(&api, &admin).await;
        let r = api
            .post(
                &quality,
                "/api/v1/recalls",
                json!({"code": "RC-2", "reason": "supplier audit failed",
            "severity": "major", "scope": {"supplier": "SUP1"}}),
            )
            .await;
        assert_eq!(r.status, StatusCode::CREATED, "{}", r.body);
        assert_eq!(
            (r.body["held_units"].as_u64(), r.body["held_lots"].as_u64()),
            (Some(2), Some(1)),
            "{}",
            r.body
        );
        assert_eq!(ledger_len(&api, &admin).await, n + 2);
    }
);

store_test!(
    a_lot_reached_along_two_paths_is_listed_once,
    |s: TestStore| async move {
        let api = Api::new(&s);
        let admin = token(&*s.store, "t-admin", &[Role::Admin]).await;
        plant(&*s).await;
        // Two resin lots from SUP1 are blended into one compound lot, which goes into a board.
        let mut events = Vec::new();
        for lot in ["R1", "R2"] {
            events.push(json!({"type": "object", "action": "ADD", "event_time": at(60), "biz_step": "receiving",
                "biz_location": "SZ-L1", "lots": [{"product": "RESIN", "lot": lot, "quantity": "5"}],
                "sources": [{"type": "owning_party", "id": "SUP1"}]}));
        }
        events.push(json!({"type": "transformation", "event_time": at(50), "biz_step": "creating_class_instance", "biz_location": "SZ-L1",
            "input_lots": [{"product": "RESIN", "lot": "R1", "quantity": "5"}, {"product": "RESIN", "lot": "R2", "quantity": "5"}],
            "output_lots": [{"product": "RESIN", "lot": "BLEND-1", "quantity": "10"}]}));
        events.push(json!({"type": "object", "action": "ADD", "event_time": at(40), "biz_step": "commissioning",
            "disposition": "active", "biz_location": "SZ-L1", "items": [unit("BOARD", "B1")]}));
        events.push(json!({"type": "aggregation", "action": "ADD", "event_time": at(30), "biz_step": "assembling",
            "biz_location": "SZ-L1", "parent": unit("BOARD", "B1"),
            "child_lots": [{"product": "RESIN", "lot": "BLEND-1", "quantity": "1"}]}));
        let r = api
            .post(&admin, "/api/v1/events", Value::Array(events))
            .await;
        assert_eq!(r.status, StatusCode::CREATED, "{}", r.body);

        let r = api.get(&admin, "/api/v1/trace/forward?supplier=SUP1").await;
        let nodes = r.body["nodes"].as_array().unwrap();
        let got: Vec<(String, u64)> = nodes
            .iter()
            .map(|n| {
                let l = labels(&Value::Array(vec![n.clone()]))
                    .into_iter()
                    .next()
                    .unwrap();
                (l, n["depth"].as_u64().unwrap())
            })
            .collect();
        assert_eq!(
            got,
            [
                ("RESIN lot R1".to_owned(), 0),
                ("RESIN lot R2".to_owned(), 0),
                ("RESIN lot BLEND-1".to_owned(), 1),
                ("BOARD B1".to_owned(), 2)
            ],
            "{}",
            r.body
        );
    }
);

store_test!(
    a_recall_narrowed_to_one_supplier_lot_releases_what_left_it,
    |s: TestStore| async move {
        let api = Api::new(&s);
        let admin = token(&*s.store, "t-admin", &[Role::Admin]).await;
        let quality = token(&*s.store, "t-quality", &[Role::Quality]).await;
        let production = token(&*s.store, "t-production", &[Role::Production]).await;
        genealogy(&s, &api, &admin).await;

        // Everything from supplier SUP1: both resin lots, four boards, four phones. Held: the
        // phones in stock (P1, P4) and the resin left on the line (R1, R2).
        let r = api
            .post(
                &quality,
                "/api/v1/recalls",
                json!({"code": "RC-S", "reason": "SUP1 resin may be brittle", "severity": "major",
                    "scope": {"supplier": "SUP1"}}),
            )
            .await;
        assert_eq!(r.status, StatusCode::CREATED, "{}", r.body);
        assert_eq!(
            (
                r.body["units"].as_u64(),
                r.body["lots"].as_u64(),
                r.body["held_units"].as_u64(),
                r.body["held_lots"].as_u64()
            ),
            (Some(8), Some(2), Some(2), Some(2)),
            "{}",
            r.body
        );
        // P4 is also covered by a campaign of its own, so its hold must outlive RC-S's claim.
        let r = api
            .post(
                &quality,
                "/api/v1/recalls",
                json!({"code": "RC-P4", "reason": "P4 dropped in the warehouse", "severity": "minor",
                    "scope": {"product": "PHONE", "serial": "P4"}}),
            )
            .await;
        assert_eq!(r.status, StatusCode::CREATED, "{}", r.body);
        let before = ledger_len(&api, &admin).await;

        // Bad input: refused with the field named (or the campaign), and nothing written.
        let narrow = "/api/v1/recalls/RC-S/narrow";
        let good = json!({"reason": "only resin lot R1 failed the test", "scope": {"product": "RESIN", "lot": "R1"}});
        for (body, status, field) in [
            (
                json!({"reason": " ", "scope": {"product": "RESIN", "lot": "R1"}}),
                StatusCode::BAD_REQUEST,
                "reason",
            ),
            (json!({"reason": "x"}), StatusCode::BAD_REQUEST, "scope"),
            (
                json!({"reason": "x", "scope": {"lot": "R1"}}),
                StatusCode::BAD_REQUEST,
                "scope.product",
            ),
            (
                json!({"reason": "x", "scope": {"product": "RESIN", "lot": "R1"}, "severity": "minor"}),
                StatusCode::BAD_REQUEST,
                "severity",
            ),
            // Reaches nothing the campaign covers: close it instead.
            (
                json!({"reason": "x", "scope": {"work_order": "WO-NONE"}}),
                StatusCode::UNPROCESSABLE_ENTITY,
                "scope",
            ),
            // Reaches everything: nothing would leave.
            (
                json!({"reason": "x", "scope": {"supplier": "SUP1"}}),
                StatusCode::UNPROCESSABLE_ENTITY,
                "scope",
            ),
        ] {
            let r = api.post(&quality, narrow, body.clone()).await;
            assert_eq!(
                (r.status, r.body["error"]["field"].as_str()),
                (status, Some(field)),
                "{body}: {}",
                r.body
            );
        }
        let r = api
            .post(
                &quality,
                narrow,
                json!({"reason": "x", "scope": {"work_order": "WO-NONE"}}),
            )
            .await;
        assert_eq!(r.body["error"]["code"], "narrow_empty", "{}", r.body);
        let r = api
            .post(
                &quality,
                narrow,
                json!({"reason": "x", "scope": {"supplier": "SUP1"}}),
            )
            .await;
        assert_eq!(r.body["error"]["code"], "narrow_unchanged", "{}", r.body);
        let r = api.post(&production, narrow, good.clone()).await;
        assert_eq!(r.status, StatusCode::FORBIDDEN);
        let r = api
            .post(&quality, "/api/v1/recalls/RC-NONE/narrow", good.clone())
            .await;
        assert_eq!(r.status, StatusCode::NOT_FOUND);
        assert_eq!(ledger_len(&api, &admin).await, before);
        assert!(
            api.get(&admin, "/api/v1/recalls/RC-S")
                .await
                .body
                .get("narrowings")
                .is_none()
        );

        // Narrow to lot R1: R2, board B4 and phone P4 leave the campaign. R2's hold is
        // released by one ledger event; P4 stays held, RC-P4 still covers it.
        let r = api.post(&quality, narrow, good.clone()).await;
        assert_eq!(r.status, StatusCode::OK, "{}", r.body);
        let c = &r.body;
        assert_eq!(
            (
                c["units"].as_u64(),
                c["lots"].as_u64(),
                c["held_units"].as_u64(),
                c["held_lots"].as_u64()
            ),
            (Some(6), Some(1), Some(1), Some(1)),
            "{c}"
        );
        let n = &c["narrowings"][0];
        assert_eq!(
            (
                n["n"].as_u64(),
                n["by"].as_str(),
                n["reason"].as_str(),
                n["removed_units"].as_u64(),
                n["removed_lots"].as_u64(),
                n["released"].as_u64()
            ),
            (
                Some(1),
                Some("token:t-quality"),
                Some("only resin lot R1 failed the test"),
                Some(2),
                Some(1),
                Some(1)
            ),
            "{c}"
        );
        assert_eq!(n["scope"]["start"]["lot"]["lot"], "R1", "{n}");
        assert_eq!(ledger_len(&api, &admin).await, before + 1);
        let holds = |path: &'static str| {
            let api = &api;
            let admin = &admin;
            async move { api.get(admin, path).await.body["holds"].clone() }
        };
        assert_eq!(holds("/api/v1/lots/RESIN/R2").await, json!([]));
        assert_eq!(holds("/api/v1/lots/RESIN/R1").await, json!(["recall"]));
        assert_eq!(holds("/api/v1/items/PHONE/P4").await, json!(["recall"]));
        assert_eq!(holds("/api/v1/items/PHONE/P1").await, json!(["recall"]));
        // The list of what is covered now, and of what left, with the narrowing that took it.
        let r = api.get(&quality, "/api/v1/recalls/RC-S/units").await;
        assert_eq!(
            labels(&r.body["units"]),
            set(&[
                "RESIN lot R1",
                "BOARD B1",
                "BOARD B2",
                "BOARD B3",
                "PHONE P1",
                "PHONE P2",
                "PHONE P3"
            ]),
            "{}",
            r.body
        );
        let r = api
            .get(&quality, "/api/v1/recalls/RC-S/units?removed=true")
            .await;
        assert_eq!(
            labels(&r.body["units"]),
            set(&["RESIN lot R2", "BOARD B4", "PHONE P4"]),
            "{}",
            r.body
        );
        assert!(
            r.body["units"]
                .as_array()
                .unwrap()
                .iter()
                .all(|u| u["removed_by"] == 1),
            "{}",
            r.body
        );
        let csv = api
            .get(
                &quality,
                "/api/v1/recalls/RC-S/units?removed=true&format=csv",
            )
            .await;
        assert_eq!(csv.status, StatusCode::OK);
        assert_eq!(String::from_utf8(csv.bytes).unwrap().lines().count(), 4);
        let r = api
            .get(&quality, "/api/v1/recalls/RC-S/contacts?removed=true")
            .await;
        assert_eq!(
            (r.status, r.body["error"]["field"].as_str()),
            (StatusCode::BAD_REQUEST, Some("removed"))
        );
        // The narrowing is in the audit trail with its reason.
        let r = api.get(&admin, "/api/v1/audit?object=recalls/RC-S").await;
        let entries = r.body["records"]
            .as_array()
            .unwrap_or_else(|| panic!("{}", r.body));
        assert!(
            entries
                .iter()
                .any(|e| e["reason"] == "only resin lot R1 failed the test"
                    && e["after"]["removed_units"] == 2),
            "{}",
            r.body
        );

        // A second narrowing, to phone P1 alone: R1's hold goes; P1 keeps its own.
        let r = api
            .post(
                &quality,
                narrow,
                json!({"reason": "only P1 was built on the faulty shift", "scope": {"product": "PHONE", "serial": "P1"}}),
            )
            .await;
        assert_eq!(r.status, StatusCode::OK, "{}", r.body);
        assert_eq!(
            (r.body["units"].as_u64(), r.body["lots"].as_u64()),
            (Some(1), Some(0)),
            "{}",
            r.body
        );
        let n2 = &r.body["narrowings"][1];
        assert_eq!(
            (
                n2["n"].as_u64(),
                n2["removed_units"].as_u64(),
                n2["removed_lots"].as_u64(),
                n2["released"].as_u64()
            ),
            (Some(2), Some(5), Some(1), Some(1)),
            "{}",
            r.body
        );
        assert_eq!(holds("/api/v1/lots/RESIN/R1").await, json!([]));
        assert_eq!(holds("/api/v1/items/PHONE/P1").await, json!(["recall"]));
        assert_eq!(ledger_len(&api, &admin).await, before + 2);

        // A closed campaign is not narrowed.
        let r = api
            .post(
                &quality,
                "/api/v1/recalls/RC-S/close",
                json!({"note": "done"}),
            )
            .await;
        assert_eq!(r.status, StatusCode::OK, "{}", r.body);
        let r = api
            .post(
                &quality,
                narrow,
                json!({"reason": "x", "scope": {"product": "PHONE", "serial": "P1"}}),
            )
            .await;
        assert_eq!(
            (r.status, r.body["error"]["code"].as_str()),
            (StatusCode::UNPROCESSABLE_ENTITY, Some("recall_closed")),
            "{}",
            r.body
        );
        assert_eq!(ledger_len(&api, &admin).await, before + 2);
    }
);

/// The numbers in `<p id="preview-summary">`: units, in our hands, outside, lots.
fn preview_summary(html: &str) -> Vec<u64> {
    let start = html
        .find("id=\"preview-summary\"")
        .expect("a preview summary");
    let end = start + html[start..].find("</p>").unwrap();
    html[start..end]
        .split("<strong>")
        .skip(1)
        .map(|s| s[..s.find('<').unwrap()].parse().unwrap())
        .collect()
}

store_test!(
    a_part_built_into_a_unit_goes_where_that_unit_goes,
    |s: TestStore| async move {
        let api = Api::new(&s);
        let admin = token(&*s.store, "t-admin", &[Role::Admin]).await;
        let quality = token(&*s.store, "t-quality", &[Role::Quality]).await;
        genealogy(&s, &api, &admin).await;
        // A loose board B5 of resin R1, never built into a phone, put away in stock.
        let events = json!([
            {"type": "object", "action": "ADD", "event_time": at(60), "biz_step": "commissioning",
             "disposition": "active", "biz_location": "SZ-L2", "items": [unit("BOARD", "B5")]},
            {"type": "aggregation", "action": "ADD", "event_time": at(59), "biz_step": "assembling",
             "biz_location": "SZ-L1", "parent": unit("BOARD", "B5"),
             "child_lots": [{"product": "RESIN", "lot": "R1", "quantity": "0.1"}]},
            {"type": "object", "action": "OBSERVE", "event_time": at(58), "biz_step": "storing",
             "disposition": "sellable_not_accessible", "biz_location": "SZ-WH-A1",
             "items": [unit("BOARD", "B5")]}
        ]);
        let r = api.post(&admin, "/api/v1/events", events).await;
        assert_eq!(r.status, StatusCode::CREATED, "{}", r.body);

        // The trace: B1 is inside P1 (in stock), B2 inside P2 (at the distributor), B3 inside
        // P3 (sold): each board is where its phone is.
        let r = api
            .get(&admin, "/api/v1/trace/forward?product=RESIN&lot=R1")
            .await;
        let nodes = &r.body["nodes"];
        let whereabouts = |serial: &str| {
            let w = &node(nodes, serial)["state"];
            (
                w["in_our_hands"].as_bool(),
                w["location"].as_str().map(str::to_owned),
                w["distributor"].as_str().map(str::to_owned),
                w["customer"].as_str().map(str::to_owned),
            )
        };
        assert_eq!(whereabouts("B1"), whereabouts("P1"), "{nodes}");
        assert_eq!(whereabouts("B2"), whereabouts("P2"), "{nodes}");
        assert_eq!(whereabouts("B3"), whereabouts("P3"), "{nodes}");
        assert_eq!(
            whereabouts("B2"),
            (
                Some(false),
                Some("EXT-GD".into()),
                Some("DIST-GD".into()),
                None
            )
        );
        assert_eq!(whereabouts("B3").3.as_deref(), Some("CUST9"));
        assert_eq!(whereabouts("B5").0, Some(true));

        // The preview: seven units (four boards, three phones), of which P1 and B5 are in our
        // hands and P2, P3 outside (a board goes with its phone), and the lot.
        let r = api
            .get(&quality, "/recalls/new?product=RESIN&lot=R1&lang=en")
            .await;
        assert_eq!(r.status, StatusCode::OK);
        let html = String::from_utf8(r.bytes).unwrap();
        assert_eq!(preview_summary(&html), [7, 2, 2, 1], "{html}");

        // The campaign says the same, and holds exactly the units in our hands.
        let r = api
            .post(
                &quality,
                "/api/v1/recalls",
                json!({"code": "RC-B", "reason": "R1 resin brittle", "severity": "major",
                    "scope": {"product": "RESIN", "lot": "R1"}}),
            )
            .await;
        assert_eq!(r.status, StatusCode::CREATED, "{}", r.body);
        let c = &r.body;
        assert_eq!(
            (
                c["units"].as_u64(),
                c["in_our_hands"].as_u64(),
                c["outside"].as_u64(),
                c["lots"].as_u64(),
                c["held_units"].as_u64()
            ),
            (Some(7), Some(2), Some(2), Some(1), Some(2)),
            "{c}"
        );
        for (serial, holds) in [
            ("PHONE/P1", json!(["recall"])),
            ("BOARD/B5", json!(["recall"])),
            ("PHONE/P2", json!([])),
            ("BOARD/B2", json!([])),
            ("PHONE/P3", json!([])),
        ] {
            let item = api.get(&admin, &format!("/api/v1/items/{serial}")).await;
            assert_eq!(item.body["holds"], holds, "{serial}: {}", item.body);
        }

        // A held unit does not ship; one outside the recall does.
        for (product, serial) in [("PHONE", "P1"), ("BOARD", "B5")] {
            let before = ledger_len(&api, &admin).await;
            let r = api
                .post(
                    &admin,
                    "/api/v1/ops/ship",
                    json!({"time": at(10), "sales_order": "SO-9", "customer": "CUST9", "from": "SZ-WH-A1",
                        "lines": [{"line": "1", "product": product, "serials": [serial]}]}),
                )
                .await;
            assert_eq!(
                r.status,
                StatusCode::UNPROCESSABLE_ENTITY,
                "{serial}: {}",
                r.body
            );
            assert!(r.body.to_string().contains("hold"), "{serial}: {}", r.body);
            assert_eq!(ledger_len(&api, &admin).await, before);
        }
        let r = api
            .post(
                &admin,
                "/api/v1/ops/ship",
                json!({"time": at(10), "sales_order": "SO-9", "customer": "CUST9", "from": "SZ-WH-A1",
                    "lines": [{"line": "1", "product": "PHONE", "serials": ["P4"]}]}),
            )
            .await;
        assert_eq!(r.status, StatusCode::CREATED, "{}", r.body);
    }
);

store_test!(
    a_part_inside_a_module_goes_where_the_shipped_unit_it_is_in_goes,
    |s: TestStore| async move {
        let api = Api::new(&s);
        let admin = token(&*s.store, "t-admin", &[Role::Admin]).await;
        genealogy(&s, &api, &admin).await;
        put(
            &*s,
            "product",
            json!({"code": "CHIP", "name": "Chip", "tracking": "serial"}),
        )
        .await;
        // Resin R3 went into chip C2, C2 onto board B2, which is inside phone P2, shipped to
        // the Guangdong distributor and received there.
        let events = json!([
            {"type": "object", "action": "ADD", "event_time": at(298), "biz_step": "receiving",
             "biz_location": "SZ-L1", "lots": [{"product": "RESIN", "lot": "R3", "quantity": "10"}],
             "sources": [{"type": "owning_party", "id": "SUP1"}]},
            {"type": "object", "action": "ADD", "event_time": at(250), "biz_step": "commissioning",
             "disposition": "active", "biz_location": "SZ-L2", "items": [unit("CHIP", "C2")]},
            {"type": "aggregation", "action": "ADD", "event_time": at(245), "biz_step": "assembling",
             "biz_location": "SZ-L1", "parent": unit("CHIP", "C2"),
             "child_lots": [{"product": "RESIN", "lot": "R3", "quantity": "0.1"}]},
            {"type": "aggregation", "action": "ADD", "event_time": at(235), "biz_step": "assembling",
             "biz_location": "SZ-L2", "parent": unit("BOARD", "B2"), "children": [unit("CHIP", "C2")]}
        ]);
        let r = api.post(&admin, "/api/v1/events", events).await;
        assert_eq!(r.status, StatusCode::CREATED, "{}", r.body);

        let r = api
            .get(&admin, "/api/v1/trace/forward?product=RESIN&lot=R3")
            .await;
        assert_eq!(r.status, StatusCode::OK, "{}", r.body);
        let nodes = &r.body["nodes"];
        assert_eq!(
            labels(nodes),
            set(&["CHIP C2", "BOARD B2", "PHONE P2"]),
            "{nodes}"
        );
        let whereabouts = |serial: &str| {
            let w = &node(nodes, serial)["state"];
            (
                w["status"].as_str().map(str::to_owned),
                w["location"].as_str().map(str::to_owned),
                w["custodian"].as_str().map(str::to_owned),
                w["distributor"].as_str().map(str::to_owned),
                w["region"].as_str().map(str::to_owned),
                w["in_our_hands"].as_bool(),
            )
        };
        // The chip is where the phone is — two levels up, not where its board was made.
        assert_eq!(whereabouts("C2"), whereabouts("P2"), "{nodes}");
        assert_eq!(whereabouts("B2"), whereabouts("P2"), "{nodes}");
        assert_eq!(
            whereabouts("C2"),
            (
                whereabouts("P2").0,
                Some("EXT-GD".into()),
                Some("DIST-GD".into()),
                Some("DIST-GD".into()),
                Some("CN-GD".into()),
                Some(false)
            ),
            "{nodes}"
        );
        // `inside` names the unit it is built into directly.
        assert_eq!(
            node(nodes, "C2")["state"]["inside"],
            unit("BOARD", "B2"),
            "{nodes}"
        );
        assert_eq!(
            node(nodes, "B2")["state"]["inside"],
            unit("PHONE", "P2"),
            "{nodes}"
        );
        assert!(
            node(nodes, "P2")["state"].get("inside").is_none(),
            "{nodes}"
        );

        // The streamed export says the same.
        let r = api
            .get(
                &admin,
                "/api/v1/trace/forward?product=RESIN&lot=R3&format=csv",
            )
            .await;
        assert_eq!(r.status, StatusCode::OK);
        let text = String::from_utf8(r.bytes).unwrap();
        let chip = text
            .lines()
            .find(|l| l.starts_with("1,unit,CHIP,C2,RESIN,R3,"))
            .unwrap_or_else(|| panic!("no chip row in {text}"));
        assert!(
            chip.ends_with(",EXT-GD,DIST-GD,DIST-GD,,,CN-GD,BOARD B2"),
            "{chip}"
        );
    }
);
