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
use serde_json::{Value, json};
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
            n += request_examples(op).len();
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
            for e in &b.examples {
                let bytes = serde_json::to_vec(&e.value).unwrap();
                if let Err(err) = (b.parse)(&bytes) {
                    panic!(
                        "{} {}: the example {} is refused: {err:?}",
                        r.method, r.path, e.name
                    );
                }
                n += 1;
            }
        }
    }
    assert!(n > 40, "{n}");
    // The parser is the endpoint's: an unknown field in an example would be refused.
    let d = describe(&Method::POST, "/api/v1/ops/ship").unwrap();
    let Some(RequestBody::Json(b)) = &d.body else {
        panic!("ship takes JSON")
    };
    let mut bad = b.examples[0].value.clone();
    bad["colour"] = "red".into();
    assert!((b.parse)(&serde_json::to_vec(&bad).unwrap()).is_err());
}

/// The JSON request examples of an operation: its `example`, or each of its `examples`.
fn request_examples(op: &Value) -> Vec<Value> {
    let content = &op["requestBody"]["content"]["application/json"];
    if let Some(e) = content.get("example") {
        return vec![e.clone()];
    }
    content["examples"]
        .as_object()
        .into_iter()
        .flatten()
        .map(|(_, e)| e["value"].clone())
        .collect()
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
                let examples = request_examples(op);
                for example in examples {
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
    // Named examples with their summaries, and a refusal with the request that earns it.
    assert!(en.contains("Example: A batch, recorded all or nothing"));
    assert!(en.contains("Example: Shipping a unit that was scrapped"));
    assert!(en.contains("&quot;code&quot;: &quot;item_scrapped&quot;"));
    assert!(en.contains("产品编码 (product),序列号 (serial)"));
    // Shared refusals are linked with what they mean.
    assert!(en.contains("<a href=\"#response-422\">422</a> Readable, but breaks a rule"));
    let (status, _, zh) = anonymous(&router, "/api/docs?lang=zh").await;
    assert_eq!(status, StatusCode::OK);
    assert!(zh.contains("<h1>API 参考</h1>"));
    assert!(zh.contains("请求体"));
    assert!(!zh.contains("Request body"));
}

/// The documented answer of `op` for `status`: its `example`.
fn answer_example<'a>(op: &'a Value, status: &str) -> &'a Value {
    &op["responses"][status]["content"]["application/json"]["example"]
}

/// Every key of every object in `real` (and of the first item of each array) that `example`
/// does not show, as paths.
fn missing_keys(real: &Value, example: &Value, at: &str, out: &mut Vec<String>) {
    match (real, example) {
        (Value::Object(r), Value::Object(e)) => {
            for (k, v) in r {
                match e.get(k) {
                    Some(ev) => missing_keys(v, ev, &format!("{at}.{k}"), out),
                    None => out.push(format!("{at}.{k}")),
                }
            }
        }
        (Value::Array(r), Value::Array(e)) => {
            if let (Some(r), Some(e)) = (r.first(), e.first()) {
                missing_keys(r, e, &format!("{at}[0]"), out);
            }
        }
        (Value::Object(_) | Value::Array(_), e) | (e, Value::Object(_) | Value::Array(_))
            if !e.is_null() =>
        {
            out.push(format!("{at} (an object or array on one side only)"));
        }
        _ => {}
    }
}

/// The documented example request of `path` (`name` among several), as sent.
fn written(doc: &Value, method: &str, path: &str, name: Option<&str>) -> Value {
    let content = &doc["paths"][path][method]["requestBody"]["content"]["application/json"];
    match name {
        Some(n) => content["examples"][n]["value"].clone(),
        None => content["example"].clone(),
    }
}

// The hand-written examples tell one plant's story — master data, serial allocation, receipt,
// commissioning by API and by batch, assembly, moulding, QC failure and rework, packing,
// shipment to a distributor, sale, return, repair, scrap, a hold and its release, a
// correction, a webhook, a label print, a serials import — and the server accepts every step
// (2xx) when they are sent in that order to a plant seeded with the records they name. Each
// documented answer shows every field the real answer has; each documented refusal is the one
// its request earns, naming the same field, and records nothing.
store_test!(
    the_written_examples_tell_one_story_the_server_accepts,
    |s: TestStore| async move {
        use threadline_domain::access::Role;
        let clock = std::sync::Arc::new(threadline_server::ManualClock::new(
            chrono::DateTime::parse_from_rfc3339("2026-05-18T00:00:00Z")
                .unwrap()
                .to_utc(),
        ));
        let state = AppState {
            clock: clock.clone(),
            ..AppState::new(s.store.clone())
        };
        let api = Api::with_state(&s, state, "erp", &[Role::Admin]).await;
        let doc = served(&s).await;
        let mut problems = Vec::new();
        // Sends `body` as `method uri` (`path` in the document) and checks the answer is a
        // success shaped as documented.
        macro_rules! exchange {
            ($method:expr, $path:expr, $uri:expr, $ctype:expr, $body:expr) => {
                exchange!($method, $path, $uri, $ctype, $body, true)
            };
            ($method:expr, $path:expr, $uri:expr, $ctype:expr, $body:expr, $compare:expr) => {{
                let (method, path, uri, ctype, body): (&str, &str, String, &str, String) =
                    ($method, $path, $uri.to_string(), $ctype, $body);
                let req = Request::builder()
                    .method(method.to_ascii_uppercase().as_str())
                    .uri(&uri)
                    .header("content-type", ctype);
                let reply = api.send(req.body(Body::from(body)).unwrap()).await;
                assert!(
                    reply.status.is_success(),
                    "{method} {uri}: {} {}",
                    reply.status,
                    reply.body
                );
                let op = &doc["paths"][path][method];
                let example = answer_example(op, reply.status.as_str());
                let mut missing = Vec::new();
                if $compare {
                    missing_keys(&reply.body, example, "", &mut missing);
                }
                if !missing.is_empty() {
                    problems.push(format!(
                        "{method} {path}: the example lacks {missing:?}; the real answer is {}",
                        reply.body
                    ));
                }
                reply.body
            }};
        }
        macro_rules! step {
            ($method:expr, $path:expr, $uri:expr, $body:expr) => {{
                let body: Value = $body;
                exchange!($method, $path, $uri, "application/json", body.to_string())
            }};
        }
        // A record or step the story needs that no example makes: sent, not compared.
        macro_rules! setup {
            ($path:expr, $body:expr) => {{
                let body: Value = $body;
                exchange!(
                    "post",
                    $path,
                    $path,
                    "application/json",
                    body.to_string(),
                    false
                )
            }};
        }
        macro_rules! read {
            ($path:expr, $uri:expr) => {
                exchange!("get", $path, $uri, "application/json", String::new())
            };
        }
        macro_rules! example {
            ($method:expr, $path:expr) => {
                step!($method, $path, $path, written(&doc, $method, $path, None))
            };
        }
        // Master data: the examples' own records, and the others the story names.
        example!("post", "/api/v1/locations");
        for l in [
            json!({"code": "SZ-RM", "name": "Raw materials", "kind": "area", "parent": "SZ"}),
            json!({"code": "SZ-L1", "name": "Line 1", "kind": "line", "parent": "SZ"}),
            json!({"code": "SZ-QC", "name": "QC lab", "kind": "area", "parent": "SZ"}),
            json!({"code": "SZ-FG", "name": "Finished goods", "kind": "area", "parent": "SZ"}),
            json!({"code": "SZ-FG-A01", "name": "Bin A01", "kind": "bin", "parent": "SZ-FG"}),
            json!({"code": "SZ-FG-A02", "name": "Bin A02", "kind": "bin", "parent": "SZ-FG"}),
            json!({"code": "SZ-RMA", "name": "Returns", "kind": "area", "parent": "SZ"}),
        ] {
            setup!("/api/v1/locations", l);
        }
        example!("post", "/api/v1/parties");
        for p in [
            json!({"code": "S1", "name": "Dongguan Resin Co.", "kind": "supplier"}),
            json!({"code": "C9", "name": "Li Ming", "kind": "customer"}),
        ] {
            setup!("/api/v1/parties", p);
        }
        setup!(
            "/api/v1/locations",
            json!({"code": "D1-GZ", "name": "D1 Guangzhou warehouse", "kind": "external", "party": "D1"})
        );
        example!("post", "/api/v1/products");
        for p in [
            json!({"code": "BOARD", "name": "Main board", "tracking": "serial"}),
            json!({"code": "RESIN", "name": "PC/ABS resin", "tracking": "lot", "uom": "KGM"}),
            json!({"code": "HOUSING", "name": "Housing", "tracking": "lot"}),
            json!({"code": "CASE", "name": "Shipping case", "tracking": "serial", "container": true}),
        ] {
            setup!("/api/v1/products", p);
        }
        let allocated = step!(
            "post",
            "/api/v1/products/{code}/allocations",
            "/api/v1/products/TC/allocations",
            written(&doc, "post", "/api/v1/products/{code}/allocations", None)
        );
        clock.set(threadline_testkit::fixtures::now());
        // The operations, in the story's order.
        example!("post", "/api/v1/ops/receive");
        example!("post", "/api/v1/ops/commission");
        step!(
            "post",
            "/api/v1/events",
            "/api/v1/events",
            written(&doc, "post", "/api/v1/events", Some("single"))
        );
        step!(
            "post",
            "/api/v1/events",
            "/api/v1/events",
            written(&doc, "post", "/api/v1/events", Some("batch"))
        );
        // The warehouse issues resin to the line.
        setup!(
            "/api/v1/ops/move",
            json!({"time": "2026-05-19T07:50:00+08:00", "lots": [{"product": "RESIN", "lot": "R1", "quantity": "5"}],
                   "from": "SZ-RM", "to": "SZ-L1"})
        );
        example!("post", "/api/v1/ops/assemble");
        setup!(
            "/api/v1/ops/assemble",
            json!({"time": "2026-05-19T10:10:00+08:00", "parent": {"product": "TC", "serial": "TC-00002"},
                   "components": [{"product": "BOARD", "serial": "B-79"}], "location": "SZ-L1"})
        );
        example!("post", "/api/v1/ops/transform");
        example!("post", "/api/v1/ops/inspect");
        example!("post", "/api/v1/ops/disposition");
        example!("post", "/api/v1/ops/replace");
        example!("post", "/api/v1/ops/remove");
        let moved = example!("post", "/api/v1/ops/move");
        // The example corrects the put-away its ledger position names; here, this one.
        assert_eq!(moved["events"][0]["seq"], 34);
        let mut correct = written(&doc, "post", "/api/v1/ops/correct", None);
        assert_eq!(correct["event"], threadline_server::openapi::MOVE_EVENT_ID);
        correct["event"] = moved["events"][0]["id"].clone();
        step!(
            "post",
            "/api/v1/ops/correct",
            "/api/v1/ops/correct",
            correct
        );
        example!("post", "/api/v1/ops/pack");
        example!("post", "/api/v1/ops/unpack");
        example!("post", "/api/v1/ops/ship");
        example!("post", "/api/v1/ops/distributor-receipt");
        // The distributor opens the case to sell the unit on its own.
        setup!(
            "/api/v1/ops/unpack",
            json!({"time": "2026-05-22T14:30:00+08:00", "container": {"product": "CASE", "serial": "006901234000000018"},
                   "items": [{"product": "TC", "serial": "TC-00001"}], "location": "D1-GZ"})
        );
        example!("post", "/api/v1/ops/sell");
        example!("post", "/api/v1/ops/return");
        example!("post", "/api/v1/ops/repair");
        example!("post", "/api/v1/ops/scrap");
        example!("post", "/api/v1/ops/hold");
        example!("post", "/api/v1/ops/release");
        // Integration: a webhook, a label print to the line's printer, a serials import.
        example!("post", "/api/v1/webhooks");
        example!("post", "/api/v1/label-templates");
        let printer = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let printer_at = printer.local_addr().unwrap().to_string();
        let printed = tokio::spawn(async move {
            use tokio::io::AsyncReadExt;
            let (mut conn, _) = printer.accept().await.unwrap();
            let mut zpl = Vec::new();
            conn.read_to_end(&mut zpl).await.unwrap();
            String::from_utf8(zpl).unwrap()
        });
        let mut job = written(&doc, "post", "/api/v1/label-jobs/print", None);
        job["allocation"] = allocated["receipt"]["id"].clone();
        job["printer"] = json!(printer_at);
        let sent = step!(
            "post",
            "/api/v1/label-jobs/print",
            "/api/v1/label-jobs/print",
            job
        );
        // The block's five serials less TC-00002, scrapped: it gets no label.
        assert_eq!(sent["labels"], 4, "{sent}");
        let zpl = printed.await.unwrap();
        assert_eq!(zpl.matches("^XA").count(), 4, "{zpl}");
        assert!(!zpl.contains("TC-00002"), "{zpl}");
        let csv = doc["paths"]["/api/v1/imports/{kind}"]["post"]["requestBody"]["content"]["text/csv"]
            ["example"]
            .as_str()
            .unwrap()
            .to_owned();
        let imported = exchange!(
            "post",
            "/api/v1/imports/{kind}",
            "/api/v1/imports/serials?mode=commit",
            "text/csv",
            csv
        );
        assert_eq!(imported["rows"], 2, "{imported}");
        // What the story left, read as the documented examples read it.
        read!(
            "/api/v1/items/{product}/{serial}",
            "/api/v1/items/TC/TC-00001"
        );
        read!(
            "/api/v1/items/{product}/{serial}/passport",
            "/api/v1/items/TC/TC-00001/passport"
        );
        read!("/api/v1/lots/{product}/{lot}", "/api/v1/lots/RESIN/R1");
        read!(
            "/api/v1/trace/backward",
            "/api/v1/trace/backward?product=TC&serial=TC-00001"
        );
        read!(
            "/api/v1/trace/forward",
            "/api/v1/trace/forward?product=RESIN&lot=R1"
        );
        read!(
            "/api/v1/ops/pick",
            "/api/v1/ops/pick?product=RESIN&quantity=120.5&strategy=fefo"
        );
        read!("/api/v1/webhooks/{name}", "/api/v1/webhooks/erp");
        // Each written refusal is the one its request earns, and records nothing.
        let mut refusals = 0;
        for (path, item) in doc["paths"].as_object().unwrap() {
            for (method, op) in item.as_object().unwrap() {
                for (status, r) in op["responses"].as_object().unwrap() {
                    let Some(examples) = r["content"]["application/json"]["examples"].as_object()
                    else {
                        continue;
                    };
                    for (name, e) in examples {
                        let before = api.ledger_len().await;
                        let uri = concrete(path, op);
                        let req = Request::builder()
                            .method(method.to_ascii_uppercase().as_str())
                            .uri(&uri)
                            .header("content-type", "application/json");
                        let reply = api
                            .send(req.body(Body::from(e["x-request"].to_string())).unwrap())
                            .await;
                        if (reply.status.as_str(), &reply.body) != (status.as_str(), &e["value"]) {
                            problems.push(format!(
                                "{method} {uri} ({name}): the written refusal is not what the server answers: {} {}",
                                reply.status, reply.body
                            ));
                        }
                        assert_eq!(api.ledger_len().await, before, "{method} {uri} ({name})");
                        refusals += 1;
                    }
                }
            }
        }
        assert!(refusals >= 5, "{refusals}");
        assert!(
            problems.is_empty(),
            "examples that do not show what the server answers:\n{}",
            problems.join("\n")
        );
    }
);
