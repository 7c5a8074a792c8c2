//! Site scoping of writes, on both engines: an account bound to a site records events only at
//! that site or under it — through the operations, the event API and EPCIS capture — and a
//! refusal names each place outside it and writes nothing.

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

store_test!(
    an_account_of_one_site_records_only_there,
    |s: TestStore| async move {
        plant(&*s).await;
        let admin = Api::new(&s).await;
        for l in [
            json!({"code": "DG", "name": "Dongguan plant", "kind": "site"}),
            json!({"code": "DG-L1", "name": "DG line 1", "kind": "line", "parent": "DG"}),
        ] {
            let r = admin.post("/api/v1/locations", l).await;
            assert_eq!(r.status, StatusCode::CREATED, "{:?}", r.body);
        }
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
