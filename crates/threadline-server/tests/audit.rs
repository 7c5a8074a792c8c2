//! The audit trail through HTTP, on both engines: every kind of write leaves a record saying
//! who, when, from where, what and what it was before; sign-in failures and lockouts too; an
//! auditor searches it by user, object and time and exports it; `verify` counts it.

#![allow(clippy::unwrap_used)] // tests unwrap: a panic is the failure report

use std::net::SocketAddr;
use std::sync::Arc;

use axum::body::Body;
use axum::extract::ConnectInfo;
use axum::http::{Method, Request, StatusCode};
use http_body_util::BodyExt;
use serde_json::{Value, json};
use threadline_domain::access::Role;
use threadline_server::{AppState, ManualClock, app};
use threadline_testkit::fixtures::{at, now, plant, token};
use threadline_testkit::{TestStore, store_test};
use tower::ServiceExt;

mod common;

struct Client {
    router: axum::Router,
    clock: Arc<ManualClock>,
}

struct Reply {
    status: StatusCode,
    body: Value,
    bytes: Vec<u8>,
}

const ADDRESS: &str = "192.0.2.44";

impl Client {
    async fn new(s: &TestStore) -> Client {
        let clock = Arc::new(ManualClock::new(now()));
        let state = AppState {
            clock: clock.clone(),
            ..AppState::new(s.store.clone())
        };
        Client {
            router: app(state),
            clock,
        }
    }

    /// A request from [`ADDRESS`], as `serve` would see it.
    async fn call(&self, method: Method, uri: &str, auth: &str, body: Option<Value>) -> Reply {
        let body = body.map(|v| ("application/json", v.to_string()));
        self.call_with(method, uri, auth, &[], body).await
    }

    /// [`Client::call`] with more headers and a body of any media type.
    async fn call_with(
        &self,
        method: Method,
        uri: &str,
        auth: &str,
        headers: &[(&str, &str)],
        body: Option<(&str, String)>,
    ) -> Reply {
        let mut b = Request::builder().method(method).uri(uri);
        if !auth.is_empty() {
            b = b.header("authorization", format!("Bearer {auth}"));
        }
        for (k, v) in headers {
            b = b.header(*k, *v);
        }
        let mut req = match body {
            Some((media, text)) => b.header("content-type", media).body(Body::from(text)),
            None => b.body(Body::empty()),
        }
        .unwrap();
        let addr: SocketAddr = format!("{ADDRESS}:50000").parse().unwrap();
        req.extensions_mut().insert(ConnectInfo(addr));
        let resp = self.router.clone().oneshot(req).await.unwrap();
        let status = resp.status();
        let bytes = resp
            .into_body()
            .collect()
            .await
            .unwrap()
            .to_bytes()
            .to_vec();
        Reply {
            status,
            body: serde_json::from_slice(&bytes).unwrap_or(Value::Null),
            bytes,
        }
    }

    async fn records(&self, auditor: &str, query: &str) -> Vec<Value> {
        let r = self
            .call(
                Method::GET,
                &format!("/api/v1/audit?{query}"),
                auditor,
                None,
            )
            .await;
        assert_eq!(r.status, StatusCode::OK, "{}", r.body);
        r.body["records"].as_array().unwrap().clone()
    }
}

fn actions(records: &[Value]) -> Vec<String> {
    records
        .iter()
        .map(|r| r["action"].as_str().unwrap().to_owned())
        .collect()
}

store_test!(
    every_kind_of_write_is_recorded_with_who_when_where_and_before,
    |s: TestStore| async move {
        plant(&*s).await;
        let c = Client::new(&s).await;
        let admin = token(&*s, "root", &[Role::Admin]).await;
        let auditor = token(&*s, "audit-1", &[Role::Auditor]).await;
        let qc = token(&*s, "qc-1", &[Role::Qc]).await;

        // Master data: the value before and after.
        let p = c
            .call(Method::GET, "/api/v1/products/BOARD", &admin, None)
            .await;
        let mut changed = p.body.clone();
        changed["name"] = json!("Main board rev B");
        for k in ["version", "updated_at"] {
            changed.as_object_mut().unwrap().remove(k);
        }
        let mut req = Request::builder()
            .method(Method::PUT)
            .uri("/api/v1/products/BOARD")
            .header("authorization", format!("Bearer {admin}"))
            .header("content-type", "application/json")
            .header("if-match", "\"1\"")
            .body(Body::from(changed.to_string()))
            .unwrap();
        req.extensions_mut()
            .insert(ConnectInfo::<SocketAddr>("192.0.2.44:1".parse().unwrap()));
        let resp = c.router.clone().oneshot(req).await.unwrap();
        assert_eq!(resp.status(), StatusCode::OK);

        c.clock.advance(chrono::Duration::minutes(5));
        // An event with a correction: the reason is recorded.
        let r = c
            .call(
                Method::POST,
                "/api/v1/events",
                &admin,
                Some(json!({"type": "object", "action": "ADD", "event_time": at(30), "biz_step": "commissioning",
                    "disposition": "active", "biz_location": "SZ-L1", "items": [{"product": "BOARD", "serial": "B1"}]})),
            )
            .await;
        assert_eq!(r.status, StatusCode::CREATED, "{}", r.body);
        let first = r.body["events"][0]["id"].as_str().unwrap().to_owned();
        let r = c
            .call(
                Method::POST,
                "/api/v1/events",
                &admin,
                Some(json!({"type": "object", "action": "OBSERVE", "event_time": at(20), "biz_step": "inspecting",
                    "items": [{"product": "BOARD", "serial": "B1"}],
                    "corrects": {"event": first, "reason": "scanned at the wrong station"}})),
            )
            .await;
        assert_eq!(r.status, StatusCode::CREATED, "{}", r.body);

        // Users and tokens: created, changed, locked, revoked.
        let r = c
            .call(
                Method::POST,
                "/api/v1/users",
                &admin,
                Some(json!({"name": "li.na", "password": "correct horse", "roles": ["qc"]})),
            )
            .await;
        assert_eq!(r.status, StatusCode::CREATED);
        let r = c
            .call(
                Method::PUT,
                "/api/v1/users/li.na/roles",
                &admin,
                Some(json!({"roles": ["quality"]})),
            )
            .await;
        assert_eq!(r.status, StatusCode::OK);
        c.call(Method::POST, "/api/v1/users/li.na/lock", &admin, None)
            .await;
        c.call(Method::POST, "/api/v1/users/li.na/unlock", &admin, None)
            .await;
        let r = c
            .call(
                Method::POST,
                "/api/v1/tokens",
                &admin,
                Some(json!({"name": "erp", "roles": ["production"]})),
            )
            .await;
        let secret = r.body["secret"].as_str().unwrap().to_owned();
        c.call(Method::DELETE, "/api/v1/tokens/erp", &admin, None)
            .await;
        // A refusal for lack of permission is recorded too.
        let r = c
            .call(
                Method::POST,
                "/api/v1/products",
                &qc,
                Some(json!({"code": "X", "name": "x", "tracking": "serial"})),
            )
            .await;
        assert_eq!(r.status, StatusCode::FORBIDDEN);
        // Reads are not.
        c.call(Method::GET, "/api/v1/products", &admin, None).await;

        let all = c.records(&auditor, "limit=1000").await;
        let text = serde_json::to_string(&all).unwrap();
        assert!(
            !text.contains(&secret) && !text.contains("correct horse") && !text.contains("$argon2"),
            "no secret reaches the trail"
        );

        let board = c.records(&auditor, "object=products/BOARD").await;
        assert_eq!(actions(&board), ["PUT /api/v1/products/{code}"]);
        let b = &board[0];
        assert_eq!(b["actor"], "token:root");
        assert_eq!(b["address"], ADDRESS);
        assert_eq!(b["status"], 200);
        assert_eq!(b["recorded_at"], json!(now()));
        assert_eq!(b["before"]["name"], "Main board");
        assert_eq!(b["before"]["version"], 1);
        assert_eq!(b["after"]["name"], "Main board rev B");
        assert_eq!(b["after"]["version"], 2);

        let events = c.records(&auditor, "object=events").await;
        assert_eq!(events.len(), 2);
        assert_eq!(events[1]["reason"], "scanned at the wrong station");
        assert_eq!(events[1]["after"]["count"], 1);
        assert!(events[0]["object"].as_str().unwrap().starts_with("events/"));

        let user = c.records(&auditor, "object=users/li.na").await;
        assert_eq!(
            actions(&user),
            [
                "POST /api/v1/users",
                "PUT /api/v1/users/{name}/roles",
                "POST /api/v1/users/{name}/lock",
                "POST /api/v1/users/{name}/unlock",
            ]
        );
        assert_eq!(user[1]["before"]["roles"], json!(["qc"]));
        assert_eq!(user[1]["after"]["roles"], json!(["quality"]));
        assert_eq!(user[2]["before"]["disabled"], false);
        assert_eq!(user[2]["after"]["disabled"], true);

        let tokens = c.records(&auditor, "object=tokens/erp").await;
        assert_eq!(tokens.len(), 2);
        assert_eq!(tokens[0]["after"]["roles"], json!(["production"]));
        assert_eq!(tokens[1]["before"]["name"], "erp");
        assert!(tokens[1]["before"]["revoked_at"].is_null());

        let refused = c.records(&auditor, "actor=token:qc-1").await;
        assert_eq!(refused.len(), 1);
        assert_eq!(refused[0]["status"], 403);
        assert_eq!(refused[0]["object"], "products");

        // By time: the product change was at `now`, the events five minutes later.
        let later = (now() + chrono::Duration::minutes(1)).to_rfc3339();
        let before = c
            .records(&auditor, &format!("to={}", later.replace('+', "%2B")))
            .await;
        assert_eq!(actions(&before), ["PUT /api/v1/products/{code}"]);
        let after = c
            .records(
                &auditor,
                &format!("from={}&limit=2", later.replace('+', "%2B")),
            )
            .await;
        assert_eq!(after.len(), 2);
        assert_eq!(after[0]["action"], "POST /api/v1/events");

        let report = s.verify().await.unwrap();
        assert_eq!(report.first_break, None);
        assert_eq!(report.audit_records as usize, all.len());
    }
);

store_test!(
    sign_ins_failures_and_lockouts_are_recorded,
    |s: TestStore| async move {
        let c = Client::new(&s).await;
        let admin = token(&*s, "root", &[Role::Admin]).await;
        let auditor = token(&*s, "audit-1", &[Role::Auditor]).await;
        c.call(
            Method::POST,
            "/api/v1/users",
            &admin,
            Some(json!({"name": "wang", "password": "correct horse", "roles": ["qc"]})),
        )
        .await;
        let sign_in = |name: &str, password: &str| {
            let body = json!({"name": name, "password": password});
            let c = &c;
            async move {
                c.call(Method::POST, "/api/v1/session", "", Some(body))
                    .await
                    .status
            }
        };
        assert_eq!(sign_in("wang", "correct horse").await, StatusCode::OK);
        assert_eq!(
            sign_in("nobody\u{7}", "whatever1").await,
            StatusCode::UNAUTHORIZED
        );
        for _ in 0..5 {
            assert_eq!(
                sign_in("wang", "wrong password").await,
                StatusCode::UNAUTHORIZED
            );
        }
        let wang = c.records(&auditor, "actor=wang").await;
        assert_eq!(
            actions(&wang),
            [
                "sign_in",
                "sign_in_failed",
                "sign_in_failed",
                "sign_in_failed",
                "sign_in_failed",
                "account_locked"
            ]
        );
        assert!(wang.iter().all(|r| r["address"] == ADDRESS));
        assert!(wang.iter().all(|r| r["object"] == "users/wang"));
        assert_eq!(wang[1]["reason"], "wrong password");
        let stranger = c.records(&auditor, "object=users/nobody").await;
        assert_eq!(actions(&stranger), ["sign_in_failed"]);
        assert_eq!(stranger[0]["reason"], "unknown user");
        assert_eq!(stranger[0]["actor"], "nobody", "control characters dropped");
    }
);

store_test!(
    the_trail_exports_and_refuses_bad_queries,
    |s: TestStore| async move {
        let c = Client::new(&s).await;
        let admin = token(&*s, "root", &[Role::Admin]).await;
        let auditor = token(&*s, "audit-1", &[Role::Auditor]).await;
        for i in 0..3 {
            c.call(
                Method::POST,
                "/api/v1/tokens",
                &admin,
                Some(json!({"name": format!("t{i}"), "roles": ["qc"]})),
            )
            .await;
        }
        let csv = c
            .call(Method::GET, "/api/v1/audit?format=csv", &auditor, None)
            .await;
        assert_eq!(csv.status, StatusCode::OK);
        let text = String::from_utf8(csv.bytes).unwrap();
        let mut lines = text.lines();
        assert!(
            lines
                .next()
                .unwrap()
                .starts_with("seq,recorded_at,actor,address,action,object")
        );
        assert_eq!(lines.count(), 3, "{text}");
        let xlsx = c
            .call(
                Method::GET,
                "/api/v1/audit?format=xlsx&object=tokens/t1",
                &auditor,
                None,
            )
            .await;
        assert_eq!(xlsx.status, StatusCode::OK);
        assert!(xlsx.bytes.starts_with(b"PK"), "a zip");

        // Paging.
        let r = c
            .call(Method::GET, "/api/v1/audit?limit=2", &auditor, None)
            .await;
        assert_eq!(r.body["records"].as_array().unwrap().len(), 2);
        let next = r.body["next"].as_str().unwrap().to_owned();
        let r = c
            .call(
                Method::GET,
                &format!("/api/v1/audit?limit=2&after={next}"),
                &auditor,
                None,
            )
            .await;
        assert_eq!(r.body["records"].as_array().unwrap().len(), 1);
        assert!(r.body["next"].is_null());

        for (q, field) in [
            ("limit=0", "limit"),
            ("format=pdf", "format"),
            ("from=yesterday", ""),
            ("colour=red", ""),
        ] {
            let r = c
                .call(Method::GET, &format!("/api/v1/audit?{q}"), &auditor, None)
                .await;
            assert_eq!(r.status, StatusCode::BAD_REQUEST, "{q}");
            if !field.is_empty() {
                assert_eq!(r.body["error"]["field"], field, "{q}");
            }
        }
        let r = c.call(Method::GET, "/api/v1/audit", &admin, None).await;
        assert_eq!(r.status, StatusCode::OK, "the admin holds every permission");
    }
);

/// An audit record for a change made in this test, with its own id.
fn record_of(object: &str) -> threadline_domain::audit::AuditRecord {
    threadline_domain::audit::AuditRecord {
        id: uuid::Uuid::now_v7(),
        recorded_at: now(),
        actor: Some("test".into()),
        address: None,
        action: "test".into(),
        object: object.into(),
        status: None,
        before: None,
        after: None,
        reason: None,
        signature: None,
    }
}

fn new_user(name: &str) -> threadline_store::NewUser {
    threadline_store::NewUser {
        name: threadline_domain::access::UserName::parse(name).unwrap(),
        password_hash: "$argon2id$not-a-real-hash".into(),
        roles: threadline_domain::access::Roles::one(Role::Qc),
        site: None,
        party: None,
        created_at: now(),
    }
}

store_test!(
    an_access_change_and_its_audit_record_commit_together_or_not_at_all,
    |s: TestStore| async move {
        use threadline_store::AccessChange;
        let audited = || async { s.verify().await.unwrap().audit_records };
        // A record the chain refuses (its id is taken) undoes the change it describes.
        let taken = record_of("users/seed");
        s.append_audit(taken.clone()).await.unwrap();
        let n = audited().await;
        let refused = s
            .change_access(
                AccessChange::CreateUser(new_user("wang")),
                Some(taken.clone()),
            )
            .await;
        assert!(refused.is_err(), "{refused:?}");
        assert!(
            s.user("wang").await.unwrap().is_none(),
            "the user was not created"
        );
        assert_eq!(audited().await, n);

        // Written together: the change and exactly one record.
        let seq = s
            .change_access(
                AccessChange::CreateUser(new_user("wang")),
                Some(record_of("users/wang")),
            )
            .await
            .unwrap();
        assert_eq!(seq, Some(n + 1));
        assert_eq!(audited().await, n + 1);
        let wang = s.user("wang").await.unwrap().unwrap();
        assert_eq!(wang.roles.to_stored(), "qc");

        // Every kind of change rolls back with its refused record.
        let roles = AccessChange::SetUserAccess {
            name: "wang".into(),
            roles: threadline_domain::access::Roles::one(Role::Admin),
            site: None,
            party: None,
        };
        assert!(s.change_access(roles, Some(taken.clone())).await.is_err());
        let lock = AccessChange::SetUserDisabled {
            name: "wang".into(),
            disabled: true,
        };
        assert!(s.change_access(lock, Some(taken.clone())).await.is_err());
        let password = AccessChange::SetPassword {
            name: "wang".into(),
            password_hash: "$argon2id$another".into(),
            now: now(),
            keep_session: None,
        };
        assert!(
            s.change_access(password, Some(taken.clone()))
                .await
                .is_err()
        );
        assert_eq!(s.user("wang").await.unwrap().unwrap(), wang, "unchanged");
        let token = threadline_store::NewToken {
            id: uuid::Uuid::now_v7(),
            name: threadline_domain::access::TokenName::parse("erp-2").unwrap(),
            secret_digest: [7; 32],
            roles: threadline_domain::access::Roles::one(Role::Production),
            site: None,
            party: None,
            created_at: now(),
            created_by: "test".into(),
        };
        let create = AccessChange::CreateToken(token.clone());
        assert!(s.change_access(create, Some(taken.clone())).await.is_err());
        assert!(s.tokens().await.unwrap().is_empty(), "no token");
        s.change_access(AccessChange::CreateToken(token), None)
            .await
            .unwrap();
        let revoke = AccessChange::RevokeToken {
            name: "erp-2".into(),
            now: now(),
        };
        assert!(s.change_access(revoke, Some(taken)).await.is_err());
        assert_eq!(s.tokens().await.unwrap()[0].revoked_at, None, "not revoked");
        assert_eq!(audited().await, n + 1, "no record of what did not happen");
        assert_eq!(s.verify().await.unwrap().first_break, None);
    }
);

store_test!(
    through_http_a_failed_change_leaves_no_record_and_a_change_exactly_one,
    |s: TestStore| async move {
        let c = Client::new(&s).await;
        let admin = token(&*s, "root", &[Role::Admin]).await;
        let auditor = token(&*s, "audit-1", &[Role::Auditor]).await;
        let user = json!({"name": "zhou", "password": "correct horse", "roles": ["qc"]});
        let r = c
            .call(Method::POST, "/api/v1/users", &admin, Some(user.clone()))
            .await;
        assert_eq!(r.status, StatusCode::CREATED, "{}", r.body);
        // Each failure: a taken name, an unknown user or token, a bad body.
        let failures = [
            (
                Method::POST,
                "/api/v1/users",
                Some(user),
                StatusCode::CONFLICT,
            ),
            (
                Method::PUT,
                "/api/v1/users/nobody/roles",
                Some(json!({"roles": ["qc"]})),
                StatusCode::NOT_FOUND,
            ),
            (
                Method::POST,
                "/api/v1/users/nobody/lock",
                None,
                StatusCode::NOT_FOUND,
            ),
            (
                Method::POST,
                "/api/v1/users/nobody/password",
                Some(json!({"password": "correct horse"})),
                StatusCode::NOT_FOUND,
            ),
            (
                Method::DELETE,
                "/api/v1/tokens/nothing",
                None,
                StatusCode::NOT_FOUND,
            ),
            (
                Method::POST,
                "/api/v1/tokens",
                Some(json!({"name": "x", "roles": ["Nobody!"]})),
                StatusCode::BAD_REQUEST,
            ),
            // A custom role that is not defined: refused by the store, with the change.
            (
                Method::POST,
                "/api/v1/tokens",
                Some(json!({"name": "y", "roles": ["nobody"]})),
                StatusCode::UNPROCESSABLE_ENTITY,
            ),
        ];
        for (method, uri, body, status) in failures {
            let r = c.call(method.clone(), uri, &admin, body).await;
            assert_eq!(r.status, status, "{method} {uri}: {}", r.body);
        }
        let records = c.records(&auditor, "limit=1000").await;
        assert_eq!(
            actions(&records),
            ["POST /api/v1/users"],
            "only the change that happened: {records:?}"
        );
        assert_eq!(records[0]["object"], "users/zhou");
        assert_eq!(records[0]["status"], 201);
        assert_eq!(records[0]["address"], ADDRESS);
        assert_eq!(records[0]["after"]["roles"], json!(["qc"]));

        // Each success: exactly one record, with its status.
        let r = c
            .call(
                Method::POST,
                "/api/v1/tokens",
                &admin,
                Some(json!({"name": "mes", "roles": ["production"]})),
            )
            .await;
        assert_eq!(r.status, StatusCode::CREATED, "{}", r.body);
        assert_eq!(r.body["token"]["name"], "mes");
        let r = c
            .call(
                Method::POST,
                "/api/v1/users/zhou/password",
                &admin,
                Some(json!({"password": "battery staple"})),
            )
            .await;
        assert_eq!(r.status, StatusCode::NO_CONTENT, "{}", r.body);
        let zhou = c.records(&auditor, "object=users/zhou").await;
        assert_eq!(
            zhou.iter()
                .map(|r| (r["action"].as_str().unwrap(), r["status"].as_u64().unwrap()))
                .collect::<Vec<_>>(),
            [
                ("POST /api/v1/users", 201),
                ("POST /api/v1/users/{name}/password", 204)
            ]
        );
        let mes = c.records(&auditor, "object=tokens/mes").await;
        assert_eq!(actions(&mes), ["POST /api/v1/tokens"]);
        assert_eq!(mes[0]["after"]["created_by"], "token:root");
    }
);

store_test!(
    a_configuration_change_and_its_audit_record_commit_together,
    |s: TestStore| async move {
        plant(&*s).await;
        let product = |name: &str| {
            threadline_domain::master::MasterRecord::Product(
                serde_json::from_value(json!({"code": "CASE", "name": name, "tracking": "serial"}))
                    .unwrap(),
            )
        };
        let write = |name: &str, replaces| threadline_store::MasterWrite {
            record: product(name),
            actor: "test".into(),
            now: now(),
            id: uuid::Uuid::now_v7(),
            replaces,
        };
        let taken = record_of("products/seed");
        s.append_audit(taken.clone()).await.unwrap();
        let (entries, records) = {
            let v = s.verify().await.unwrap();
            (v.entries, v.audit_records)
        };
        // A record the chain refuses undoes the master change: no ledger entry, no product.
        let refused = s
            .put_master_audited(write("Case", None), Some(taken.clone()))
            .await;
        assert!(refused.is_err(), "{refused:?}");
        assert!(s.product("CASE").await.unwrap().is_none());
        let v = s.verify().await.unwrap();
        assert_eq!((v.entries, v.audit_records), (entries, records));
        s.put_master_audited(write("Case", None), Some(record_of("products/CASE")))
            .await
            .unwrap();
        assert!(
            s.put_master_audited(write("Case rev B", Some(1)), Some(taken))
                .await
                .is_err()
        );
        assert_eq!(s.product("CASE").await.unwrap().unwrap().def.name, "Case");
        let v = s.verify().await.unwrap();
        assert_eq!((v.entries, v.audit_records), (entries + 1, records + 1));
        assert_eq!(v.first_break, None);

        // Through HTTP: refused changes leave no record, each change exactly one whose
        // "after" is what was stored.
        let c = Client::new(&s).await;
        let admin = token(&*s, "root", &[Role::Admin]).await;
        let auditor = token(&*s, "audit-1", &[Role::Auditor]).await;
        let body = json!({"code": "LID", "name": "Lid", "tracking": "serial"});
        let r = c
            .call(Method::POST, "/api/v1/products", &admin, Some(body.clone()))
            .await;
        assert_eq!(r.status, StatusCode::CREATED, "{}", r.body);
        let r = c
            .call(Method::POST, "/api/v1/products", &admin, Some(body))
            .await;
        assert!(r.status.is_client_error(), "{}", r.body);
        let mut stale = Request::builder()
            .method(Method::PUT)
            .uri("/api/v1/process")
            .header("authorization", format!("Bearer {admin}"))
            .header("content-type", "application/json")
            .header("if-match", "\"7\"")
            .body(Body::from(
                serde_json::to_string(&threadline_domain::process::Process::default()).unwrap(),
            ))
            .unwrap();
        stale
            .extensions_mut()
            .insert(ConnectInfo::<SocketAddr>("192.0.2.44:1".parse().unwrap()));
        let resp = c.router.clone().oneshot(stale).await.unwrap();
        assert_eq!(resp.status(), StatusCode::CONFLICT);
        let lid = c.records(&auditor, "object=products/LID").await;
        assert_eq!(actions(&lid), ["POST /api/v1/products"]);
        let stored = c
            .call(Method::GET, "/api/v1/products/LID", &admin, None)
            .await;
        assert_eq!(
            lid[0]["after"], stored.body,
            "the record says what was stored"
        );
        assert!(c.records(&auditor, "object=process").await.is_empty());
    }
);

fn unit(serial: &str) -> threadline_domain::codes::ItemKey {
    threadline_domain::codes::ItemKey {
        product: threadline_domain::ProductCode::parse("BOARD").unwrap(),
        serial: threadline_domain::Serial::parse(serial).unwrap(),
    }
}

/// A record builder for a store write that always builds `r` (a taken id makes the chain
/// refuse it).
fn always<T: 'static>(
    r: &threadline_domain::audit::AuditRecord,
) -> Option<threadline_store::AuditOf<T>> {
    let r = r.clone();
    Some(Box::new(move |_: &T| r))
}

store_test!(
    every_other_write_and_its_audit_record_commit_together_or_not_at_all,
    |s: TestStore| async move {
        use threadline_domain::event::{CaptureContext, Event, EventRequest};
        plant(&*s).await;
        let taken = record_of("seed");
        s.append_audit(taken.clone()).await.unwrap();
        let counts = || async {
            let v = s.verify().await.unwrap();
            assert_eq!(v.first_break, None);
            (v.entries, v.audit_records)
        };
        let start = counts().await;
        let ctx = CaptureContext {
            actor: "test".into(),
            now: now(),
        };
        let commission = |serial: &str| {
            let req: EventRequest =
                serde_json::from_value(json!({"type": "object", "action": "ADD",
                "event_time": at(30), "biz_step": "commissioning", "disposition": "active",
                "biz_location": "SZ-L1", "items": [{"product": "BOARD", "serial": serial}]}))
                .unwrap();
            Event::from_request(req, &ctx, uuid::Uuid::now_v7()).unwrap()
        };
        let b1 = unit("B1");

        // Events: refused with their record, then kept with it — a record built from the
        // receipts, so it knows the event's place in the ledger.
        let refused = s
            .capture_audited(vec![commission("B1")], None, always(&taken))
            .await;
        assert!(refused.is_err(), "{refused:?}");
        assert!(s.item(&b1).await.unwrap().is_none(), "no unit");
        assert_eq!(counts().await, start);
        let built: threadline_store::AuditOf<Vec<threadline_store::Receipt>> =
            Box::new(|r: &Vec<threadline_store::Receipt>| {
                let mut rec = record_of("events");
                rec.after = Some(json!({"seq": r[0].seq}));
                rec
            });
        s.capture_audited(vec![commission("B1")], None, Some(built))
            .await
            .unwrap();
        let (entries, records) = counts().await;
        assert_eq!((entries, records), (start.0 + 1, start.1 + 1));
        let kept = s
            .audit(&threadline_store::AuditQuery {
                object: Some("events".into()),
                limit: 10,
                ..threadline_store::AuditQuery::default()
            })
            .await
            .unwrap();
        assert_eq!(kept.items.len(), 1);
        assert_eq!(kept.items[0].record.after, Some(json!({"seq": entries})));

        // An import's commit; a dry run keeps neither.
        let b2 = unit("B2");
        assert!(
            s.capture_import(vec![commission("B2")], false, None, always(&taken))
                .await
                .is_err()
        );
        s.capture_import(
            vec![commission("B2")],
            true,
            None,
            always(&record_of("imports")),
        )
        .await
        .unwrap();
        assert!(s.item(&b2).await.unwrap().is_none());
        let write = threadline_store::MasterWrite {
            record: threadline_domain::master::MasterRecord::Product(
                serde_json::from_value(
                    json!({"code": "CASE", "name": "Case", "tracking": "serial"}),
                )
                .unwrap(),
            ),
            actor: "test".into(),
            now: now(),
            id: uuid::Uuid::now_v7(),
            replaces: None,
        };
        assert!(
            s.put_masters(vec![write.clone()], false, None, always(&taken))
                .await
                .is_err()
        );
        assert!(s.product("CASE").await.unwrap().is_none());
        assert_eq!(counts().await, (entries, records));

        // Label templates.
        let template = |replaces| threadline_store::LabelTemplateWrite {
            name: "unit".into(),
            definition: json!({"width_mm": 50}),
            actor: "test".into(),
            now: now(),
            replaces,
        };
        assert!(
            s.put_label_template(template(None), always(&taken))
                .await
                .is_err()
        );
        assert!(s.label_template("unit").await.unwrap().is_none());
        s.put_label_template(template(None), always(&record_of("label-templates/unit")))
            .await
            .unwrap();
        assert!(
            s.put_label_template(template(Some(1)), always(&taken))
                .await
                .is_err()
        );
        assert!(
            s.delete_label_template("unit", always(&taken))
                .await
                .is_err()
        );
        assert_eq!(s.label_template("unit").await.unwrap().unwrap().version, 1);

        // Webhook subscriptions.
        let hook = threadline_store::webhook::Webhook {
            id: uuid::Uuid::now_v7(),
            name: "erp".into(),
            url: "https://erp.example.com/hook".into(),
            format: threadline_store::webhook::WebhookFormat::Json,
            secret: "whsec_test".into(),
            filter: threadline_store::webhook::WebhookFilter::default(),
            language: "en".into(),
            active: true,
            version: 0,
            created_at: now(),
            updated_at: now(),
            updated_by: "test".into(),
        };
        let hook_write = |replaces| threadline_store::webhook::WebhookWrite {
            webhook: hook.clone(),
            replaces,
        };
        assert!(
            s.put_webhook(hook_write(None), always(&taken))
                .await
                .is_err()
        );
        assert!(s.webhook("erp").await.unwrap().is_none());
        s.put_webhook(hook_write(None), always(&record_of("webhooks/erp")))
            .await
            .unwrap();
        assert!(
            s.put_webhook(hook_write(Some(1)), always(&taken))
                .await
                .is_err()
        );
        assert!(s.delete_webhook("erp", always(&taken)).await.is_err());
        assert_eq!(s.webhook("erp").await.unwrap().unwrap().version, 1);

        // Recall campaigns: created, narrowed, closed.
        let recall = |code: &str| threadline_store::Recall {
            code: code.into(),
            reason: "boards short".into(),
            severity: "major".into(),
            scope: json!({"product": "BOARD", "serial": "B1"}),
            opened_seq: 0,
            created_at: now(),
            created_by: "test".into(),
            closed_at: None,
            closed_by: None,
            close_note: None,
        };
        let member = threadline_store::RecallMember {
            node: threadline_domain::projection::Node::Item(b1.clone()),
            depth: 0,
            held: false,
            removed_by: None,
        };
        assert!(
            s.create_recall(recall("RC-1"), vec![member.clone()], always(&taken))
                .await
                .is_err()
        );
        assert!(s.recall("RC-1").await.unwrap().is_none());
        s.create_recall(
            recall("RC-1"),
            vec![member.clone()],
            always(&record_of("recalls/RC-1")),
        )
        .await
        .unwrap();
        let narrowing = threadline_store::RecallNarrowing {
            n: 0,
            at: now(),
            by: "test".into(),
            reason: "not this one".into(),
            scope: json!({}),
            removed_units: 1,
            removed_lots: 0,
            released: 0,
        };
        assert!(
            s.narrow_recall("RC-1", narrowing, vec![member.node.clone()], always(&taken))
                .await
                .is_err()
        );
        assert!(s.recall_narrowings("RC-1").await.unwrap().is_empty());
        assert_eq!(s.recall_members("RC-1").await.unwrap()[0].removed_by, None);
        assert!(
            s.close_recall("RC-1", "test".into(), now(), None, always(&taken))
                .await
                .is_err()
        );
        assert_eq!(s.recall("RC-1").await.unwrap().unwrap().closed_at, None);
        assert_eq!(
            counts().await,
            (entries, records + 3),
            "a record for each change kept, none for those refused"
        );
    }
);

store_test!(
    through_http_each_other_write_leaves_one_record_and_a_refused_one_none,
    |s: TestStore| async move {
        plant(&*s).await;
        common::history(&common::Api::new(&s).await).await;
        let c = Client::new(&s).await;
        let admin = token(&*s, "root", &[Role::Admin]).await;
        let auditor = token(&*s, "audit-1", &[Role::Auditor]).await;
        let ledger = || async { s.verify().await.unwrap().entries };
        // Exactly one record under `object`, by the admin from ADDRESS now, answered `status`.
        let one = |object: &'static str, action: &'static str, status: u16| {
            let (c, auditor) = (&c, &auditor);
            async move {
                let records = c.records(auditor, &format!("object={object}")).await;
                assert_eq!(actions(&records), [action], "{object}: {records:?}");
                let r = records[0].clone();
                assert_eq!(r["actor"], "token:root", "{r}");
                assert_eq!(r["address"], ADDRESS, "{r}");
                assert_eq!(r["recorded_at"], json!(now()), "{r}");
                assert_eq!(r["status"], status, "{r}");
                r
            }
        };

        // An event: its record names it and its place in the ledger; the same again is
        // refused and leaves none.
        let commission = json!({"type": "object", "action": "ADD", "event_time": at(30),
            "biz_step": "commissioning", "disposition": "active", "biz_location": "SZ-L1",
            "items": [{"product": "BOARD", "serial": "B9"}]});
        let r = c
            .call(
                Method::POST,
                "/api/v1/events",
                &admin,
                Some(commission.clone()),
            )
            .await;
        assert_eq!(r.status, StatusCode::CREATED, "{}", r.body);
        let id = r.body["events"][0]["id"].as_str().unwrap().to_owned();
        let seq = r.body["events"][0]["seq"].clone();
        let refused = c
            .call(Method::POST, "/api/v1/events", &admin, Some(commission))
            .await;
        assert!(refused.status.is_client_error(), "{}", refused.body);
        let events = c.records(&auditor, "object=events").await;
        assert_eq!(events.len(), 1, "{events:?}");
        assert_eq!(events[0]["object"], format!("events/{id}"));
        assert_eq!(events[0]["after"]["first_seq"], seq);
        assert_eq!(events[0]["after"]["ids"], json!([id]));

        // An operation (a correction needs its reason), and one refused.
        let r = c
            .call(
                Method::POST,
                "/api/v1/ops/correct",
                &admin,
                Some(json!({"event": id, "reason": "wrong line", "location": "SZ-WH-A1"})),
            )
            .await;
        assert_eq!(r.status, StatusCode::CREATED, "{}", r.body);
        let r = c
            .call(
                Method::POST,
                "/api/v1/ops/hold",
                &admin,
                Some(json!({"kind": "qc", "items": [{"product": "BOARD", "serial": "NOPE"}], "reason": "suspect"})),
            )
            .await;
        assert!(r.status.is_client_error(), "{}", r.body);
        let correct = one("ops/correct", "POST /api/v1/ops/correct", 201).await;
        assert_eq!(correct["reason"], "wrong line");
        assert_eq!(correct["after"]["count"], 1);
        assert!(c.records(&auditor, "object=ops/hold").await.is_empty());

        // Label templates: created, a taken name refused, replaced, deleted.
        let template = json!({"width_mm": 50, "height_mm": 30, "dpi": 300, "fields": [
            {"type": "text", "x_mm": 2, "y_mm": 1.5, "size_mm": 3, "text": "{serial}"}]});
        let body = json!({"name": "unit", "template": template});
        let r = c
            .call(
                Method::POST,
                "/api/v1/label-templates",
                &admin,
                Some(body.clone()),
            )
            .await;
        assert_eq!(r.status, StatusCode::CREATED, "{}", r.body);
        let r = c
            .call(Method::POST, "/api/v1/label-templates", &admin, Some(body))
            .await;
        assert_eq!(r.status, StatusCode::CONFLICT, "{}", r.body);
        let created = one("label-templates/unit", "POST /api/v1/label-templates", 201).await;
        assert_eq!(created["after"]["version"], 1);
        let mut wider = template.clone();
        wider["width_mm"] = json!(60);
        let r = c
            .call_with(
                Method::PUT,
                "/api/v1/label-templates/unit",
                &admin,
                &[("if-match", "\"1\"")],
                Some(("application/json", wider.to_string())),
            )
            .await;
        assert_eq!(r.status, StatusCode::OK, "{}", r.body);
        let r = c
            .call(Method::DELETE, "/api/v1/label-templates/unit", &admin, None)
            .await;
        assert_eq!(r.status, StatusCode::NO_CONTENT, "{}", r.body);
        let unit = c.records(&auditor, "object=label-templates/unit").await;
        assert_eq!(
            actions(&unit),
            [
                "POST /api/v1/label-templates",
                "PUT /api/v1/label-templates/{name}",
                "DELETE /api/v1/label-templates/{name}"
            ]
        );
        assert_eq!(unit[1]["before"]["definition"]["width_mm"], 50);
        assert_eq!(unit[1]["after"]["definition"]["width_mm"], 60);
        assert_eq!(unit[2]["before"]["version"], 2);

        // Webhook subscriptions: created (never the secret), a taken name refused, deleted.
        let body = json!({"name": "erp", "url": "https://erp.example.com/hook"});
        let r = c
            .call(Method::POST, "/api/v1/webhooks", &admin, Some(body.clone()))
            .await;
        assert_eq!(r.status, StatusCode::CREATED, "{}", r.body);
        let secret = r.body["secret"].as_str().unwrap().to_owned();
        let r = c
            .call(Method::POST, "/api/v1/webhooks", &admin, Some(body))
            .await;
        assert_eq!(r.status, StatusCode::CONFLICT, "{}", r.body);
        let created = one("webhooks/erp", "POST /api/v1/webhooks", 201).await;
        assert_eq!(created["after"]["url"], "https://erp.example.com/hook");
        assert!(!created.to_string().contains(&secret));
        let r = c
            .call(Method::DELETE, "/api/v1/webhooks/erp", &admin, None)
            .await;
        assert_eq!(r.status, StatusCode::NO_CONTENT, "{}", r.body);
        let erp = c.records(&auditor, "object=webhooks/erp").await;
        assert_eq!(actions(&erp)[1], "DELETE /api/v1/webhooks/{name}");
        assert_eq!(erp[1]["before"]["version"], 1);

        // A recall campaign: created, narrowed, closed; a second close refused.
        let r = c
            .call(
                Method::POST,
                "/api/v1/recalls",
                &admin,
                Some(
                    json!({"code": "RC-A", "reason": "SUP1 boards may short", "severity": "major",
                    "scope": {"supplier": "SUP1"}}),
                ),
            )
            .await;
        assert_eq!(r.status, StatusCode::CREATED, "{}", r.body);
        let created = one("recalls/RC-A", "POST /api/v1/recalls", 201).await;
        assert_eq!(created["after"]["code"], "RC-A");
        assert_eq!(created["reason"], "SUP1 boards may short");
        let r = c
            .call(
                Method::POST,
                "/api/v1/recalls/RC-A/narrow",
                &admin,
                Some(json!({"reason": "only B1 failed", "scope": {"product": "BOARD", "serial": "B1"}})),
            )
            .await;
        assert_eq!(r.status, StatusCode::OK, "{}", r.body);
        let before = ledger().await;
        let r = c
            .call(
                Method::POST,
                "/api/v1/recalls/RC-A/close",
                &admin,
                Some(json!({"note": "located"})),
            )
            .await;
        assert_eq!(r.status, StatusCode::OK, "{}", r.body);
        let r = c
            .call(
                Method::POST,
                "/api/v1/recalls/RC-A/close",
                &admin,
                Some(json!({"note": "again"})),
            )
            .await;
        assert!(r.status.is_client_error(), "{}", r.body);
        assert_eq!(ledger().await, before);
        let rc = c.records(&auditor, "object=recalls/RC-A").await;
        assert_eq!(
            actions(&rc),
            [
                "POST /api/v1/recalls",
                "POST /api/v1/recalls/{code}/narrow",
                "POST /api/v1/recalls/{code}/close"
            ]
        );
        assert_eq!(rc[1]["after"]["n"], 1);
        assert_eq!(rc[1]["reason"], "only B1 failed");
        assert!(rc[2]["before"]["closed_at"].is_null());
        assert_eq!(rc[2]["after"]["close_note"], "located");

        // An import: a commit is one record with what it kept; a refused commit none.
        let csv = |rows: &str| Some(("text/csv", format!("code,name,tracking\n{rows}")));
        let r = c
            .call_with(
                Method::POST,
                "/api/v1/imports/products?mode=commit",
                &admin,
                &[],
                csv("LID,Lid,serial\nCAP,Cap,lot\n"),
            )
            .await;
        assert_eq!(r.status, StatusCode::CREATED, "{}", r.body);
        let r = c
            .call_with(
                Method::POST,
                "/api/v1/imports/products?mode=commit",
                &admin,
                &[],
                csv("LID,Lid again,serial\n"),
            )
            .await;
        assert!(r.status.is_client_error(), "{}", r.body);
        let imported = one("imports/products", "POST /api/v1/imports/{kind}", 201).await;
        assert_eq!(imported["after"]["count"], 2);

        // Serials allocated, printed elsewhere, and printed here as a label job.
        let r = c
            .call(
                Method::POST,
                "/api/v1/products",
                &admin,
                Some(json!({"code": "TC", "name": "Controller", "tracking": "serial",
                    "serial_rule": {"code": "TCR", "template": "TC-{SEQ:5}", "sequence_reset": "never"}})),
            )
            .await;
        assert_eq!(r.status, StatusCode::CREATED, "{}", r.body);
        let r = c
            .call(
                Method::POST,
                "/api/v1/products/TC/allocations",
                &admin,
                Some(json!({"count": 3})),
            )
            .await;
        assert_eq!(r.status, StatusCode::CREATED, "{}", r.body);
        let allocation = r.body["receipt"]["id"].as_str().unwrap().to_owned();
        let r = c
            .call(
                Method::POST,
                "/api/v1/products/TC/allocations",
                &admin,
                Some(json!({"count": 0})),
            )
            .await;
        assert!(r.status.is_client_error(), "{}", r.body);
        let allocated = one(
            "products/TC/allocations",
            "POST /api/v1/products/{code}/allocations",
            201,
        )
        .await;
        assert_eq!(allocated["after"]["ids"], json!([allocation]));
        let r = c
            .call(
                Method::POST,
                "/api/v1/products/TC/serials/printed",
                &admin,
                Some(json!({"serials": ["TC-00001"]})),
            )
            .await;
        assert_eq!(r.status, StatusCode::CREATED, "{}", r.body);
        let printed = one(
            "products/TC/serials",
            "POST /api/v1/products/{code}/serials/printed",
            201,
        )
        .await;
        assert_eq!(printed["after"]["count"], 1);
        let r = c
            .call(
                Method::POST,
                "/api/v1/label-templates",
                &admin,
                Some(json!({"name": "tc", "template": template})),
            )
            .await;
        assert_eq!(r.status, StatusCode::CREATED, "{}", r.body);
        let r = c
            .call(
                Method::POST,
                "/api/v1/label-jobs",
                &admin,
                Some(json!({"template": "tc", "allocation": allocation})),
            )
            .await;
        assert_eq!(r.status, StatusCode::OK);
        let job = one("label-jobs", "POST /api/v1/label-jobs", 200).await;
        assert_eq!(
            job["after"]["count"], 2,
            "two events: the first labels of two serials, a reprint of the one printed elsewhere: {job}"
        );

        let report = s.verify().await.unwrap();
        assert_eq!(report.first_break, None);
    }
);
