//! The EPCIS 2.0 binding under `/epcis`, in-process, on both engines.

#![allow(clippy::unwrap_used)]

use std::sync::Arc;

use axum::body::Body;
use axum::http::{Request, StatusCode};
use http_body_util::BodyExt;
use serde_json::{Value, json};
use threadline_domain::access::Role;
use threadline_server::{AppState, FixedClock, app};
use threadline_testkit::fixtures::{now, put, token};
use threadline_testkit::{TestStore, store_test};
use tower::ServiceExt;

const DOC: &str =
    include_str!("../../threadline-epcis/tests/fixtures/epcisDocWithSingleEvent.jsonld");

async fn send(
    router: &axum::Router,
    auth: &str,
    req: Request<Body>,
) -> (StatusCode, axum::http::HeaderMap, Value) {
    let mut req = req;
    req.headers_mut()
        .insert("authorization", auth.parse().unwrap());
    let resp = router.clone().oneshot(req).await.unwrap();
    let (status, headers) = (resp.status(), resp.headers().clone());
    let bytes = resp.into_body().collect().await.unwrap().to_bytes();
    let body = serde_json::from_slice(&bytes)
        .unwrap_or(Value::String(String::from_utf8_lossy(&bytes).into_owned()));
    (status, headers, body)
}

async fn setup(s: &TestStore) -> (axum::Router, String) {
    put(&**s, "product", json!({"code": "PJ-1", "name": "Projector", "gtin": "10614141073464", "tracking": "serial"})).await;
    put(
        &**s,
        "location",
        json!({"code": "0614141073467", "name": "DC", "kind": "site"}),
    )
    .await;
    put(&**s, "location", json!({"code": "0614141073467.1234", "name": "Dock 1234", "kind": "area", "parent": "0614141073467"})).await;
    let state = AppState {
        clock: Arc::new(FixedClock(now())),
        ..AppState::new(s.store.clone())
    };
    let secret = token(&**s, "epcis-admin", &[Role::Admin]).await;
    (app(state), format!("Bearer {secret}"))
}

fn post(uri: &str, ct: &str, body: &str) -> Request<Body> {
    Request::post(uri)
        .header("content-type", ct)
        .body(Body::from(body.to_owned()))
        .unwrap()
}

store_test!(
    captures_a_partner_document_and_reads_it_back_with_its_hash,
    |s: TestStore| async move {
        let (router, auth) = setup(&s).await;
        // The units must exist: commission them through EPCIS too.
        let commission = json!({"@context": ["https://ref.gs1.org/standards/epcis/2.0.0/epcis-context.jsonld"],
        "type": "ObjectEvent", "eventTime": "2022-02-16T08:00:00-06:00", "eventTimeZoneOffset": "-06:00",
        "epcList": ["https://id.gs1.org/01/10614141073464/21/2017", "https://id.gs1.org/01/10614141073464/21/2018"],
        "action": "ADD", "bizStep": "commissioning", "disposition": "sellable_not_accessible",
        "bizLocation": {"id": "urn:epc:id:sgln:0614141.07346.0"}});
        let (st, h, _) = send(
            &router,
            &auth,
            post(
                "/epcis/events",
                "application/ld+json",
                &commission.to_string(),
            ),
        )
        .await;
        assert_eq!(st, StatusCode::CREATED);
        assert!(
            h["location"]
                .to_str()
                .unwrap()
                .starts_with("/epcis/events/ni%3A%2F%2F%2Fsha-256")
        );

        let before = s.store.verify().await.unwrap().entries;
        let (st, h, _) = send(
            &router,
            &auth,
            post("/epcis/capture", "application/ld+json", DOC),
        )
        .await;
        assert_eq!(st, StatusCode::ACCEPTED);
        assert_eq!(h["gs1-epcis-version"], "2.0.0");
        let job = h["location"].to_str().unwrap().to_owned();
        let (st, _, job) = send(
            &router,
            &auth,
            Request::get(&job).body(Body::empty()).unwrap(),
        )
        .await;
        assert_eq!(st, StatusCode::OK);
        assert_eq!(job["success"], true, "{job}");
        assert_eq!(s.store.verify().await.unwrap().entries, before + 1);

        let (st, _, doc) = send(
            &router,
            &auth,
            Request::get(
                "/epcis/events?EQ_bizStep=shipping&MATCH_epc=urn:epc:id:sgtin:0614141.107346.2017",
            )
            .body(Body::empty())
            .unwrap(),
        )
        .await;
        assert_eq!(st, StatusCode::OK, "{doc}");
        let list = doc["epcisBody"]["queryResults"]["resultsBody"]["eventList"]
            .as_array()
            .unwrap();
        assert_eq!(list.len(), 1);
        assert_eq!(
            list[0]["eventID"],
            "ni:///sha-256;ffa491b16867e34a7791a8d5389d826afc24e63a121026b6a4004ace38631b4b?ver=CBV2.0"
        );
        assert_eq!(
            list[0]["readPoint"]["id"],
            "https://id.gs1.org/414/0614141073467/254/1234"
        );
    }
);

store_test!(
    bad_documents_are_refused_naming_the_field_and_nothing_is_written,
    |s: TestStore| async move {
        let (router, auth) = setup(&s).await;
        let before = s.store.verify().await.unwrap().entries;
        let bad = DOC.replace("\"shipping\"", "\"shipping_by_drone\"");
        let (st, h, body) = send(
            &router,
            &auth,
            post("/epcis/capture", "application/ld+json", &bad),
        )
        .await;
        assert_eq!(st, StatusCode::BAD_REQUEST);
        assert_eq!(h["content-type"], "application/problem+json");
        assert_eq!(body["type"], "epcisException:ValidationException");
        let fields: Vec<&str> = body["errors"]
            .as_array()
            .unwrap()
            .iter()
            .filter_map(|e| e["field"].as_str())
            .collect();
        assert!(fields.contains(&"epcisBody.eventList[0].bizStep"), "{body}");
        assert_eq!(s.store.verify().await.unwrap().entries, before);

        let (st, _, body) = send(
            &router,
            &auth,
            Request::get("/epcis/events?EQ_nonsense=1")
                .body(Body::empty())
                .unwrap(),
        )
        .await;
        assert_eq!(st, StatusCode::BAD_REQUEST);
        assert_eq!(body["type"], "epcisException:QueryParameterException");
        assert_eq!(body["errors"][0]["field"], "EQ_nonsense");
    }
);
