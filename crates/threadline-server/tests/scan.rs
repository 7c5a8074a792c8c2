//! One scan parser over HTTP: every form a scanner sends resolves to the same unit; every
//! failure says why. And serial rules previewed and checked without state.

#![allow(clippy::unwrap_used)] // tests unwrap: a panic is the failure report

use std::sync::Arc;

use axum::body::Body;
use axum::http::{Request, StatusCode};
use http_body_util::BodyExt;
use serde_json::{Value, json};
use threadline_domain::access::Role;
use threadline_server::{AppState, FixedClock, app};
use threadline_testkit::fixtures::{at, now, plant, token};
use threadline_testkit::{TestStore, store_test};
use tower::ServiceExt;

/// The app, with an admin token to send.
async fn authed(s: &TestStore) -> (axum::Router, String) {
    let secret = token(&*s.store, "test-admin", &[Role::Admin]).await;
    let router = app(AppState {
        clock: Arc::new(FixedClock(now())),
        ..AppState::new(s.store.clone())
    });
    (router, format!("Bearer {secret}"))
}

async fn call(router: &(axum::Router, String), req: Request<Body>) -> (StatusCode, Value) {
    let mut req = req;
    req.headers_mut().insert(
        axum::http::header::AUTHORIZATION,
        axum::http::HeaderValue::from_str(&router.1).unwrap(),
    );
    let resp = router.0.clone().oneshot(req).await.unwrap();
    let status = resp.status();
    let bytes = resp.into_body().collect().await.unwrap().to_bytes();
    (
        status,
        serde_json::from_slice(&bytes).unwrap_or(Value::Null),
    )
}

fn encode(s: &str) -> String {
    s.bytes()
        .map(|b| {
            if b.is_ascii_alphanumeric() || b"-_.~".contains(&b) {
                (b as char).to_string()
            } else {
                format!("%{b:02X}")
            }
        })
        .collect()
}

async fn scan(router: &(axum::Router, String), code: &str) -> (StatusCode, Value) {
    call(
        router,
        Request::get(format!("/api/v1/scan?code={}", encode(code)))
            .body(Body::empty())
            .unwrap(),
    )
    .await
}

async fn post(router: &(axum::Router, String), uri: &str, body: Value) -> (StatusCode, Value) {
    call(
        router,
        Request::post(uri)
            .header("content-type", "application/json")
            .body(Body::from(body.to_string()))
            .unwrap(),
    )
    .await
}

store_test!(
    every_scanned_form_resolves_to_the_unit,
    |s: TestStore| async move {
        plant(&*s).await;
        let router = authed(&s).await;
        let commission = |product: &str, serial: &str| {
            json!({"type": "object", "action": "ADD", "event_time": at(30), "biz_location": "SZ-L1",
               "items": [{"product": product, "serial": serial}], "ilmd": {"color": "black"}})
        };
        assert_eq!(
            post(&router, "/api/v1/events", commission("PHONE", "S1"))
                .await
                .0,
            StatusCode::CREATED
        );

        for form in [
            "S1",
            "S1\r\n",
            "]d20109521234543213\u{1d}21S1",
            "0109521234543213\u{1d}21S1",
            // A phone camera's reading: no symbology identifier, no separator.
            "010952123454321321S1",
            "(01)09521234543213(21)S1",
            "https://id.gs1.org/01/09521234543213/21/S1",
            "https://brand.example.com/p/01/09521234543213/21/S1?17=271231",
            "urn:epc:id:sgtin:9521234.054321.S1",
        ] {
            let (status, body) = scan(&router, form).await;
            assert_eq!(status, StatusCode::OK, "{form:?}: {body}");
            assert_eq!(body["resolved"]["kind"], "item", "{form:?}");
            assert_eq!(
                (
                    body["resolved"]["item"]["product"].as_str(),
                    body["resolved"]["item"]["serial"].as_str()
                ),
                (Some("PHONE"), Some("S1"))
            );
        }
        let (_, body) = scan(
            &router,
            "https://id.gs1.org/01/09521234543213/21/S1?17=271231",
        )
        .await;
        assert_eq!(body["scan"]["form"], "digital_link");
        assert_eq!(body["scan"]["expiry"], "2027-12-31");

        // The passport, from any scanned form.
        let (status, body) = call(
            &router,
            Request::get(format!(
                "/api/v1/passport?code={}",
                encode("]d20109521234543213\u{1d}21S1")
            ))
            .body(Body::empty())
            .unwrap(),
        )
        .await;
        assert_eq!(status, StatusCode::OK, "{body}");
        assert_eq!(
            body["identity"]["digital_link"],
            "https://id.gs1.org/01/09521234543213/21/S1"
        );
        assert_eq!(body["warranty"]["status"], "not_started");
        assert_eq!(body["timeline"].as_array().unwrap().len(), 1);
        let (status, _) = call(
            &router,
            Request::get("/api/v1/items/PHONE/S1/passport")
                .body(Body::empty())
                .unwrap(),
        )
        .await;
        assert_eq!(status, StatusCode::OK);
        let (status, _) = call(
            &router,
            Request::get("/api/v1/items/PHONE/NOPE/passport")
                .body(Body::empty())
                .unwrap(),
        )
        .await;
        assert_eq!(status, StatusCode::NOT_FOUND);

        // Trace endpoints: a unit with no components traces to nothing; bad or unknown roots are refused.
        let (status, body) = call(
            &router,
            Request::get("/api/v1/trace/backward?product=PHONE&serial=S1")
                .body(Body::empty())
                .unwrap(),
        )
        .await;
        assert_eq!(
            (
                status,
                body["direction"].as_str(),
                body["nodes"].as_array().map(Vec::len)
            ),
            (StatusCode::OK, Some("backward"), Some(0)),
            "{body}"
        );
        let (status, _) = call(
            &router,
            Request::get("/api/v1/trace/forward?product=PHONE&serial=NOPE")
                .body(Body::empty())
                .unwrap(),
        )
        .await;
        assert_eq!(status, StatusCode::NOT_FOUND);
        let (status, body) = call(
            &router,
            Request::get("/api/v1/trace/forward?product=PHONE")
                .body(Body::empty())
                .unwrap(),
        )
        .await;
        assert_eq!(
            (status, body["error"]["field"].as_str()),
            (StatusCode::BAD_REQUEST, Some("serial"))
        );
        let (status, body) = call(
            &router,
            Request::get("/api/v1/trace/backward?product=PHONE&serial=S1&format=xml")
                .body(Body::empty())
                .unwrap(),
        )
        .await;
        assert_eq!(
            (status, body["error"]["field"].as_str()),
            (StatusCode::BAD_REQUEST, Some("format"))
        );

        // Failures say why, and name the field.
        let cases = [
            ("(01)09521234543219(21)S1", StatusCode::UNPROCESSABLE_ENTITY),
            ("(01)04012345111118(21)S1", StatusCode::UNPROCESSABLE_ENTITY),
            ("(01)09521234543213(21)NOPE", StatusCode::NOT_FOUND),
            ("NOPE", StatusCode::NOT_FOUND),
            // An SSCC names a container; none is registered under this one.
            ("(00)123456789012345675", StatusCode::NOT_FOUND),
            ("(99)INTERNAL", StatusCode::UNPROCESSABLE_ENTITY),
        ];
        for (form, expected) in cases {
            let (status, body) = scan(&router, form).await;
            assert_eq!(status, expected, "{form}: {body}");
            assert!(!body["error"]["message"].as_str().unwrap().is_empty());
        }
        let (_, body) = scan(&router, "(01)04012345111118(21)S1").await;
        assert_eq!(
            (
                body["error"]["code"].as_str(),
                body["error"]["field"].as_str()
            ),
            (Some("unknown_gtin"), Some("code"))
        );
        let (_, body) = scan(&router, "(01)09521234543219(21)S1").await;
        assert!(
            body["error"]["message"]
                .as_str()
                .unwrap()
                .contains("check digit"),
            "{body}"
        );

        // The same raw serial in two products cannot be resolved without the product.
        assert_eq!(
            post(&router, "/api/v1/events", commission("BOARD", "S1"))
                .await
                .0,
            StatusCode::CREATED
        );
        let (status, body) = scan(&router, "S1").await;
        assert_eq!(
            (status, body["error"]["code"].as_str()),
            (StatusCode::UNPROCESSABLE_ENTITY, Some("ambiguous_serial"))
        );
        assert!(
            body["error"]["message"]
                .as_str()
                .unwrap()
                .contains("BOARD, PHONE")
        );
        // A GS1 code still names it exactly.
        assert_eq!(
            scan(&router, "(01)09521234543213(21)S1").await.0,
            StatusCode::OK
        );

        // Lots and products.
        let glue = json!({"code": "GLUE", "name": "Glue", "tracking": "lot", "uom": "KGM", "gtin": "04012345111118"});
        assert_eq!(
            post(&router, "/api/v1/products", glue).await.0,
            StatusCode::CREATED
        );
        let receive = json!({"type": "object", "action": "ADD", "event_time": at(20), "biz_location": "SZ-WH-A1",
                         "lots": [{"product": "GLUE", "lot": "G-7", "quantity": "12.5"}]});
        assert_eq!(
            post(&router, "/api/v1/events", receive).await.0,
            StatusCode::CREATED
        );
        let (status, body) = scan(&router, "]C1010401234511111810G-7").await;
        assert_eq!(
            (status, body["resolved"]["kind"].as_str()),
            (StatusCode::OK, Some("lot")),
            "{body}"
        );
        assert_eq!(body["resolved"]["lot"]["stock"][0]["quantity"], "12.5");
        let (status, body) = scan(&router, "urn:epc:class:lgtin:4012345.011111.G-7").await;
        assert_eq!(
            (status, body["resolved"]["kind"].as_str()),
            (StatusCode::OK, Some("lot")),
            "{body}"
        );
        let (_, body) = scan(&router, "https://id.gs1.org/01/04012345111118").await;
        assert_eq!(body["resolved"]["kind"], "product");
    }
);

store_test!(
    serial_rules_preview_and_validate,
    |s: TestStore| async move {
        let router = authed(&s).await;
        let rule = json!({"code": "PJC", "template": "PJC-{YYMMDD}-{LINE}-{SEQ:5}", "time_zone": "+08:00", "sequence_reset": "daily"});
        let (status, body) = post(&router, "/api/v1/serial-rules/preview", json!({
        "rule": rule, "context": {"product": "PHONE", "line": "A01", "at": "2023-12-25T01:00:00Z"}, "count": 3})).await;
        assert_eq!(status, StatusCode::OK, "{body}");
        assert_eq!(
            body["serials"],
            json!([
                "PJC-231225-A01-00001",
                "PJC-231225-A01-00002",
                "PJC-231225-A01-00003"
            ])
        );
        assert!(body["scope"].as_str().unwrap().starts_with("2023-12-25"));

        let (status, body) = post(
            &router,
            "/api/v1/serial-rules/validate",
            json!({"rule": rule, "serial": "PJC-231225-A01-00002"}),
        )
        .await;
        assert_eq!(status, StatusCode::OK, "{body}");
        assert_eq!(
            (body["line"].as_str(), body["sequence"].as_u64()),
            (Some("A01"), Some(2))
        );
        assert_eq!(body["date"]["calendar_date"], "2023-12-25");

        let (status, body) = post(
            &router,
            "/api/v1/serial-rules/validate",
            json!({"rule": rule, "serial": "PJC-231325-A01-00002"}),
        )
        .await;
        assert_eq!(
            (status, body["error"]["field"].as_str()),
            (StatusCode::UNPROCESSABLE_ENTITY, Some("serial")),
            "{body}"
        );

        // A random rule reports its guessing probability; a bad template names its position.
        let random = json!({"code": "RX", "template": "RX{RAND:4:digits}"});
        let (status, body) = post(
            &router,
            "/api/v1/serial-rules/preview",
            json!({"rule": random, "context": {"product": "P"}, "count": 2, "planned": 5000}),
        )
        .await;
        assert_eq!(status, StatusCode::OK, "{body}");
        assert_eq!(body["guessing"]["meets_eu_fmd"], false);
        let bad = json!({"code": "B", "template": "B-{SEQ:0}"});
        let (status, body) = post(
            &router,
            "/api/v1/serial-rules/preview",
            json!({"rule": bad, "context": {"product": "P"}}),
        )
        .await;
        assert_eq!(status, StatusCode::BAD_REQUEST, "{body}");
        assert!(
            body["error"]["message"]
                .as_str()
                .unwrap()
                .contains("position"),
            "{body}"
        );
        let (status, _) = post(
            &router,
            "/api/v1/serial-rules/preview",
            json!({"rule": rule, "context": {"product": "P", "line": "A01"}, "count": 5000}),
        )
        .await;
        assert_eq!(status, StatusCode::BAD_REQUEST);
    }
);
