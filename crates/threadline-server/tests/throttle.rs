//! Sign-in throttling by client address, on both engines: after too many failures from one
//! address — whatever names it tries — that address is refused with 429 and `Retry-After`
//! until the window passes; other addresses are not affected; the refusals are audited.

#![allow(clippy::unwrap_used)] // tests unwrap: a panic is the failure report

mod common;

use std::net::SocketAddr;
use std::sync::Arc;

use axum::body::Body;
use axum::extract::ConnectInfo;
use axum::http::{Request, StatusCode};
use common::Api;
use http_body_util::BodyExt;
use serde_json::{Value, json};
use threadline_domain::access::Role;
use threadline_server::auth::AddressLimit;
use threadline_server::{AppState, AuthSettings, ManualClock};
use threadline_testkit::fixtures::now;
use threadline_testkit::{TestStore, store_test};
use tower::ServiceExt;

async fn sign_in(
    api: &Api,
    from: &str,
    name: &str,
    password: &str,
) -> (StatusCode, Value, Option<String>) {
    let mut req = Request::post("/api/v1/session")
        .header("content-type", "application/json")
        .body(Body::from(
            json!({"name": name, "password": password}).to_string(),
        ))
        .unwrap();
    let addr: SocketAddr = format!("{from}:40000").parse().unwrap();
    req.extensions_mut().insert(ConnectInfo(addr));
    let resp = api.router.clone().oneshot(req).await.unwrap();
    let status = resp.status();
    let retry = resp
        .headers()
        .get("retry-after")
        .map(|v| v.to_str().unwrap().to_owned());
    let bytes = resp.into_body().collect().await.unwrap().to_bytes();
    (
        status,
        serde_json::from_slice(&bytes).unwrap_or(Value::Null),
        retry,
    )
}

store_test!(
    too_many_failures_from_one_address_are_refused_for_a_while,
    |s: TestStore| async move {
        let clock = Arc::new(ManualClock::new(now()));
        let state = AppState {
            clock: clock.clone(),
            auth: AuthSettings {
                address_limit: AddressLimit {
                    max_failures: 3,
                    window: chrono::Duration::minutes(10),
                },
                ..Default::default()
            },
            ..AppState::new(s.store.clone())
        };
        let api = Api::with_state(&s, state, "t-admin", &[Role::Admin]).await;
        for name in ["op", "op2"] {
            let r = api
                .post(
                    "/api/v1/users",
                    json!({"name": name, "password": "right-password-1", "roles": ["production"]}),
                )
                .await;
            assert_eq!(r.status, StatusCode::CREATED, "{:?}", r.body);
        }

        // Three failures from one address, each on a different name (no account locks).
        for name in ["op", "op2", "ghost"] {
            let (status, body, _) = sign_in(&api, "10.0.0.1", name, "guess").await;
            assert_eq!(
                (status, body["error"]["code"].as_str()),
                (StatusCode::UNAUTHORIZED, Some("invalid_credentials"))
            );
        }
        // Now the address is refused, even with the right password, and told when to retry.
        let (status, body, retry) = sign_in(&api, "10.0.0.1", "op", "right-password-1").await;
        assert_eq!(
            (status, body["error"]["code"].as_str()),
            (StatusCode::TOO_MANY_REQUESTS, Some("too_many_sign_ins")),
            "{body}"
        );
        // The first failure leaves the ten-minute window at 12:10.
        assert_eq!(retry.as_deref(), Some("600"));
        assert!(
            body["error"]["message"]
                .as_str()
                .unwrap()
                .contains("2026-06-01T12:10:00"),
            "{body}"
        );
        // Another address signs in as usual; the account itself is not locked.
        let (status, body, _) = sign_in(&api, "10.0.0.2", "op", "right-password-1").await;
        assert_eq!(status, StatusCode::OK, "{body}");
        // Once the window has passed, the first address may try again.
        clock.advance(chrono::Duration::minutes(9));
        let (status, _, _) = sign_in(&api, "10.0.0.1", "op2", "right-password-1").await;
        assert_eq!(status, StatusCode::TOO_MANY_REQUESTS);
        clock.advance(chrono::Duration::minutes(1));
        let (status, body, _) = sign_in(&api, "10.0.0.1", "op2", "right-password-1").await;
        assert_eq!(status, StatusCode::OK, "{body}");

        // The refusals are in the audit trail, with the address.
        let r = api.get("/api/v1/audit?limit=100").await;
        let text = r.body.to_string();
        assert_eq!(text.matches("sign_in_throttled").count(), 2, "{text}");
        assert!(text.contains("10.0.0.1"), "{text}");
    }
);
