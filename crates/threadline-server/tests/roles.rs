//! Custom roles through HTTP, on both engines: an administrator defines a role as a set of
//! permissions, gives it to users and tokens, and its permissions hold — and change — from the
//! next request on; a role someone holds cannot be deleted; every change is audited with the
//! value before; bad definitions are refused by field with nothing written; a custom role
//! neither escapes a site binding nor makes an account a partner; `/admin/roles` does the same
//! in both languages.

#![allow(clippy::unwrap_used)] // tests unwrap: a panic is the failure report

mod common;

use axum::body::Body;
use axum::http::{Request, StatusCode};
use common::{Api, Reply, Session};
use http_body_util::BodyExt;
use serde_json::{Value, json};
use threadline_testkit::fixtures::{at, plant};
use threadline_testkit::{TestStore, store_test};
use tower::ServiceExt;

const PW: &str = "correct horse battery";

/// A client of the same server with another token's secret.
fn as_token(admin: &Api, secret: &str) -> Api {
    Api {
        router: admin.router.clone(),
        auth: format!("Bearer {secret}"),
    }
}

async fn create_role(admin: &Api, name: &str, permissions: &[&str]) -> Reply {
    admin
        .post(
            "/api/v1/roles",
            json!({"name": name, "label": "产线检验员", "description": "Inspects at the line",
                   "permissions": permissions}),
        )
        .await
}

async fn set_permissions(admin: &Api, name: &str, version: u32, permissions: &[&str]) -> Reply {
    admin
        .put(
            &format!("/api/v1/roles/{name}"),
            &format!("\"{version}\""),
            json!({"label": "产线检验员", "permissions": permissions}),
        )
        .await
}

async fn new_token(admin: &Api, name: &str, roles: &[&str]) -> Api {
    let r = admin
        .post("/api/v1/tokens", json!({"name": name, "roles": roles}))
        .await;
    assert_eq!(r.status, StatusCode::CREATED, "{:?}", r.body);
    as_token(admin, r.body["secret"].as_str().unwrap())
}

/// PHONEs `serials` made on line 1 and put away in bin A1.
async fn phones_in_stock(admin: &Api, serials: &[&str]) {
    let r = admin
        .post(
            "/api/v1/ops/commission",
            json!({"time": at(60), "product": "PHONE", "serials": serials, "work_order": "WO-1",
                   "line": "SZ-L1", "attributes": {"color": "black"}}),
        )
        .await;
    assert_eq!(r.status, StatusCode::CREATED, "{:?}", r.body);
    let items: Vec<Value> = serials
        .iter()
        .map(|s| json!({"product": "PHONE", "serial": s}))
        .collect();
    let r = admin
        .post(
            "/api/v1/ops/move",
            json!({"time": at(55), "items": items, "to": "SZ-WH-A1", "put_away": true}),
        )
        .await;
    assert_eq!(r.status, StatusCode::CREATED, "{:?}", r.body);
}

fn inspection(serial: &str, minutes_ago: i64) -> Value {
    json!({"time": at(minutes_ago), "items": [{"product": "PHONE", "serial": serial}],
           "result": "pass", "inspector": "Wang"})
}

fn shipment(serial: &str, minutes_ago: i64) -> Value {
    json!({"time": at(minutes_ago), "sales_order": format!("SO-{serial}"), "customer": "CUST1",
           "from": "SZ-WH-A1", "lines": [{"line": "1", "product": "PHONE", "serials": [serial]}]})
}

/// The audit trail's records matching `query`, oldest first.
async fn trail(admin: &Api, query: &str) -> Vec<Value> {
    let r = admin.get(&format!("/api/v1/audit?{query}")).await;
    assert_eq!(r.status, StatusCode::OK, "{:?}", r.body);
    r.body["records"].as_array().unwrap().clone()
}

fn code(r: &Reply) -> (String, String) {
    (
        r.body["error"]["code"].as_str().unwrap_or("").to_owned(),
        r.body["error"]["field"].as_str().unwrap_or("").to_owned(),
    )
}

store_test!(
    a_custom_role_grants_what_it_names_and_a_change_holds_at_the_next_request,
    |s: TestStore| async move {
        plant(&*s).await;
        let admin = Api::new(&s).await;
        phones_in_stock(&admin, &["P1", "P2", "P3", "P4"]).await;

        let r = create_role(&admin, "line-inspector", &["read", "inspect"]).await;
        assert_eq!(r.status, StatusCode::CREATED, "{:?}", r.body);
        assert_eq!(r.headers["etag"], "\"1\"");
        assert_eq!(r.body["permissions"], json!(["inspect", "read"]));
        assert_eq!(
            (r.body["shipped"].clone(), r.body["version"].clone()),
            (json!(false), json!(1))
        );

        // A person and a machine hold it.
        let r = admin
            .post(
                "/api/v1/users",
                json!({"name": "wang", "password": PW, "roles": ["line-inspector"]}),
            )
            .await;
        assert_eq!(r.status, StatusCode::CREATED, "{:?}", r.body);
        assert_eq!(r.body["roles"], json!(["line-inspector"]));
        let wang = Session::sign_in(&admin.router, "wang", PW).await;
        let station = new_token(&admin, "qc-station", &["line-inspector"]).await;
        let me = wang.get("/api/v1/me").await;
        assert_eq!(me.body["roles"], json!(["line-inspector"]));
        assert_eq!(me.body["permissions"], json!(["inspect", "read"]));
        assert!(me.body["party"].is_null(), "{:?}", me.body);

        // It may inspect; it may not ship.
        let r = wang.post("/api/v1/ops/inspect", inspection("P1", 50)).await;
        assert_eq!(r.status, StatusCode::CREATED, "{:?}", r.body);
        let r = station
            .post("/api/v1/ops/inspect", inspection("P2", 49))
            .await;
        assert_eq!(r.status, StatusCode::CREATED, "{:?}", r.body);
        for r in [
            wang.post("/api/v1/ops/ship", shipment("P1", 45)).await,
            station.post("/api/v1/ops/ship", shipment("P2", 45)).await,
        ] {
            assert_eq!(r.status, StatusCode::FORBIDDEN, "{:?}", r.body);
            assert_eq!(code(&r).0, "forbidden");
            assert!(r.message().contains("ship"), "{}", r.message());
        }
        let before = admin.ledger_len().await;

        // The role gains `ship`: both may ship at once (the token was just believed from the
        // server's cache; the change emptied it).
        let r = set_permissions(&admin, "line-inspector", 1, &["read", "inspect", "ship"]).await;
        assert_eq!(r.status, StatusCode::OK, "{:?}", r.body);
        assert_eq!(r.headers["etag"], "\"2\"");
        let r = wang.post("/api/v1/ops/ship", shipment("P1", 40)).await;
        assert_eq!(r.status, StatusCode::CREATED, "{:?}", r.body);
        let r = station.post("/api/v1/ops/ship", shipment("P2", 40)).await;
        assert_eq!(r.status, StatusCode::CREATED, "{:?}", r.body);
        assert_eq!(admin.ledger_len().await, before + 2);
        assert_eq!(
            wang.get("/api/v1/me").await.body["permissions"],
            json!(["inspect", "ship", "read"])
        );

        // It loses `inspect`: refused at once, for both.
        let r = set_permissions(&admin, "line-inspector", 2, &["read", "ship"]).await;
        assert_eq!(r.status, StatusCode::OK, "{:?}", r.body);
        for r in [
            wang.post("/api/v1/ops/inspect", inspection("P3", 30)).await,
            station
                .post("/api/v1/ops/inspect", inspection("P4", 30))
                .await,
        ] {
            assert_eq!(r.status, StatusCode::FORBIDDEN, "{:?}", r.body);
            assert!(r.message().contains("inspect"), "{}", r.message());
        }

        // A custom role beside a shipped one: the union.
        let r = admin
            .put(
                "/api/v1/users/wang/roles",
                "",
                json!({"roles": ["qc", "line-inspector"]}),
            )
            .await;
        assert_eq!(r.status, StatusCode::OK, "{:?}", r.body);
        assert_eq!(r.body["roles"], json!(["qc", "line-inspector"]));
        let r = wang.post("/api/v1/ops/inspect", inspection("P3", 20)).await;
        assert_eq!(r.status, StatusCode::CREATED, "{:?}", r.body);
        let r = wang.post("/api/v1/ops/ship", shipment("P3", 15)).await;
        assert_eq!(r.status, StatusCode::CREATED, "{:?}", r.body);

        // Giving a role that is not defined is refused naming `roles`; nothing is written.
        for (uri, body) in [
            (
                "/api/v1/users",
                json!({"name": "li", "password": PW, "roles": ["night-shift"]}),
            ),
            (
                "/api/v1/tokens",
                json!({"name": "plc-9", "roles": ["qc", "night-shift"]}),
            ),
        ] {
            let r = admin.post(uri, body).await;
            assert_eq!(r.status, StatusCode::UNPROCESSABLE_ENTITY, "{:?}", r.body);
            assert_eq!(code(&r), ("unknown_role".into(), "roles".into()));
            assert!(r.message().contains("night-shift"), "{}", r.message());
        }
        let r = admin
            .put(
                "/api/v1/users/wang/roles",
                "",
                json!({"roles": ["night-shift"]}),
            )
            .await;
        assert_eq!(code(&r), ("unknown_role".into(), "roles".into()));
        assert_eq!(
            admin.get("/api/v1/users/li").await.status,
            StatusCode::NOT_FOUND
        );
        assert_eq!(
            admin.get("/api/v1/users/wang").await.body["roles"],
            json!(["qc", "line-inspector"])
        );
        let tokens = admin.get("/api/v1/tokens").await.body;
        assert!(
            !tokens["items"]
                .as_array()
                .unwrap()
                .iter()
                .any(|t| t["name"] == "plc-9"),
            "{tokens}"
        );
    }
);

store_test!(
    a_role_someone_holds_cannot_be_deleted_and_every_change_is_audited,
    |s: TestStore| async move {
        plant(&*s).await;
        let admin = Api::new(&s).await;
        let r = create_role(&admin, "line-inspector", &["read", "inspect"]).await;
        assert_eq!(r.status, StatusCode::CREATED, "{:?}", r.body);
        let r = set_permissions(&admin, "line-inspector", 1, &["read", "inspect", "hold"]).await;
        assert_eq!(r.status, StatusCode::OK, "{:?}", r.body);
        let r = admin
            .post(
                "/api/v1/users",
                json!({"name": "wang", "password": PW, "roles": ["line-inspector"]}),
            )
            .await;
        assert_eq!(r.status, StatusCode::CREATED, "{:?}", r.body);
        new_token(&admin, "qc-1", &["line-inspector"]).await;
        new_token(&admin, "qc-2", &["warehouse", "line-inspector"]).await;

        // Listed with its holders, after the shipped roles.
        let list = admin.get("/api/v1/roles").await;
        assert_eq!(list.status, StatusCode::OK);
        let items = list.body["items"].as_array().unwrap();
        let names: Vec<&str> = items.iter().map(|r| r["name"].as_str().unwrap()).collect();
        assert_eq!(
            names,
            [
                "admin",
                "warehouse",
                "production",
                "qc",
                "sales",
                "service",
                "quality",
                "auditor",
                "distributor",
                "line-inspector"
            ]
        );
        assert_eq!(items[9]["held_by"], json!({"users": 1, "tokens": 2}));
        assert_eq!(items[3]["permissions"], json!(["inspect", "hold", "read"]));
        assert_eq!(items[3]["shipped"], true);
        let recorded = trail(&admin, "limit=1000").await.len();

        // Held by one user and two tokens: refused, saying so, and nothing is written.
        let r = admin.delete("/api/v1/roles/line-inspector").await;
        assert_eq!(r.status, StatusCode::CONFLICT, "{:?}", r.body);
        assert_eq!(code(&r), ("role_in_use".into(), "name".into()));
        assert!(
            r.message().contains("1 user and 2 active tokens"),
            "{}",
            r.message()
        );
        assert_eq!(
            admin.get("/api/v1/roles/line-inspector").await.status,
            StatusCode::OK
        );
        assert_eq!(trail(&admin, "limit=1000").await.len(), recorded);

        // Taken from the user and one token revoked: still held by the other token.
        let r = admin
            .put("/api/v1/users/wang/roles", "", json!({"roles": ["qc"]}))
            .await;
        assert_eq!(r.status, StatusCode::OK, "{:?}", r.body);
        assert_eq!(
            admin.delete("/api/v1/tokens/qc-1").await.status,
            StatusCode::NO_CONTENT
        );
        let r = admin.delete("/api/v1/roles/line-inspector").await;
        assert_eq!(r.status, StatusCode::CONFLICT, "{:?}", r.body);
        assert!(
            r.message().contains("0 users and 1 active token"),
            "{}",
            r.message()
        );
        // A revoked token does not hold it.
        assert_eq!(
            admin.delete("/api/v1/tokens/qc-2").await.status,
            StatusCode::NO_CONTENT
        );
        let r = admin.delete("/api/v1/roles/line-inspector").await;
        assert_eq!(r.status, StatusCode::NO_CONTENT, "{:?}", r.body);
        assert_eq!(
            admin.get("/api/v1/roles/line-inspector").await.status,
            StatusCode::NOT_FOUND
        );
        assert_eq!(
            admin.delete("/api/v1/roles/line-inspector").await.status,
            StatusCode::NOT_FOUND
        );

        // The trail: who, when, what, the value before and after.
        let records = trail(&admin, "object=roles/line-inspector").await;
        let actions: Vec<(&str, u64)> = records
            .iter()
            .map(|r| (r["action"].as_str().unwrap(), r["status"].as_u64().unwrap()))
            .collect();
        assert_eq!(
            actions,
            [
                ("POST /api/v1/roles", 201),
                ("PUT /api/v1/roles/{name}", 200),
                ("DELETE /api/v1/roles/{name}", 204),
            ]
        );
        for r in &records {
            assert_eq!(r["actor"], "token:test-admin", "{r}");
            assert!(r["recorded_at"].is_string(), "{r}");
        }
        assert!(records[0]["before"].is_null());
        assert_eq!(
            records[0]["after"]["permissions"],
            json!(["inspect", "read"])
        );
        assert_eq!(records[0]["after"]["label"], "产线检验员");
        assert_eq!(
            records[1]["before"]["permissions"],
            json!(["inspect", "read"])
        );
        assert_eq!(records[1]["before"]["version"], 1);
        assert_eq!(
            records[1]["after"]["permissions"],
            json!(["inspect", "hold", "read"])
        );
        assert_eq!(records[1]["after"]["version"], 2);
        assert_eq!(
            records[2]["before"]["permissions"],
            json!(["inspect", "hold", "read"])
        );
        assert!(records[2]["after"].is_null());
    }
);

store_test!(
    bad_role_definitions_are_refused_by_field_and_write_nothing,
    |s: TestStore| async move {
        plant(&*s).await;
        let admin = Api::new(&s).await;
        let r = create_role(&admin, "line-inspector", &["read", "inspect"]).await;
        assert_eq!(r.status, StatusCode::CREATED, "{:?}", r.body);
        let recorded = trail(&admin, "limit=1000").await.len();
        let long = "x".repeat(33);
        let refused = [
            (
                json!({"name": "packer", "label": "Packer", "permissions": ["read", "fly"]}),
                StatusCode::UNPROCESSABLE_ENTITY,
                "unknown_permission",
                "permissions[1]",
            ),
            (
                json!({"name": "line-inspector", "label": "Again", "permissions": ["read"]}),
                StatusCode::CONFLICT,
                "already_exists",
                "name",
            ),
            (
                json!({"name": "qc", "label": "Our QC", "permissions": ["read"]}),
                StatusCode::UNPROCESSABLE_ENTITY,
                "shipped_role",
                "name",
            ),
            (
                json!({"name": "packer", "label": "Packer", "permissions": []}),
                StatusCode::UNPROCESSABLE_ENTITY,
                "no_permissions",
                "permissions",
            ),
            (
                json!({"name": long, "label": "Long", "permissions": ["read"]}),
                StatusCode::UNPROCESSABLE_ENTITY,
                "too_long",
                "name",
            ),
            (
                json!({"name": "Packer 2", "label": "Packer", "permissions": ["read"]}),
                StatusCode::UNPROCESSABLE_ENTITY,
                "invalid_character",
                "name",
            ),
            (
                json!({"name": "packer", "label": "  ", "permissions": ["read"]}),
                StatusCode::UNPROCESSABLE_ENTITY,
                "empty",
                "label",
            ),
            (
                json!({"name": "packer", "label": "Packer", "permissions": ["read"], "colour": "red"}),
                StatusCode::BAD_REQUEST,
                "unknown_field",
                "colour",
            ),
        ];
        for (body, status, want, field) in refused {
            let r = admin.post("/api/v1/roles", body.clone()).await;
            assert_eq!(r.status, status, "{body}: {:?}", r.body);
            assert_eq!(code(&r), (want.to_owned(), field.to_owned()), "{body}");
        }
        // Changes: a shipped role is fixed; a change names the version it replaces.
        let r = set_permissions(&admin, "qc", 1, &["read"]).await;
        assert_eq!(r.status, StatusCode::CONFLICT, "{:?}", r.body);
        assert_eq!(code(&r), ("shipped_role".into(), "name".into()));
        assert_eq!(
            admin.delete("/api/v1/roles/qc").await.status,
            StatusCode::CONFLICT
        );
        let r = set_permissions(&admin, "line-inspector", 7, &["read"]).await;
        assert_eq!(r.status, StatusCode::CONFLICT, "{:?}", r.body);
        assert_eq!(code(&r), ("version_mismatch".into(), "If-Match".into()));
        let r = admin
            .send(
                Request::put("/api/v1/roles/line-inspector")
                    .header("content-type", "application/json")
                    .body(Body::from(
                        json!({"label": "X", "permissions": ["read"]}).to_string(),
                    ))
                    .unwrap(),
            )
            .await;
        assert_eq!(r.status, StatusCode::PRECONDITION_REQUIRED, "{:?}", r.body);
        let r = set_permissions(&admin, "line-inspector", 1, &[]).await;
        assert_eq!(code(&r), ("no_permissions".into(), "permissions".into()));
        let r = set_permissions(&admin, "night-shift", 1, &["read"]).await;
        assert_eq!(r.status, StatusCode::NOT_FOUND, "{:?}", r.body);

        // Nothing of it was written, nor audited.
        let roles = admin.get("/api/v1/roles").await.body;
        let custom: Vec<&Value> = roles["items"]
            .as_array()
            .unwrap()
            .iter()
            .filter(|r| r["shipped"] == false)
            .collect();
        assert_eq!(custom.len(), 1, "{roles}");
        assert_eq!(custom[0]["version"], 1);
        assert_eq!(custom[0]["permissions"], json!(["inspect", "read"]));
        assert_eq!(trail(&admin, "limit=1000").await.len(), recorded);
    }
);

store_test!(
    a_custom_role_is_bound_by_the_accounts_site_and_never_makes_a_partner,
    |s: TestStore| async move {
        plant(&*s).await;
        let admin = Api::new(&s).await;
        for l in [
            json!({"code": "DG", "name": "Dongguan plant", "kind": "site"}),
            json!({"code": "DG-L1", "name": "DG line 1", "kind": "line", "parent": "DG"}),
        ] {
            assert_eq!(
                admin.post("/api/v1/locations", l).await.status,
                StatusCode::CREATED
            );
        }
        let r = create_role(&admin, "line-lead", &["read", "commission", "configure"]).await;
        assert_eq!(r.status, StatusCode::CREATED, "{:?}", r.body);
        let r = admin
            .post(
                "/api/v1/tokens",
                json!({"name": "sz-lead", "roles": ["line-lead"], "site": "SZ"}),
            )
            .await;
        assert_eq!(r.status, StatusCode::CREATED, "{:?}", r.body);
        let lead = as_token(&admin, r.body["secret"].as_str().unwrap());
        let commission = |serial: &str, line: &str| {
            json!({"time": at(60), "product": "PHONE", "serials": [serial], "work_order": "WO-1",
                   "line": line, "attributes": {"color": "black"}})
        };
        let r = lead
            .post("/api/v1/ops/commission", commission("P1", "SZ-L1"))
            .await;
        assert_eq!(r.status, StatusCode::CREATED, "{:?}", r.body);
        let before = admin.ledger_len().await;
        let r = lead
            .post("/api/v1/ops/commission", commission("P2", "DG-L1"))
            .await;
        assert_eq!(r.status, StatusCode::FORBIDDEN, "{:?}", r.body);
        assert_eq!(code(&r), ("outside_site".into(), "line".into()));
        assert_eq!(admin.ledger_len().await, before);

        // An internal account: no party, and the routes a partner never meets answer it.
        let me = lead.get("/api/v1/me").await.body;
        assert!(me["party"].is_null(), "{me}");
        assert_eq!(me["site"], "SZ");
        assert_eq!(lead.get("/api/v1/products").await.status, StatusCode::OK);

        // Partner scoping comes with the shipped `distributor` role alone: a custom role can
        // neither be bound to a party nor stand beside `distributor`.
        for roles in [json!(["line-lead"]), json!(["distributor", "line-lead"])] {
            let r = admin
                .post(
                    "/api/v1/users",
                    json!({"name": "dealer", "password": PW, "roles": roles, "party": "DIST-GD"}),
                )
                .await;
            assert_eq!(r.status, StatusCode::UNPROCESSABLE_ENTITY, "{:?}", r.body);
            assert_eq!(code(&r), ("invalid_party".into(), "party".into()));
        }
        let r = admin
            .post(
                "/api/v1/users",
                json!({"name": "dealer", "password": PW, "roles": ["distributor", "line-lead"]}),
            )
            .await;
        assert_eq!(r.status, StatusCode::UNPROCESSABLE_ENTITY, "{:?}", r.body);
        assert_eq!(code(&r), ("required".into(), "party".into()));
        assert_eq!(
            admin.get("/api/v1/users/dealer").await.status,
            StatusCode::NOT_FOUND
        );
    }
);

/// A form posted by a signed-in browser: its cookie, the CSRF token in the form.
async fn post_form(
    router: &axum::Router,
    cookie: &str,
    pairs: &[(&str, &str)],
) -> (StatusCode, String, String) {
    let body = pairs
        .iter()
        .map(|(k, v)| format!("{k}={}", urlencoding(v)))
        .collect::<Vec<_>>()
        .join("&");
    let req = Request::post("/admin/roles")
        .header("content-type", "application/x-www-form-urlencoded")
        .header("cookie", cookie)
        .body(Body::from(body))
        .unwrap();
    let resp = router.clone().oneshot(req).await.unwrap();
    let status = resp.status();
    let location = resp
        .headers()
        .get("location")
        .map(|v| v.to_str().unwrap().to_owned())
        .unwrap_or_default();
    let bytes = resp.into_body().collect().await.unwrap().to_bytes();
    (
        status,
        location,
        String::from_utf8_lossy(&bytes).into_owned(),
    )
}

fn urlencoding(v: &str) -> String {
    v.bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' => (b as char).to_string(),
            _ => format!("%{b:02X}"),
        })
        .collect()
}

async fn page(router: &axum::Router, cookie: &str, uri: &str) -> (StatusCode, String) {
    let req = Request::get(uri)
        .header("cookie", cookie)
        .body(Body::empty())
        .unwrap();
    let resp = router.clone().oneshot(req).await.unwrap();
    let status = resp.status();
    let bytes = resp.into_body().collect().await.unwrap().to_bytes();
    (status, String::from_utf8_lossy(&bytes).into_owned())
}

store_test!(
    the_roles_page_lists_copies_creates_changes_and_deletes_in_both_languages,
    |s: TestStore| async move {
        plant(&*s).await;
        let admin = Api::new(&s).await;
        let r = admin
            .post(
                "/api/v1/users",
                json!({"name": "boss", "password": PW, "roles": ["admin"]}),
            )
            .await;
        assert_eq!(r.status, StatusCode::CREATED, "{:?}", r.body);
        let signed_in = admin
            .send(
                Request::post("/api/v1/session")
                    .header("content-type", "application/json")
                    .body(Body::from(
                        json!({"name": "boss", "password": PW}).to_string(),
                    ))
                    .unwrap(),
            )
            .await;
        let cookie = signed_in.headers["set-cookie"]
            .to_str()
            .unwrap()
            .split(';')
            .next()
            .unwrap()
            .to_owned();
        let csrf = signed_in.body["csrf_token"].as_str().unwrap().to_owned();
        let router = &admin.router;

        // The shipped roles, read-only with their permissions, each offered as a copy.
        let (status, en) = page(router, &cookie, "/admin/roles?lang=en").await;
        assert_eq!(status, StatusCode::OK, "{en}");
        for text in [
            "Shipped roles",
            "Custom roles",
            "No custom roles yet.",
            "Inspect, Hold and release, Read",
            "/admin/roles?copy=qc&amp;lang=en",
            "name=\"perm.manage_users\"",
        ] {
            assert!(en.contains(text), "{text}: {en}");
        }
        let (_, zh) = page(router, &cookie, "/admin/roles?lang=zh").await;
        for text in [
            "内置角色",
            "自定义角色",
            "质检, 冻结与解冻, 查询",
            "角色代码",
            "显示名称",
        ] {
            assert!(zh.contains(text), "{text}: {zh}");
        }
        // A copy of qc starts the form with its permissions, and without its name.
        let (_, copy) = page(router, &cookie, "/admin/roles?copy=qc&lang=en").await;
        assert!(
            copy.contains("id=\"perm-inspect\" name=\"perm.inspect\" checked"),
            "{copy}"
        );
        assert!(
            copy.contains("id=\"perm-hold\" name=\"perm.hold\" checked"),
            "{copy}"
        );
        assert!(
            !copy.contains("id=\"perm-ship\" name=\"perm.ship\" checked"),
            "{copy}"
        );
        assert!(copy.contains("name=\"name\" value=\"\""), "{copy}");

        // Create, through the API's handler and its rules.
        let (status, location, _) = post_form(
            router,
            &cookie,
            &[
                ("csrf", &csrf),
                ("lang", "en"),
                ("action", "create"),
                ("name", "line-inspector"),
                ("label", "Line inspector"),
                ("perm.read", "on"),
                ("perm.inspect", "on"),
            ],
        )
        .await;
        assert_eq!(status, StatusCode::SEE_OTHER);
        assert_eq!(location, "/admin/roles?done=line-inspector&lang=en");
        let role = admin.get("/api/v1/roles/line-inspector").await;
        assert_eq!(role.body["permissions"], json!(["inspect", "read"]));
        let (_, listed) = page(router, &cookie, "/admin/roles?lang=en").await;
        assert!(
            listed.contains("Line inspector") && listed.contains("Users 0 · API tokens 0"),
            "{listed}"
        );

        // Change, with the version the form was loaded with.
        let (_, edit) = page(router, &cookie, "/admin/roles?edit=line-inspector&lang=en").await;
        assert!(edit.contains("name=\"version\" value=\"1\""), "{edit}");
        let change = |version: &'static str| {
            vec![
                ("csrf", csrf.clone()),
                ("lang", "en".to_owned()),
                ("action", "update".to_owned()),
                ("name", "line-inspector".to_owned()),
                ("version", version.to_owned()),
                ("label", "Line inspector".to_owned()),
                ("perm.read", "on".to_owned()),
                ("perm.inspect", "on".to_owned()),
                ("perm.hold", "on".to_owned()),
            ]
        };
        let pairs = change("1");
        let pairs: Vec<(&str, &str)> = pairs.iter().map(|(k, v)| (*k, v.as_str())).collect();
        let (status, location, _) = post_form(router, &cookie, &pairs).await;
        assert_eq!(status, StatusCode::SEE_OTHER);
        assert!(location.contains("edit=line-inspector"), "{location}");
        assert_eq!(
            admin.get("/api/v1/roles/line-inspector").await.body["permissions"],
            json!(["inspect", "hold", "read"])
        );
        // A stale form is refused, in the reader's language.
        let pairs = change("1");
        let mut pairs: Vec<(&str, &str)> = pairs.iter().map(|(k, v)| (*k, v.as_str())).collect();
        pairs[1] = ("lang", "zh");
        let (status, _, html) = post_form(router, &cookie, &pairs).await;
        assert_eq!(status, StatusCode::CONFLICT, "{html}");
        assert!(html.contains("版本不一致"), "{html}");

        // A refused create shows what was sent, with the problem under the field's name.
        let (status, _, html) = post_form(
            router,
            &cookie,
            &[
                ("csrf", &csrf),
                ("lang", "en"),
                ("action", "create"),
                ("name", "qc"),
                ("label", "Our QC"),
                ("perm.read", "on"),
            ],
        )
        .await;
        assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{html}");
        assert!(
            html.contains("<strong>Role name</strong> (<code>name</code>)"),
            "{html}"
        );
        assert!(html.contains("value=\"Our QC\""), "{html}");

        // Delete: refused while held, then done.
        let r = admin
            .post(
                "/api/v1/users",
                json!({"name": "wang", "password": PW, "roles": ["line-inspector"]}),
            )
            .await;
        assert_eq!(r.status, StatusCode::CREATED, "{:?}", r.body);
        let delete = [
            ("csrf", csrf.as_str()),
            ("lang", "zh"),
            ("action", "delete"),
            ("name", "line-inspector"),
        ];
        let (status, _, html) = post_form(router, &cookie, &delete).await;
        assert_eq!(status, StatusCode::CONFLICT, "{html}");
        assert!(html.contains("仍有用户或令牌持有这个角色"), "{html}");
        let r = admin
            .put("/api/v1/users/wang/roles", "", json!({"roles": ["qc"]}))
            .await;
        assert_eq!(r.status, StatusCode::OK, "{:?}", r.body);
        let (status, _, _) = post_form(router, &cookie, &delete).await;
        assert_eq!(status, StatusCode::SEE_OTHER);
        assert_eq!(
            admin.get("/api/v1/roles/line-inspector").await.status,
            StatusCode::NOT_FOUND
        );

        // The page's changes are in the trail as the page answered them, by the person.
        let records = trail(&admin, "object=roles/line-inspector").await;
        let seen: Vec<(&str, &str, u64)> = records
            .iter()
            .map(|r| {
                (
                    r["actor"].as_str().unwrap(),
                    r["action"].as_str().unwrap(),
                    r["status"].as_u64().unwrap(),
                )
            })
            .collect();
        assert_eq!(
            seen,
            [
                ("boss", "POST /admin/roles", 303),
                ("boss", "POST /admin/roles", 303),
                ("boss", "POST /admin/roles", 303),
            ]
        );
        assert_eq!(
            records[1]["before"]["permissions"],
            json!(["inspect", "read"])
        );

        // Without the CSRF token nothing happens.
        let (status, _, _) = post_form(
            router,
            &cookie,
            &[
                ("lang", "en"),
                ("action", "create"),
                ("name", "x"),
                ("label", "X"),
                ("perm.read", "on"),
            ],
        )
        .await;
        assert_eq!(status, StatusCode::FORBIDDEN);
        assert_eq!(
            admin.get("/api/v1/roles/x").await.status,
            StatusCode::NOT_FOUND
        );
    }
);
