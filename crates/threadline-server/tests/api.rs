//! The HTTP API, in-process, on both engines.

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

struct Api {
    router: axum::Router,
    /// `Bearer <secret>` of an admin token, sent with every request.
    auth: String,
}

struct Reply {
    status: StatusCode,
    headers: axum::http::HeaderMap,
    body: Value,
}

impl Api {
    async fn new(s: &TestStore) -> Api {
        let state = AppState {
            clock: Arc::new(FixedClock(now())),
            ..AppState::new(s.store.clone())
        };
        let secret = token(&**s, "test-admin", &[Role::Admin]).await;
        Api {
            router: app(state),
            auth: format!("Bearer {secret}"),
        }
    }

    async fn send(&self, mut req: Request<Body>) -> Reply {
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

    async fn get(&self, uri: &str) -> Reply {
        self.send(Request::get(uri).body(Body::empty()).unwrap())
            .await
    }

    async fn post_raw(&self, uri: &str, body: &str, headers: &[(&str, &str)]) -> Reply {
        let mut b = Request::post(uri).header("content-type", "application/json");
        for (k, v) in headers {
            b = b.header(*k, *v);
        }
        self.send(b.body(Body::from(body.to_owned())).unwrap())
            .await
    }

    async fn post(&self, uri: &str, body: Value) -> Reply {
        self.post_raw(uri, &body.to_string(), &[]).await
    }
}

fn commission(serials: &[&str]) -> Value {
    let items: Vec<Value> = serials
        .iter()
        .map(|s| json!({"product": "PHONE", "serial": s}))
        .collect();
    json!({"type": "object", "action": "ADD", "event_time": at(30), "biz_step": "commissioning", "disposition": "active",
           "biz_location": "SZ-L1", "items": items, "ilmd": {"color": "white"}})
}

async fn ledger_len(api: &Api) -> i64 {
    api.get("/api/v1/ledger/verify").await.body["entries"]
        .as_i64()
        .unwrap()
}

store_test!(health_and_unknown_routes, |s: TestStore| async move {
    let api = Api::new(&s).await;
    let r = api.get("/healthz").await;
    assert_eq!(r.status, StatusCode::OK);
    assert_eq!(r.body["engine"], s.engine());
    let r = api.get("/api/v1/nothing-here").await;
    assert_eq!(r.status, StatusCode::NOT_FOUND);
    assert_eq!(r.body["error"]["code"], "not_found");
});

store_test!(master_data_crud_over_http, |s: TestStore| async move {
    let api = Api::new(&s).await;
    let r = api
        .post(
            "/api/v1/products",
            json!({"code": "W1", "name": "Widget", "tracking": "serial", "gtin": "09521234543213"}),
        )
        .await;
    assert_eq!(r.status, StatusCode::CREATED, "{:?}", r.body);
    assert_eq!(r.headers["etag"], "\"1\"");
    assert_eq!(r.body["version"], 1);

    // Bad input names the field and writes nothing.
    let before = ledger_len(&api).await;
    let r = api
        .post(
            "/api/v1/products",
            json!({"code": "W2", "name": "x", "tracking": "serial", "gtin": "09521234543219"}),
        )
        .await;
    assert_eq!(
        (r.status, r.body["error"]["field"].as_str()),
        (StatusCode::BAD_REQUEST, Some("gtin"))
    );
    assert!(
        r.body["error"]["message"]
            .as_str()
            .unwrap()
            .contains("check digit")
    );
    let r = api
        .post(
            "/api/v1/products",
            json!({"code": "W2", "name": "x", "tracking": "serial", "colour": "red"}),
        )
        .await;
    assert_eq!(
        (r.status, r.body["error"]["code"].as_str()),
        (StatusCode::BAD_REQUEST, Some("unknown_field"))
    );
    let r = api
        .post(
            "/api/v1/products",
            json!({"code": "W2", "name": "x", "tracking": "sometimes"}),
        )
        .await;
    assert_eq!(
        (r.status, r.body["error"]["field"].as_str()),
        (StatusCode::BAD_REQUEST, Some("tracking"))
    );
    let r = api
        .post(
            "/api/v1/products",
            json!({"code": "W2", "name": " ", "tracking": "serial"}),
        )
        .await;
    assert_eq!(
        (r.status, r.body["error"]["field"].as_str()),
        (StatusCode::UNPROCESSABLE_ENTITY, Some("name"))
    );
    let r = api.post_raw("/api/v1/products", "{\"code\": ", &[]).await;
    assert_eq!(
        (r.status, r.body["error"]["code"].as_str()),
        (StatusCode::BAD_REQUEST, Some("malformed_json"))
    );
    let r = api
        .post(
            "/api/v1/products",
            json!({"code": "W1", "name": "Again", "tracking": "serial"}),
        )
        .await;
    assert_eq!(
        (r.status, r.body["error"]["code"].as_str()),
        (StatusCode::CONFLICT, Some("already_exists"))
    );
    assert_eq!(ledger_len(&api).await, before);

    // Changes need the version they replace.
    let put = |v: Option<&'static str>| {
        let mut b = Request::put("/api/v1/products/W1").header("content-type", "application/json");
        if let Some(v) = v {
            b = b.header("if-match", v);
        }
        b.body(Body::from(
            json!({"code": "W1", "name": "Widget v2", "tracking": "serial"}).to_string(),
        ))
        .unwrap()
    };
    assert_eq!(
        api.send(put(None)).await.status,
        StatusCode::PRECONDITION_REQUIRED
    );
    let r = api.send(put(Some("\"1\""))).await;
    assert_eq!(
        (r.status, r.body["version"].as_i64()),
        (StatusCode::OK, Some(2))
    );
    assert_eq!(
        api.send(put(Some("\"1\""))).await.status,
        StatusCode::CONFLICT
    );
    let h = api.get("/api/v1/products/W1/history").await;
    assert_eq!(h.body["versions"].as_array().unwrap().len(), 2);
    assert_eq!(h.body["versions"][0]["record"]["def"]["name"], "Widget");

    assert_eq!(
        api.get("/api/v1/products/NOPE").await.status,
        StatusCode::NOT_FOUND
    );
    let r = api
        .post(
            "/api/v1/locations",
            json!({"code": "SITE", "name": "Site", "kind": "site"}),
        )
        .await;
    assert_eq!(r.status, StatusCode::CREATED);
    let r = api
        .post(
            "/api/v1/locations",
            json!({"code": "BIN", "name": "Bin", "kind": "bin", "parent": "GHOST"}),
        )
        .await;
    assert_eq!(
        (r.status, r.body["error"]["code"].as_str()),
        (StatusCode::UNPROCESSABLE_ENTITY, Some("unknown_location"))
    );
    let r = api
        .post(
            "/api/v1/parties",
            json!({"code": "D1", "name": "Dist", "kind": "distributor", "regions": ["CN-GD"]}),
        )
        .await;
    assert_eq!(r.status, StatusCode::CREATED);
    let list = api.get("/api/v1/parties?kind=distributor&limit=5").await;
    assert_eq!(list.body["items"][0]["regions"][0], "CN-GD");
    assert_eq!(
        api.get("/api/v1/parties?limit=0").await.status,
        StatusCode::BAD_REQUEST
    );
});

store_test!(
    capture_one_event_and_read_the_unit,
    |s: TestStore| async move {
        plant(&*s).await;
        let api = Api::new(&s).await;
        let r = api.post("/api/v1/events", commission(&["S1", "S2"])).await;
        assert_eq!(r.status, StatusCode::CREATED, "{:?}", r.body);
        let receipt = &r.body["events"][0];
        assert_eq!(receipt["hash"].as_str().unwrap().len(), 64);
        let id = receipt["id"].as_str().unwrap().to_owned();

        let item = api.get("/api/v1/items/PHONE/S1").await;
        assert_eq!(item.status, StatusCode::OK);
        assert_eq!(item.body["status"], "in_production");
        assert_eq!(item.body["location"], "SZ-L1");
        let ev = api.get(&format!("/api/v1/events/{id}")).await;
        assert_eq!(ev.body["biz_step"], "commissioning");
        assert_eq!(ev.body["event_time_zone_offset"], "+08:00");
        assert_eq!(ev.body["actor"], "token:test-admin");
        let list = api.get("/api/v1/events?product=PHONE&serial=S2").await;
        assert_eq!(list.body["items"].as_array().unwrap().len(), 1);

        let missing = api.get("/api/v1/items/PHONE/NOPE").await;
        assert_eq!(missing.status, StatusCode::NOT_FOUND);
        assert!(
            missing.body["error"]["message"]
                .as_str()
                .unwrap()
                .contains("NOPE")
        );
        assert_eq!(
            api.get("/api/v1/events?serial=S1").await.status,
            StatusCode::BAD_REQUEST
        );
        assert_eq!(
            api.get("/api/v1/events/not-a-uuid").await.status,
            StatusCode::BAD_REQUEST
        );
    }
);

store_test!(
    capture_refusals_name_the_field_and_write_nothing,
    |s: TestStore| async move {
        plant(&*s).await;
        let api = Api::new(&s).await;
        api.post("/api/v1/events", commission(&["D1"])).await;
        let before = ledger_len(&api).await;

        // The same serial twice.
        let r = api.post("/api/v1/events", commission(&["D1"])).await;
        assert_eq!(
            (r.status, r.body["error"]["code"].as_str()),
            (StatusCode::CONFLICT, Some("duplicate_serial"))
        );
        assert_eq!(r.body["error"]["field"], "items[0].serial");
        // Twice in one scan session.
        let r = api.post("/api/v1/events", commission(&["D2", "D2"])).await;
        assert_eq!(
            (r.status, r.body["error"]["code"].as_str()),
            (StatusCode::UNPROCESSABLE_ENTITY, Some("duplicate_scan"))
        );
        // Unknown product, unknown field, wrong type, future time.
        let mut e = commission(&["D3"]);
        e["items"][0]["product"] = json!("GHOST");
        let r = api.post("/api/v1/events", e).await;
        assert_eq!(
            (
                r.body["error"]["code"].as_str(),
                r.body["error"]["field"].as_str()
            ),
            (Some("unknown_product"), Some("items[0].product"))
        );
        let mut e = commission(&["D3"]);
        e["operator"] = json!("li");
        let r = api.post("/api/v1/events", e).await;
        assert_eq!(
            (r.status, r.body["error"]["code"].as_str()),
            (StatusCode::BAD_REQUEST, Some("unknown_field"))
        );
        let mut e = commission(&["D3"]);
        e["items"] = json!("D3");
        let r = api.post("/api/v1/events", e).await;
        assert_eq!(
            (r.status, r.body["error"]["field"].as_str()),
            (StatusCode::BAD_REQUEST, Some("items"))
        );
        let mut e = commission(&["D3"]);
        e["event_time"] = json!("2030-01-01T00:00:00+08:00");
        let r = api.post("/api/v1/events", e).await;
        assert_eq!(
            (r.status, r.body["error"]["code"].as_str()),
            (StatusCode::UNPROCESSABLE_ENTITY, Some("future_event_time"))
        );
        let mut e = commission(&["D3"]);
        e["event_time"] = json!("yesterday");
        let r = api.post("/api/v1/events", e).await;
        assert_eq!(
            (r.status, r.body["error"]["field"].as_str()),
            (StatusCode::BAD_REQUEST, Some("event_time"))
        );
        // A required custom attribute is missing.
        let mut e = commission(&["D3"]);
        e.as_object_mut().unwrap().remove("ilmd");
        let r = api.post("/api/v1/events", e).await;
        assert_eq!(
            (
                r.body["error"]["code"].as_str(),
                r.body["error"]["field"].as_str()
            ),
            (Some("missing_attribute"), Some("ilmd.color"))
        );
        let r = api
            .post_raw("/api/v1/events", "{}", &[("content-type", "text/plain")])
            .await;
        assert_eq!(r.status, StatusCode::BAD_REQUEST);

        assert_eq!(ledger_len(&api).await, before, "no refusal writes anything");
    }
);

store_test!(
    a_batch_is_atomic_and_reports_every_bad_event,
    |s: TestStore| async move {
        plant(&*s).await;
        let api = Api::new(&s).await;
        let before = ledger_len(&api).await;
        let bad_time = {
            let mut e = commission(&["X2"]);
            e["event_time"] = json!("2031-01-01T00:00:00Z");
            e
        };
        let ship_unknown = json!({"type": "object", "action": "OBSERVE", "event_time": at(5), "items": [{"product": "PHONE", "serial": "ZZ"}]});
        let r = api
            .post(
                "/api/v1/events",
                json!([commission(&["X1"]), bad_time, ship_unknown.clone()]),
            )
            .await;
        assert_eq!(r.status, StatusCode::UNPROCESSABLE_ENTITY);
        assert_eq!(r.body["errors"][0]["field"], "events[1].event_time");
        let r = api
            .post("/api/v1/events", json!([commission(&["X1"]), ship_unknown]))
            .await;
        assert_eq!(r.body["errors"][0]["field"], "events[1].items[0].serial");
        let r = api
            .post(
                "/api/v1/events",
                json!([commission(&["X1"]), {"type": "object"}]),
            )
            .await;
        assert_eq!(
            (r.status, r.body["error"]["field"].as_str()),
            (StatusCode::BAD_REQUEST, Some("events[1].event_time"))
        );
        assert_eq!(ledger_len(&api).await, before);
        assert_eq!(
            api.get("/api/v1/items/PHONE/X1").await.status,
            StatusCode::NOT_FOUND
        );

        let r = api
            .post(
                "/api/v1/events",
                json!([commission(&["X1"]), commission(&["X2"])]),
            )
            .await;
        assert_eq!(r.status, StatusCode::CREATED);
        assert_eq!(r.body["events"].as_array().unwrap().len(), 2);
        assert_eq!(
            api.post("/api/v1/events", json!([])).await.status,
            StatusCode::BAD_REQUEST
        );
    }
);

store_test!(
    idempotency_key_makes_retries_safe,
    |s: TestStore| async move {
        plant(&*s).await;
        let api = Api::new(&s).await;
        let body = json!([commission(&["K1"])]).to_string();
        let first = api
            .post_raw(
                "/api/v1/events",
                &body,
                &[("idempotency-key", "pda-7-0001")],
            )
            .await;
        assert_eq!(first.status, StatusCode::CREATED);
        let len = ledger_len(&api).await;
        let again = api
            .post_raw(
                "/api/v1/events",
                &body,
                &[("idempotency-key", "pda-7-0001")],
            )
            .await;
        assert_eq!(again.status, StatusCode::CREATED);
        assert_eq!(again.body, first.body);
        assert_eq!(again.headers["idempotent-replayed"], "true");
        assert_eq!(ledger_len(&api).await, len);
        let other = json!([commission(&["K2"])]).to_string();
        let r = api
            .post_raw(
                "/api/v1/events",
                &other,
                &[("idempotency-key", "pda-7-0001")],
            )
            .await;
        assert_eq!(
            (r.status, r.body["error"]["code"].as_str()),
            (
                StatusCode::UNPROCESSABLE_ENTITY,
                Some("idempotency_key_reused")
            )
        );
    }
);

store_test!(
    web_pages_render_in_both_languages,
    |s: TestStore| async move {
        plant(&*s).await;
        let api = Api::new(&s).await;
        api.post("/api/v1/events", commission(&["U1"])).await;
        let zh = api
            .send(
                Request::get("/")
                    .header("accept-language", "zh-CN,zh;q=0.9")
                    .body(Body::empty())
                    .unwrap(),
            )
            .await;
        assert!(zh.body.as_str().unwrap().contains("账本完整"));
        let en = api.get("/?lang=en").await;
        assert!(en.body.as_str().unwrap().contains("Ledger intact"));
        let unit = api.get("/unit?lang=en&product=PHONE&serial=U1").await;
        let html = unit.body.as_str().unwrap();
        assert!(
            html.contains("In production")
                && html.contains("Commissioning")
                && html.contains("Warranty not started"),
            "{html}"
        );
        // A step has one name: the scan station offers it as the passport shows it.
        for (lang, name) in [("en", "Commissioning"), ("zh", "生产赋码")] {
            let station = api.get(&format!("/scan?lang={lang}")).await;
            let station = station.body.as_str().unwrap();
            assert!(
                station.contains(&format!("<option value=\"commission\">{name}</option>")),
                "{station}"
            );
            let unit = api
                .get(&format!("/unit?lang={lang}&product=PHONE&serial=U1"))
                .await;
            let timeline = unit.body.as_str().unwrap();
            assert!(
                timeline.contains(&format!("<div class=\"what\">{name}")),
                "{timeline}"
            );
        }
        let scanned = api
            .get("/unit?lang=en&code=%2801%2909521234543213%2821%29U1")
            .await;
        assert!(
            scanned.body.as_str().unwrap().contains("PHONE U1"),
            "a GS1 scan opens the passport"
        );
        let home = api.get("/?lang=zh").await;
        assert!(home.body.as_str().unwrap().contains("扫码或输入序列号"));
        let missing = api
            .get("/unit?lang=zh&product=PHONE&serial=%3Cscript%3E")
            .await;
        let html = missing.body.as_str().unwrap();
        assert!(html.contains("该序列号未登记") && !html.contains("<script>"));
    }
);
