//! Field-level restriction through HTTP, on both engines: a customer's personal data and
//! commercial fields read `***` to a role without `read_customer_data` / `read_prices`, in
//! every kind of output — parties, events, passport, trace (JSON, CSV, XLSX), recall detail,
//! affected units and contacts, EPCIS query documents, web pages and webhook payloads, and
//! what a partner sends through EPCIS (extensions, ILMD, custom attributes, nested fields) —
//! and as stored to a role that holds the permission.

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

/// A partner's secrets, each where EPCIS can carry it, with who may read it: `(value, personal,
/// commercial)` — personal data needs `read_customer_data`, commercial `read_prices`.
const KEPT: &[(&str, bool)] = &[
    ("王五", true),        // ILMD custom attribute tla:customer_name (a unit attribute)
    ("4321.5", false),     // ILMD custom attribute tla:unit_price
    ("13911112222", true), // another namespace's ILMD, ex:buyerPhone
    ("李四", true),        // an extension object ex:consignee: its name…
    ("深圳市福田区 8 号", true), // …and its nested address
    ("887.25", false),     // an extension object ex:unitPrice {value, currency}
    ("北京市朝阳区 2 号", true), // a readPoint extension ex:shipToAddress
    ("zhao@example.cn", true), // a Threadline field tlf:customer_email
    ("赵六", true),        // a Chinese-named extension ex:收货人
    ("66.6", false),       // a field nested in a Threadline field tlf:terms.discount
];

/// Captures through EPCIS a commissioning that carries every secret of [`KEPT`], next to
/// content anyone may read (grade, colour, temperature, a note, the consignee's id), with
/// master data in the header (which Threadline does not take from EPCIS).
async fn partner_content(r: &Readers) {
    ok(
        &r.admin,
        "/api/v1/products",
        json!({"code": "IMPLANT", "name": "Implant", "tracking": "serial",
        "attributes": [{"name": "customer_name", "type": "text"},
            {"name": "unit_price", "type": "number"}, {"name": "color", "type": "text"}]}),
    )
    .await;
    let event = json!({"type": "ObjectEvent", "action": "ADD", "bizStep": "commissioning",
        "eventTime": "2026-06-01T09:00:00+08:00", "eventTimeZoneOffset": "+08:00",
        "epcList": ["urn:threadline:unit:IMPLANT:IM-9001"], "disposition": "active",
        "readPoint": {"id": "urn:threadline:loc:SZ-L1", "ex:shipToAddress": "北京市朝阳区 2 号"},
        "bizLocation": {"id": "urn:threadline:loc:SZ-L1"},
        "ilmd": {"tla:customer_name": "王五", "tla:unit_price": 4321.5, "tla:color": "blue",
            "ex:buyerPhone": "13911112222", "ex:grade": "A"},
        "ex:consignee": {"ex:id": "C-77", "ex:name": "李四",
            "ex:address": {"ex:street": "深圳市福田区 8 号"}},
        "ex:unitPrice": {"ex:value": "887.25", "ex:currency": "CNY"},
        "ex:收货人": "赵六",
        "ex:temp": 4.5,
        "tlf:customer_email": "zhao@example.cn", "tlf:note": "fragile",
        "tlf:terms": {"discount": "66.6", "incoterm": "FOB"}});
    let doc = json!({"@context": ["https://ref.gs1.org/standards/epcis/2.0.0/epcis-context.jsonld",
            {"ex": "https://ns.example.com/epcis/"}],
        "type": "EPCISDocument", "schemaVersion": "2.0", "creationDate": "2026-06-01T02:00:00Z",
        "epcisHeader": {"epcisMasterData": {"vocabularyList": [{
            "type": "urn:epcglobal:epcis:vtype:BusinessLocation",
            "vocabularyElementList": [{"id": "urn:threadline:loc:SZ-L1", "attributes": [
                {"id": "urn:epcglobal:cbv:mda#telephone", "attribute": "13700009999"}]}]}]}},
        "epcisBody": {"eventList": [event]}});
    let (status, headers, body) = r
        .admin
        .file(
            axum::http::Request::post("/epcis/capture")
                .header("content-type", "application/ld+json")
                .body(axum::body::Body::from(doc.to_string()))
                .unwrap(),
        )
        .await;
    assert_eq!(
        status,
        StatusCode::ACCEPTED,
        "{}",
        String::from_utf8_lossy(&body)
    );
    let job = r.admin.get(headers["location"].to_str().unwrap()).await;
    assert_eq!(job.body["success"], true, "{:?}", job.body);
}

/// Every secret of [`KEPT`] is shown to a reader allowed to see it and masked for the others
/// in `text`; what is not restricted is shown to all.
fn shows_kept(text: &str, personal: bool, commercial: bool, what: &str) {
    for (secret, is_personal) in KEPT {
        let visible = if *is_personal { personal } else { commercial };
        shows(text, secret, visible, what);
    }
    for open in ["C-77", "fragile", "4.5", "FOB"] {
        assert!(text.contains(open), "{what}: {open} missing in {text}");
    }
    assert!(!text.contains("13700009999"), "{what}: master data kept");
}

store_test!(
    epcis_content_kept_verbatim_is_masked_in_every_output,
    |s: TestStore| async move {
        let r = readers(&s).await;
        let (seen, url) = receiver().await;
        ok(
            &r.admin,
            "/api/v1/webhooks",
            json!({"name": "erp", "url": url, "filter": {"products": ["IMPLANT"]}}),
        )
        .await;
        partner_content(&r).await;
        for (who, api, personal, commercial) in r.all() {
            let (status, doc, _) = raw(api, "/epcis/events?EQ_bizStep=commissioning").await;
            assert_eq!(status, StatusCode::OK, "{who}: {doc}");
            shows_kept(&doc, personal, commercial, &format!("{who} EPCIS JSON"));
            let (status, _, xml) = api
                .file(
                    axum::http::Request::get("/epcis/events?EQ_bizStep=commissioning")
                        .header("accept", "application/xml")
                        .body(axum::body::Body::empty())
                        .unwrap(),
                )
                .await;
            assert_eq!(status, StatusCode::OK, "{who}");
            let xml = String::from_utf8(xml).unwrap();
            assert!(xml.starts_with("<?xml"), "{who}: {xml}");
            shows_kept(&xml, personal, commercial, &format!("{who} EPCIS XML"));

            // A query cannot probe a masked value.
            let probe = api
                .get("/epcis/events?EQ_ILMD_https://ns.example.com/epcis/buyerPhone=13911112222")
                .await;
            let found = probe.body["epcisBody"]["queryResults"]["resultsBody"]["eventList"]
                .as_array()
                .map_or(0, Vec::len);
            assert_eq!(found, usize::from(personal), "{who}: {:?}", probe.body);

            let events = api
                .get("/api/v1/events?product=IMPLANT&serial=IM-9001")
                .await;
            assert_eq!(events.status, StatusCode::OK, "{who}");
            let event = events.body["items"][0].clone();
            shows_kept(
                &event.to_string(),
                personal,
                commercial,
                &format!("{who} events API"),
            );
            // The CBV hash ID is a digest of the unmasked event: a value could be found by
            // trying candidates against it, so a reader who sees a mask gets no hash.
            assert_eq!(
                event["hash_id"].is_string(),
                personal && commercial,
                "{who}: {event}"
            );
            let one = api
                .get(&format!("/api/v1/events/{}", event["id"].as_str().unwrap()))
                .await;
            assert_eq!(one.body, event, "{who}");

            // The unit's attributes come from the ILMD: restricted by their names.
            let item = api.get("/api/v1/items/IMPLANT/IM-9001").await;
            assert_eq!(item.status, StatusCode::OK, "{who}");
            let a = &item.body["attributes"];
            assert_eq!(a["color"], "blue", "{who}");
            assert_eq!(
                a["customer_name"],
                if personal { "王五" } else { "***" },
                "{who}"
            );
            assert_eq!(
                a["unit_price"],
                if commercial {
                    json!(4321.5)
                } else {
                    json!("***")
                },
                "{who}"
            );
            let passport = api.get("/api/v1/items/IMPLANT/IM-9001/passport").await;
            assert_eq!(passport.status, StatusCode::OK, "{who}");
            shows_kept(
                &passport.body.to_string(),
                personal,
                commercial,
                &format!("{who} passport"),
            );
            let scan = api.get("/api/v1/scan?code=IM-9001").await;
            assert_eq!(scan.status, StatusCode::OK, "{who}: {:?}", scan.body);
            let text = scan.body.to_string();
            shows(&text, "王五", personal, &format!("{who} scan"));
            shows(&text, "4321.5", commercial, &format!("{who} scan"));
        }
        // A webhook receiver is no reader: it gets none of it.
        let client = sender(&r.state.webhooks).unwrap();
        assert_eq!(webhook::work_once(&r.state, &client).await.unwrap(), 1);
        let bodies = seen.lock().unwrap().clone();
        assert_eq!(bodies.len(), 1);
        shows_kept(&bodies[0], false, false, "webhook");
    }
);
