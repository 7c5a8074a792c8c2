//! Who may do what, through HTTP, on both engines: every route refuses anonymous callers and
//! actors without its permission; sign-in, lockout, sessions, CSRF, tokens and passwords.

#![allow(clippy::unwrap_used)] // tests unwrap: a panic is the failure report

use std::sync::Arc;

use axum::body::Body;
use axum::http::{HeaderMap, Method, Request, StatusCode, header};
use chrono::Duration;
use http_body_util::BodyExt;
use serde_json::{Value, json};
use threadline_domain::access::{Permission, Permissions, Role};
use threadline_server::{AppState, AuthSettings, Guard, ManualClock, Surface, app, routes};
use threadline_store::Store;
use threadline_testkit::fixtures::{at, now, plant, token};
use threadline_testkit::{TestStore, store_test};
use tower::ServiceExt;

struct Harness {
    router: axum::Router,
    clock: Arc<ManualClock>,
    store: Arc<dyn Store>,
    /// An admin token's secret.
    admin: String,
}

#[derive(Debug)]
struct Reply {
    status: StatusCode,
    headers: HeaderMap,
    body: Value,
    text: String,
}

impl Reply {
    fn code(&self) -> &str {
        self.body["error"]["code"].as_str().unwrap_or("")
    }

    fn cookies(&self) -> Vec<String> {
        self.headers
            .get_all(header::SET_COOKIE)
            .iter()
            .map(|v| v.to_str().unwrap().to_owned())
            .collect()
    }

    /// `name=value` of the cookie set under `name`.
    fn cookie(&self, name: &str) -> Option<String> {
        self.cookies()
            .into_iter()
            .find(|c| c.starts_with(&format!("{name}=")))
            .map(|c| c.split(';').next().unwrap().to_owned())
    }

    fn location(&self) -> &str {
        self.headers
            .get(header::LOCATION)
            .map(|v| v.to_str().unwrap())
            .unwrap_or("")
    }
}

/// A signed-in browser: its session cookie and the CSRF token sign-in returned.
#[derive(Debug, Clone)]
struct Browser {
    cookie: String,
    csrf: String,
}

const SESSION: &str = "__Host-threadline_session";

impl Harness {
    async fn new(s: &TestStore) -> Harness {
        Harness::with(s, AuthSettings::default()).await
    }

    async fn with(s: &TestStore, auth: AuthSettings) -> Harness {
        let clock = Arc::new(ManualClock::new(now()));
        let state = AppState {
            clock: clock.clone(),
            auth,
            ..AppState::new(s.store.clone())
        };
        let admin = token(&**s, "root", &[Role::Admin]).await;
        Harness {
            router: app(state),
            clock,
            store: s.store.clone(),
            admin,
        }
    }

    async fn call(
        &self,
        method: Method,
        uri: &str,
        headers: &[(&str, &str)],
        body: Option<&str>,
    ) -> Reply {
        let mut b = Request::builder().method(method).uri(uri);
        for (k, v) in headers {
            b = b.header(*k, *v);
        }
        let req = match body {
            Some(text) => b
                .header("content-type", "application/json")
                .body(Body::from(text.to_owned())),
            None => b.body(Body::empty()),
        }
        .unwrap();
        let resp = self.router.clone().oneshot(req).await.unwrap();
        let status = resp.status();
        let headers = resp.headers().clone();
        let bytes = resp.into_body().collect().await.unwrap().to_bytes();
        let text = String::from_utf8_lossy(&bytes).into_owned();
        Reply {
            status,
            headers,
            body: serde_json::from_str(&text).unwrap_or(Value::Null),
            text,
        }
    }

    async fn with_token(
        &self,
        secret: &str,
        method: Method,
        uri: &str,
        body: Option<Value>,
    ) -> Reply {
        let auth = format!("Bearer {secret}");
        let text = body.map(|b| b.to_string());
        self.call(method, uri, &[("authorization", &auth)], text.as_deref())
            .await
    }

    async fn admin(&self, method: Method, uri: &str, body: Option<Value>) -> Reply {
        self.with_token(&self.admin, method, uri, body).await
    }

    async fn create_user(&self, name: &str, password: &str, roles: &[&str]) {
        let r = self
            .admin(
                Method::POST,
                "/api/v1/users",
                Some(json!({"name": name, "password": password, "roles": roles})),
            )
            .await;
        assert_eq!(r.status, StatusCode::CREATED, "{}", r.text);
    }

    async fn sign_in(&self, name: &str, password: &str) -> Reply {
        let body = json!({"name": name, "password": password}).to_string();
        self.call(Method::POST, "/api/v1/session", &[], Some(&body))
            .await
    }

    async fn browser(&self, name: &str, password: &str) -> Browser {
        let r = self.sign_in(name, password).await;
        assert_eq!(r.status, StatusCode::OK, "{}", r.text);
        Browser {
            cookie: r.cookie(SESSION).unwrap(),
            csrf: r.body["csrf_token"].as_str().unwrap().to_owned(),
        }
    }

    /// A request from `b`; `csrf` decides whether the CSRF header is sent.
    async fn as_browser(
        &self,
        b: &Browser,
        csrf: bool,
        method: Method,
        uri: &str,
        body: Option<Value>,
    ) -> Reply {
        let mut headers = vec![("cookie", b.cookie.as_str())];
        if csrf {
            headers.push(("x-csrf-token", b.csrf.as_str()));
        }
        let text = body.map(|b| b.to_string());
        self.call(method, uri, &headers, text.as_deref()).await
    }

    async fn ledger_len(&self) -> i64 {
        self.store.verify().await.unwrap().entries
    }
}

fn commission(serial: &str) -> Value {
    json!({"type": "object", "action": "ADD", "event_time": at(30), "biz_step": "commissioning", "disposition": "active",
           "biz_location": "SZ-L1", "items": [{"product": "PHONE", "serial": serial}], "ilmd": {"color": "white"}})
}

fn observe(serial: &str, step: &str, extra: Value) -> Value {
    let mut e = json!({"type": "object", "action": "OBSERVE", "event_time": at(20), "biz_step": step,
                       "items": [{"product": "PHONE", "serial": serial}]});
    e.as_object_mut()
        .unwrap()
        .extend(extra.as_object().unwrap().clone());
    e
}

/// A concrete URL for a route's path.
fn url(path: &str) -> String {
    path.replace("{id}", "0190a000-0000-7000-8000-000000000001")
        .replace("{product}", "PHONE")
        .replace("{serial}", "S1")
        .replace("{lot}", "L1")
        .replace("{kind}", "products")
        .replace("{code}", "PHONE")
        .replace("{name}", "nobody")
}

store_test!(
    every_route_refuses_anonymous_callers_and_actors_without_its_permission,
    |s: TestStore| async move {
        plant(&*s).await;
        let h = Harness::new(&s).await;
        let mut secrets = Vec::new();
        for role in Role::ALL {
            secrets.push((
                role.as_str().to_owned(),
                role.permissions(),
                token(&*s, role.as_str(), &[*role]).await,
            ));
        }
        // A custom role: the guard resolves its permissions from the stored definition.
        let r = h
            .admin(
                Method::POST,
                "/api/v1/roles",
                Some(json!({"name": "line-inspector", "label": "Line inspector",
                    "permissions": ["read", "inspect", "hold"]})),
            )
            .await;
        assert_eq!(r.status, StatusCode::CREATED, "{}", r.text);
        let r = h
            .admin(
                Method::POST,
                "/api/v1/tokens",
                Some(json!({"name": "inspector", "roles": ["line-inspector"]})),
            )
            .await;
        assert_eq!(r.status, StatusCode::CREATED, "{}", r.text);
        secrets.push((
            "line-inspector".to_owned(),
            Permissions::of(&[Permission::Read, Permission::Inspect, Permission::Hold]),
            r.body["secret"].as_str().unwrap().to_owned(),
        ));

        // The public surface is exactly this; adding to it must be a decision.
        let public: Vec<(Method, &str)> = routes()
            .into_iter()
            .filter(|r| r.guard == Guard::Public)
            .map(|r| (r.method, r.path))
            .collect();
        assert_eq!(
            public,
            [
                (Method::GET, "/healthz"),
                (Method::GET, "/assets/threadline.css"),
                (Method::GET, "/assets/station.js"),
                (Method::GET, "/assets/trace.js"),
                (Method::GET, "/assets/labels.js"),
                (Method::GET, "/assets/serial-rules.js"),
                (Method::GET, "/login"),
                (Method::POST, "/login"),
                // The API's description holds no data: integrators read it before a token.
                (Method::GET, "/api/v1/openapi.json"),
                (Method::GET, "/api/docs"),
                (Method::POST, "/api/v1/session"),
            ]
        );

        let before = h.ledger_len().await;
        let mut checked = 0;
        for r in routes() {
            if r.guard == Guard::Public {
                continue;
            }
            let uri = url(r.path);
            let body = (r.method != Method::GET).then_some("{}");
            let what = format!("{} {}", r.method, r.path);

            // Nobody.
            let anon = h.call(r.method.clone(), &uri, &[], body).await;
            match r.surface {
                Surface::Api => {
                    assert_eq!(
                        anon.status,
                        StatusCode::UNAUTHORIZED,
                        "{what}: {}",
                        anon.text
                    );
                    assert_eq!(anon.code(), "unauthenticated", "{what}");
                    assert!(
                        anon.headers.contains_key(header::WWW_AUTHENTICATE),
                        "{what}"
                    );
                }
                Surface::Epcis => {
                    assert_eq!(
                        anon.status,
                        StatusCode::UNAUTHORIZED,
                        "{what}: {}",
                        anon.text
                    );
                    assert_eq!(
                        anon.headers[header::CONTENT_TYPE],
                        "application/problem+json",
                        "{what}"
                    );
                    assert_eq!(
                        anon.body["type"], "epcisException:SecurityException",
                        "{what}: {}",
                        anon.text
                    );
                    assert!(
                        anon.headers.contains_key(header::WWW_AUTHENTICATE),
                        "{what}"
                    );
                }
                Surface::Page => {
                    assert_eq!(anon.status, StatusCode::SEE_OTHER, "{what}");
                    assert!(anon.location().starts_with("/login"), "{what}");
                }
            }
            // A token that is not one of ours.
            let forged = h
                .call(
                    r.method.clone(),
                    &uri,
                    &[("authorization", &format!("Bearer tlt_{}", "0".repeat(64)))],
                    body,
                )
                .await;
            assert!(
                matches!(
                    forged.status,
                    StatusCode::UNAUTHORIZED | StatusCode::SEE_OTHER
                ),
                "{what}: {}",
                forged.status
            );

            // Each shipped role and a custom one: refused exactly when it lacks what the
            // route needs.
            for (role, perms, secret) in &secrets {
                let allowed = match r.guard {
                    Guard::Public | Guard::SignedIn => true,
                    Guard::Needs(p) => perms.contains(p),
                    Guard::Capture => perms.may_capture(),
                };
                let auth = format!("Bearer {secret}");
                let resp = h
                    .call(r.method.clone(), &uri, &[("authorization", &auth)], body)
                    .await;
                if allowed {
                    assert!(
                        !matches!(
                            resp.status,
                            StatusCode::UNAUTHORIZED | StatusCode::FORBIDDEN
                        ),
                        "{what} as {role}: {} {}",
                        resp.status,
                        resp.text
                    );
                } else {
                    assert_eq!(
                        resp.status,
                        StatusCode::FORBIDDEN,
                        "{what} as {role}: {}",
                        resp.text
                    );
                    match r.surface {
                        Surface::Api => {
                            assert_eq!(resp.code(), "forbidden", "{what} as {role}")
                        }
                        Surface::Epcis => assert_eq!(
                            resp.body["type"], "epcisException:SecurityException",
                            "{what} as {role}: {}",
                            resp.text
                        ),
                        Surface::Page => {}
                    }
                }
                checked += 1;
            }
        }
        assert!(checked > 300, "{checked} route × role checks");
        assert_eq!(
            h.ledger_len().await,
            before,
            "no refused request wrote anything"
        );

        // The public routes answer without credentials.
        assert_eq!(
            h.call(Method::GET, "/healthz", &[], None).await.status,
            StatusCode::OK
        );
        assert_eq!(
            h.call(Method::GET, "/assets/threadline.css", &[], None)
                .await
                .status,
            StatusCode::OK
        );
    }
);

store_test!(
    each_event_needs_the_permission_of_its_step,
    |s: TestStore| async move {
        plant(&*s).await;
        let h = Harness::new(&s).await;
        let production = token(&*s, "line-1", &[Role::Production]).await;
        let warehouse = token(&*s, "wms", &[Role::Warehouse]).await;
        let qc = token(&*s, "qc-station", &[Role::Qc]).await;
        let quality = token(&*s, "recall-desk", &[Role::Quality]).await;

        let r = h
            .with_token(
                &production,
                Method::POST,
                "/api/v1/events",
                Some(commission("A1")),
            )
            .await;
        assert_eq!(r.status, StatusCode::CREATED, "{}", r.text);
        let id = r.body["events"][0]["id"].as_str().unwrap().to_owned();
        let ev = h
            .admin(Method::GET, &format!("/api/v1/events/{id}"), None)
            .await;
        assert_eq!(ev.body["actor"], "token:line-1");

        // A batch with one event the actor may not record is refused whole, naming it.
        let before = h.ledger_len().await;
        let batch = json!([
            commission("A2"),
            observe("A1", "shipping", json!({"disposition": "in_transit"}))
        ]);
        let r = h
            .with_token(&production, Method::POST, "/api/v1/events", Some(batch))
            .await;
        assert_eq!(r.status, StatusCode::FORBIDDEN, "{}", r.text);
        assert_eq!(r.body["errors"].as_array().unwrap().len(), 1);
        assert_eq!(r.body["error"]["field"], "events[1]");
        assert!(r.text.contains("ship"), "{}", r.text);
        assert_eq!(h.ledger_len().await, before);

        // Shipping needs the unit in stock: the warehouse stores it first.
        let store_it = observe(
            "A1",
            "storing",
            json!({"disposition": "sellable_not_accessible", "biz_location": "SZ-WH-A1"}),
        );
        let ship = observe("A1", "shipping", json!({"disposition": "in_transit"}));
        let r = h
            .with_token(
                &warehouse,
                Method::POST,
                "/api/v1/events",
                Some(json!([store_it, ship])),
            )
            .await;
        assert_eq!(r.status, StatusCode::CREATED, "{}", r.text);

        // QC places a QC hold, not a recall hold; the quality manager may do both.
        let qc_hold = observe(
            "A1",
            "inspecting",
            json!({"disposition": "non_conformant", "hold": {"place": "qc"}}),
        );
        let r = h
            .with_token(&qc, Method::POST, "/api/v1/events", Some(qc_hold))
            .await;
        assert_eq!(r.status, StatusCode::CREATED, "{}", r.text);
        let recall = observe("A1", "holding", json!({"hold": {"place": "recall"}}));
        let r = h
            .with_token(&qc, Method::POST, "/api/v1/events", Some(recall.clone()))
            .await;
        assert_eq!((r.status, r.code()), (StatusCode::FORBIDDEN, "forbidden"));
        assert!(r.text.contains("recall"), "{}", r.text);
        let r = h
            .with_token(&quality, Method::POST, "/api/v1/events", Some(recall))
            .await;
        assert_eq!(r.status, StatusCode::CREATED, "{}", r.text);

        // Refusal comes before validation: an event the actor may not record is not checked.
        let mut bad = commission("A3");
        bad["event_time"] = json!("2030-01-01T00:00:00Z");
        let r = h
            .with_token(&warehouse, Method::POST, "/api/v1/events", Some(bad))
            .await;
        assert_eq!(r.status, StatusCode::FORBIDDEN, "{}", r.text);
    }
);

store_test!(
    sign_in_sets_a_strict_cookie_and_unsafe_requests_need_the_csrf_token,
    |s: TestStore| async move {
        plant(&*s).await;
        let h = Harness::new(&s).await;
        h.create_user("li.na", "line-one-pass", &["production"])
            .await;

        let r = h.sign_in("li.na", "line-one-pass").await;
        assert_eq!(r.status, StatusCode::OK, "{}", r.text);
        let set = r
            .cookies()
            .into_iter()
            .find(|c| c.starts_with(SESSION))
            .unwrap();
        for attr in [
            "HttpOnly",
            "SameSite=Strict",
            "Secure",
            "Path=/",
            "Max-Age=43200",
        ] {
            assert!(set.contains(attr), "{set} lacks {attr}");
        }
        assert_eq!(r.body["actor"], "li.na");
        assert_eq!(r.body["user"]["roles"], json!(["production"]));
        assert!(
            r.body["permissions"]
                .as_array()
                .unwrap()
                .contains(&json!("commission"))
        );
        assert!(!r.text.contains("argon2"), "no hash in responses");
        let b = Browser {
            cookie: r.cookie(SESSION).unwrap(),
            csrf: r.body["csrf_token"].as_str().unwrap().to_owned(),
        };
        assert_eq!(b.csrf.len(), 64);

        let me = h
            .as_browser(&b, false, Method::GET, "/api/v1/me", None)
            .await;
        assert_eq!(me.status, StatusCode::OK);
        assert_eq!(
            (me.body["kind"].as_str(), me.body["name"].as_str()),
            (Some("user"), Some("li.na"))
        );
        assert_eq!(me.body["csrf_token"], json!(b.csrf));

        // Unsafe requests by cookie need the CSRF header; safe ones do not.
        let before = h.ledger_len().await;
        let r = h
            .as_browser(
                &b,
                false,
                Method::POST,
                "/api/v1/events",
                Some(commission("C1")),
            )
            .await;
        assert_eq!(
            (r.status, r.code()),
            (StatusCode::FORBIDDEN, "csrf_token_mismatch")
        );
        let wrong = Browser {
            csrf: "0".repeat(64),
            ..b.clone()
        };
        let r = h
            .as_browser(
                &wrong,
                true,
                Method::POST,
                "/api/v1/events",
                Some(commission("C1")),
            )
            .await;
        assert_eq!(
            (r.status, r.code()),
            (StatusCode::FORBIDDEN, "csrf_token_mismatch")
        );
        assert_eq!(h.ledger_len().await, before);
        let r = h
            .as_browser(
                &b,
                true,
                Method::POST,
                "/api/v1/events",
                Some(commission("C1")),
            )
            .await;
        assert_eq!(r.status, StatusCode::CREATED, "{}", r.text);
        let item = h
            .as_browser(
                &b,
                false,
                Method::GET,
                "/api/v1/events?product=PHONE&serial=C1",
                None,
            )
            .await;
        assert_eq!(item.body["items"][0]["actor"], "li.na");

        // Sign-out is unsafe too.
        let r = h
            .as_browser(&b, false, Method::DELETE, "/api/v1/session", None)
            .await;
        assert_eq!(r.status, StatusCode::FORBIDDEN);
        let r = h
            .as_browser(&b, true, Method::DELETE, "/api/v1/session", None)
            .await;
        assert_eq!(r.status, StatusCode::NO_CONTENT);
        assert!(
            r.cookies()
                .iter()
                .any(|c| c.starts_with(&format!("{SESSION}=;")) && c.contains("Max-Age=0"))
        );
        let r = h
            .as_browser(&b, false, Method::GET, "/api/v1/me", None)
            .await;
        assert_eq!(r.status, StatusCode::UNAUTHORIZED);

        // A bearer token needs no CSRF token; a token cannot "sign out".
        let r = h.admin(Method::DELETE, "/api/v1/session", None).await;
        assert_eq!(
            (r.status, r.code()),
            (StatusCode::UNPROCESSABLE_ENTITY, "not_a_session")
        );
        // Sign-in is JSON only, and names unknown fields.
        let r = h
            .call(
                Method::POST,
                "/api/v1/session",
                &[("content-type", "text/plain")],
                None,
            )
            .await;
        assert_eq!(r.status, StatusCode::BAD_REQUEST);
    }
);

store_test!(
    repeated_failures_lock_the_account_until_the_clock_says_otherwise,
    |s: TestStore| async move {
        let h = Harness::new(&s).await;
        h.create_user("op", "right-password", &["production"]).await;

        for _ in 0..4 {
            let r = h.sign_in("op", "wrong-password").await;
            assert_eq!(
                (r.status, r.code()),
                (StatusCode::UNAUTHORIZED, "invalid_credentials")
            );
        }
        // An unknown user gets the same answer as a wrong password.
        let r = h.sign_in("ghost", "wrong-password").await;
        assert_eq!(
            (r.status, r.code()),
            (StatusCode::UNAUTHORIZED, "invalid_credentials")
        );

        let r = h.sign_in("op", "wrong-password").await;
        assert_eq!(
            (r.status, r.code()),
            (StatusCode::UNAUTHORIZED, "account_locked")
        );
        assert!(r.text.contains("2026-06-01T12:15:00"), "{}", r.text);
        // Locked: even the right password is not checked.
        let r = h.sign_in("op", "right-password").await;
        assert_eq!(r.code(), "account_locked");
        h.clock.advance(Duration::minutes(14));
        assert_eq!(
            h.sign_in("op", "right-password").await.code(),
            "account_locked"
        );
        h.clock.advance(Duration::minutes(1));
        let r = h.sign_in("op", "right-password").await;
        assert_eq!(r.status, StatusCode::OK, "{}", r.text);

        // An administrator's unlock ends a lockout early.
        for _ in 0..5 {
            h.sign_in("op", "wrong-password").await;
        }
        assert_eq!(
            h.sign_in("op", "right-password").await.code(),
            "account_locked"
        );
        let r = h.admin(Method::POST, "/api/v1/users/op/unlock", None).await;
        assert_eq!(r.status, StatusCode::NO_CONTENT);
        assert_eq!(
            h.sign_in("op", "right-password").await.status,
            StatusCode::OK
        );

        // An administrator's lock ends the user's sessions and refuses sign-in.
        let b = h.browser("op", "right-password").await;
        let r = h.admin(Method::POST, "/api/v1/users/op/lock", None).await;
        assert_eq!(r.status, StatusCode::NO_CONTENT);
        assert_eq!(
            h.as_browser(&b, false, Method::GET, "/api/v1/me", None)
                .await
                .status,
            StatusCode::UNAUTHORIZED
        );
        assert_eq!(
            h.sign_in("op", "right-password").await.code(),
            "account_disabled"
        );
        assert_eq!(
            h.sign_in("op", "wrong-password").await.code(),
            "invalid_credentials"
        );
        let u = h.admin(Method::GET, "/api/v1/users/op", None).await;
        assert_eq!(u.body["disabled"], true);
        h.admin(Method::POST, "/api/v1/users/op/unlock", None).await;
        assert_eq!(
            h.sign_in("op", "right-password").await.status,
            StatusCode::OK
        );
    }
);

store_test!(
    sessions_end_when_idle_and_at_their_absolute_expiry,
    |s: TestStore| async move {
        let h = Harness::new(&s).await;
        h.create_user("clerk", "warehouse-pass", &["warehouse"])
            .await;
        let me = async |b: &Browser| {
            h.as_browser(b, false, Method::GET, "/api/v1/me", None)
                .await
                .status
        };

        let b = h.browser("clerk", "warehouse-pass").await;
        h.clock.advance(Duration::minutes(29));
        assert_eq!(me(&b).await, StatusCode::OK);
        h.clock.advance(Duration::minutes(29));
        assert_eq!(
            me(&b).await,
            StatusCode::OK,
            "activity keeps a session alive"
        );
        h.clock.advance(Duration::minutes(30));
        assert_eq!(
            me(&b).await,
            StatusCode::UNAUTHORIZED,
            "30 idle minutes end it"
        );
        assert_eq!(me(&b).await, StatusCode::UNAUTHORIZED);

        h.clock.set(now());
        let b = h.browser("clerk", "warehouse-pass").await;
        for _ in 0..35 {
            h.clock.advance(Duration::minutes(20));
            assert_eq!(me(&b).await, StatusCode::OK);
        }
        h.clock.advance(Duration::minutes(20));
        assert_eq!(
            me(&b).await,
            StatusCode::UNAUTHORIZED,
            "12 hours end it however active"
        );
    }
);

store_test!(
    tokens_are_shown_once_scoped_revocable_and_record_their_last_use,
    |s: TestStore| async move {
        plant(&*s).await;
        let h = Harness::new(&s).await;
        let r = h
            .admin(
                Method::POST,
                "/api/v1/tokens",
                Some(json!({"name": "erp", "roles": ["production"], "site": "SZ"})),
            )
            .await;
        assert_eq!(r.status, StatusCode::CREATED, "{}", r.text);
        let secret = r.body["secret"].as_str().unwrap().to_owned();
        assert!(secret.starts_with("tlt_") && secret.len() == 68, "{secret}");
        assert_eq!(r.body["token"]["created_by"], "token:root");
        assert_eq!(r.body["token"]["site"], "SZ");
        assert_eq!(r.body["token"]["last_used_at"], Value::Null);

        let list = h.admin(Method::GET, "/api/v1/tokens", None).await;
        assert!(
            !list.text.contains(&secret[4..]),
            "the secret is shown once"
        );
        let erp = |l: &Reply| {
            l.body["items"]
                .as_array()
                .unwrap()
                .iter()
                .find(|t| t["name"] == "erp")
                .unwrap()
                .clone()
        };
        assert_eq!(erp(&list)["roles"], json!(["production"]));

        // Use records the time, at most once a minute.
        let r = h
            .with_token(
                &secret,
                Method::POST,
                "/api/v1/events",
                Some(commission("T1")),
            )
            .await;
        assert_eq!(r.status, StatusCode::CREATED, "{}", r.text);
        let used = |l: &Reply| erp(l)["last_used_at"].as_str().map(str::to_owned);
        let first = used(&h.admin(Method::GET, "/api/v1/tokens", None).await).unwrap();
        assert!(first.starts_with("2026-06-01T12:00:00"), "{first}");
        h.clock.advance(Duration::seconds(30));
        h.with_token(&secret, Method::GET, "/api/v1/items/PHONE/T1", None)
            .await;
        assert_eq!(
            used(&h.admin(Method::GET, "/api/v1/tokens", None).await).unwrap(),
            first
        );
        h.clock.advance(Duration::minutes(2));
        h.with_token(&secret, Method::GET, "/api/v1/items/PHONE/T1", None)
            .await;
        let later = used(&h.admin(Method::GET, "/api/v1/tokens", None).await).unwrap();
        assert!(later.starts_with("2026-06-01T12:02:30"), "{later}");

        // The token can do its roles' work and nothing else.
        let r = h
            .with_token(
                &secret,
                Method::POST,
                "/api/v1/products",
                Some(json!({"code": "X", "name": "x", "tracking": "serial"})),
            )
            .await;
        assert_eq!(r.status, StatusCode::FORBIDDEN);
        let r = h
            .with_token(&secret, Method::GET, "/api/v1/ledger/verify", None)
            .await;
        assert_eq!(r.status, StatusCode::FORBIDDEN);
        let r = h
            .with_token(&secret, Method::GET, "/api/v1/tokens", None)
            .await;
        assert_eq!(r.status, StatusCode::FORBIDDEN);
        let me = h.with_token(&secret, Method::GET, "/api/v1/me", None).await;
        assert_eq!(
            (me.body["actor"].as_str(), me.body["site"].as_str()),
            (Some("token:erp"), Some("SZ"))
        );
        assert!(me.body.get("csrf_token").is_none());

        // Revoked: refused at once, still listed.
        let r = h.admin(Method::DELETE, "/api/v1/tokens/erp", None).await;
        assert_eq!(r.status, StatusCode::NO_CONTENT);
        let r = h
            .with_token(&secret, Method::GET, "/api/v1/items/PHONE/T1", None)
            .await;
        assert_eq!(
            (r.status, r.code()),
            (StatusCode::UNAUTHORIZED, "invalid_token")
        );
        let list = h.admin(Method::GET, "/api/v1/tokens", None).await;
        assert!(erp(&list)["revoked_at"].is_string());
        assert_eq!(
            h.admin(Method::DELETE, "/api/v1/tokens/ghost", None)
                .await
                .status,
            StatusCode::NOT_FOUND
        );
        // Its name is never reused.
        let r = h
            .admin(
                Method::POST,
                "/api/v1/tokens",
                Some(json!({"name": "erp", "roles": ["production"]})),
            )
            .await;
        assert_eq!(
            (r.status, r.code()),
            (StatusCode::CONFLICT, "already_exists")
        );

        // Malformed credentials are refused, not ignored.
        for bad in ["Bearer nonsense", "Basic YWRtaW46eA==", "Bearer "] {
            let r = h
                .call(Method::GET, "/api/v1/me", &[("authorization", bad)], None)
                .await;
            assert_eq!(
                (r.status, r.code()),
                (StatusCode::UNAUTHORIZED, "invalid_token"),
                "{bad}"
            );
        }
        let r = h
            .admin(
                Method::POST,
                "/api/v1/tokens",
                Some(json!({"name": "token:x", "roles": ["qc"]})),
            )
            .await;
        assert_eq!(
            (r.status, r.body["error"]["field"].as_str()),
            (StatusCode::BAD_REQUEST, Some("name"))
        );
        let r = h
            .admin(
                Method::POST,
                "/api/v1/tokens",
                Some(json!({"name": "x", "roles": ["boss"]})),
            )
            .await;
        assert_eq!(
            (r.status, r.body["error"]["field"].as_str()),
            (StatusCode::UNPROCESSABLE_ENTITY, Some("roles"))
        );
    }
);

store_test!(
    a_password_change_needs_the_old_password_and_ends_other_sessions,
    |s: TestStore| async move {
        let h = Harness::new(&s).await;
        h.create_user("wang", "first-password", &["qc"]).await;
        let a = h.browser("wang", "first-password").await;
        let b = h.browser("wang", "first-password").await;
        let change = |old: &str, new: &str| json!({"old_password": old, "new_password": new});

        let r = h
            .as_browser(
                &a,
                true,
                Method::POST,
                "/api/v1/me/password",
                Some(change("nope-nope", "second-password")),
            )
            .await;
        assert_eq!(
            (r.status, r.body["error"]["field"].as_str()),
            (StatusCode::FORBIDDEN, Some("old_password"))
        );
        let r = h
            .as_browser(
                &a,
                true,
                Method::POST,
                "/api/v1/me/password",
                Some(change("first-password", "short")),
            )
            .await;
        assert_eq!(
            (r.status, r.body["error"]["field"].as_str()),
            (StatusCode::UNPROCESSABLE_ENTITY, Some("new_password"))
        );
        let r = h
            .as_browser(
                &a,
                false,
                Method::POST,
                "/api/v1/me/password",
                Some(change("first-password", "second-password")),
            )
            .await;
        assert_eq!(r.status, StatusCode::FORBIDDEN, "CSRF applies");
        let r = h
            .as_browser(
                &a,
                true,
                Method::POST,
                "/api/v1/me/password",
                Some(change("first-password", "second-password")),
            )
            .await;
        assert_eq!(r.status, StatusCode::NO_CONTENT, "{}", r.text);

        let me = async |x: &Browser| {
            h.as_browser(x, false, Method::GET, "/api/v1/me", None)
                .await
                .status
        };
        assert_eq!(
            me(&a).await,
            StatusCode::OK,
            "the session that changed it stays"
        );
        assert_eq!(me(&b).await, StatusCode::UNAUTHORIZED, "other sessions end");
        assert_eq!(
            h.sign_in("wang", "first-password").await.status,
            StatusCode::UNAUTHORIZED
        );
        assert_eq!(
            h.sign_in("wang", "second-password").await.status,
            StatusCode::OK
        );
        let u = h.admin(Method::GET, "/api/v1/users/wang", None).await;
        assert!(u.body["password_changed_at"].is_string());

        // A wrong old password counts towards the lockout.
        for _ in 0..5 {
            h.as_browser(
                &a,
                true,
                Method::POST,
                "/api/v1/me/password",
                Some(change("guess-guess", "third-password")),
            )
            .await;
        }
        assert_eq!(
            h.sign_in("wang", "second-password").await.code(),
            "account_locked"
        );

        // An administrator's reset clears that and ends every session.
        let r = h
            .admin(
                Method::POST,
                "/api/v1/users/wang/password",
                Some(json!({"password": "reset-by-admin"})),
            )
            .await;
        assert_eq!(r.status, StatusCode::NO_CONTENT);
        assert_eq!(me(&a).await, StatusCode::UNAUTHORIZED);
        assert_eq!(
            h.sign_in("wang", "reset-by-admin").await.status,
            StatusCode::OK
        );

        // A token has no password.
        let r = h
            .admin(
                Method::POST,
                "/api/v1/me/password",
                Some(change("a-a-a-a-a", "b-b-b-b-b")),
            )
            .await;
        assert_eq!(
            (r.status, r.code()),
            (StatusCode::UNPROCESSABLE_ENTITY, "not_a_user")
        );
    }
);

store_test!(administrators_manage_users, |s: TestStore| async move {
    plant(&*s).await;
    let h = Harness::new(&s).await;
    h.create_user("boss", "boss-password", &["admin"]).await;
    h.create_user("zhao", "zhao-password", &["sales"]).await;

    let bad = [
        (
            json!({"name": "a:b", "password": "long-enough", "roles": ["qc"]}),
            StatusCode::BAD_REQUEST,
            "name",
        ),
        (
            json!({"name": "ok", "password": "long-enough", "roles": ["Boss!"]}),
            StatusCode::BAD_REQUEST,
            "roles",
        ),
        // A custom role's name, but no custom role is defined by it.
        (
            json!({"name": "ok", "password": "long-enough", "roles": ["boss"]}),
            StatusCode::UNPROCESSABLE_ENTITY,
            "roles",
        ),
        (
            json!({"name": "ok", "password": "long-enough", "roles": []}),
            StatusCode::BAD_REQUEST,
            "roles",
        ),
        (
            json!({"name": "ok", "password": "short", "roles": ["qc"]}),
            StatusCode::UNPROCESSABLE_ENTITY,
            "password",
        ),
        (
            json!({"name": "zhao", "password": "long-enough", "roles": ["qc"]}),
            StatusCode::CONFLICT,
            "name",
        ),
    ];
    for (body, status, field) in bad {
        let r = h
            .admin(Method::POST, "/api/v1/users", Some(body.clone()))
            .await;
        assert_eq!(
            (r.status, r.body["error"]["field"].as_str()),
            (status, Some(field)),
            "{body}"
        );
    }
    let list = h.admin(Method::GET, "/api/v1/users", None).await;
    let names: Vec<&str> = list.body["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|u| u["name"].as_str().unwrap())
        .collect();
    assert_eq!(names, ["boss", "zhao"]);
    assert!(!list.text.contains("argon2") && !list.text.contains("password_hash"));
    assert_eq!(
        h.admin(Method::GET, "/api/v1/users/nobody", None)
            .await
            .status,
        StatusCode::NOT_FOUND
    );

    // A role change takes effect on the next request of a live session.
    let z = h.browser("zhao", "zhao-password").await;
    let cap = async |b: &Browser| {
        h.as_browser(
            b,
            true,
            Method::POST,
            "/api/v1/events",
            Some(commission("Z1")),
        )
        .await
        .status
    };
    assert_eq!(cap(&z).await, StatusCode::FORBIDDEN);
    let r = h
        .admin(
            Method::PUT,
            "/api/v1/users/zhao/roles",
            Some(json!({"roles": ["production", "sales"], "site": "SZ"})),
        )
        .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text);
    assert_eq!(r.body["roles"], json!(["production", "sales"]));
    assert_eq!(cap(&z).await, StatusCode::CREATED);

    // Administrators cannot lock or demote themselves.
    let boss = h.browser("boss", "boss-password").await;
    let r = h
        .as_browser(&boss, true, Method::POST, "/api/v1/users/boss/lock", None)
        .await;
    assert_eq!(
        (r.status, r.code()),
        (StatusCode::UNPROCESSABLE_ENTITY, "own_account")
    );
    let r = h
        .as_browser(
            &boss,
            true,
            Method::PUT,
            "/api/v1/users/boss/roles",
            Some(json!({"roles": ["qc"]})),
        )
        .await;
    assert_eq!(r.code(), "own_account");
    assert_eq!(
        h.admin(Method::POST, "/api/v1/users/nobody/lock", None)
            .await
            .status,
        StatusCode::NOT_FOUND
    );
});

/// A urlencoded form body.
fn form(pairs: &[(&str, &str)]) -> String {
    pairs
        .iter()
        .map(|(k, v)| {
            let enc: String = v
                .bytes()
                .map(|b| match b {
                    b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' => {
                        (b as char).to_string()
                    }
                    _ => format!("%{b:02X}"),
                })
                .collect();
            format!("{k}={enc}")
        })
        .collect::<Vec<_>>()
        .join("&")
}

async fn post_form(h: &Harness, uri: &str, cookies: &[&str], body: &str) -> Reply {
    let cookie = cookies.join("; ");
    let req = Request::post(uri)
        .header("content-type", "application/x-www-form-urlencoded")
        .header("cookie", cookie)
        .body(Body::from(body.to_owned()))
        .unwrap();
    let resp = h.router.clone().oneshot(req).await.unwrap();
    let status = resp.status();
    let headers = resp.headers().clone();
    let bytes = resp.into_body().collect().await.unwrap().to_bytes();
    let text = String::from_utf8_lossy(&bytes).into_owned();
    Reply {
        status,
        headers,
        body: Value::Null,
        text,
    }
}

store_test!(
    the_web_pages_sign_in_and_out_without_script,
    |s: TestStore| async move {
        plant(&*s).await;
        let h = Harness::new(&s).await;
        h.create_user("chen", "web-password", &["qc"]).await;
        let r = h
            .admin(
                Method::POST,
                "/api/v1/users",
                Some(json!({"name": "dealer", "password": "dealer-password",
                    "roles": ["distributor"], "party": "DIST-GD"})),
            )
            .await;
        assert_eq!(r.status, StatusCode::CREATED, "{}", r.text);

        let r = h.call(Method::GET, "/?lang=en", &[], None).await;
        assert_eq!(
            (r.status, r.location()),
            (StatusCode::SEE_OTHER, "/login?lang=en")
        );
        let r = h
            .call(
                Method::GET,
                "/unit?product=PHONE&serial=X",
                &[("accept-language", "zh-CN")],
                None,
            )
            .await;
        assert_eq!(r.location(), "/login?lang=zh");

        let page = h.call(Method::GET, "/login?lang=en", &[], None).await;
        assert_eq!(page.status, StatusCode::OK);
        assert!(
            page.text.contains("Sign in") && page.text.contains("type=\"password\""),
            "{}",
            page.text
        );
        let login_cookie = page.cookie("__Host-threadline_login").unwrap();
        let csrf = login_cookie.split_once('=').unwrap().1.to_owned();
        let zh = h
            .call(
                Method::GET,
                "/login",
                &[("accept-language", "zh-CN,zh")],
                None,
            )
            .await;
        assert!(
            zh.text.contains("用户名") && zh.text.contains("密码"),
            "{}",
            zh.text
        );

        // The form is bound to the browser that fetched it.
        let body = form(&[
            ("name", "chen"),
            ("password", "web-password"),
            ("csrf", &"f".repeat(64)),
            ("lang", "en"),
        ]);
        let r = post_form(&h, "/login", &[&login_cookie], &body).await;
        assert_eq!(r.status, StatusCode::FORBIDDEN);
        assert!(r.text.contains("The form has expired"), "{}", r.text);
        let r = post_form(
            &h,
            "/login",
            &[],
            &form(&[
                ("name", "chen"),
                ("password", "web-password"),
                ("csrf", &csrf),
            ]),
        )
        .await;
        assert_eq!(r.status, StatusCode::FORBIDDEN);

        let body = form(&[
            ("name", "chen"),
            ("password", "wrong-password"),
            ("csrf", &csrf),
            ("lang", "en"),
        ]);
        let r = post_form(&h, "/login", &[&login_cookie], &body).await;
        assert_eq!(r.status, StatusCode::UNAUTHORIZED);
        assert!(
            r.text.contains("The user name or the password is wrong"),
            "{}",
            r.text
        );
        let body = form(&[
            ("name", "chen"),
            ("password", "wrong-password"),
            ("csrf", &csrf),
            ("lang", "zh"),
        ]);
        let r = post_form(&h, "/login", &[&login_cookie], &body).await;
        assert!(r.text.contains("用户名或密码错误"), "{}", r.text);

        let body = form(&[
            ("name", "chen"),
            ("password", "web-password"),
            ("csrf", &csrf),
            ("lang", "en"),
        ]);
        let r = post_form(&h, "/login", &[&login_cookie], &body).await;
        assert_eq!(
            (r.status, r.location()),
            (StatusCode::SEE_OTHER, "/?lang=en")
        );
        let session = r.cookie(SESSION).unwrap();
        assert!(
            r.cookies()
                .iter()
                .any(|c| c.starts_with("__Host-threadline_login=;"))
        );

        let home = h
            .call(Method::GET, "/?lang=en", &[("cookie", &session)], None)
            .await;
        assert_eq!(home.status, StatusCode::OK);
        assert!(
            home.text
                .contains("Signed in as</span> <span id=\"who\">chen</span>")
                && home.text.contains("action=\"/logout\""),
            "{}",
            home.text
        );
        let page_csrf = home.text.split("name=\"csrf\" value=\"").nth(1).unwrap()[..64].to_owned();

        // Sign-out is a form that must carry the session's token.
        let r = post_form(
            &h,
            "/logout",
            &[&session],
            &form(&[("csrf", &"0".repeat(64)), ("lang", "en")]),
        )
        .await;
        assert_eq!(r.status, StatusCode::FORBIDDEN);
        let r = post_form(
            &h,
            "/logout",
            &[&session],
            &form(&[("csrf", &page_csrf), ("lang", "en")]),
        )
        .await;
        assert_eq!(
            (r.status, r.location()),
            (StatusCode::SEE_OTHER, "/login?lang=en")
        );
        let r = h
            .call(Method::GET, "/?lang=en", &[("cookie", &session)], None)
            .await;
        assert_eq!(r.status, StatusCode::SEE_OTHER);

        // A role without the page's permission sees a refusal page, in its language.
        let chen = h.browser("chen", "web-password").await;
        let r = h
            .call(
                Method::GET,
                "/recalls/new?lang=en",
                &[("cookie", &chen.cookie)],
                None,
            )
            .await;
        assert_eq!(r.status, StatusCode::FORBIDDEN);
        assert!(r.text.contains("You do not have permission"), "{}", r.text);
        let r = h
            .call(
                Method::GET,
                "/recalls/new?lang=zh",
                &[("cookie", &chen.cookie)],
                None,
            )
            .await;
        assert!(r.text.contains("您没有权限"), "{}", r.text);
        // A distributor's account meets only its scoped pages; the others are not there.
        let dealer = h.browser("dealer", "dealer-password").await;
        let r = h
            .call(
                Method::GET,
                "/search?lang=en",
                &[("cookie", &dealer.cookie)],
                None,
            )
            .await;
        assert_eq!(r.status, StatusCode::NOT_FOUND, "{}", r.text);
        let r = h
            .call(
                Method::GET,
                "/?lang=en",
                &[("cookie", &dealer.cookie)],
                None,
            )
            .await;
        assert_eq!(r.status, StatusCode::OK, "{}", r.text);
    }
);

store_test!(
    every_response_carries_the_security_headers,
    |s: TestStore| async move {
        let h = Harness::new(&s).await;
        let replies = [
            h.call(Method::GET, "/healthz", &[], None).await,
            h.call(Method::GET, "/login", &[], None).await,
            h.call(Method::GET, "/", &[], None).await,
            h.call(Method::GET, "/api/v1/events", &[], None).await,
            h.admin(Method::GET, "/api/v1/nothing-here", None).await,
            h.admin(Method::GET, "/?lang=en", None).await,
            h.call(Method::GET, "/assets/threadline.css", &[], None)
                .await,
        ];
        for r in &replies {
            let csp = r.headers["content-security-policy"].to_str().unwrap();
            assert!(
                csp.contains("frame-ancestors 'none'") && csp.contains("default-src 'none'"),
                "{csp}"
            );
            assert!(
                !csp.contains("unsafe-inline")
                    && !csp.contains("unsafe-eval")
                    && csp.contains("script-src 'self';"),
                "{csp}"
            );
            assert_eq!(r.headers["x-content-type-options"], "nosniff");
            assert_eq!(r.headers["referrer-policy"], "same-origin");
            assert_eq!(r.headers["x-frame-options"], "DENY");
        }
        assert_eq!(replies[3].headers["cache-control"], "no-store");
        assert!(
            replies[6].headers["cache-control"]
                .to_str()
                .unwrap()
                .starts_with("public")
        );
        // The pages need no inline style or script, so the policy can forbid both.
        for page in [&replies[1], &replies[5]] {
            assert!(page.text.contains("<html"), "{}", page.text);
            for inline in ["<script", "<style", " style=", "onclick", "javascript:"] {
                assert!(!page.text.contains(inline), "{inline} in {}", page.text);
            }
        }
    }
);

store_test!(
    plain_http_development_drops_the_secure_flag,
    |s: TestStore| async move {
        let h = Harness::with(
            &s,
            AuthSettings {
                secure_cookies: false,
                ..AuthSettings::default()
            },
        )
        .await;
        h.create_user("dev", "dev-password", &["auditor"]).await;
        let r = h.sign_in("dev", "dev-password").await;
        let set = r
            .cookies()
            .into_iter()
            .find(|c| c.starts_with("threadline_session="))
            .unwrap();
        assert!(
            !set.contains("Secure") && set.contains("HttpOnly") && set.contains("SameSite=Strict"),
            "{set}"
        );
        let cookie = r.cookie("threadline_session").unwrap();
        let me = h
            .call(Method::GET, "/api/v1/me", &[("cookie", &cookie)], None)
            .await;
        assert_eq!(me.status, StatusCode::OK);
        assert!(
            me.body["permissions"]
                .as_array()
                .unwrap()
                .contains(&json!(Permission::ReadAudit.as_str()))
        );
    }
);
