//! An in-process client for the API tests of operations and the process definition: one
//! router per test store, a token per role, JSON in and out.

#![allow(dead_code, clippy::unwrap_used)] // shared by several test files; each uses a part

use std::collections::VecDeque;
use std::sync::{Arc, Mutex};

use axum::body::Body;
use axum::extract::State;
use axum::http::{HeaderMap, Request, StatusCode, Uri};
use http_body_util::BodyExt;
use serde_json::{Value, json};
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
        reply(&self.router, req).await
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
        self.file(
            Request::post(uri)
                .header("content-type", "application/json")
                .body(Body::from(body.to_string()))
                .unwrap(),
        )
        .await
    }

    /// A GET whose answer is a file or a page (CSV, XLSX, HTML): status, headers and the bytes.
    pub async fn get_file(&self, uri: &str) -> (StatusCode, axum::http::HeaderMap, Vec<u8>) {
        self.file(Request::get(uri).body(Body::empty()).unwrap())
            .await
    }

    pub async fn file(
        &self,
        mut req: Request<Body>,
    ) -> (StatusCode, axum::http::HeaderMap, Vec<u8>) {
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

/// The router's answer: JSON when it is, else the text.
async fn reply(router: &axum::Router, req: Request<Body>) -> Reply {
    let resp = router.clone().oneshot(req).await.unwrap();
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

/// A person signed in through `POST /api/v1/session`: the session cookie on every request,
/// the CSRF token on unsafe ones.
pub struct Session {
    router: axum::Router,
    cookie: String,
    csrf: String,
}

impl Session {
    pub async fn sign_in(router: &axum::Router, name: &str, password: &str) -> Session {
        let r = reply(
            router,
            Request::post("/api/v1/session")
                .header("content-type", "application/json")
                .body(Body::from(
                    json!({"name": name, "password": password}).to_string(),
                ))
                .unwrap(),
        )
        .await;
        assert_eq!(r.status, StatusCode::OK, "{:?}", r.body);
        let cookie = r.headers["set-cookie"].to_str().unwrap();
        Session {
            router: router.clone(),
            cookie: cookie.split(';').next().unwrap().to_owned(),
            csrf: r.body["csrf_token"].as_str().unwrap().to_owned(),
        }
    }

    pub async fn get(&self, uri: &str) -> Reply {
        let req = Request::get(uri)
            .header("cookie", &self.cookie)
            .body(Body::empty())
            .unwrap();
        reply(&self.router, req).await
    }

    pub async fn post(&self, uri: &str, body: Value) -> Reply {
        let req = Request::post(uri)
            .header("cookie", &self.cookie)
            .header("x-csrf-token", &self.csrf)
            .header("content-type", "application/json")
            .body(Body::from(body.to_string()))
            .unwrap();
        reply(&self.router, req).await
    }
}

fn unit(p: &str, s: &str) -> Value {
    json!({"product": p, "serial": s})
}

/// A small plant history for the dashboards (on the fixture plant): boards from SUP1 go into
/// P1 and P2; P2 fails its first inspection and passes the second; P1 and P3 go to the
/// distributor, P1 is sold, returned and repaired two days later.
pub async fn history(api: &Api) {
    let steps = [
        (
            "locations",
            json!({"code": "EXT-GD", "name": "DIST-GD warehouse", "kind": "external", "party": "DIST-GD"}),
        ),
        (
            "ops/receive",
            json!({"time": "2026-05-20T09:00:00+08:00", "supplier": "SUP1", "purchase_order": "PO-7",
            "location": "SZ-WH-A1", "lines": [{"product": "BOARD", "serials": ["B1", "B2"]}]}),
        ),
        (
            "ops/commission",
            json!({"time": "2026-05-25T09:00:00+08:00", "product": "PHONE", "serials": ["P1", "P2", "P3"],
            "work_order": "WO-1", "line": "SZ-L1", "attributes": {"color": "black"}}),
        ),
        (
            "ops/assemble",
            json!({"time": "2026-05-25T10:00:00+08:00", "parent": unit("PHONE", "P1"), "components": [unit("BOARD", "B1")]}),
        ),
        (
            "ops/assemble",
            json!({"time": "2026-05-25T10:00:00+08:00", "parent": unit("PHONE", "P2"), "components": [unit("BOARD", "B2")]}),
        ),
        (
            "ops/inspect",
            json!({"time": "2026-05-26T10:00:00+08:00", "items": [unit("PHONE", "P1")], "result": "pass", "inspector": "Zhao"}),
        ),
        (
            "ops/inspect",
            json!({"time": "2026-05-26T11:00:00+08:00", "items": [unit("PHONE", "P2")], "result": "fail",
            "defect_codes": ["E-VOLT-LOW", "E-SCRATCH"], "inspector": "Zhao"}),
        ),
        (
            "ops/inspect",
            json!({"time": "2026-05-27T10:00:00+08:00", "items": [unit("PHONE", "P3")], "result": "pass", "inspector": "Zhao"}),
        ),
        (
            "ops/disposition",
            json!({"time": "2026-05-27T11:00:00+08:00", "items": [unit("PHONE", "P2")], "decision": "rework", "reason": "reseat"}),
        ),
        (
            "ops/inspect",
            json!({"time": "2026-05-28T10:00:00+08:00", "items": [unit("PHONE", "P2")], "result": "pass", "inspector": "Zhao"}),
        ),
        (
            "ops/move",
            json!({"time": "2026-05-28T11:00:00+08:00", "items": [unit("PHONE", "P1"), unit("PHONE", "P2"), unit("PHONE", "P3")],
            "to": "SZ-WH-A1", "put_away": true}),
        ),
        (
            "ops/ship",
            json!({"time": "2026-05-29T09:00:00+08:00", "sales_order": "SO-1", "distributor": "DIST-GD", "from": "SZ-WH-A1",
            "to": "EXT-GD", "lines": [{"product": "PHONE", "serials": ["P1", "P3"]}]}),
        ),
        (
            "ops/distributor-receipt",
            json!({"time": "2026-05-29T15:00:00+08:00", "distributor": "DIST-GD", "location": "EXT-GD",
            "items": [unit("PHONE", "P1")]}),
        ),
        (
            "ops/sell",
            json!({"time": "2026-05-30T10:00:00+08:00", "customer": "CUST1", "seller": "DIST-GD", "region": "CN-GD-SZ",
            "items": [unit("PHONE", "P1")]}),
        ),
        (
            "ops/return",
            json!({"time": "2026-05-30T12:00:00+08:00", "rma": "RMA-1", "customer": "CUST1", "reason": "no power",
            "condition": "fine", "outcome": "repair", "location": "SZ-WH-A2", "items": [unit("PHONE", "P1")]}),
        ),
        (
            "ops/repair",
            json!({"time": "2026-06-01T12:00:00+08:00", "repair_order": "RO-1", "unit": unit("PHONE", "P1"),
            "fault": "dead cell", "fault_code": "F-BAT", "engineer": "Chen", "completed": true, "location": "SZ-WH-A1"}),
        ),
    ];
    for (path, body) in steps {
        let r = api.post(&format!("/api/v1/{path}"), body).await;
        assert_eq!(r.status, 201, "{path}: {:?}", r.body);
    }
}

/// What the receiver saw, and the statuses it answers with next (200 once they run out).
#[derive(Default)]
pub struct Receiver {
    pub seen: Mutex<Vec<(HeaderMap, String, Vec<u8>)>>,
    pub answers: Mutex<VecDeque<u16>>,
}

async fn receive(
    State(r): State<Arc<Receiver>>,
    uri: Uri,
    headers: HeaderMap,
    body: axum::body::Bytes,
) -> (StatusCode, String) {
    r.seen
        .lock()
        .unwrap()
        .push((headers, uri.to_string(), body.to_vec()));
    let code = r.answers.lock().unwrap().pop_front().unwrap_or(200);
    (
        StatusCode::from_u16(code).unwrap(),
        r#"{"errcode":0,"errmsg":"ok"}"#.into(),
    )
}

/// A receiver on 127.0.0.1 that answers `answers` in turn, then 200.
pub async fn receiver(answers: &[u16]) -> (Arc<Receiver>, String) {
    let r = Arc::new(Receiver::default());
    r.answers.lock().unwrap().extend(answers);
    let router = axum::Router::new().fallback(receive).with_state(r.clone());
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move { axum::serve(listener, router).await });
    (r, format!("http://{addr}/hook"))
}

/// The serials of the SGTINs in an EPCISQueryDocument's events (`epcList`), in order.
pub fn epcis_serials(doc: &Value) -> Vec<String> {
    doc["epcisBody"]["queryResults"]["resultsBody"]["eventList"]
        .as_array()
        .unwrap()
        .iter()
        .flat_map(|e| e["epcList"].as_array().unwrap().clone())
        .map(|epc| epc.as_str().unwrap().rsplit('/').next().unwrap().to_owned())
        .collect()
}
