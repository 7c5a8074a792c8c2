//! Site scoping, on both engines: an account bound to a site records events only at that site
//! or under it — through the operations, the event API and EPCIS capture — and a refusal names
//! each place outside it and writes nothing; it reads only the units that were there and the
//! events that happened there, anything else "not found".

#![allow(clippy::unwrap_used)] // tests unwrap: a panic is the failure report

mod common;

use axum::body::Body;
use axum::http::{Request, StatusCode};
use common::Api;
use serde_json::{Value, json};
use threadline_testkit::fixtures::{at, plant};
use threadline_testkit::{TestStore, store_test};

async fn entries(api: &Api) -> i64 {
    api.get("/api/v1/ledger/verify").await.body["entries"]
        .as_i64()
        .unwrap()
}

fn field_codes(body: &Value) -> Vec<(String, String)> {
    body["errors"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| {
            (
                e["code"].as_str().unwrap_or_default().to_owned(),
                e["field"].as_str().unwrap_or_default().to_owned(),
            )
        })
        .collect()
}

/// A second site, DG, with a line.
async fn second_site(admin: &Api) {
    for l in [
        json!({"code": "DG", "name": "Dongguan plant", "kind": "site"}),
        json!({"code": "DG-L1", "name": "DG line 1", "kind": "line", "parent": "DG"}),
    ] {
        let r = admin.post("/api/v1/locations", l).await;
        assert_eq!(r.status, StatusCode::CREATED, "{:?}", r.body);
    }
}

store_test!(
    an_account_of_one_site_records_only_there,
    |s: TestStore| async move {
        plant(&*s).await;
        let admin = Api::new(&s).await;
        second_site(&admin).await;
        let r = admin
            .post(
                "/api/v1/tokens",
                json!({"name": "sz-line", "roles": ["production", "warehouse"], "site": "SZ"}),
            )
            .await;
        assert_eq!(r.status, StatusCode::CREATED, "{:?}", r.body);
        let sz = Api {
            router: admin.router.clone(),
            auth: format!("Bearer {}", r.body["secret"].as_str().unwrap()),
        };

        // At its own site (a line under SZ): recorded.
        let r = sz
            .post(
                "/api/v1/ops/commission",
                json!({"time": at(60), "product": "PHONE", "serials": ["P1"], "work_order": "WO-1", "line": "SZ-L1", "attributes": {"color": "black"}}),
            )
            .await;
        assert_eq!(r.status, StatusCode::CREATED, "{:?}", r.body);
        let before = entries(&admin).await;

        // At another site: refused through the operation, naming its own field.
        let r = sz
            .post(
                "/api/v1/ops/commission",
                json!({"time": at(50), "product": "PHONE", "serials": ["P2"], "work_order": "WO-2", "line": "DG-L1", "attributes": {"color": "black"}}),
            )
            .await;
        assert_eq!(r.status, StatusCode::FORBIDDEN, "{:?}", r.body);
        assert_eq!(
            field_codes(&r.body),
            [("outside_site".to_owned(), "line".to_owned())]
        );
        assert!(
            r.body["error"]["message"]
                .as_str()
                .unwrap()
                .contains("site SZ"),
            "{:?}",
            r.body
        );
        // A batch of events names each event outside; none is written.
        let r = sz
            .post(
                "/api/v1/events",
                json!([
                    {"type": "object", "action": "OBSERVE", "event_time": at(40), "biz_step": "storing",
                     "biz_location": "SZ-WH-A1", "items": [{"product": "PHONE", "serial": "P1"}]},
                    {"type": "object", "action": "OBSERVE", "event_time": at(40), "biz_step": "storing",
                     "biz_location": "DG-L1", "read_point": "DG", "items": [{"product": "PHONE", "serial": "P1"}]}
                ]),
            )
            .await;
        assert_eq!(r.status, StatusCode::FORBIDDEN, "{:?}", r.body);
        assert_eq!(
            field_codes(&r.body),
            [
                (
                    "outside_site".to_owned(),
                    "events[1].biz_location".to_owned()
                ),
                ("outside_site".to_owned(), "events[1].read_point".to_owned())
            ]
        );
        // EPCIS capture of one event at the other site: a SecurityException naming bizLocation.
        let ev = json!({"@context": ["https://ref.gs1.org/standards/epcis/2.0.0/epcis-context.jsonld"],
            "type": "ObjectEvent", "eventTime": "2026-06-01T10:00:00Z", "eventTimeZoneOffset": "+00:00",
            "epcList": ["https://id.gs1.org/01/09521234543213/21/P1"], "action": "OBSERVE", "bizStep": "storing",
            "bizLocation": {"id": "urn:threadline:loc:DG-L1"}});
        let r = sz
            .send(
                Request::post("/epcis/events")
                    .header("content-type", "application/ld+json")
                    .body(Body::from(ev.to_string()))
                    .unwrap(),
            )
            .await;
        assert_eq!(r.status, StatusCode::FORBIDDEN, "{:?}", r.body);
        assert!(
            r.body.to_string().contains("bizLocation.id"),
            "{:?}",
            r.body
        );
        assert_eq!(entries(&admin).await, before);

        // An account without a site records anywhere.
        let r = admin
            .post(
                "/api/v1/ops/commission",
                json!({"time": at(30), "product": "PHONE", "serials": ["P2"], "work_order": "WO-2", "line": "DG-L1", "attributes": {"color": "black"}}),
            )
            .await;
        assert_eq!(r.status, StatusCode::CREATED, "{:?}", r.body);
    }
);

store_test!(
    an_account_of_one_site_reads_only_what_was_there,
    |s: TestStore| async move {
        plant(&*s).await;
        let admin = Api::new(&s).await;
        second_site(&admin).await;
        let r = admin
            .post(
                "/api/v1/tokens",
                json!({"name": "dg-audit", "roles": ["auditor"], "site": "DG"}),
            )
            .await;
        assert_eq!(r.status, StatusCode::CREATED, "{:?}", r.body);
        let dg = Api {
            router: admin.router.clone(),
            auth: format!("Bearer {}", r.body["secret"].as_str().unwrap()),
        };
        // P1 and P2 made at SZ in one event, P3 at DG; then P2 goes to DG.
        for (serials, line) in [(json!(["P1", "P2"]), "SZ-L1"), (json!(["P3"]), "DG-L1")] {
            let r = admin
                .post(
                    "/api/v1/ops/commission",
                    json!({"time": at(60), "product": "PHONE", "serials": serials, "work_order": "WO-1",
                           "line": line, "attributes": {"color": "black"}}),
                )
                .await;
            assert_eq!(r.status, StatusCode::CREATED, "{:?}", r.body);
        }
        let r = admin
            .post(
                "/api/v1/events",
                json!({"type": "object", "action": "OBSERVE", "event_time": at(30), "biz_step": "inspecting",
                       "biz_location": "DG-L1", "items": [{"product": "PHONE", "serial": "P2"}]}),
            )
            .await;
        assert_eq!(r.status, StatusCode::CREATED, "{:?}", r.body);
        let sz_made = admin.get("/api/v1/events?product=PHONE&serial=P1").await;
        let sz_event = sz_made.body["items"][0]["id"].as_str().unwrap().to_owned();

        // A unit never at DG answers like one that does not exist: item, passport, its events.
        let missing = dg.get("/api/v1/items/PHONE/NOPE").await;
        assert_eq!(missing.status, StatusCode::NOT_FOUND);
        for uri in [
            "/api/v1/items/PHONE/P1",
            "/api/v1/items/PHONE/P1/passport",
            "/api/v1/events?product=PHONE&serial=P1",
            "/api/v1/passport?code=P1",
        ] {
            let r = dg.get(uri).await;
            assert_eq!(r.status, StatusCode::NOT_FOUND, "{uri}: {:?}", r.body);
            assert_eq!(r.body["error"]["code"], "not_found", "{uri}");
        }
        let r = dg.get(&format!("/api/v1/events/{sz_event}")).await;
        assert_eq!(r.status, StatusCode::NOT_FOUND, "{:?}", r.body);
        let page = dg.get("/unit?product=PHONE&serial=P1&lang=en").await;
        let text = page.body.as_str().unwrap();
        assert!(
            text.contains("id=\"not-found\"") && !text.contains("id=\"timeline\""),
            "{text}"
        );
        let page = dg.get("/unit?product=PHONE&serial=P3&lang=en").await;
        assert!(!page.body.as_str().unwrap().contains("id=\"not-found\""));
        // The same reads by an account bound to no site find it.
        assert_eq!(
            admin.get("/api/v1/items/PHONE/P1").await.status,
            StatusCode::OK
        );

        // Made there, or brought there: found, with its whole history of that unit alone.
        assert_eq!(
            dg.get("/api/v1/items/PHONE/P3").await.status,
            StatusCode::OK
        );
        let r = dg.get("/api/v1/items/PHONE/P2/passport").await;
        assert_eq!(r.status, StatusCode::OK, "{:?}", r.body);
        let timeline = r.body["timeline"].as_array().unwrap();
        assert_eq!(timeline.len(), 2, "{timeline:?}");
        let named = serde_json::to_string(timeline).unwrap();
        assert!(
            named.contains("\"P2\"") && !named.contains("\"P1\""),
            "the SZ commissioning names P2 alone: {named}"
        );
        let r = dg.get("/api/v1/events?product=PHONE&serial=P2").await;
        assert_eq!(r.status, StatusCode::OK, "{:?}", r.body);
        assert_eq!(r.body["items"].as_array().unwrap().len(), 2);

        // The event list without a unit: what happened at DG only.
        let r = dg.get("/api/v1/events?limit=100").await;
        assert_eq!(r.status, StatusCode::OK, "{:?}", r.body);
        let places: Vec<&str> = r.body["items"]
            .as_array()
            .unwrap()
            .iter()
            .map(|e| e["biz_location"].as_str().unwrap())
            .collect();
        assert_eq!(places, ["DG-L1", "DG-L1"], "{:?}", r.body);
        let all = admin.get("/api/v1/events?limit=100").await;
        assert_eq!(all.body["items"].as_array().unwrap().len(), 3);
    }
);
