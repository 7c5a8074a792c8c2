//! The scan station's verdict (`GET /api/v1/scan/check`) on both engines: each reason a scan is
//! refused at the station, and that the operations it submits honour `Idempotency-Key`, so a
//! batch re-sent after a lost answer is recorded once.

#![allow(clippy::unwrap_used)] // tests unwrap: a panic is the failure report

mod common;

use axum::body::Body;
use axum::http::{Request, StatusCode};
use common::Api;
use serde_json::{Value, json};
use threadline_testkit::fixtures::plant;
use threadline_testkit::{TestStore, store_test};

async fn verdict(api: &Api, op: &str, code: &str, product: Option<&str>) -> Value {
    let mut uri = format!("/api/v1/scan/check?operation={op}&code={code}");
    if let Some(p) = product {
        uri.push_str(&format!("&product={p}"));
    }
    let r = api.get(&uri).await;
    assert_eq!(r.status, StatusCode::OK, "{uri}: {:?}", r.body);
    r.body
}

fn reason(v: &Value) -> (&str, bool) {
    (
        v["reason"].as_str().unwrap(),
        v["accepted"].as_bool().unwrap(),
    )
}

store_test!(
    each_scan_gets_a_verdict_with_its_reason,
    |s: TestStore| async move {
        plant(&*s).await;
        let api = Api::new(&s).await;
        let r = api
            .post(
                "/api/v1/ops/receive",
                json!({"supplier": "SUP1", "purchase_order": "PO-1", "location": "SZ-WH-A1",
                   "lines": [{"product": "BOARD", "serials": ["B1", "B2", "B3"]}]}),
            )
            .await;
        assert_eq!(r.status, StatusCode::CREATED, "{:?}", r.body);
        let r = api
        .post(
            "/api/v1/ops/hold",
            json!({"kind": "qc", "items": [{"product": "BOARD", "serial": "B2"}], "reason": "suspect"}),
        )
        .await;
        assert_eq!(r.status, StatusCode::CREATED, "{:?}", r.body);
        let r = api
        .post(
            "/api/v1/ops/commission",
            json!({"product": "BOARD", "serials": ["B5"], "work_order": "WO-1", "line": "SZ-L1"}),
        )
        .await;
        assert_eq!(r.status, StatusCode::CREATED, "{:?}", r.body);
        let before = api.ledger_len().await;

        // New serials: commissioning and receipt want serials not registered yet, of the product.
        let v = verdict(&api, "commission", "B9", Some("BOARD")).await;
        assert_eq!(reason(&v), ("accepted", true));
        assert_eq!(v["unit"], json!({"product": "BOARD", "serial": "B9"}));
        let v = verdict(&api, "commission", "B1", Some("BOARD")).await;
        assert_eq!(reason(&v), ("already_registered", false));
        assert_eq!(v["status"], "in_stock");
        assert_eq!(
            reason(&verdict(&api, "commission", "B9", None).await),
            ("choose_product", false)
        );
        // A GS1 element string names its product by GTIN: a PHONE is not a BOARD.
        let gs1 = "(01)09521234543213(21)PX1";
        assert_eq!(
            reason(&verdict(&api, "commission", gs1, Some("BOARD")).await),
            ("wrong_product", false)
        );
        let v = verdict(&api, "commission", gs1, Some("PHONE")).await;
        assert_eq!(reason(&v), ("accepted", true));
        assert_eq!(v["unit"], json!({"product": "PHONE", "serial": "PX1"}));

        // Registered units: judged by their state and holds, as capture would.
        assert_eq!(
            reason(&verdict(&api, "ship", "B1", None).await),
            ("accepted", true)
        );
        let v = verdict(&api, "ship", "B2", None).await;
        assert_eq!(reason(&v), ("on_hold", false));
        assert_eq!(v["holds"], json!(["qc"]));
        assert_eq!(
            reason(&verdict(&api, "ship", "B5", None).await),
            ("wrong_state", false)
        );
        assert_eq!(
            reason(&verdict(&api, "ship", "NOPE", None).await),
            ("not_registered", false)
        );
        assert_eq!(
            reason(&verdict(&api, "ship", "%20", None).await),
            ("unreadable", false)
        );
        // Why a scan is unreadable travels as an error code too, for the page's own sentence.
        let v = verdict(&api, "ship", "(01)09521234543214(21)B1", None).await;
        assert_eq!(reason(&v), ("unreadable", false));
        assert_eq!(v["detail_code"], "invalid_check_digit");
        assert!(v["detail"].as_str().unwrap().contains("check digit"), "{v}");
        let v = verdict(&api, "commission", "(01)09521234999997(21)X1", None).await;
        assert_eq!(reason(&v), ("wrong_product", false));
        assert_eq!(v["detail_code"], "unknown_gtin");
        let v = verdict(&api, "ship", "B5", None).await;
        assert_eq!(v.get("detail_code"), None, "{v}");
        // Inspection takes a held unit: inspecting is how it gets released.
        assert_eq!(
            reason(&verdict(&api, "inspect", "B2", None).await),
            ("accepted", true)
        );

        // Bad requests name the parameter; a verdict writes nothing.
        let r = api
            .get("/api/v1/scan/check?operation=teleport&code=B1")
            .await;
        assert_eq!(r.status, StatusCode::BAD_REQUEST);
        assert_eq!(
            r.codes(),
            vec![("unknown_operation".into(), "operation".into())]
        );
        let r = api.get("/api/v1/scan/check?operation=ship").await;
        assert_eq!(r.status, StatusCode::BAD_REQUEST);
        let r = api
            .get("/api/v1/scan/check?operation=commission&code=B1&product=no%20such")
            .await;
        assert_eq!(r.status, StatusCode::BAD_REQUEST);
        assert_eq!(r.codes()[0].1, "product");
        assert_eq!(api.ledger_len().await, before);
    }
);

store_test!(
    a_batch_resent_with_its_key_is_recorded_once,
    |s: TestStore| async move {
        plant(&*s).await;
        let api = Api::new(&s).await;
        let body = json!({"product": "BOARD", "serials": ["B1", "B2"], "work_order": "WO-1", "line": "SZ-L1"});
        let send = |body: Value| {
            api.send(
                Request::post("/api/v1/ops/commission")
                    .header("content-type", "application/json")
                    .header("idempotency-key", "station-batch-1")
                    .body(Body::from(body.to_string()))
                    .unwrap(),
            )
        };
        let first = send(body.clone()).await;
        assert_eq!(first.status, StatusCode::CREATED, "{:?}", first.body);
        let len = api.ledger_len().await;
        // The answer was lost; the station sends the same batch again.
        let again = send(body.clone()).await;
        assert!(again.status.is_success(), "{:?}", again.body);
        assert_eq!(again.body, first.body);
        assert_eq!(api.ledger_len().await, len);
        // The same key with another body is a mistake, not a repeat.
        let other = send(
            json!({"product": "BOARD", "serials": ["B3"], "work_order": "WO-1", "line": "SZ-L1"}),
        )
        .await;
        assert_eq!(
            other.status,
            StatusCode::UNPROCESSABLE_ENTITY,
            "{:?}",
            other.body
        );
        assert_eq!(api.ledger_len().await, len);
        assert_eq!(
            api.get("/api/v1/items/BOARD/B3").await.status,
            StatusCode::NOT_FOUND
        );
    }
);
