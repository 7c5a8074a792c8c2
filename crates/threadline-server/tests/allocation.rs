//! Allocating serials from a product's rule: blocks continue the counter, never repeat even
//! under concurrent allocators, register unassigned units, and commissioning takes them over.

#![allow(clippy::unwrap_used)] // tests unwrap: a panic is the failure report

use std::collections::HashSet;
use std::sync::Arc;

use axum::body::Body;
use axum::http::{Request, StatusCode};
use http_body_util::BodyExt;
use serde_json::{Value, json};
use threadline_domain::access::Role;
use threadline_server::serials::{AllocationRequest, allocate};
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

async fn call(
    router: &(axum::Router, String),
    method: &str,
    uri: &str,
    body: Value,
) -> (StatusCode, Value) {
    let req = Request::builder()
        .method(method)
        .uri(uri)
        .header("content-type", "application/json")
        .body(Body::from(body.to_string()))
        .unwrap();
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

/// `workers` allocators, each taking `rounds` blocks of `count` serials of `TC` on `line`; the
/// n-th worker uses `stores[n % stores.len()]`. Returns every serial issued.
async fn allocate_concurrently(
    stores: &[Arc<dyn threadline_store::Store>],
    workers: usize,
    rounds: usize,
    count: u64,
    line: &str,
) -> Vec<String> {
    let mut tasks = tokio::task::JoinSet::new();
    for w in 0..workers {
        let store = stores[w % stores.len()].clone();
        let line = line.to_owned();
        tasks.spawn(async move {
            let mut got = Vec::new();
            for _ in 0..rounds {
                let req = AllocationRequest {
                    count,
                    site: None,
                    line: Some(line.clone()),
                    at: None,
                    printer: None,
                };
                got.extend(
                    allocate(&*store, "TC", &req, "test", now(), None)
                        .await
                        .unwrap()
                        .serials,
                );
            }
            got
        });
    }
    let mut all = Vec::new();
    while let Some(r) = tasks.join_next().await {
        all.extend(r.unwrap());
    }
    all
}

const RULE: &str = r#"{"code": "TCR", "template": "TC{YYMMDD}{LINE}{SEQ:5}", "time_zone": "+08:00", "sequence_reset": "daily"}"#;

async fn product_with_rule(router: &(axum::Router, String)) {
    let def = json!({"code": "TC", "name": "Controller", "tracking": "serial", "serial_rule": serde_json::from_str::<Value>(RULE).unwrap()});
    let (status, body) = call(router, "POST", "/api/v1/products", def).await;
    assert_eq!(status, StatusCode::CREATED, "{body}");
}

store_test!(
    allocated_blocks_continue_the_counter,
    |s: TestStore| async move {
        plant(&*s).await;
        let router = authed(&s).await;
        product_with_rule(&router).await;

        let (status, body) = call(
            &router,
            "POST",
            "/api/v1/products/TC/allocations",
            json!({"count": 3, "line": "L1", "printer": "ZT410-01"}),
        )
        .await;
        assert_eq!(status, StatusCode::CREATED, "{body}");
        assert_eq!(
            body["serials"],
            json!(["TC260601L100001", "TC260601L100002", "TC260601L100003"])
        );
        let (_, body) = call(
            &router,
            "POST",
            "/api/v1/products/TC/allocations",
            json!({"count": 2, "line": "L1"}),
        )
        .await;
        assert_eq!(
            body["serials"],
            json!(["TC260601L100004", "TC260601L100005"])
        );
        // Another line has its own counter; another day starts again.
        let (_, body) = call(
            &router,
            "POST",
            "/api/v1/products/TC/allocations",
            json!({"count": 1, "line": "L2"}),
        )
        .await;
        assert_eq!(body["serials"], json!(["TC260601L200001"]));
        let (_, body) = call(
            &router,
            "POST",
            "/api/v1/products/TC/allocations",
            json!({"count": 1, "line": "L1", "at": "2026-06-02T02:00:00Z"}),
        )
        .await;
        assert_eq!(body["serials"], json!(["TC260602L100001"]));

        // Allocated serials are unassigned units until commissioned; the event says who and where.
        let (_, item) = call(
            &router,
            "GET",
            "/api/v1/items/TC/TC260601L100002",
            Value::Null,
        )
        .await;
        assert_eq!(item["status"], "unassigned");
        let (_, events) = call(
            &router,
            "GET",
            "/api/v1/events?product=TC&serial=TC260601L100002",
            Value::Null,
        )
        .await;
        assert_eq!(events["items"][0]["biz_step"], "encoding");
        assert_eq!(events["items"][0]["fields"]["printer"], "ZT410-01");
        let commission = json!({"type": "object", "action": "ADD", "event_time": at(1), "biz_step": "commissioning", "disposition": "active",
        "biz_location": "SZ-L1", "items": [{"product": "TC", "serial": "TC260601L100002"}]});
        let (status, body) = call(&router, "POST", "/api/v1/events", commission.clone()).await;
        assert_eq!(status, StatusCode::CREATED, "{body}");
        let (_, item) = call(
            &router,
            "GET",
            "/api/v1/items/TC/TC260601L100002",
            Value::Null,
        )
        .await;
        assert_eq!(item["status"], "in_production");
        // ...once.
        let (status, body) = call(&router, "POST", "/api/v1/events", commission).await;
        assert_eq!(
            (status, body["error"]["code"].as_str()),
            (StatusCode::CONFLICT, Some("duplicate_serial"))
        );

        // Refusals.
        let (status, body) = call(
            &router,
            "POST",
            "/api/v1/products/PHONE/allocations",
            json!({"count": 1}),
        )
        .await;
        assert_eq!(
            (status, body["error"]["code"].as_str()),
            (StatusCode::UNPROCESSABLE_ENTITY, Some("no_serial_rule"))
        );
        let (status, _) = call(
            &router,
            "POST",
            "/api/v1/products/TC/allocations",
            json!({"count": 0}),
        )
        .await;
        assert_eq!(status, StatusCode::BAD_REQUEST);
        let (status, body) = call(
            &router,
            "POST",
            "/api/v1/products/TC/allocations",
            json!({"count": 1}),
        )
        .await;
        assert_eq!(
            (status, body["error"]["code"].as_str()),
            (StatusCode::UNPROCESSABLE_ENTITY, Some("missing_context")),
            "{body}"
        );
        let bad = json!({"code": "TB", "name": "x", "tracking": "serial", "serial_rule": {"code": "B", "template": "B{SEQ:0}"}});
        let (status, body) = call(&router, "POST", "/api/v1/products", bad).await;
        assert_eq!(
            (
                status,
                body["error"]["code"].as_str(),
                body["error"]["field"].as_str()
            ),
            (
                StatusCode::UNPROCESSABLE_ENTITY,
                Some("invalid_serial_rule"),
                Some("serial_rule")
            ),
            "{body}"
        );

        // The counters are part of the projection: rebuild restores them.
        let live = s.snapshot().await.unwrap();
        assert_eq!(live.counters.len(), 3);
        s.rebuild().await.unwrap();
        assert_eq!(s.snapshot().await.unwrap(), live);
        assert!(s.verify().await.unwrap().first_break.is_none());
    }
);

store_test!(
    concurrent_allocators_never_issue_a_serial_twice,
    |s: TestStore| async move {
        plant(&*s).await;
        let router = authed(&s).await;
        product_with_rule(&router).await;
        let all = allocate_concurrently(std::slice::from_ref(&s.store), 8, 5, 7, "L9").await;
        let distinct: HashSet<&String> = all.iter().collect();
        assert_eq!(
            (all.len(), distinct.len()),
            (8 * 5 * 7, 8 * 5 * 7),
            "no serial issued twice"
        );
        // No gaps either when nothing crashed: the block is 1..=280.
        let mut seqs: Vec<u32> = all.iter().map(|s| s[10..].parse().unwrap()).collect();
        seqs.sort();
        assert_eq!(seqs, (1..=280).collect::<Vec<_>>());
    }
);

/// Two server processes on one PostgreSQL database (two independent connection pools) allocate
/// from the same counter at once: every serial is issued once.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_processes_on_one_postgres_never_issue_a_serial_twice() {
    let Some(url) = threadline_testkit::pg_url() else {
        eprintln!("THREADLINE_TEST_PG is not set: PostgreSQL test skipped");
        return;
    };
    let (config, _guard) = threadline_store_postgres::testing::empty_schema(&url)
        .await
        .unwrap();
    let a: Arc<dyn threadline_store::Store> = Arc::new(
        threadline_store_postgres::PgStore::from_config(config.clone())
            .await
            .unwrap(),
    );
    let b: Arc<dyn threadline_store::Store> = Arc::new(
        threadline_store_postgres::PgStore::from_config(config)
            .await
            .unwrap(),
    );
    plant(&*a).await;
    let def = json!({"code": "TC", "name": "Controller", "tracking": "serial", "serial_rule": serde_json::from_str::<Value>(RULE).unwrap()});
    a.put_master(threadline_store::MasterWrite {
        record: serde_json::from_value(json!({"type": "product", "def": def})).unwrap(),
        actor: "test".into(),
        now: now(),
        id: uuid::Uuid::now_v7(),
        replaces: None,
    })
    .await
    .unwrap();
    let all = allocate_concurrently(&[a.clone(), b.clone()], 6, 5, 9, "L7").await;
    let distinct: HashSet<&String> = all.iter().collect();
    assert_eq!((all.len(), distinct.len()), (6 * 5 * 9, 6 * 5 * 9));
    assert!(a.verify().await.unwrap().first_break.is_none());
}

store_test!(
    allocated_serials_get_their_attributes_at_commissioning,
    |s: TestStore| async move {
        plant(&*s).await;
        let router = authed(&s).await;
        let def = json!({"code": "TA", "name": "With attributes", "tracking": "serial",
        "attributes": [{"name": "firmware", "type": "text", "required": true}],
        "serial_rule": serde_json::from_str::<Value>(RULE).unwrap()});
        assert_eq!(
            call(&router, "POST", "/api/v1/products", def).await.0,
            StatusCode::CREATED
        );
        let (status, body) = call(
            &router,
            "POST",
            "/api/v1/products/TA/allocations",
            json!({"count": 1, "line": "L1"}),
        )
        .await;
        assert_eq!(status, StatusCode::CREATED, "{body}");
        let serial = body["serials"][0].as_str().unwrap().to_owned();
        let commission = |ilmd: Value| {
            json!({"type": "object", "action": "ADD", "event_time": at(1), "biz_step": "commissioning", "disposition": "active",
               "biz_location": "SZ-L1", "items": [{"product": "TA", "serial": serial}], "ilmd": ilmd})
        };
        let (status, body) = call(&router, "POST", "/api/v1/events", commission(json!({}))).await;
        assert_eq!(
            (status, body["error"]["code"].as_str()),
            (StatusCode::UNPROCESSABLE_ENTITY, Some("missing_attribute"))
        );
        let (status, body) = call(
            &router,
            "POST",
            "/api/v1/events",
            commission(json!({"firmware": "1.0"})),
        )
        .await;
        assert_eq!(status, StatusCode::CREATED, "{body}");
    }
);

store_test!(
    a_spoiled_allocated_serial_is_voided_and_never_used,
    |s: TestStore| async move {
        plant(&*s).await;
        let router = authed(&s).await;
        product_with_rule(&router).await;
        let (_, body) = call(
            &router,
            "POST",
            "/api/v1/products/TC/allocations",
            json!({"count": 2, "line": "L1"}),
        )
        .await;
        let spoiled = body["serials"][0].as_str().unwrap().to_owned();
        let void = json!({"type": "object", "action": "DELETE", "event_time": at(2), "biz_step": "decommissioning",
        "items": [{"product": "TC", "serial": spoiled}], "fields": {"reason": "label torn at the printer"}});
        let (status, body) = call(&router, "POST", "/api/v1/events", void).await;
        assert_eq!(status, StatusCode::CREATED, "{body}");
        let (_, item) = call(
            &router,
            "GET",
            &format!("/api/v1/items/TC/{spoiled}"),
            Value::Null,
        )
        .await;
        assert_eq!(item["status"], "voided");
        let commission = json!({"type": "object", "action": "ADD", "event_time": at(1), "biz_location": "SZ-L1",
        "items": [{"product": "TC", "serial": spoiled}]});
        let (status, body) = call(&router, "POST", "/api/v1/events", commission).await;
        assert_eq!(status.as_u16() / 100, 4, "{body}");
        // The next block does not reuse it.
        let (_, body) = call(
            &router,
            "POST",
            "/api/v1/products/TC/allocations",
            json!({"count": 1, "line": "L1"}),
        )
        .await;
        assert_eq!(body["serials"][0], "TC260601L100003");
    }
);

store_test!(
    an_allocation_drawing_a_registered_serial_is_refused_by_name,
    |s: TestStore| async move {
        // An allocation's serials are not looked up before they are recorded: the unique key
        // on units finds one registered already (here, a serial of the rule's form commissioned
        // without an allocation), and the refusal names it as the projection would.
        plant(&*s).await;
        let router = authed(&s).await;
        product_with_rule(&router).await;
        let unit = |serial: &str| json!({"product": "TC", "serial": serial});
        let commission = json!({"type": "object", "action": "ADD", "event_time": at(1), "biz_step": "commissioning",
            "disposition": "active", "biz_location": "SZ-L1", "items": [unit("TC260601L100002"), unit("TC260601L100150")]});
        let (status, body) = call(&router, "POST", "/api/v1/events", commission).await;
        assert_eq!(status, StatusCode::CREATED, "{body}");
        let before = s.snapshot().await.unwrap();

        let (status, body) = call(
            &router,
            "POST",
            "/api/v1/products/TC/allocations",
            json!({"count": 3, "line": "L1"}),
        )
        .await;
        assert_eq!(
            (
                status,
                body["error"]["code"].as_str(),
                body["error"]["field"].as_str()
            ),
            (
                StatusCode::CONFLICT,
                Some("duplicate_serial"),
                Some("items[1].serial")
            ),
            "{body}"
        );
        // Nothing written: no unit, no counter, no event.
        assert_eq!(s.snapshot().await.unwrap(), before);
        // A block large enough to be written many rows to a statement names every taken serial.
        let (status, body) = call(
            &router,
            "POST",
            "/api/v1/products/TC/allocations",
            json!({"count": 300, "line": "L1"}),
        )
        .await;
        let named: Vec<(&str, &str)> = body["errors"]
            .as_array()
            .unwrap()
            .iter()
            .map(|e| (e["code"].as_str().unwrap(), e["field"].as_str().unwrap()))
            .collect();
        assert_eq!(
            (status, named),
            (
                StatusCode::CONFLICT,
                vec![
                    ("duplicate_serial", "items[1].serial"),
                    ("duplicate_serial", "items[149].serial")
                ]
            ),
            "{body}"
        );
        assert_eq!(s.snapshot().await.unwrap(), before);

        // An allocation event sent in a batch is named within it.
        let allocation = json!({"type": "object", "action": "ADD", "event_time": at(2), "biz_step": "encoding",
            "disposition": "encoded", "items": [unit("TC260601L100001"), unit("TC260601L100002")],
            "allocation": {"scope": "batch-test", "first": 1, "count": 2, "rule_version": 1}});
        let other = json!({"type": "object", "action": "ADD", "event_time": at(2), "biz_step": "commissioning",
            "disposition": "active", "biz_location": "SZ-L1", "items": [unit("TC-OTHER-1")]});
        let (status, body) = call(
            &router,
            "POST",
            "/api/v1/events",
            json!([other, allocation]),
        )
        .await;
        assert_eq!(
            (
                status,
                body["error"]["code"].as_str(),
                body["error"]["field"].as_str()
            ),
            (
                StatusCode::CONFLICT,
                Some("duplicate_serial"),
                Some("events[1].items[1].serial")
            ),
            "{body}"
        );
        assert_eq!(s.snapshot().await.unwrap(), before);

        // Without the taken serial the block is recorded, and rebuild gives the same state.
        let allocation = json!({"type": "object", "action": "ADD", "event_time": at(2), "biz_step": "encoding",
            "disposition": "encoded", "items": [unit("TC260601L100001"), unit("TC260601L100003")],
            "allocation": {"scope": "batch-test", "first": 1, "count": 2, "rule_version": 1}});
        let (status, body) = call(&router, "POST", "/api/v1/events", allocation).await;
        assert_eq!(status, StatusCode::CREATED, "{body}");
        let (_, item) = call(
            &router,
            "GET",
            "/api/v1/items/TC/TC260601L100003",
            Value::Null,
        )
        .await;
        assert_eq!(item["status"], "unassigned");
        // A block written many rows to a statement, and a batch of new units built into a
        // new unit in the same request (their parent's row id is known before theirs).
        let (status, body) = call(
            &router,
            "POST",
            "/api/v1/products/TC/allocations",
            json!({"count": 300, "line": "L2"}),
        )
        .await;
        assert_eq!(status, StatusCode::CREATED, "{body}");
        let last = body["serials"][299].as_str().unwrap().to_owned();
        let (_, item) = call(
            &router,
            "GET",
            &format!("/api/v1/items/TC/{last}"),
            Value::Null,
        )
        .await;
        assert_eq!(item["status"], "unassigned", "{item}");
        let boards: Vec<Value> = (0..130)
            .map(|n| json!({"product": "BOARD", "serial": format!("B-{n:03}")}))
            .collect();
        let batch = json!([
            {"type": "object", "action": "ADD", "event_time": at(3), "biz_step": "commissioning", "disposition": "active",
             "biz_location": "SZ-L1", "items": [{"product": "PHONE", "serial": "P-BIG"}], "ilmd": {"color": "black"}},
            {"type": "object", "action": "ADD", "event_time": at(3), "biz_step": "commissioning", "disposition": "active",
             "biz_location": "SZ-L1", "items": boards},
            {"type": "aggregation", "action": "ADD", "event_time": at(4), "biz_step": "assembling",
             "biz_location": "SZ-L1", "parent": {"product": "PHONE", "serial": "P-BIG"}, "children": boards},
        ]);
        let (status, body) = call(&router, "POST", "/api/v1/events", batch).await;
        assert_eq!(status, StatusCode::CREATED, "{body}");
        let (_, item) = call(&router, "GET", "/api/v1/items/BOARD/B-129", Value::Null).await;
        assert_eq!(
            item["parent"],
            json!({"product": "PHONE", "serial": "P-BIG"}),
            "{item}"
        );
        let (_, item) = call(&router, "GET", "/api/v1/items/PHONE/P-BIG", Value::Null).await;
        assert_eq!(
            item["children"].as_array().map(Vec::len),
            Some(130),
            "{item}"
        );
        let live = s.snapshot().await.unwrap();
        s.rebuild().await.unwrap();
        assert_eq!(s.snapshot().await.unwrap(), live);
        assert!(s.verify().await.unwrap().first_break.is_none());
    }
);
