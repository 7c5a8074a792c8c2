//! Field-level restriction through HTTP, on both engines: a customer's personal data and
//! commercial fields read `***` to a role without `read_customer_data` / `read_prices`, in
//! every kind of output — parties, events, passport, trace (JSON, CSV, XLSX), recall detail,
//! affected units and contacts, EPCIS query documents, web pages and webhook payloads — and
//! as stored to a role that holds the permission.

#![allow(clippy::unwrap_used)] // tests unwrap: a panic is the failure report

mod common;

use std::io::Cursor;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::http::StatusCode;
use calamine::{Reader, Xlsx};
use common::Api;
use serde_json::{Value, json};
use threadline_domain::access::Role;
use threadline_server::webhook::{WebhookSettings, sender};
use threadline_server::{AppState, ManualClock, webhook};
use threadline_testkit::fixtures::{at, now, plant};
use threadline_testkit::{TestStore, store_test};

const NAME: &str = "张三";
const PHONE: &str = "13800138000";
const ADDRESS: &str = "深圳市南山区科技园 1 号";
const PRICE: &str = "1299.00";

/// Who reads: warehouse (neither), service (personal data), sales (both).
struct Readers {
    warehouse: Api,
    service: Api,
    sales: Api,
    admin: Api,
    state: AppState,
}

impl Readers {
    fn all(&self) -> [(&'static str, &Api, bool, bool); 3] {
        [
            ("warehouse", &self.warehouse, false, false),
            ("service", &self.service, true, false),
            ("sales", &self.sales, true, true),
        ]
    }
}

async fn raw(api: &Api, uri: &str) -> (StatusCode, String, Vec<u8>) {
    let (status, _, bytes) = api.get_file(uri).await;
    (status, String::from_utf8_lossy(&bytes).into_owned(), bytes)
}

/// What a reader must find: the stored value, or `***` and never the stored value.
fn shows(text: &str, secret: &str, visible: bool, what: &str) {
    if visible {
        assert!(text.contains(secret), "{what}: {secret} missing in {text}");
    } else {
        assert!(!text.contains(secret), "{what}: {secret} leaked in {text}");
        assert!(text.contains("***"), "{what}: no mask in {text}");
    }
}

async fn ok(api: &Api, uri: &str, body: Value) -> Value {
    let r = api.post(uri, body).await;
    assert!(r.status.is_success(), "{uri}: {} {:?}", r.status, r.body);
    r.body
}

/// The plant, a router whose webhooks may go to loopback, and a client per reader.
async fn readers(s: &TestStore) -> Readers {
    plant(&**s).await;
    let state = AppState {
        clock: Arc::new(ManualClock::new(now())),
        webhooks: WebhookSettings {
            allow_private: true,
            timeout: Duration::from_secs(5),
            first_retry: Duration::from_secs(60),
            max_retry: Duration::from_secs(600),
            max_attempts: 3,
            poll: Duration::from_millis(50),
        },
        ..AppState::new(s.store.clone())
    };
    Readers {
        warehouse: Api::with_state(s, state.clone(), "wh", &[Role::Warehouse]).await,
        service: Api::with_state(s, state.clone(), "svc", &[Role::Service]).await,
        sales: Api::with_state(s, state.clone(), "sales", &[Role::Sales]).await,
        admin: Api::with_state(s, state.clone(), "root", &[Role::Admin]).await,
        state,
    }
}

/// A board `serial` made under `work_order` and put away in SZ-WH-A1.
async fn in_stock(admin: &Api, serial: &str, work_order: &str) {
    ok(
        admin,
        "/api/v1/events",
        json!({"type": "object", "action": "ADD", "event_time": at(600),
        "biz_step": "commissioning", "disposition": "active", "biz_location": "SZ-L1",
        "items": [{"product": "BOARD", "serial": serial}],
        "biz_transactions": [{"type": "prodorder", "id": work_order}]}),
    )
    .await;
    ok(
        admin,
        "/api/v1/ops/move",
        json!({"time": at(590), "items": [{"product": "BOARD", "serial": serial}],
        "to": "SZ-WH-A1", "put_away": true}),
    )
    .await;
}

/// A board made under WO-M, shipped to a customer with a price and an address, and sold.
async fn setup(s: &TestStore) -> Readers {
    let r = readers(s).await;
    let a = &r.admin;
    ok(
        a,
        "/api/v1/parties",
        json!({"code": "CUST-M", "name": NAME, "kind": "customer",
        "contact": {"person": NAME, "phone": PHONE, "address": ADDRESS}}),
    )
    .await;
    in_stock(a, "M1", "WO-M").await;
    ok(
        a,
        "/api/v1/ops/ship",
        json!({"time": at(580), "sales_order": "SO-M", "customer": "CUST-M",
        "ship_to_address": ADDRESS, "price": PRICE, "from": "SZ-WH-A1",
        "lines": [{"line": "1", "product": "BOARD", "serials": ["M1"]}]}),
    )
    .await;
    ok(
        a,
        "/api/v1/ops/sell",
        json!({"time": at(570), "customer": "CUST-M", "price": PRICE,
        "items": [{"product": "BOARD", "serial": "M1"}]}),
    )
    .await;
    r
}

store_test!(
    parties_events_and_the_passport_are_masked_by_permission,
    |s: TestStore| async move {
        let r = setup(&s).await;
        for (who, api, personal, commercial) in r.all() {
            let party = api.get("/api/v1/parties/CUST-M").await;
            assert_eq!(party.status, StatusCode::OK, "{who}");
            assert_eq!(party.body["code"], "CUST-M", "{who}: codes stay");
            let text = party.body.to_string();
            shows(&text, NAME, personal, &format!("{who} party"));
            shows(&text, PHONE, personal, &format!("{who} party"));
            let listed = api
                .get("/api/v1/parties?kind=customer")
                .await
                .body
                .to_string();
            shows(&listed, PHONE, personal, &format!("{who} parties"));
            let history = api
                .get("/api/v1/parties/CUST-M/history")
                .await
                .body
                .to_string();
            shows(&history, ADDRESS, personal, &format!("{who} history"));
            // A distributor's business contact is not personal data.
            let d = api.get("/api/v1/parties/DIST-GD").await;
            assert_eq!(d.body["name"], "Guangdong Dist.", "{who}");

            let events = api.get("/api/v1/events?product=BOARD&serial=M1").await;
            let ship = events.body["items"]
                .as_array()
                .unwrap()
                .iter()
                .find(|e| e["biz_step"] == "shipping")
                .unwrap()
                .clone();
            assert_eq!(ship["fields"]["customer"], "CUST-M", "{who}");
            assert_eq!(
                ship["fields"]["ship_to_address"],
                if personal { ADDRESS } else { "***" },
                "{who}"
            );
            assert_eq!(
                ship["fields"]["price"],
                if commercial { PRICE } else { "***" },
                "{who}"
            );
            let one = api
                .get(&format!("/api/v1/events/{}", ship["id"].as_str().unwrap()))
                .await;
            assert_eq!(one.body["fields"], ship["fields"], "{who}");

            let passport = api
                .get("/api/v1/items/BOARD/M1/passport")
                .await
                .body
                .to_string();
            shows(&passport, PRICE, commercial, &format!("{who} passport"));
            shows(&passport, ADDRESS, personal, &format!("{who} passport"));
            let by_code = api.get("/api/v1/passport?code=M1").await.body.to_string();
            shows(
                &by_code,
                PRICE,
                commercial,
                &format!("{who} passport by code"),
            );

            // The page shows what the API shows.
            let (status, page, _) = raw(api, "/unit?code=M1&lang=en").await;
            assert_eq!(status, StatusCode::OK, "{who}");
            shows(&page, PRICE, commercial, &format!("{who} passport page"));
            shows(&page, ADDRESS, personal, &format!("{who} passport page"));

            // Search finds a customer by name only for those who may read it.
            let (_, found, _) = raw(api, "/search?q=%E5%BC%A0%E4%B8%89&lang=en").await;
            assert_eq!(found.contains("CUST-M"), personal, "{who}: {found}");
            let (_, found, _) = raw(api, "/search?q=CUST-M&lang=en").await;
            shows(&found, NAME, personal, &format!("{who} search by code"));

            // EPCIS documents carry the same fields as extensions, masked the same way, and a
            // query cannot probe a masked value.
            let (status, doc, _) = raw(api, "/epcis/events?EQ_bizStep=shipping").await;
            assert_eq!(status, StatusCode::OK, "{who}: {doc}");
            shows(&doc, PRICE, commercial, &format!("{who} EPCIS"));
        }
    }
);

store_test!(
    traces_recalls_and_exports_are_masked_by_permission,
    |s: TestStore| async move {
        let r = setup(&s).await;
        ok(
            &r.admin,
            "/api/v1/recalls",
            json!({"code": "RC-M", "reason": "bad board",
            "severity": "major", "scope": {"work_order": "WO-M"}}),
        )
        .await;
        for (who, api, personal, _) in r.all() {
            let trace = api.get("/api/v1/trace/forward?work_order=WO-M").await;
            assert_eq!(trace.status, StatusCode::OK, "{who}: {:?}", trace.body);
            let unit = trace.body["nodes"]
                .as_array()
                .unwrap()
                .iter()
                .find(|n| n.to_string().contains("\"M1\""))
                .unwrap_or_else(|| panic!("{who}: {:?}", trace.body))
                .clone();
            assert_eq!(unit["state"]["customer"], "CUST-M", "{who}");
            assert_eq!(
                unit["state"]["customer_name"],
                if personal { NAME } else { "***" },
                "{who}"
            );

            let (status, csv, _) =
                raw(api, "/api/v1/trace/forward?work_order=WO-M&format=csv").await;
            assert_eq!(status, StatusCode::OK, "{who}");
            shows(&csv, NAME, personal, &format!("{who} trace CSV"));

            let (status, _, bytes) =
                raw(api, "/api/v1/trace/forward?work_order=WO-M&format=xlsx").await;
            assert_eq!(status, StatusCode::OK, "{who}");
            let mut book = Xlsx::new(Cursor::new(bytes)).unwrap();
            let sheet = book.worksheet_range_at(0).unwrap().unwrap();
            let cells: Vec<String> = sheet.rows().flatten().map(ToString::to_string).collect();
            shows(
                &cells.join("|"),
                NAME,
                personal,
                &format!("{who} trace XLSX"),
            );

            let (_, page, _) = raw(api, "/trace?work_order=WO-M&lang=en").await;
            shows(&page, NAME, personal, &format!("{who} trace page"));

            let recall = api.get("/api/v1/recalls/RC-M").await;
            assert_eq!(recall.status, StatusCode::OK, "{who}");
            let customer = recall.body["contacts"]
                .as_array()
                .unwrap()
                .iter()
                .find(|c| c["kind"] == "customer")
                .unwrap()
                .clone();
            assert_eq!(customer["party"], "CUST-M", "{who}");
            assert_eq!(
                customer["name"],
                if personal { NAME } else { "***" },
                "{who}"
            );
            assert_eq!(
                customer["personal"]["phone"],
                if personal { PHONE } else { "***" },
                "{who}"
            );
            let (_, page, _) = raw(api, "/recalls/RC-M?lang=en").await;
            shows(&page, PHONE, personal, &format!("{who} recall page"));

            let (status, units, _) = raw(api, "/api/v1/recalls/RC-M/units?format=csv").await;
            assert_eq!(status, StatusCode::OK, "{who}");
            shows(&units, NAME, personal, &format!("{who} recall units CSV"));
        }
        // The contact list needs the permission; whoever has it sees the customer.
        let (status, _, _) = raw(&r.warehouse, "/api/v1/recalls/RC-M/contacts?format=csv").await;
        assert_eq!(status, StatusCode::FORBIDDEN);
        let (status, contacts, _) =
            raw(&r.service, "/api/v1/recalls/RC-M/contacts?format=csv").await;
        assert_eq!(status, StatusCode::OK);
        assert!(contacts.contains(PHONE), "{contacts}");
    }
);

/// What a local receiver was sent.
async fn receiver() -> (Arc<Mutex<Vec<String>>>, String) {
    let seen = Arc::new(Mutex::new(Vec::new()));
    let s = seen.clone();
    let router = axum::Router::new().fallback(move |body: String| {
        let s = s.clone();
        async move {
            s.lock().unwrap().push(body);
            "ok"
        }
    });
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move { axum::serve(listener, router).await });
    (seen, format!("http://{addr}/hook"))
}

store_test!(
    webhook_payloads_carry_no_personal_or_commercial_data,
    |s: TestStore| async move {
        let r = readers(&s).await;
        in_stock(&r.admin, "W1", "WO-W").await;
        let (seen, url) = receiver().await;
        ok(
            &r.admin,
            "/api/v1/webhooks",
            json!({"name": "erp", "url": url,
            "filter": {"biz_steps": ["shipping"]}}),
        )
        .await;
        ok(
            &r.admin,
            "/api/v1/ops/ship",
            json!({"time": at(580), "sales_order": "SO-W",
            "customer": "CUST1", "ship_to_address": ADDRESS, "price": PRICE, "carrier": "SF",
            "from": "SZ-WH-A1", "lines": [{"line": "1", "product": "BOARD", "serials": ["W1"]}]}),
        )
        .await;
        let client = sender(&r.state.webhooks).unwrap();
        assert_eq!(webhook::work_once(&r.state, &client).await.unwrap(), 1);
        let bodies = seen.lock().unwrap().clone();
        assert_eq!(bodies.len(), 1);
        let body: Value = serde_json::from_str(&bodies[0]).unwrap();
        let fields = &body["event"]["fields"];
        assert_eq!(fields["price"], "***");
        assert_eq!(fields["ship_to_address"], "***");
        assert_eq!(fields["carrier"], "SF", "the rest is sent as recorded");
        assert_eq!(fields["customer"], "CUST1");
    }
);

store_test!(
    a_price_that_is_not_a_decimal_is_refused_naming_the_field,
    |s: TestStore| async move {
        let r = readers(&s).await;
        in_stock(&r.admin, "W1", "WO-W").await;
        let before = r.admin.ledger_len().await;
        let bad = r
            .admin
            .post(
                "/api/v1/ops/ship",
                json!({"sales_order": "SO-X", "customer": "CUST1",
            "price": "12,50", "from": "SZ-WH-A1",
            "lines": [{"line": "1", "product": "BOARD", "serials": ["W1"]}]}),
            )
            .await;
        assert_eq!(bad.status, StatusCode::BAD_REQUEST, "{:?}", bad.body);
        assert!(bad.body.to_string().contains("price"), "{:?}", bad.body);
        assert_eq!(r.admin.ledger_len().await, before, "nothing written");
    }
);
