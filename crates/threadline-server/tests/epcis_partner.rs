//! A partner's EPCIS documents name what Threadline never saw: their own products (GTINs no
//! product holds), and serials and lots of Threadline's products that were made or registered
//! elsewhere. Captured through the EPCIS binding, on both engines: the first are recorded as
//! given and found by their identifiers; the second are registered on first use with the
//! state the partner's event gives them and a discrepancy saying so. Threadline's own API
//! stays strict, and malformed identifiers are still refused by field.

#![allow(clippy::unwrap_used)]

use std::sync::Arc;

use axum::body::Body;
use axum::http::{Request, StatusCode};
use http_body_util::BodyExt;
use serde_json::{Value, json};
use threadline_domain::access::Role;
use threadline_domain::codes::{ItemKey, LotCode, LotKey, ProductCode, Serial};
use threadline_domain::projection::ItemStatus;
use threadline_epcis::{Document, hash_id};
use threadline_server::{AppState, FixedClock, app};
use threadline_testkit::fixtures::{now, put, token};
use threadline_testkit::{TestStore, store_test};
use tower::ServiceExt;

const CONTEXT: &str = "https://ref.gs1.org/standards/epcis/2.0.0/epcis-context.jsonld";

/// Threadline's projector (GTIN 10614141073464, serial) and resin (GTIN 04012345999884, lot).
const PJ: &str = "PJ-1";
const RESIN: &str = "RESIN";
/// A partner's own product: no product holds GTIN 04012345111118.
const THEIRS: &str = "urn:epc:id:sgtin:4012345.011111.1";
const THEIRS_DL: &str = "https://id.gs1.org/01/04012345111118/21/1";
const THEIR_LOT: &str = "urn:epc:class:lgtin:4012345.011111.L7";

struct Server {
    router: axum::Router,
    auth: String,
}

impl Server {
    async fn new(s: &TestStore) -> Server {
        let state = AppState {
            clock: Arc::new(FixedClock(now())),
            ..AppState::new(s.store.clone())
        };
        let secret = token(&**s, "epcis-partner", &[Role::Admin]).await;
        Server {
            router: app(state),
            auth: format!("Bearer {secret}"),
        }
    }

    async fn send(&self, mut req: Request<Body>) -> (StatusCode, axum::http::HeaderMap, String) {
        req.headers_mut()
            .insert("authorization", self.auth.parse().unwrap());
        let resp = self.router.clone().oneshot(req).await.unwrap();
        let (status, headers) = (resp.status(), resp.headers().clone());
        let bytes = resp.into_body().collect().await.unwrap().to_bytes();
        (
            status,
            headers,
            String::from_utf8_lossy(&bytes).into_owned(),
        )
    }

    /// Captures a document (`rollback`) and answers its finished capture job.
    async fn capture(&self, body: &str) -> Value {
        let req = Request::post("/epcis/capture")
            .header("content-type", "application/ld+json")
            .header("GS1-Capture-Error-Behaviour", "rollback")
            .body(Body::from(body.to_owned()))
            .unwrap();
        let (st, h, body) = self.send(req).await;
        assert_eq!(st, StatusCode::ACCEPTED, "{body}");
        let job = h["location"].to_str().unwrap().to_owned();
        let (st, _, job) = self
            .send(Request::get(&job).body(Body::empty()).unwrap())
            .await;
        assert_eq!(st, StatusCode::OK);
        serde_json::from_str(&job).unwrap()
    }

    async fn get(&self, uri: &str) -> (StatusCode, String) {
        let (st, _, body) = self
            .send(Request::get(uri).body(Body::empty()).unwrap())
            .await;
        (st, body)
    }

    /// The events a Simple Event Query parameter selects, as a partner reads them (JSON-LD).
    async fn matching(&self, param: &str, value: &str) -> Document {
        let v = percent_encoding::utf8_percent_encode(value, percent_encoding::NON_ALPHANUMERIC);
        let (st, body) = self.get(&format!("/epcis/events?{param}={v}")).await;
        assert_eq!(st, StatusCode::OK, "{body}");
        threadline_epcis::parse_document(body.as_bytes()).unwrap()
    }
}

/// The products, the place `SZ` and the party `ACME` the tests' events name.
async fn master_data(s: &TestStore) {
    for p in [
        json!({"code": PJ, "name": "Projector", "gtin": "10614141073464", "tracking": "serial"}),
        json!({"code": RESIN, "name": "Resin", "gtin": "04012345999884", "tracking": "lot", "uom": "KGM"}),
    ] {
        put(&**s, "product", p).await;
    }
    put(
        &**s,
        "location",
        json!({"code": "SZ", "name": "Shenzhen", "kind": "site"}),
    )
    .await;
    put(
        &**s,
        "party",
        json!({"code": "ACME", "name": "Acme", "kind": "supplier"}),
    )
    .await;
}

fn document(events: Vec<Value>) -> String {
    json!({"@context": [CONTEXT], "type": "EPCISDocument", "schemaVersion": "2.0",
        "creationDate": "2026-05-31T12:00:00Z", "epcisBody": {"eventList": events}})
    .to_string()
}

/// A partner's shipping of `epcs` and `quantities` from `SZ` to `ACME`.
fn shipping(epcs: &[&str], quantities: Value) -> Value {
    let mut ev = json!({"type": "ObjectEvent", "eventTime": "2026-05-30T08:00:00Z",
        "eventTimeZoneOffset": "+08:00", "action": "OBSERVE", "bizStep": "shipping",
        "disposition": "in_transit", "epcList": epcs,
        "bizLocation": {"id": "urn:threadline:loc:SZ"},
        "destinationList": [{"type": "owning_party", "destination": "urn:threadline:party:ACME"}]});
    if quantities.as_array().is_some_and(|q| !q.is_empty()) {
        ev["quantityList"] = quantities;
    }
    ev
}

fn parsed(body: &str) -> Document {
    threadline_epcis::parse_document(body.as_bytes()).unwrap()
}

/// An event's EPCs and quantity classes (with their quantities), in canonical form.
fn identifiers(ev: &serde_json::Map<String, Value>) -> Vec<(String, Value)> {
    let canon = |u: &Value| {
        let u = u.as_str().unwrap();
        threadline_epcis::ids::canonical_gs1_uri(u).unwrap_or_else(|| u.to_owned())
    };
    let epcs = ev["epcList"]
        .as_array()
        .unwrap()
        .iter()
        .map(|u| (canon(u), Value::Null));
    let classes = ev["quantityList"]
        .as_array()
        .unwrap()
        .iter()
        .map(|q| (canon(&q["epcClass"]), q["quantity"].clone()));
    epcs.chain(classes).collect()
}

fn ids_of(d: &Document) -> Vec<String> {
    d.events
        .iter()
        .map(|e| e["eventID"].as_str().unwrap().to_owned())
        .collect()
}

store_test!(
    a_partners_own_product_is_recorded_as_given_and_found_by_its_identifiers,
    |s: TestStore| async move {
        master_data(&s).await;
        let server = Server::new(&s).await;
        let ev = shipping(
            &[THEIRS, "https://id.gs1.org/01/04012345111118/21/2"],
            json!([{"epcClass": THEIR_LOT, "quantity": 3},
                {"epcClass": "https://id.gs1.org/01/04012345111118", "quantity": 2}]),
        );
        let body = document(vec![ev]);
        let sent = parsed(&body);
        let hash = hash_id(&sent.events[0], &sent.context);
        let job = server.capture(&body).await;
        assert_eq!(job["success"], true, "{job:#}");
        assert!(
            job["discrepancies"].as_array().is_none_or(Vec::is_empty),
            "{job:#}"
        );

        // Found by each of its identifiers, in either form, and by pattern.
        for (param, value) in [
            ("MATCH_epc", THEIRS),
            ("MATCH_epc", THEIRS_DL),
            ("MATCH_anyEPC", THEIRS),
            ("MATCH_epc", "urn:epc:idpat:sgtin:4012345.011111.*"),
            ("MATCH_epcClass", THEIR_LOT),
            (
                "MATCH_anyEPCClass",
                "https://id.gs1.org/01/04012345111118/10/L7",
            ),
            ("MATCH_epcClass", "https://id.gs1.org/01/04012345111118"),
        ] {
            let found = server.matching(param, value).await;
            assert_eq!(
                ids_of(&found),
                std::slice::from_ref(&hash),
                "{param}={value}"
            );
            // Read back as it was sent (in Digital Link form, the default `GS1-EPC-Format`),
            // under the same hash ID.
            let back = &found.events[0];
            assert_eq!(identifiers(back), identifiers(&sent.events[0]));
            assert_eq!(hash_id(back, &found.context), hash, "{param}={value}");
        }
        // Exactly as sent where the reader asks for it.
        let v = percent_encoding::utf8_percent_encode(THEIRS, percent_encoding::NON_ALPHANUMERIC);
        let (st, _, body) = server
            .send(
                Request::get(format!("/epcis/events?MATCH_epc={v}"))
                    .header("GS1-EPC-Format", "Never_Translates")
                    .body(Body::empty())
                    .unwrap(),
            )
            .await;
        assert_eq!(st, StatusCode::OK, "{body}");
        let back = parsed(&body);
        assert_eq!(back.events[0]["epcList"], sent.events[0]["epcList"]);
        assert_eq!(
            back.events[0]["quantityList"],
            sent.events[0]["quantityList"]
        );
        // Another serial of theirs, or a unit of Threadline's own product, is not in it.
        for (param, value) in [
            ("MATCH_epc", "urn:epc:id:sgtin:4012345.011111.3"),
            ("MATCH_epc", "urn:epc:id:sgtin:0614141.107346.1"),
            ("MATCH_epcClass", "urn:epc:class:lgtin:4012345.011111.L8"),
        ] {
            assert!(
                server.matching(param, value).await.events.is_empty(),
                "{param}={value}"
            );
        }
        // No unit, lot or product came of it.
        let snap = s.store.snapshot().await.unwrap();
        assert!(snap.items.is_empty(), "{:?}", snap.items);
        assert!(snap.lots.is_empty(), "{:?}", snap.lots);
        assert_eq!(snap.products.len(), 2);
        s.store.rebuild().await.unwrap();
        assert_eq!(s.store.snapshot().await.unwrap(), snap);
        assert_eq!(ids_of(&server.matching("MATCH_epc", THEIRS).await), [hash]);
    }
);

store_test!(
    a_partners_product_registered_later_still_finds_the_events_recorded_as_given,
    |s: TestStore| async move {
        master_data(&s).await;
        let server = Server::new(&s).await;
        let ev = shipping(&[THEIRS], json!([{"epcClass": THEIR_LOT, "quantity": 3}]));
        let body = document(vec![ev]);
        let sent = parsed(&body);
        let hash = hash_id(&sent.events[0], &sent.context);
        let job = server.capture(&body).await;
        assert_eq!(job["success"], true, "{job:#}");

        // The plant takes the partner's product on, under the GTIN the event used: a serial
        // of it and a lot of it now name what Threadline tracks — and the event recorded
        // before is still theirs.
        put(
            &*s,
            "product",
            json!({"code": "THEIRS", "name": "Their module", "gtin": "04012345111118", "tracking": "serial"}),
        )
        .await;
        let queries = [
            ("MATCH_epc", THEIRS),
            ("MATCH_epc", THEIRS_DL),
            ("MATCH_anyEPC", THEIRS),
            ("MATCH_epcClass", THEIR_LOT),
            ("MATCH_anyEPCClass", THEIR_LOT),
            ("MATCH_epcClass", "https://id.gs1.org/01/04012345111118"),
        ];
        for (param, value) in queries {
            assert_eq!(
                ids_of(&server.matching(param, value).await),
                std::slice::from_ref(&hash),
                "{param}={value}"
            );
        }
        // Another serial of the product is not in it.
        assert!(
            server
                .matching("MATCH_epc", "urn:epc:id:sgtin:4012345.011111.3")
                .await
                .events
                .is_empty()
        );
        // Nor did the registration make a unit of the serial the event named.
        assert!(s.store.snapshot().await.unwrap().items.is_empty());
        s.store.rebuild().await.unwrap();
        for (param, value) in queries {
            assert_eq!(
                ids_of(&server.matching(param, value).await),
                std::slice::from_ref(&hash),
                "after rebuild: {param}={value}"
            );
        }
    }
);

store_test!(
    a_serial_and_a_lot_a_partner_ships_first_are_registered_from_its_event_with_a_discrepancy,
    |s: TestStore| async move {
        master_data(&s).await;
        let server = Server::new(&s).await;
        let unit = ItemKey {
            product: ProductCode::parse(PJ).unwrap(),
            serial: Serial::parse("9001").unwrap(),
        };
        let lot = LotKey {
            product: ProductCode::parse(RESIN).unwrap(),
            lot: LotCode::parse("L1").unwrap(),
        };

        // Threadline's own API refuses the same shipping: nothing written.
        let before = s.store.verify().await.unwrap().entries;
        let own = json!({"type": "object", "action": "OBSERVE",
            "event_time": "2026-05-30T08:00:00+08:00", "biz_step": "shipping",
            "disposition": "in_transit", "biz_location": "SZ",
            "items": [{"product": PJ, "serial": "9001"}]});
        let (st, _, body) = server
            .send(
                Request::post("/api/v1/events")
                    .header("content-type", "application/json")
                    .body(Body::from(own.to_string()))
                    .unwrap(),
            )
            .await;
        assert_eq!(st, StatusCode::UNPROCESSABLE_ENTITY, "{body}");
        let refused: Value = serde_json::from_str(&body).unwrap();
        let codes: Vec<(&str, &str)> = refused["errors"]
            .as_array()
            .unwrap()
            .iter()
            .map(|e| (e["code"].as_str().unwrap(), e["field"].as_str().unwrap()))
            .collect();
        assert_eq!(codes, [("unknown_serial", "items[0].serial")], "{body}");
        assert_eq!(s.store.verify().await.unwrap().entries, before);
        assert!(s.store.item(&unit).await.unwrap().is_none());

        // A partner's shipping of the same serial and a lot Threadline never registered.
        let ev = shipping(
            &["urn:epc:id:sgtin:0614141.107346.9001"],
            json!([{"epcClass": "urn:epc:class:lgtin:4012345.099988.L1", "quantity": 5, "uom": "KGM"}]),
        );
        let body = document(vec![ev]);
        let sent = parsed(&body);
        let hash = hash_id(&sent.events[0], &sent.context);
        let job = server.capture(&body).await;
        assert_eq!(job["success"], true, "{job:#}");
        let listed: Vec<(&str, &str)> = job["discrepancies"]
            .as_array()
            .unwrap()
            .iter()
            .map(|d| (d["title"].as_str().unwrap(), d["field"].as_str().unwrap()))
            .collect();
        assert_eq!(
            listed,
            [
                ("unknown_serial", "epcisBody.eventList[0].epcList[0]"),
                (
                    "unknown_lot",
                    "epcisBody.eventList[0].quantityList[0].epcClass"
                )
            ],
            "{job:#}"
        );
        assert!(
            job["discrepancies"][0]["detail"]
                .as_str()
                .unwrap()
                .contains("first seen in a partner's event"),
            "{job:#}"
        );
        assert_eq!(job["discrepancies"][0]["eventID"], hash.as_str());
        assert_eq!(s.store.verify().await.unwrap().entries, before + 1);

        // The unit has the state the event gives it; the lot exists, with no stock.
        let got = s.store.item(&unit).await.unwrap().unwrap();
        assert_eq!(got.status, ItemStatus::InTransit);
        assert_eq!(got.location.as_deref(), Some("SZ"));
        assert_eq!(got.custodian.as_deref(), Some("ACME"));
        let l = s.store.lot(&lot).await.unwrap().unwrap();
        assert!(l.stock.is_empty(), "{:?}", l.stock);

        // The passport lists the discrepancy on the event, in the reader's language.
        let (st, passport) = server.get("/api/v1/items/PJ-1/9001/passport").await;
        assert_eq!(st, StatusCode::OK, "{passport}");
        let passport: Value = serde_json::from_str(&passport).unwrap();
        let marked: Vec<&Value> = passport["timeline"]
            .as_array()
            .unwrap()
            .iter()
            .filter(|e| e.get("discrepancies").is_some())
            .collect();
        assert_eq!(marked.len(), 1, "{passport:#}");
        assert_eq!(marked[0]["discrepancies"][0]["code"], "unknown_serial");
        for (lang, sentence) in [
            (
                "en",
                "Serial first seen in a partner&#39;s event: Threadline did not see it made",
            ),
            ("zh", "序列号首次出现在合作方的事件中：系统未见其生产"),
        ] {
            let (st, page) = server
                .get(&format!("/unit?lang={lang}&product=PJ-1&serial=9001"))
                .await;
            assert_eq!(st, StatusCode::OK);
            assert!(
                page.contains(sentence) || page.contains(&sentence.replace("&#39;", "'")),
                "{page}"
            );
        }

        // Read back as sent, under the same hash ID.
        let found = server
            .matching("MATCH_epc", "https://id.gs1.org/01/10614141073464/21/9001")
            .await;
        assert_eq!(ids_of(&found), std::slice::from_ref(&hash));
        assert_eq!(hash_id(&found.events[0], &found.context), hash);

        // A rebuild registers them again, with the same discrepancies.
        let recorded = s.store.snapshot().await.unwrap();
        assert_eq!(recorded.discrepancies.len(), 2);
        s.store.rebuild().await.unwrap();
        assert_eq!(s.store.snapshot().await.unwrap(), recorded);

        // Now registered, the unit's next step from the partner is no discrepancy.
        let receiving = json!({"type": "ObjectEvent", "eventTime": "2026-05-31T08:00:00Z",
            "eventTimeZoneOffset": "+08:00", "action": "OBSERVE", "bizStep": "receiving",
            "disposition": "in_progress", "epcList": ["urn:epc:id:sgtin:0614141.107346.9001"],
            "bizLocation": {"id": "urn:threadline:loc:SZ"}});
        let job = server.capture(&document(vec![receiving])).await;
        assert_eq!(job["success"], true, "{job:#}");
        assert!(
            job["discrepancies"].as_array().is_none_or(Vec::is_empty),
            "{job:#}"
        );
    }
);

store_test!(
    malformed_identifiers_are_still_refused_by_field_with_nothing_written,
    |s: TestStore| async move {
        master_data(&s).await;
        let server = Server::new(&s).await;
        let before = s.store.verify().await.unwrap().entries;
        let events = vec![
            // A GTIN whose check digit is wrong.
            shipping(&["https://id.gs1.org/01/04012345111119/21/1"], json!([])),
            // An SGTIN URN without its serial.
            shipping(&["urn:epc:id:sgtin:4012345.011111"], json!([])),
            // A lot class of a partner's GTIN, its check digit wrong.
            shipping(
                &[],
                json!([{"epcClass": "https://id.gs1.org/01/04012345111119/10/L7", "quantity": 1}]),
            ),
            // Not a URI at all.
            shipping(&["their pallet 7"], json!([])),
        ];
        let (st, _, body) = server
            .send(
                Request::post("/epcis/capture")
                    .header("content-type", "application/ld+json")
                    .body(Body::from(document(events)))
                    .unwrap(),
            )
            .await;
        assert_eq!(st, StatusCode::BAD_REQUEST, "{body}");
        let body: Value = serde_json::from_str(&body).unwrap();
        let got: Vec<(String, String)> = body["errors"]
            .as_array()
            .unwrap()
            .iter()
            .map(|e| {
                (
                    e["field"].as_str().unwrap().to_owned(),
                    e["code"].as_str().unwrap().to_owned(),
                )
            })
            .collect();
        let l = "epcisBody.eventList";
        for (field, code) in [
            (format!("{l}[0].epcList[0]"), "invalid_check_digit"),
            (format!("{l}[1].epcList[0]"), "invalid_epc_urn"),
            (
                format!("{l}[2].quantityList[0].epcClass"),
                "invalid_check_digit",
            ),
            (format!("{l}[3].epcList[0]"), "invalid_identifier"),
        ] {
            assert!(
                got.contains(&(field.clone(), code.to_owned())),
                "{field} {code}: {body:#}"
            );
        }
        assert_eq!(s.store.verify().await.unwrap().entries, before);
        let snap = s.store.snapshot().await.unwrap();
        assert!(snap.items.is_empty() && snap.lots.is_empty());
    }
);
