//! An in-process client for the API tests of operations and the process definition: one
//! router per test store, a token per role, JSON in and out.

#![allow(dead_code, clippy::unwrap_used)] // shared by several test files; each uses a part

use std::sync::Arc;

use axum::body::Body;
use axum::http::{Request, StatusCode};
use http_body_util::BodyExt;
use serde_json::Value;
use threadline_domain::access::Role;
use threadline_server::{AppState, FixedClock, app};
use threadline_testkit::TestStore;
use threadline_testkit::fixtures::{now, token};
use tower::ServiceExt;

pub struct Api {
    pub router: axum::Router,
    /// `Bearer <secret>` sent with every request.
    pub auth: String,
}

#[derive(Debug)]
pub struct Reply {
    pub status: StatusCode,
    pub headers: axum::http::HeaderMap,
    pub body: Value,
}

impl Reply {
    /// The `(code, field)` of every error in the body.
    pub fn codes(&self) -> Vec<(String, String)> {
        self.body["errors"]
            .as_array()
            .map(|a| {
                a.iter()
                    .map(|e| {
                        (
                            e["code"].as_str().unwrap_or("").to_owned(),
                            e["field"].as_str().unwrap_or("").to_owned(),
                        )
                    })
                    .collect()
            })
            .unwrap_or_default()
    }

    pub fn message(&self) -> String {
        self.body["error"]["message"]
            .as_str()
            .unwrap_or("")
            .to_owned()
    }
}

impl Api {
    /// A client with an admin token.
    pub async fn new(s: &TestStore) -> Api {
        Api::with_roles(s, "test-admin", &[Role::Admin]).await
    }

    pub async fn with_roles(s: &TestStore, name: &str, roles: &[Role]) -> Api {
        let state = AppState {
            clock: Arc::new(FixedClock(now())),
            ..AppState::new(s.store.clone())
        };
        let secret = token(&**s, name, roles).await;
        Api {
            router: app(state),
            auth: format!("Bearer {secret}"),
        }
    }

    /// A client of a router built from `state` (its own clock, settings), with `roles`.
    pub async fn with_state(s: &TestStore, state: AppState, name: &str, roles: &[Role]) -> Api {
        let secret = token(&**s, name, roles).await;
        Api {
            router: app(state),
            auth: format!("Bearer {secret}"),
        }
    }

    pub async fn send(&self, mut req: Request<Body>) -> Reply {
        req.headers_mut()
            .insert("authorization", self.auth.parse().unwrap());
        let resp = self.router.clone().oneshot(req).await.unwrap();
        let status = resp.status();
        let headers = resp.headers().clone();
        let bytes = resp.into_body().collect().await.unwrap().to_bytes();
        let body = serde_json::from_slice(&bytes)
            .unwrap_or(Value::String(String::from_utf8_lossy(&bytes).into_owned()));
        Reply {
            status,
            headers,
            body,
        }
    }

    pub async fn get(&self, uri: &str) -> Reply {
        self.send(Request::get(uri).body(Body::empty()).unwrap())
            .await
    }

    pub async fn post(&self, uri: &str, body: Value) -> Reply {
        self.send(
            Request::post(uri)
                .header("content-type", "application/json")
                .body(Body::from(body.to_string()))
                .unwrap(),
        )
        .await
    }

    pub async fn put(&self, uri: &str, if_match: &str, body: Value) -> Reply {
        self.send(
            Request::put(uri)
                .header("content-type", "application/json")
                .header("if-match", if_match)
                .body(Body::from(body.to_string()))
                .unwrap(),
        )
        .await
    }

    /// A POST whose answer is a file (PNG, PDF, ZPL): status, headers and the bytes.
    pub async fn post_file(
        &self,
        uri: &str,
        body: Value,
    ) -> (StatusCode, axum::http::HeaderMap, Vec<u8>) {
        let mut req = Request::post(uri)
            .header("content-type", "application/json")
            .body(Body::from(body.to_string()))
            .unwrap();
        req.headers_mut()
            .insert("authorization", self.auth.parse().unwrap());
        let resp = self.router.clone().oneshot(req).await.unwrap();
        let (status, headers) = (resp.status(), resp.headers().clone());
        let bytes = resp
            .into_body()
            .collect()
            .await
            .unwrap()
            .to_bytes()
            .to_vec();
        (status, headers, bytes)
    }

    pub async fn delete(&self, uri: &str) -> Reply {
        self.send(Request::delete(uri).body(Body::empty()).unwrap())
            .await
    }

    /// Ledger entries so far (refusals must leave it unchanged).
    pub async fn ledger_len(&self) -> i64 {
        self.get("/api/v1/ledger/verify").await.body["entries"]
            .as_i64()
            .unwrap()
    }

    pub async fn item(&self, product: &str, serial: &str) -> Value {
        self.get(&format!("/api/v1/items/{product}/{serial}"))
            .await
            .body
    }
}
