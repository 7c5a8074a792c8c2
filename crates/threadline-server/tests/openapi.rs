//! The OpenAPI document: served without credentials, equal to the committed snapshot
//! (`UPDATE_SNAPSHOTS=1` rewrites it), covering every `/api/v1` route of the router with its
//! method, every reference resolving, and every example request accepted by its endpoint.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::collections::BTreeSet;

use axum::body::Body;
use axum::http::{Method, Request, StatusCode};
use common::Api;
use http_body_util::BodyExt;
use serde_json::Value;
use threadline_server::openapi::{RequestBody, describe, undocumented};
use threadline_server::{AppState, app, routes};
use threadline_testkit::{TestStore, sqlite, store_test};
use tower::ServiceExt;

const SNAPSHOT: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/snapshots/openapi.json");

/// GET without credentials: status, content type and body.
async fn anonymous(router: &axum::Router, uri: &str) -> (StatusCode, String, String) {
    let resp = router
        .clone()
        .oneshot(Request::get(uri).body(Body::empty()).unwrap())
        .await
        .unwrap();
    let status = resp.status();
    let ct = resp
        .headers()
        .get("content-type")
        .map(|v| v.to_str().unwrap().to_owned())
        .unwrap_or_default();
    let bytes = resp.into_body().collect().await.unwrap().to_bytes();
    (status, ct, String::from_utf8(bytes.to_vec()).unwrap())
}

async fn served(s: &TestStore) -> Value {
    let router = app(AppState::new(s.store.clone()));
    let (status, ct, body) = anonymous(&router, "/api/v1/openapi.json").await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert!(ct.starts_with("application/json"), "{ct}");
    serde_json::from_str(&body).unwrap()
}

#[tokio::test]
async fn the_served_document_is_the_committed_snapshot() {
    let s = sqlite();
    let doc = served(&s).await;
    let pretty = serde_json::to_string_pretty(&doc).unwrap() + "\n";
    if std::env::var_os("UPDATE_SNAPSHOTS").is_some() {
        std::fs::create_dir_all(std::path::Path::new(SNAPSHOT).parent().unwrap()).unwrap();
        std::fs::write(SNAPSHOT, &pretty).unwrap();
    }
    let committed = std::fs::read_to_string(SNAPSHOT)
        .expect("tests/snapshots/openapi.json: run with UPDATE_SNAPSHOTS=1 to write it");
    let committed: Value = serde_json::from_str(&committed).unwrap();
    assert!(
        committed == doc,
        "the API changed but tests/snapshots/openapi.json did not: review the difference \
         (UPDATE_SNAPSHOTS=1 cargo test -p threadline-server --test openapi rewrites it) and commit it"
    );
    assert_eq!(doc["openapi"], "3.1.0");
}

/// `schema` with its `$ref`s followed into the document's schemas.
fn resolved<'a>(schema: &'a Value, doc: &'a Value) -> &'a Value {
    match schema.get("$ref").and_then(Value::as_str) {
        Some(r) => resolved(doc.pointer(r.trim_start_matches('#')).unwrap(), doc),
        None => schema,
    }
}

/// Does `example` have what `schema` requires — every required property of every object, the
/// type of every value? Unions are not judged.
fn fits(schema: &Value, example: &Value, doc: &Value, at: &str, problems: &mut Vec<String>) {
    let s = resolved(schema, doc);
    if s.get("oneOf").is_some() || s.get("anyOf").is_some() || s.get("allOf").is_some() {
        return;
    }
    let types: Vec<&str> = match s.get("type") {
        Some(Value::String(t)) => vec![t.as_str()],
        Some(Value::Array(ts)) => ts.iter().filter_map(Value::as_str).collect(),
        _ => return,
    };
    let kind = match example {
        Value::Null => "null",
        Value::Bool(_) => "boolean",
        Value::Number(n) if n.is_i64() || n.is_u64() => "integer",
        Value::Number(_) => "number",
        Value::String(_) => "string",
        Value::Array(_) => "array",
        Value::Object(_) => "object",
    };
    if !(types.contains(&kind) || (kind == "integer" && types.contains(&"number"))) {
        problems.push(format!("{at}: {example} is not {types:?}"));
    }
    match example {
        Value::Object(o) => {
            for req in s["required"].as_array().into_iter().flatten() {
                let req = req.as_str().unwrap();
                if !o.contains_key(req) {
                    problems.push(format!("{at}: the example lacks `{req}`"));
                }
            }
            for (k, v) in o {
                if let Some(p) = s["properties"].get(k) {
                    fits(p, v, doc, &format!("{at}.{k}"), problems);
                }
            }
        }
        Value::Array(a) => {
            for v in a {
                if let Some(items) = s.get("items") {
                    fits(items, v, doc, &format!("{at}[]"), problems);
                }
            }
        }
        _ => {}
    }
}

/// Every `$ref` in `v`.
fn refs(v: &Value, out: &mut Vec<String>) {
    match v {
        Value::Object(m) => {
            if let Some(Value::String(r)) = m.get("$ref") {
                out.push(r.clone());
            }
            m.values().for_each(|v| refs(v, out));
        }
        Value::Array(a) => a.iter().for_each(|v| refs(v, out)),
        _ => {}
    }
}

#[tokio::test]
async fn every_api_route_is_documented_with_its_method_summary_and_example() {
    let s = sqlite();
    let doc = served(&s).await;
    assert_eq!(undocumented(), Vec::<String>::new(), "routes without docs");
    let mut api_routes = 0;
    let mut problems = Vec::new();
    for r in routes() {
        if !r.path.starts_with("/api/v1/") {
            continue;
        }
        api_routes += 1;
        let method = r.method.as_str().to_ascii_lowercase();
        let op = &doc["paths"][r.path][&method];
        assert!(
            op.is_object(),
            "{} {} is not in the document",
            r.method,
            r.path
        );
        assert!(
            !op["summary"].as_str().unwrap_or("").is_empty(),
            "{} {} has no summary",
            r.method,
            r.path
        );
        let examples = {
            let mut n = 0;
            for p in op["parameters"].as_array().unwrap() {
                n += usize::from(p.get("example").is_some());
            }
            n += usize::from(
                op["requestBody"]["content"]["application/json"]["example"].is_object(),
            );
            for resp in op["responses"].as_object().unwrap().values() {
                n += usize::from(resp["content"]["application/json"]["example"].is_object());
            }
            n
        };
        // Every operation shows at least one example: of a parameter, the body or an answer.
        // Operations without input (lists) show their refusals' examples through the shared
        // responses, so only those with neither are refused here.
        let mut seen = BTreeSet::new();
        for p in op["parameters"].as_array().unwrap() {
            assert!(
                seen.insert((p["name"].to_string(), p["in"].to_string())),
                "{} {}: parameter {} twice",
                r.method,
                r.path,
                p["name"]
            );
        }
        let has_input =
            !op["parameters"].as_array().unwrap().is_empty() || op.get("requestBody").is_some();
        assert!(
            examples > 0 || !has_input,
            "{} {} has no example",
            r.method,
            r.path
        );
        // Every JSON answer has an example (written, or drawn from its schema), and it holds
        // what the schema requires, at every level.
        for (status, resp) in op["responses"].as_object().unwrap() {
            let Some(content) = resp["content"].get("application/json") else {
                continue;
            };
            if !status.starts_with('2') {
                continue;
            }
            let example = content.get("example").unwrap_or_else(|| {
                panic!(
                    "{} {}: the {status} answer has no example",
                    r.method, r.path
                )
            });
            let at = format!("{} {} {status}", r.method, r.path);
            fits(&content["schema"], example, &doc, &at, &mut problems);
        }
        if r.guard != threadline_server::Guard::Public {
            assert_eq!(
                op["responses"]["403"]["$ref"], "#/components/responses/403",
                "{} {}",
                r.method, r.path
            );
            assert!(!op["security"].as_array().unwrap().is_empty());
        }
    }
    assert!(
        problems.is_empty(),
        "examples unlike their schemas:\n{}",
        problems.join("\n")
    );
    // And nothing in the document that the router does not serve.
    let documented: usize = doc["paths"]
        .as_object()
        .unwrap()
        .values()
        .map(|item| item.as_object().unwrap().len())
        .sum();
    assert_eq!(documented, api_routes);
    assert!(api_routes > 80, "{api_routes}");
    let tags: Vec<&str> = doc["tags"]
        .as_array()
        .unwrap()
        .iter()
        .map(|t| t["name"].as_str().unwrap())
        .collect();
    assert_eq!(tags[..3], ["Meta", "Identity", "Master data"], "{tags:?}");

    // Every reference resolves.
    let mut all = Vec::new();
    refs(&doc, &mut all);
    let all: BTreeSet<String> = all.into_iter().collect();
    for r in &all {
        let pointer = r.strip_prefix('#').expect("local reference");
        assert!(doc.pointer(pointer).is_some(), "{r} does not resolve");
    }
    assert!(all.contains("#/components/schemas/EventRequest"));
    // Request schemas come from the parsers' types: serde's renames and closed objects show.
    let event = &doc["components"]["schemas"]["EventRequest"];
    assert!(event["properties"]["type"].is_object(), "{event}");
    assert!(
        event["required"]
            .as_array()
            .unwrap()
            .contains(&"event_time".into())
    );
    assert_eq!(event["additionalProperties"], false);
}

#[test]
fn every_example_body_parses_as_its_endpoint_parses() {
    let mut n = 0;
    for r in routes() {
        let Some(d) = describe(&r.method, r.path) else {
            continue;
        };
        if let Some(RequestBody::Json(b)) = &d.body {
            let bytes = serde_json::to_vec(&b.example).unwrap();
            if let Err(e) = (b.parse)(&bytes) {
                panic!("{} {}: the example is refused: {e:?}", r.method, r.path);
            }
            n += 1;
        }
    }
    assert!(n > 40, "{n}");
    // The parser is the endpoint's: an unknown field in an example would be refused.
    let d = describe(&Method::POST, "/api/v1/ops/ship").unwrap();
    let Some(RequestBody::Json(b)) = &d.body else {
        panic!("ship takes JSON")
    };
    let mut bad = b.example.clone();
    bad["colour"] = "red".into();
    assert!((b.parse)(&serde_json::to_vec(&bad).unwrap()).is_err());
}

/// The path with each `{param}` replaced by the document's example.
fn concrete(path: &str, op: &Value) -> String {
    let mut out = path.to_owned();
    for p in op["parameters"].as_array().unwrap() {
        if p["in"] == "path" {
            let name = p["name"].as_str().unwrap();
            out = out.replace(&format!("{{{name}}}"), p["example"].as_str().unwrap());
        }
    }
    out
}

// Sent to the running router as an administrator, every example body gets past the parser:
// the answer may be a refusal of the rules (an example names records this store lacks), never
// an unreadable request (400, 415) nor a failure (500).
store_test!(
    every_example_request_is_accepted_by_its_endpoint,
    |s: TestStore| async move {
        let api = Api::new(&s).await;
        let doc = served(&s).await;
        let mut sent = 0;
        for (path, item) in doc["paths"].as_object().unwrap() {
            for (method, op) in item.as_object().unwrap() {
                let Some(example) = op["requestBody"]["content"]["application/json"].get("example")
                else {
                    continue;
                };
                let uri = concrete(path, op);
                // The shipped process definition is version 0; records made by examples are 1.
                let version = if path == "/api/v1/process" {
                    "\"0\""
                } else {
                    "\"1\""
                };
                let req = Request::builder()
                    .method(method.to_ascii_uppercase().as_str())
                    .uri(&uri)
                    .header("content-type", "application/json")
                    .header("if-match", version);
                let reply = api
                    .send(req.body(Body::from(example.to_string())).unwrap())
                    .await;
                assert!(
                    ![
                        StatusCode::BAD_REQUEST,
                        StatusCode::UNSUPPORTED_MEDIA_TYPE,
                        StatusCode::INTERNAL_SERVER_ERROR
                    ]
                    .contains(&reply.status),
                    "{method} {uri}: {} {:?}",
                    reply.status,
                    reply.body
                );
                sent += 1;
            }
        }
        assert!(sent > 40, "{sent}");
    }
);

#[tokio::test]
async fn the_reference_page_is_drawn_from_the_document_in_both_languages() {
    let s = sqlite();
    let doc = served(&s).await;
    let router = app(AppState::new(s.store.clone()));
    let (status, ct, en) = anonymous(&router, "/api/docs?lang=en").await;
    assert_eq!(status, StatusCode::OK);
    assert!(ct.starts_with("text/html"), "{ct}");
    assert!(en.contains("<h1>API reference</h1>"));
    assert!(en.contains("href=\"/api/v1/openapi.json\""));
    assert!(!en.contains("<script"), "no script on the page");
    for (path, item) in doc["paths"].as_object().unwrap() {
        for op in item.as_object().unwrap().values() {
            let id = op["operationId"].as_str().unwrap();
            assert!(
                en.contains(&format!("id=\"{id}\"")),
                "{path}: no section {id}"
            );
            let summary = op["summary"].as_str().unwrap();
            assert!(
                en.contains(&summary.replace('\'', "&#39;")),
                "{path}: {summary}"
            );
        }
    }
    // Examples are shown, escaped.
    assert!(en.contains("&quot;biz_step&quot;: &quot;commissioning&quot;"));
    assert!(en.contains("id=\"schema-EventRequest\""));
    // Shared refusals are linked with what they mean.
    assert!(en.contains("<a href=\"#response-422\">422</a> Readable, but breaks a rule"));
    let (status, _, zh) = anonymous(&router, "/api/docs?lang=zh").await;
    assert_eq!(status, StatusCode::OK);
    assert!(zh.contains("<h1>API 参考</h1>"));
    assert!(zh.contains("请求体"));
    assert!(!zh.contains("Request body"));
}
