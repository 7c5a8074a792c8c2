//! Webhooks through the HTTP API and the delivery worker, against a local receiver that fails
//! on purpose: the outbox is written with the event, signatures verify, failures are retried
//! with back-off, exhausted deliveries go dead and come back on redelivery; DingTalk's signed
//! URL; private destinations refused unless allowed. Both engines.

#![allow(clippy::unwrap_used)] // tests unwrap: a panic is the failure report

mod common;

use std::sync::Arc;
use std::time::Duration;

use axum::http::StatusCode;
use common::{Api, receiver};
use serde_json::{Value, json};
use threadline_domain::access::Role;
use threadline_server::webhook::{WebhookSettings, dingtalk_url, sender, signature, signing_key};
use threadline_server::{AppState, ManualClock, webhook};
use threadline_testkit::fixtures::{at, now, plant};
use threadline_testkit::{TestStore, store_test};

fn settings(allow_private: bool) -> WebhookSettings {
    WebhookSettings {
        allow_private,
        timeout: Duration::from_secs(5),
        first_retry: Duration::from_secs(60),
        max_retry: Duration::from_secs(600),
        max_attempts: 3,
        poll: Duration::from_millis(50),
    }
}

struct Setup {
    api: Api,
    state: AppState,
    clock: Arc<ManualClock>,
}

async fn setup(s: &TestStore, allow_private: bool) -> Setup {
    plant(&**s).await;
    let clock = Arc::new(ManualClock::new(now()));
    let state = AppState {
        clock: clock.clone(),
        webhooks: settings(allow_private),
        ..AppState::new(s.store.clone())
    };
    let api = Api::with_state(s, state.clone(), "hook-admin", &[Role::Admin]).await;
    Setup { api, state, clock }
}

impl Setup {
    /// One pass of the worker, as `serve` runs it in a loop.
    async fn work(&self) -> usize {
        let client = sender(&self.state.webhooks).unwrap();
        webhook::work_once(&self.state, &client).await.unwrap()
    }

    async fn deliveries(&self, name: &str) -> Vec<Value> {
        let r = self
            .api
            .get(&format!("/api/v1/webhooks/{name}/deliveries"))
            .await;
        assert_eq!(r.status, StatusCode::OK, "{:?}", r.body);
        r.body["deliveries"].as_array().unwrap().clone()
    }
}

fn commission(serials: &[&str]) -> Value {
    let items: Vec<Value> = serials
        .iter()
        .map(|s| json!({"product": "BOARD", "serial": s}))
        .collect();
    json!({"type": "object", "action": "ADD", "event_time": at(5), "biz_step": "commissioning",
           "disposition": "active", "biz_location": "SZ-L1", "items": items})
}

fn qc_fail(serial: &str) -> Value {
    json!({"type": "object", "action": "OBSERVE", "event_time": at(1), "biz_step": "inspecting",
           "disposition": "non_conformant", "biz_location": "SZ-L1", "hold": {"place": "qc"},
           "items": [{"product": "BOARD", "serial": serial}], "fields": {"defect": "cold solder joint"}})
}

store_test!(
    deliveries_are_queued_with_the_event_signed_retried_and_logged,
    |s: TestStore| async move {
        let t = setup(&s, true).await;
        let (rx, url) = receiver(&[500, 503]).await;
        let created = t
            .api
            .post(
                "/api/v1/webhooks",
                json!({"name": "erp", "url": url, "filter": {"topics": ["qc_failed"], "products": ["BOARD"], "locations": ["SZ"]}}),
            )
            .await;
        assert_eq!(created.status, StatusCode::CREATED, "{:?}", created.body);
        let secret = created.body["secret"].as_str().unwrap().to_owned();
        assert!(secret.starts_with("whsec_"));
        // The secret is shown once: never listed or read back.
        let listed = t.api.get("/api/v1/webhooks").await;
        assert!(listed.body["webhooks"][0].get("secret").is_none());
        assert!(
            t.api
                .get("/api/v1/webhooks/erp")
                .await
                .body
                .get("secret")
                .is_none()
        );

        // Commissioning is not a QC failure: nothing queued. The failure is, in the same
        // transaction as the event.
        let r = t
            .api
            .post("/api/v1/events", commission(&["B-1", "B-2"]))
            .await;
        assert_eq!(r.status, StatusCode::CREATED, "{:?}", r.body);
        assert!(t.deliveries("erp").await.is_empty());
        let r = t.api.post("/api/v1/events", qc_fail("B-1")).await;
        assert_eq!(r.status, StatusCode::CREATED, "{:?}", r.body);
        let event_id = r.body["events"][0]["id"].as_str().unwrap().to_owned();
        let queued = t.deliveries("erp").await;
        assert_eq!(queued.len(), 1);
        assert_eq!(queued[0]["status"], "pending");
        assert_eq!(queued[0]["event"], event_id.as_str());
        assert_eq!(queued[0]["topics"], json!(["event", "hold", "qc_failed"]));
        let delivery = queued[0]["id"].as_str().unwrap().to_owned();

        // A refused event queues nothing.
        let refused = t.api.post("/api/v1/events", qc_fail("B-404")).await;
        assert_eq!(
            refused.status,
            StatusCode::UNPROCESSABLE_ENTITY,
            "{:?}",
            refused.body
        );
        assert_eq!(t.deliveries("erp").await.len(), 1);

        // First attempt: 500. Not due again until the back-off has passed.
        assert_eq!(t.work().await, 1);
        let d = &t.deliveries("erp").await[0];
        assert_eq!(
            (d["status"].as_str(), d["attempts"].as_u64()),
            (Some("pending"), Some(1))
        );
        assert_eq!(d["last_status"], 500);
        assert_eq!(t.work().await, 0, "retried before its back-off");
        t.clock.advance(chrono::Duration::minutes(20));
        assert_eq!(t.work().await, 1); // 503
        t.clock.advance(chrono::Duration::minutes(20));
        assert_eq!(t.work().await, 1); // 200
        let d = t
            .api
            .get(&format!("/api/v1/webhook-deliveries/{delivery}"))
            .await;
        assert_eq!(d.body["status"], "delivered");
        let log: Vec<Value> = d.body["attempts_log"]
            .as_array()
            .unwrap()
            .iter()
            .map(|a| a["status"].clone())
            .collect();
        assert_eq!(log, vec![json!(500), json!(503), json!(200)]);

        // Every attempt carried the same id and a valid signature over id, timestamp and body.
        let seen = rx.seen.lock().unwrap();
        assert_eq!(seen.len(), 3);
        for (headers, _, body) in seen.iter() {
            let h = |n: &str| headers.get(n).unwrap().to_str().unwrap().to_owned();
            assert_eq!(h("webhook-id"), delivery);
            let ts: i64 = h("webhook-timestamp").parse().unwrap();
            assert_eq!(
                h("webhook-signature"),
                signature(&signing_key(&secret), &delivery, ts, body)
            );
            assert_ne!(
                h("webhook-signature"),
                signature(b"another key", &delivery, ts, body)
            );
            let payload: Value = serde_json::from_slice(body).unwrap();
            assert_eq!(payload["webhook"], "erp");
            assert_eq!(payload["event"]["id"], event_id.as_str());
            assert_eq!(payload["event"]["items"][0]["serial"], "B-1");
        }
    }
);

store_test!(
    exhausted_deliveries_go_dead_until_redelivered,
    |s: TestStore| async move {
        let t = setup(&s, true).await;
        let (rx, url) = receiver(&[500, 500, 500]).await;
        let r = t
            .api
            .post("/api/v1/webhooks", json!({"name": "mes", "url": url}))
            .await;
        assert_eq!(r.status, StatusCode::CREATED, "{:?}", r.body);
        t.api.post("/api/v1/events", commission(&["B-9"])).await;
        for _ in 0..3 {
            assert_eq!(t.work().await, 1);
            t.clock.advance(chrono::Duration::hours(1));
        }
        let d = t.deliveries("mes").await;
        assert_eq!(d[0]["status"], "dead");
        assert_eq!(d[0]["attempts"], 3);
        assert_eq!(
            t.work().await,
            0,
            "a dead delivery is not retried by itself"
        );
        let dead = t
            .api
            .get("/api/v1/webhooks/mes/deliveries?status=dead")
            .await;
        assert_eq!(dead.body["deliveries"].as_array().unwrap().len(), 1);

        // Redelivery on demand: the receiver is fixed now.
        let id = d[0]["id"].as_str().unwrap();
        let r = t
            .api
            .post(
                &format!("/api/v1/webhook-deliveries/{id}/redeliver"),
                json!({}),
            )
            .await;
        assert_eq!(r.status, StatusCode::OK, "{:?}", r.body);
        assert_eq!(r.body["status"], "pending");
        assert_eq!(t.work().await, 1);
        assert_eq!(t.deliveries("mes").await[0]["status"], "delivered");
        assert_eq!(rx.seen.lock().unwrap().len(), 4);

        // Paused subscriptions queue nothing and send nothing; deleting one drops its log.
        let r = t
            .api
            .put(
                "/api/v1/webhooks/mes",
                "\"1\"",
                json!({"url": url, "active": false}),
            )
            .await;
        assert_eq!(r.status, StatusCode::OK, "{:?}", r.body);
        t.api.post("/api/v1/events", commission(&["B-10"])).await;
        assert_eq!(t.deliveries("mes").await.len(), 1);
        let r = t.api.delete("/api/v1/webhooks/mes").await;
        assert_eq!(r.status, StatusCode::NO_CONTENT);
        assert_eq!(
            t.api.get("/api/v1/webhooks/mes").await.status,
            StatusCode::NOT_FOUND
        );
        assert_eq!(
            t.api
                .get(&format!("/api/v1/webhook-deliveries/{id}"))
                .await
                .status,
            StatusCode::NOT_FOUND
        );
    }
);

store_test!(
    dingtalk_and_wecom_robots_get_signed_chat_alerts,
    |s: TestStore| async move {
        let t = setup(&s, true).await;
        let (rx, url) = receiver(&[]).await;
        let ding = format!("{url}?access_token=abc");
        let r = t
            .api
            .post(
                "/api/v1/webhooks",
                json!({"name": "qc-team", "url": ding, "format": "dingtalk", "secret": "SECtest",
                       "filter": {"topics": ["qc_failed", "recall"]}}),
            )
            .await;
        assert_eq!(r.status, StatusCode::CREATED, "{:?}", r.body);
        assert!(
            r.body.get("secret").is_none(),
            "a given secret is not echoed"
        );
        let r = t
            .api
            .post(
                "/api/v1/webhooks",
                json!({"name": "wecom", "url": format!("{url}?key=k"), "format": "wecom", "language": "en",
                       "filter": {"topics": ["qc_failed"]}}),
            )
            .await;
        assert_eq!(r.status, StatusCode::CREATED, "{:?}", r.body);
        t.api.post("/api/v1/events", commission(&["B-1"])).await;
        t.api.post("/api/v1/events", qc_fail("B-1")).await;
        assert_eq!(t.work().await, 2);
        let seen = rx.seen.lock().unwrap();
        let (_, uri, body) = seen
            .iter()
            .find(|(_, u, _)| u.contains("access_token"))
            .unwrap();
        let ts_ms = threadline_server::Clock::now(&*t.clock).timestamp_millis();
        assert_eq!(
            format!("http://x{uri}"),
            dingtalk_url("http://x/hook?access_token=abc", "SECtest", ts_ms)
        );
        let msg: Value = serde_json::from_slice(body).unwrap();
        assert_eq!(msg["msgtype"], "markdown");
        assert_eq!(msg["markdown"]["title"], "质检不合格");
        let text = msg["markdown"]["text"].as_str().unwrap();
        assert!(
            text.contains("BOARD B-1") && text.contains("cold solder joint"),
            "{text}"
        );
        let (_, _, body) = seen.iter().find(|(_, u, _)| u.contains("key=k")).unwrap();
        let msg: Value = serde_json::from_slice(body).unwrap();
        let content = msg["markdown"]["content"].as_str().unwrap();
        assert!(content.starts_with("### QC failure"), "{content}");
    }
);

store_test!(
    private_destinations_and_bad_subscriptions_are_refused,
    |s: TestStore| async move {
        let t = setup(&s, false).await;
        for url in [
            "http://127.0.0.1:9/hook",
            "http://localhost/hook",
            "http://10.1.2.3/hook",
            "http://192.168.1.10/hook",
            "http://[::1]/hook",
            "http://169.254.169.254/latest/meta-data",
        ] {
            let r = t
                .api
                .post("/api/v1/webhooks", json!({"name": "inside", "url": url}))
                .await;
            assert_eq!(r.status, StatusCode::UNPROCESSABLE_ENTITY, "{url}");
            assert_eq!(
                r.codes(),
                vec![("private_destination".into(), "url".into())],
                "{url}"
            );
        }
        let r = t
            .api
            .post(
                "/api/v1/webhooks",
                json!({"name": "bad name!", "url": "ftp://example.com/x", "filter": {"biz_steps": ["teleporting"]}}),
            )
            .await;
        assert_eq!(r.status, StatusCode::UNPROCESSABLE_ENTITY);
        let fields: Vec<String> = r.codes().into_iter().map(|(_, f)| f).collect();
        assert_eq!(fields, vec!["name", "url", "filter.biz_steps[0]"]);
        let r = t
            .api
            .post(
                "/api/v1/webhooks",
                json!({"name": "x", "url": "https://example.com", "filter": {"topics": ["weather"]}}),
            )
            .await;
        assert_eq!(r.status, StatusCode::BAD_REQUEST);
        assert_eq!(r.codes()[0].1, "filter.topics[0]");
        assert!(
            t.api.get("/api/v1/webhooks").await.body["webhooks"]
                .as_array()
                .unwrap()
                .is_empty()
        );
        // A public name is accepted; the sender checks where it resolves when it connects.
        let r = t
            .api
            .post(
                "/api/v1/webhooks",
                json!({"name": "erp", "url": "https://erp.example.com/threadline"}),
            )
            .await;
        assert_eq!(r.status, StatusCode::CREATED, "{:?}", r.body);
        // Only administrators (configure) manage webhooks.
        let clerk = Api::with_state(&s, t.state.clone(), "clerk", &[Role::Warehouse]).await;
        assert_eq!(
            clerk.get("/api/v1/webhooks").await.status,
            StatusCode::FORBIDDEN
        );
    }
);

/// A form post, as the page sends it.
async fn post_form(api: &Api, uri: &str, fields: &[(&str, &str)]) -> common::Reply {
    let body: String = fields
        .iter()
        .map(|(k, v)| {
            let enc = |s: &str| s.bytes().map(|b| format!("%{b:02X}")).collect::<String>();
            format!("{}={}", enc(k), enc(v))
        })
        .collect::<Vec<_>>()
        .join("&");
    api.send(
        axum::http::Request::post(uri)
            .header("content-type", "application/x-www-form-urlencoded")
            .body(axum::body::Body::from(body))
            .unwrap(),
    )
    .await
}

fn html(r: &common::Reply) -> &str {
    r.body.as_str().unwrap()
}

/// The audit records of one object (newest first).
async fn audited(api: &Api, object: &str) -> Vec<Value> {
    let r = api.get(&format!("/api/v1/audit?object={object}")).await;
    assert_eq!(r.status, StatusCode::OK, "{:?}", r.body);
    r.body["records"].as_array().unwrap().clone()
}

store_test!(
    the_webhook_admin_page_subscribes_disables_shows_the_log_and_redelivers,
    |s: TestStore| async move {
        let t = setup(&s, true).await;
        let (rx, url) = receiver(&[500, 500, 500]).await;
        let r = t.api.get("/admin/webhooks?lang=en").await;
        assert_eq!(r.status, StatusCode::OK);
        assert!(html(&r).contains("id=\"no-webhooks\"") && html(&r).contains("id=\"new-webhook\""));
        assert!(html(&r).contains("class=\"tab current\" aria-current=\"page\">Webhooks</a>"));

        // A refused subscription comes back on the form, naming each field; nothing is saved.
        let r = post_form(
            &t.api,
            "/admin/webhooks",
            &[
                ("lang", "en"),
                ("action", "create"),
                ("name", "bad name!"),
                ("url", "ftp://x"),
                ("topic.qc_failed", "on"),
                ("biz_steps", "teleporting"),
            ],
        )
        .await;
        assert_eq!(r.status, StatusCode::UNPROCESSABLE_ENTITY, "{:?}", r.body);
        let page = html(&r);
        assert!(page.contains("id=\"form-errors\""), "{page}");
        for field in [
            "<code>name</code>",
            "<code>url</code>",
            "<code>filter.biz_steps[0]</code>",
        ] {
            assert!(page.contains(field), "{field} in {page}");
        }
        assert!(
            page.contains("value=\"bad name!\""),
            "the form keeps what was typed"
        );
        assert!(
            t.api.get("/api/v1/webhooks").await.body["webhooks"]
                .as_array()
                .unwrap()
                .is_empty()
        );

        // Subscribed through the form: the secret is shown once, the filter is what was ticked.
        let r = post_form(
            &t.api,
            "/admin/webhooks",
            &[
                ("lang", "en"),
                ("action", "create"),
                ("name", "qc-erp"),
                ("url", &url),
                ("format", "json"),
                ("language", "en"),
                ("topic.qc_failed", "on"),
                ("topic.recall", "on"),
                ("products", "BOARD, TC"),
                ("locations", "SZ"),
                ("biz_steps", ""),
            ],
        )
        .await;
        assert_eq!(r.status, StatusCode::CREATED, "{:?}", r.body);
        let page = html(&r);
        let secret = page
            .split("<code id=\"secret\">")
            .nth(1)
            .and_then(|s| s.split("</code>").next())
            .unwrap()
            .to_owned();
        assert!(secret.starts_with("whsec_"), "{page}");
        // One record, saying what the page answered (201, the secret shown), never the secret.
        let records = audited(&t.api, "webhooks/qc-erp").await;
        assert_eq!(records.len(), 1, "{records:?}");
        assert_eq!(records[0]["status"], 201, "{records:?}");
        assert_eq!(records[0]["action"], "POST /admin/webhooks", "{records:?}");
        assert!(!Value::Array(records).to_string().contains(&secret));
        let hook = t.api.get("/api/v1/webhooks/qc-erp").await;
        assert_eq!(
            hook.body["filter"],
            json!({"topics": ["recall", "qc_failed"], "products": ["BOARD", "TC"], "locations": ["SZ"], "biz_steps": []})
        );
        assert_eq!(
            (
                hook.body["language"].as_str(),
                hook.body["active"].as_bool()
            ),
            (Some("en"), Some(true))
        );
        // The page request's audit record carries what the API handler saw (never the secret).
        let records = audited(&t.api, "webhooks/qc-erp").await;
        assert!(
            records
                .iter()
                .any(|a| a["status"] == 201 && a["after"]["url"] == url.as_str()),
            "{records:?}"
        );
        assert!(!serde_json::to_string(&records).unwrap().contains(&secret));
        let listed = t.api.get("/admin/webhooks?lang=en").await;
        assert!(
            !html(&listed).contains(&secret),
            "the secret is never listed"
        );
        assert!(
            html(&listed).contains("QC failure, Recall hold")
                || html(&listed).contains("Recall hold, QC failure")
        );

        // A QC failure is delivered and fails three times: dead.
        t.api.post("/api/v1/events", commission(&["B-1"])).await;
        let r = t.api.post("/api/v1/events", qc_fail("B-1")).await;
        assert_eq!(r.status, StatusCode::CREATED, "{:?}", r.body);
        for _ in 0..3 {
            assert_eq!(t.work().await, 1);
            t.clock.advance(chrono::Duration::hours(1));
        }
        let d = t.deliveries("qc-erp").await;
        let id = d[0]["id"].as_str().unwrap().to_owned();
        assert_eq!(d[0]["status"], "dead");

        // The log on the page: status, attempts, the receiver's answer and the error.
        let r = t.api.get("/admin/webhooks?hook=qc-erp&lang=en").await;
        assert_eq!(r.status, StatusCode::OK);
        let page = html(&r);
        let row = page
            .split(&format!("<tr id=\"delivery-{id}\">"))
            .nth(1)
            .unwrap();
        let row = row.split("</tr>").next().unwrap();
        assert!(
            row.contains("data-status=\"dead\">Dead letter</span>"),
            "{row}"
        );
        assert!(row.contains("<td class=\"n\">3</td>"), "{row}");
        assert!(row.contains("<td class=\"n\">500</td>"), "{row}");
        assert!(row.contains("the receiver answered 500"), "{row}");
        assert!(row.contains(&format!("id=\"redeliver-{id}\"")), "{row}");
        let delivered = t
            .api
            .get("/admin/webhooks?hook=qc-erp&status=delivered&lang=en")
            .await;
        assert!(html(&delivered).contains("id=\"no-deliveries\""));
        assert_eq!(
            t.api
                .get("/admin/webhooks?hook=qc-erp&status=lost&lang=en")
                .await
                .status,
            StatusCode::BAD_REQUEST
        );
        // And in Chinese.
        let zh = t.api.get("/admin/webhooks?hook=qc-erp&lang=zh").await;
        for word in ["推送记录", "死信", "重新推送", "质检不合格", "新建订阅"] {
            assert!(html(&zh).contains(word), "{word}");
        }

        // Redelivered from the page: pending again, sent, delivered; audited.
        let r = post_form(
            &t.api,
            "/admin/webhooks",
            &[
                ("lang", "en"),
                ("action", "redeliver"),
                ("id", &id),
                ("hook", "qc-erp"),
            ],
        )
        .await;
        assert_eq!(r.status, StatusCode::SEE_OTHER, "{:?}", r.body);
        assert_eq!(
            r.headers["location"],
            format!("/admin/webhooks?done={id}&lang=en&hook=qc-erp").as_str()
        );
        assert_eq!(t.deliveries("qc-erp").await[0]["status"], "pending");
        let records = audited(&t.api, &format!("webhook-deliveries/{id}")).await;
        assert!(
            records.iter().any(|a| a["status"] == 303
                && a["before"]["status"] == "dead"
                && a["after"]["status"] == "pending"),
            "{records:?}"
        );
        assert_eq!(t.work().await, 1);
        assert_eq!(t.deliveries("qc-erp").await[0]["status"], "delivered");
        assert_eq!(rx.seen.lock().unwrap().len(), 4);

        // Disabled from the page: its filter, format and secret are kept; it queues nothing.
        let r = post_form(
            &t.api,
            "/admin/webhooks",
            &[("lang", "en"), ("action", "disable"), ("name", "qc-erp")],
        )
        .await;
        assert_eq!(r.status, StatusCode::SEE_OTHER, "{:?}", r.body);
        let hook = t.api.get("/api/v1/webhooks/qc-erp").await;
        assert_eq!(
            (hook.body["active"].as_bool(), hook.body["version"].as_u64()),
            (Some(false), Some(2))
        );
        assert_eq!(hook.body["filter"]["products"], json!(["BOARD", "TC"]));
        assert_eq!(hook.body["language"], "en");
        let records = audited(&t.api, "webhooks/qc-erp").await;
        assert!(
            records.iter().any(|a| a["status"] == 303
                && a["before"]["active"] == true
                && a["after"]["active"] == false),
            "{records:?}"
        );
        t.api.post("/api/v1/events", commission(&["B-2"])).await;
        t.api.post("/api/v1/events", qc_fail("B-2")).await;
        assert_eq!(t.deliveries("qc-erp").await.len(), 1);
        let page = t.api.get("/admin/webhooks?lang=en").await;
        assert!(html(&page).contains("id=\"enable-qc-erp\""));
        // Enabled again; deliveries are signed with the same secret as before.
        let r = post_form(
            &t.api,
            "/admin/webhooks",
            &[("lang", "en"), ("action", "enable"), ("name", "qc-erp")],
        )
        .await;
        assert_eq!(r.status, StatusCode::SEE_OTHER, "{:?}", r.body);
        t.api.post("/api/v1/events", commission(&["B-3"])).await;
        t.api.post("/api/v1/events", qc_fail("B-3")).await;
        assert_eq!(t.work().await, 1);
        {
            let seen = rx.seen.lock().unwrap();
            let (headers, _, body) = seen.last().unwrap();
            let h = |n: &str| headers.get(n).unwrap().to_str().unwrap().to_owned();
            let ts: i64 = h("webhook-timestamp").parse().unwrap();
            assert_eq!(
                h("webhook-signature"),
                signature(&signing_key(&secret), &h("webhook-id"), ts, body)
            );
        }

        // Only administrators (configure) see the page.
        let clerk = Api::with_state(&s, t.state.clone(), "clerk", &[Role::Warehouse]).await;
        assert_eq!(
            clerk.get("/admin/webhooks?lang=en").await.status,
            StatusCode::FORBIDDEN
        );
        let r = post_form(
            &clerk,
            "/admin/webhooks",
            &[("action", "disable"), ("name", "qc-erp")],
        )
        .await;
        assert_eq!(r.status, StatusCode::FORBIDDEN);
        assert_eq!(
            t.api.get("/api/v1/webhooks/qc-erp").await.body["active"],
            true
        );
    }
);

store_test!(
    suspicious_authenticity_checks_are_delivered_to_subscribers_of_their_topic,
    |s: TestStore| async move {
        let t = setup(&s, true).await;
        let (rx, url) = receiver(&[]).await;
        let (everything_rx, everything_url) = receiver(&[]).await;
        let (robot_rx, robot_url) = receiver(&[]).await;
        for body in [
            json!({"name": "anti-fake", "url": url, "filter": {"topics": ["suspicious_check"]}}),
            // An empty topic list means every *event*: checks are not events.
            json!({"name": "everything", "url": everything_url}),
            json!({"name": "tc-only", "url": url, "filter": {"topics": ["suspicious_check"], "products": ["TC"]}}),
            json!({"name": "board-site", "url": url, "filter": {"topics": ["suspicious_check"], "locations": ["SZ"]}}),
            json!({"name": "brand-chat", "url": robot_url, "format": "dingtalk", "language": "zh-CN",
                   "filter": {"topics": ["suspicious_check"], "products": ["BOARD"]}}),
        ] {
            let r = t.api.post("/api/v1/webhooks", body).await;
            assert_eq!(r.status, StatusCode::CREATED, "{:?}", r.body);
        }
        let secret = {
            // A fresh subscription's secret, to verify the signature below.
            let r = t
                .api
                .post(
                    "/api/v1/webhooks",
                    json!({"name": "anti-fake-2", "url": url, "filter": {"topics": ["suspicious_check"], "products": ["BOARD"]}}),
                )
                .await;
            r.body["secret"].as_str().unwrap().to_owned()
        };
        let r = t.api.post("/api/v1/events", commission(&["B-1"])).await;
        assert_eq!(r.status, StatusCode::CREATED, "{:?}", r.body);

        // A unit never released, checked from outside: suspicious. A code that is not ours: no
        // alert (nothing of ours was copied).
        let r = t
            .api
            .post(
                "/api/v1/authenticity/checks",
                json!({"code": "B-1", "region": "CN-SH", "channel": "wechat"}),
            )
            .await;
        assert_eq!(r.status, StatusCode::CREATED, "{:?}", r.body);
        assert_eq!(r.body["verdict"], "suspicious", "{:?}", r.body);
        let r = t
            .api
            .post(
                "/api/v1/authenticity/checks",
                json!({"code": "NOT-OURS-77"}),
            )
            .await;
        assert_eq!(r.body["verdict"], "not_ours", "{:?}", r.body);
        let checks = t
            .api
            .get("/api/v1/authenticity/checks?from=2020-01-01T00:00:00Z&to=2030-01-01T00:00:00Z&verdict=suspicious")
            .await;
        let check_id = checks.body["checks"][0]["id"].as_i64().unwrap();

        // Queued with the check, for the subscriptions that name the topic and fit it.
        let d = t.deliveries("anti-fake").await;
        assert_eq!(d.len(), 1, "{d:?}");
        assert_eq!(d[0]["check"], check_id);
        assert!(d[0].get("event").is_none(), "{:?}", d[0]);
        assert_eq!(d[0]["topics"], json!(["suspicious_check"]));
        assert_eq!(t.deliveries("anti-fake-2").await.len(), 1);
        assert_eq!(t.deliveries("brand-chat").await.len(), 1);
        let everything = t.deliveries("everything").await;
        assert_eq!(everything.len(), 1, "only the commissioning event");
        assert!(everything[0]["event"].is_string());
        assert!(t.deliveries("tc-only").await.is_empty(), "another product");
        assert!(
            t.deliveries("board-site").await.is_empty(),
            "a check happens at no location of ours"
        );
        let detail = t
            .api
            .get(&format!(
                "/api/v1/webhook-deliveries/{}",
                d[0]["id"].as_str().unwrap()
            ))
            .await;
        assert_eq!(detail.body["check"], check_id);

        // Sent by the worker like any delivery: signed, carrying the check.
        assert_eq!(t.work().await, 4);
        let seen = rx.seen.lock().unwrap().clone();
        assert_eq!(seen.len(), 2);
        for (headers, _, body) in &seen {
            let payload: Value = serde_json::from_slice(body).unwrap();
            assert_eq!(payload["topics"], json!(["suspicious_check"]));
            assert_eq!(payload["check"]["id"], check_id);
            assert_eq!(
                (
                    payload["check"]["product"].as_str(),
                    payload["check"]["serial"].as_str()
                ),
                (Some("BOARD"), Some("B-1"))
            );
            assert_eq!(payload["check"]["verdict"], "suspicious");
            assert_eq!(payload["check"]["region"], "CN-SH");
            assert!(
                payload["check"]["reasons"]
                    .as_array()
                    .unwrap()
                    .contains(&json!("not_released"))
            );
            assert!(payload.get("event").is_none());
            if payload["webhook"] == "anti-fake-2" {
                let h = |n: &str| headers.get(n).unwrap().to_str().unwrap().to_owned();
                let ts: i64 = h("webhook-timestamp").parse().unwrap();
                assert_eq!(
                    h("webhook-signature"),
                    signature(&signing_key(&secret), &h("webhook-id"), ts, body)
                );
            }
        }
        assert_eq!(everything_rx.seen.lock().unwrap().len(), 1);
        let robot = robot_rx.seen.lock().unwrap().clone();
        assert_eq!(robot.len(), 1);
        let msg: Value = serde_json::from_slice(&robot[0].2).unwrap();
        let text = msg["markdown"]["text"].as_str().unwrap();
        assert!(
            text.contains("防伪告警")
                && text.contains("BOARD B-1")
                && text.contains("未放行销售")
                && text.contains("CN-SH"),
            "{text}"
        );
        for d in t.deliveries("anti-fake").await {
            assert_eq!(d["status"], "delivered");
        }

        // The admin page's log names the check.
        let page = t.api.get("/admin/webhooks?hook=anti-fake&lang=en").await;
        assert!(
            page.body
                .as_str()
                .unwrap()
                .contains(&format!("Authenticity check #{check_id}")),
            "{:?}",
            page.body
        );
    }
);
