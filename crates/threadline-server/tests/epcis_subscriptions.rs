//! EPCIS 2.0 query subscriptions (`/epcis/queries/{name}/subscriptions`) against a local
//! receiver, through the webhook outbox and worker, on both engines: a stream delivers each
//! matching event as it is recorded, signed; a schedule delivers what matched since its last
//! run; deleting stops deliveries; bad input is refused with the EPCIS exception naming the
//! field, and writes nothing.

#![allow(clippy::unwrap_used)] // tests unwrap: a panic is the failure report

mod common;

use std::sync::Arc;
use std::time::Duration;

use axum::http::{HeaderMap, StatusCode};
use base64::Engine;
use chrono::{DateTime, Utc};
use common::{Api, Receiver, epcis_serials as serials, receiver};
use hmac::{Hmac, Mac};
use serde_json::{Value, json};
use sha2::Sha256;
use threadline_domain::access::Role;
use threadline_server::webhook::{WebhookSettings, sender, signature, signing_key};
use threadline_server::{AppState, Clock, ManualClock, webhook};
use threadline_testkit::fixtures::{now, put};
use threadline_testkit::{TestStore, store_test};

const CONTEXT: &str = "https://ref.gs1.org/standards/epcis/2.0.0/epcis-context.jsonld";

struct Setup {
    api: Api,
    state: AppState,
    clock: Arc<ManualClock>,
}

async fn setup(s: &TestStore) -> Setup {
    put(&**s, "product", json!({"code": "PJ-1", "name": "Projector", "gtin": "10614141073464", "tracking": "serial"})).await;
    put(
        &**s,
        "location",
        json!({"code": "0614141073467", "name": "DC", "kind": "site"}),
    )
    .await;
    let clock = Arc::new(ManualClock::new(now()));
    let state = AppState {
        clock: clock.clone(),
        webhooks: WebhookSettings {
            allow_private: true,
            timeout: Duration::from_secs(5),
            first_retry: Duration::from_secs(60),
            max_retry: Duration::from_secs(600),
            max_attempts: 3,
            poll: Duration::from_millis(50),
        },
        ..AppState::new(s.store.clone())
    };
    let api = Api::with_state(s, state.clone(), "epcis-client", &[Role::Admin]).await;
    Setup { api, state, clock }
}

impl Setup {
    /// One pass of the worker: subscriptions run, then due deliveries are sent.
    async fn work(&self) -> usize {
        let client = sender(&self.state.webhooks).unwrap();
        webhook::work_once(&self.state, &client).await.unwrap()
    }

    /// Commissions serials through EPCIS, one event each, with `disposition`.
    async fn commission(&self, serials: &[&str], disposition: &str) {
        let events: Vec<Value> = serials
            .iter()
            .map(|s| {
                json!({"type": "ObjectEvent", "eventTime": "2022-02-16T08:00:00-06:00",
                    "eventTimeZoneOffset": "-06:00", "action": "ADD", "bizStep": "commissioning",
                    "disposition": disposition,
                    "epcList": [format!("https://id.gs1.org/01/10614141073464/21/{s}")],
                    "bizLocation": {"id": "urn:epc:id:sgln:0614141.07346.0"}})
            })
            .collect();
        let doc = json!({"@context": [CONTEXT], "type": "EPCISDocument", "schemaVersion": "2.0",
            "creationDate": "2022-02-17T00:00:00Z", "epcisBody": {"eventList": events}});
        let r = self.api.post("/epcis/capture", doc).await;
        assert_eq!(r.status, StatusCode::ACCEPTED, "{:?}", r.body);
        let job = self.api.get(r.headers["location"].to_str().unwrap()).await;
        assert_eq!(job.body["success"], true, "{:?}", job.body);
    }

    async fn named_query(&self, name: &str, query: Value) {
        let r = self
            .api
            .post("/epcis/queries", json!({"name": name, "query": query}))
            .await;
        assert_eq!(r.status, StatusCode::CREATED, "{:?}", r.body);
    }

    async fn subscribe(&self, query: &str, body: Value) -> Value {
        let r = self
            .api
            .post(&format!("/epcis/queries/{query}/subscriptions"), body)
            .await;
        assert_eq!(r.status, StatusCode::CREATED, "{:?}", r.body);
        let id = r.body["subscriptionID"].as_str().unwrap();
        assert_eq!(
            r.headers["location"],
            format!("/epcis/queries/{query}/subscriptions/{id}").as_str()
        );
        r.body
    }
}

/// The documents a receiver was sent, with their headers and raw bodies.
fn received(rx: &Receiver) -> Vec<(HeaderMap, Vec<u8>, Value)> {
    rx.seen
        .lock()
        .unwrap()
        .iter()
        .map(|(h, _, b)| (h.clone(), b.clone(), serde_json::from_slice(b).unwrap()))
        .collect()
}

fn hmac_base64(key: &[u8], body: &[u8]) -> String {
    let mut mac = Hmac::<Sha256>::new_from_slice(key).unwrap();
    mac.update(body);
    base64::engine::general_purpose::STANDARD.encode(mac.finalize().into_bytes())
}

store_test!(
    a_stream_delivers_each_matching_event_signed_until_deleted,
    |s: TestStore| async move {
        let t = setup(&s).await;
        let (rx, url) = receiver(&[503]).await;
        t.named_query(
            "active-units",
            json!({"EQ_bizStep": "commissioning", "EQ_disposition": "active"}),
        )
        .await;
        // Recorded before the subscription: never reported to it.
        t.commission(&["1001"], "active").await;
        let token = "0435ojtojt02";
        let sub = t
            .subscribe(
                "active-units",
                json!({"dest": url, "signatureToken": token, "stream": true}),
            )
            .await;
        let id = sub["subscriptionID"].as_str().unwrap().to_owned();
        assert_eq!(sub["stream"], true);
        assert!(
            sub.get("signatureToken").is_none(),
            "the token is not echoed"
        );

        t.commission(&["1002", "1003", "1004"], "active").await;
        t.commission(&["1005"], "sellable_not_accessible").await;
        // The first pass queues the three matching events and tries each: the first attempt
        // meets a 503 and waits for its back-off.
        assert_eq!(t.work().await, 3);
        t.clock.advance(chrono::Duration::minutes(5));
        assert_eq!(t.work().await, 1, "only the failed one is tried again");
        assert_eq!(t.work().await, 0, "nothing is queued twice");

        let docs = received(&rx);
        assert_eq!(docs.len(), 4);
        let mut got: Vec<String> = docs[..3].iter().flat_map(|(_, _, d)| serials(d)).collect();
        got.sort();
        assert_eq!(got, ["1002", "1003", "1004"]);
        assert!(
            got.contains(&serials(&docs[3].2)[0]),
            "the retry carries one of the events"
        );
        for (headers, body, doc) in &docs {
            let h = |n: &str| headers.get(n).unwrap().to_str().unwrap().to_owned();
            assert_eq!(h("content-type"), "application/ld+json");
            assert_eq!(doc["type"], "EPCISQueryDocument");
            let results = &doc["epcisBody"]["queryResults"];
            assert_eq!(results["subscriptionID"], id.as_str());
            assert_eq!(results["queryName"], "active-units");
            assert_eq!(
                results["resultsBody"]["eventList"]
                    .as_array()
                    .unwrap()
                    .len(),
                1,
                "a stream sends each event on its own"
            );
            assert_eq!(h("gs1-signature"), hmac_base64(token.as_bytes(), body));
            assert_ne!(h("gs1-signature"), hmac_base64(b"another token", body));
            let ts: i64 = h("webhook-timestamp").parse().unwrap();
            assert_eq!(
                h("webhook-signature"),
                signature(&signing_key(token), &h("webhook-id"), ts, body)
            );
        }

        // The deliveries are the webhook's, in its log.
        let log = t
            .api
            .get(&format!("/api/v1/webhooks/epcis-{id}/deliveries"))
            .await;
        let log = log.body["deliveries"].as_array().unwrap().clone();
        assert_eq!(log.len(), 3);
        assert!(log.iter().all(|d| d["status"] == "delivered"), "{log:?}");

        let listed = t.api.get("/epcis/queries/active-units/subscriptions").await;
        assert_eq!(listed.body.as_array().unwrap().len(), 1);
        assert_eq!(listed.body[0]["dest"], url.as_str());
        let one = t
            .api
            .get(&format!("/epcis/queries/active-units/subscriptions/{id}"))
            .await;
        assert_eq!(one.status, StatusCode::OK);
        assert_eq!(one.body["subscriptionID"], id.as_str());

        // Deleted: nothing more is queued or sent.
        let del = t
            .api
            .delete(&format!("/epcis/queries/active-units/subscriptions/{id}"))
            .await;
        assert_eq!(del.status, StatusCode::NO_CONTENT);
        t.commission(&["1006"], "active").await;
        assert_eq!(t.work().await, 0);
        assert_eq!(received(&rx).len(), 4);
        let gone = t
            .api
            .get(&format!("/epcis/queries/active-units/subscriptions/{id}"))
            .await;
        assert_eq!(gone.status, StatusCode::NOT_FOUND);
        assert_eq!(gone.body["type"], "epcisException:NoSuchNameException");
        assert!(
            t.api.get("/api/v1/webhooks").await.body["webhooks"]
                .as_array()
                .unwrap()
                .is_empty()
        );
    }
);

fn next_run(sub: &Value) -> DateTime<Utc> {
    DateTime::parse_from_rfc3339(sub["nextRunAt"].as_str().unwrap())
        .unwrap()
        .with_timezone(&Utc)
}

store_test!(
    a_schedule_delivers_what_matched_since_its_last_run,
    |s: TestStore| async move {
        let t = setup(&s).await;
        let (rx, url) = receiver(&[]).await;
        let (rx_empty, url_empty) = receiver(&[]).await;
        let (rx_past, url_past) = receiver(&[]).await;
        t.named_query("made", json!({"EQ_bizStep": "commissioning"}))
            .await;
        t.commission(&["2000"], "active").await;
        let hourly = json!({"second": "0", "minute": "0"});
        let sub = t
            .subscribe(
                "made",
                json!({"dest": url, "secret": "s3cret", "schedule": hourly}),
            )
            .await;
        // 12:00:00 now: the next top of the hour.
        assert_eq!(sub["nextRunAt"], "2026-06-01T13:00:00.000Z");
        assert_eq!(sub["reportIfEmpty"], false);
        t.subscribe(
            "made",
            json!({"dest": url_empty, "secret": "s3cret", "schedule": hourly, "reportIfEmpty": true}),
        )
        .await;
        t.subscribe(
            "made",
            json!({"dest": url_past, "secret": "s3cret", "schedule": hourly,
                   "initialRecordTime": "2020-01-01T00:00:00Z"}),
        )
        .await;

        t.commission(&["2001", "2002"], "active").await;
        assert_eq!(t.work().await, 0, "not its time yet");
        assert!(received(&rx).is_empty());

        t.clock.set(next_run(&sub));
        assert_eq!(t.work().await, 3);
        let docs = received(&rx);
        assert_eq!(
            docs.len(),
            1,
            "one report with every event since the subscription"
        );
        assert_eq!(serials(&docs[0].2), ["2001", "2002"]);
        assert_eq!(
            docs[0].2["epcisBody"]["queryResults"]["subscriptionID"],
            sub["subscriptionID"]
        );
        assert_eq!(
            docs[0].0["gs1-signature"].to_str().unwrap(),
            hmac_base64(b"s3cret", &docs[0].1)
        );
        assert_eq!(
            serials(&received(&rx_past)[0].2),
            ["2000", "2001", "2002"],
            "initialRecordTime reaches back"
        );

        // The next run reports only what came since.
        t.commission(&["2003"], "active").await;
        t.clock.advance(chrono::Duration::minutes(30));
        assert_eq!(t.work().await, 0, "half past is no query time");
        t.clock.advance(chrono::Duration::minutes(30));
        assert_eq!(t.work().await, 3);
        assert_eq!(serials(&received(&rx)[1].2), ["2003"]);

        // Nothing new: only the subscription that reports when empty hears of it.
        t.clock.advance(chrono::Duration::hours(1));
        assert_eq!(t.work().await, 1);
        assert_eq!(received(&rx).len(), 2);
        assert_eq!(received(&rx_past).len(), 2);
        let empties = received(&rx_empty);
        assert_eq!(empties.len(), 3);
        assert!(serials(&empties[2].2).is_empty());
        assert_eq!(
            empties[2].2["epcisBody"]["queryResults"]["queryName"],
            "made"
        );
    }
);

store_test!(
    bad_subscriptions_are_refused_naming_the_field,
    |s: TestStore| async move {
        let t = setup(&s).await;
        t.named_query("made", json!({"EQ_bizStep": "commissioning"}))
            .await;
        let dest = "http://127.0.0.1:9/hook";
        let cases = [
            (
                "nothing",
                json!({"dest": dest, "stream": true}),
                StatusCode::NOT_FOUND,
                "NoSuchNameException",
                "name",
            ),
            (
                "made",
                json!({"stream": true}),
                StatusCode::BAD_REQUEST,
                "ValidationException",
                "dest",
            ),
            (
                "made",
                json!({"dest": "ftp://example.com/x", "stream": true}),
                StatusCode::BAD_REQUEST,
                "ValidationException",
                "dest",
            ),
            (
                "made",
                json!({"dest": "not a url", "stream": true}),
                StatusCode::BAD_REQUEST,
                "ValidationException",
                "dest",
            ),
            (
                "made",
                json!({"dest": dest}),
                StatusCode::BAD_REQUEST,
                "SubscriptionControlsException",
                "stream",
            ),
            (
                "made",
                json!({"dest": dest, "stream": true, "schedule": {"minute": "5"}}),
                StatusCode::BAD_REQUEST,
                "SubscriptionControlsException",
                "schedule",
            ),
            (
                "made",
                json!({"dest": dest, "schedule": {"minute": "61"}}),
                StatusCode::BAD_REQUEST,
                "SubscriptionControlsException",
                "schedule.minute",
            ),
            (
                "made",
                json!({"dest": dest, "schedule": {"hour": "[5-2]"}}),
                StatusCode::BAD_REQUEST,
                "SubscriptionControlsException",
                "schedule.hour",
            ),
            (
                "made",
                json!({"dest": dest, "schedule": {"month": "2", "dayOfMonth": "30"}}),
                StatusCode::BAD_REQUEST,
                "SubscriptionControlsException",
                "schedule",
            ),
            (
                "made",
                json!({"dest": dest, "stream": true, "initialRecordTime": "yesterday"}),
                StatusCode::BAD_REQUEST,
                "SubscriptionControlsException",
                "initialRecordTime",
            ),
            (
                "made",
                json!({"dest": dest, "stream": true, "reportIfEmpty": "yes"}),
                StatusCode::BAD_REQUEST,
                "SubscriptionControlsException",
                "reportIfEmpty",
            ),
            (
                "made",
                json!({"dest": dest, "stream": true, "signatureToken": ""}),
                StatusCode::BAD_REQUEST,
                "ValidationException",
                "signatureToken",
            ),
            (
                "made",
                json!({"dest": dest, "stream": true, "trigger": "urn:x"}),
                StatusCode::BAD_REQUEST,
                "ValidationException",
                "trigger",
            ),
        ];
        for (query, body, status, kind, field) in cases {
            let r = t
                .api
                .post(
                    &format!("/epcis/queries/{query}/subscriptions"),
                    body.clone(),
                )
                .await;
            assert_eq!(r.status, status, "{body}: {:?}", r.body);
            assert_eq!(
                r.body["type"],
                format!("epcisException:{kind}").as_str(),
                "{body}"
            );
            assert_eq!(r.body["errors"][0]["field"], field, "{body}: {:?}", r.body);
        }
        // Nothing was written.
        let listed = t.api.get("/epcis/queries/made/subscriptions").await;
        assert_eq!(listed.body, json!([]));
        assert_eq!(
            t.api.get("/api/v1/webhooks").await.body["webhooks"],
            json!([])
        );
        let r = t.api.get("/epcis/queries/made/subscriptions/nope").await;
        assert_eq!(r.status, StatusCode::NOT_FOUND);
        assert_eq!(r.body["errors"][0]["field"], "subscriptionID");

        // A token made for a subscription that brought none is shown once.
        let made = t
            .subscribe("made", json!({"dest": dest, "stream": true}))
            .await;
        assert!(
            made["signatureToken"]
                .as_str()
                .unwrap()
                .starts_with("whsec_")
        );
        let again = t.api.get("/epcis/queries/made/subscriptions").await;
        assert!(again.body[0].get("signatureToken").is_none());
        // The webhook API neither makes nor unmakes EPCIS subscriptions.
        let r = t
            .api
            .post(
                "/api/v1/webhooks",
                json!({"name": "sneaky", "url": dest, "format": "epcis"}),
            )
            .await;
        assert_eq!(r.status, StatusCode::UNPROCESSABLE_ENTITY, "{:?}", r.body);
        assert_eq!(
            r.codes(),
            [("epcis_subscription".to_owned(), "format".to_owned())]
        );
        // Deleting the query deletes its subscriptions and their webhooks.
        let r = t.api.delete("/epcis/queries/made").await;
        assert_eq!(r.status, StatusCode::NO_CONTENT);
        assert_eq!(
            t.api.get("/api/v1/webhooks").await.body["webhooks"],
            json!([])
        );
    }
);

fn min_record_time(r: &common::Reply) -> DateTime<Utc> {
    let h = r.headers["gs1-query-min-record-time"].to_str().unwrap();
    DateTime::parse_from_rfc3339(h).unwrap().with_timezone(&Utc)
}

store_test!(
    a_subscription_tells_the_smallest_record_time_it_has_still_to_report,
    |s: TestStore| async move {
        let t = setup(&s).await;
        let (_rx, url) = receiver(&[]).await;
        t.named_query("all-commissioning", json!({"EQ_bizStep": "commissioning"}))
            .await;
        let made_at = t.clock.now();
        let stream = t
            .subscribe("all-commissioning", json!({"dest": url, "stream": true}))
            .await;
        let from = "2021-06-01T00:00:00.000Z";
        let since = t
            .subscribe(
                "all-commissioning",
                json!({"dest": url, "stream": true, "initialRecordTime": from}),
            )
            .await;
        let at = |sub: &Value| {
            format!(
                "/epcis/queries/all-commissioning/subscriptions/{}",
                sub["subscriptionID"].as_str().unwrap()
            )
        };
        // Before any run: the time it was made, or its initialRecordTime.
        let r = t.api.get(&at(&stream)).await;
        assert_eq!(r.status, StatusCode::OK, "{:?}", r.body);
        assert_eq!(min_record_time(&r), made_at);
        let r = t.api.get(&at(&since)).await;
        assert_eq!(
            r.headers["gs1-query-min-record-time"].to_str().unwrap(),
            from
        );

        // After a run has read the ledger up to an event recorded later, that event's record
        // time: nothing earlier is still to come.
        t.clock.advance(chrono::Duration::hours(2));
        let recorded_at = t.clock.now();
        t.commission(&["2001"], "active").await;
        t.clock.advance(chrono::Duration::minutes(1));
        t.work().await;
        for sub in [&stream, &since] {
            let r = t.api.get(&at(sub)).await;
            assert_eq!(min_record_time(&r), recorded_at);
        }
        // The list does not carry it: it belongs to one subscription.
        let r = t
            .api
            .get("/epcis/queries/all-commissioning/subscriptions")
            .await;
        assert!(r.headers.get("gs1-query-min-record-time").is_none());
        // An unknown subscription is refused, without the header.
        let r = t
            .api
            .get("/epcis/queries/all-commissioning/subscriptions/nope")
            .await;
        assert_eq!(r.status, StatusCode::NOT_FOUND);
        assert!(r.headers.get("gs1-query-min-record-time").is_none());
    }
);

store_test!(
    a_subscription_that_accepts_xml_is_sent_signed_xml_documents,
    |s: TestStore| async move {
        let t = setup(&s).await;
        let (rx, url) = receiver(&[]).await;
        t.named_query("active-units", json!({"EQ_disposition": "active"}))
            .await;
        let token = "xml-token-1";
        let req = axum::http::Request::post("/epcis/queries/active-units/subscriptions")
            .header("content-type", "application/json")
            .header("accept", "application/xml")
            .body(axum::body::Body::from(
                json!({"dest": url, "signatureToken": token, "stream": true}).to_string(),
            ))
            .unwrap();
        let r = t.api.send(req).await;
        assert_eq!(r.status, StatusCode::CREATED, "{:?}", r.body);
        let id = r.body["subscriptionID"].as_str().unwrap().to_owned();
        // A JSON subscriber to the same query, beside it.
        let (json_rx, json_url) = receiver(&[]).await;
        t.subscribe(
            "active-units",
            json!({"dest": json_url, "signatureToken": token, "stream": true}),
        )
        .await;

        t.commission(&["3001"], "active").await;
        assert_eq!(t.work().await, 2);
        let seen = rx.seen.lock().unwrap().clone();
        assert_eq!(seen.len(), 1);
        let (headers, _, body) = &seen[0];
        let h = |n: &str| headers.get(n).unwrap().to_str().unwrap().to_owned();
        assert_eq!(h("content-type"), "application/xml");
        assert_eq!(h("gs1-signature"), hmac_base64(token.as_bytes(), body));
        let ts: i64 = h("webhook-timestamp").parse().unwrap();
        assert_eq!(
            h("webhook-signature"),
            signature(&signing_key(token), &h("webhook-id"), ts, body)
        );
        let xml = String::from_utf8(body.clone()).unwrap();
        assert!(xml.starts_with("<?xml"), "{xml}");
        assert!(xml.contains("EPCISQueryDocument"), "{xml}");
        assert!(
            xml.contains(&format!(
                "<queryName>active-units</queryName><subscriptionID>{id}</subscriptionID>"
            )),
            "{xml}"
        );
        assert!(
            xml.contains("<epc>https://id.gs1.org/01/10614141073464/21/3001</epc>"),
            "{xml}"
        );
        // The XML reads back as the event the JSON subscriber was sent.
        let doc = threadline_epcis::xml::parse_document(body).unwrap();
        let json_doc = received(&json_rx).pop().unwrap().2;
        let json_event = &json_doc["epcisBody"]["queryResults"]["resultsBody"]["eventList"][0];
        assert_eq!(doc.events.len(), 1);
        assert_eq!(
            doc.events[0].get("eventID"),
            json_event.get("eventID"),
            "the same event in both bindings"
        );
    }
);

store_test!(
    the_auditor_finds_who_made_and_removed_queries_and_subscriptions,
    |s: TestStore| async move {
        let t = setup(&s).await;
        let (_rx, url) = receiver(&[]).await;
        t.named_query("audited", json!({"EQ_bizStep": "shipping"}))
            .await;
        let sub = t
            .subscribe(
                "audited",
                json!({"dest": url, "signatureToken": "do-not-log-me", "stream": true}),
            )
            .await;
        let id = sub["subscriptionID"].as_str().unwrap().to_owned();
        let r = t
            .api
            .delete(&format!("/epcis/queries/audited/subscriptions/{id}"))
            .await;
        assert_eq!(r.status, StatusCode::NO_CONTENT, "{:?}", r.body);
        let r = t.api.delete("/epcis/queries/audited").await;
        assert_eq!(r.status, StatusCode::NO_CONTENT, "{:?}", r.body);
        // A refused deletion changes nothing and is not a change on the trail.
        let r = t.api.delete("/epcis/queries/audited").await;
        assert_eq!(r.status, StatusCode::NOT_FOUND);

        let auditor =
            common::Api::with_state(&s, t.state.clone(), "auditor-1", &[Role::Auditor]).await;
        let r = auditor.get("/api/v1/audit?limit=1000").await;
        assert_eq!(r.status, StatusCode::OK, "{:?}", r.body);
        let text = r.body.to_string();
        assert!(
            !text.contains("do-not-log-me"),
            "no token reaches the trail"
        );
        let records: Vec<&Value> = r.body["records"]
            .as_array()
            .unwrap()
            .iter()
            .filter(|x| x["object"].as_str().unwrap().starts_with("epcis/queries"))
            .collect();
        let seen: Vec<(String, String, String)> = records
            .iter()
            .map(|x| {
                (
                    x["action"].as_str().unwrap().to_owned(),
                    x["object"].as_str().unwrap().to_owned(),
                    x["actor"].as_str().unwrap().to_owned(),
                )
            })
            .collect();
        let who = "token:epcis-client".to_owned();
        let sub_object = format!("epcis/queries/audited/subscriptions/{id}");
        assert_eq!(
            seen,
            [
                (
                    "POST /epcis/queries".to_owned(),
                    "epcis/queries/audited".to_owned(),
                    who.clone()
                ),
                (
                    "POST /epcis/queries/{name}/subscriptions".to_owned(),
                    sub_object.clone(),
                    who.clone()
                ),
                (
                    "DELETE /epcis/queries/{name}/subscriptions/{id}".to_owned(),
                    sub_object,
                    who.clone()
                ),
                (
                    "DELETE /epcis/queries/{name}".to_owned(),
                    "epcis/queries/audited".to_owned(),
                    who
                ),
            ],
            "{records:?}"
        );
        // What was made and what was removed.
        assert_eq!(records[0]["status"], 201);
        assert_eq!(records[0]["after"]["query"]["EQ_bizStep"], "shipping");
        assert_eq!(records[1]["after"]["dest"], url.as_str());
        assert_eq!(records[1]["after"]["stream"], true);
        assert_eq!(records[2]["status"], 204);
        assert_eq!(records[2]["before"]["subscriptionID"], id.as_str());
        assert_eq!(records[3]["before"]["name"], "audited");
    }
);
