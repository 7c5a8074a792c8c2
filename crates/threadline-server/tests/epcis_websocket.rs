//! WebSocket query subscriptions (`GET /epcis/queries/{name}/events?stream=true`, or with a
//! schedule, upgraded), through a real server and a real WebSocket client, on both engines.

#![allow(clippy::unwrap_used)]

mod common;

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use axum::http::StatusCode;
use futures_util::StreamExt;
use serde_json::{Value, json};
use threadline_domain::access::Role;
use threadline_server::{AppState, Clock, FixedClock, ManualClock, app};
use threadline_testkit::fixtures::{now, put, token};
use threadline_testkit::{TestStore, store_test};
use tokio_tungstenite::tungstenite::{self, client::IntoClientRequest};

use common::{Api, epcis_serials as serials};

const CONTEXT: &str = "https://ref.gs1.org/standards/epcis/2.0.0/epcis-context.jsonld";

struct Server {
    /// The administrator, in-process.
    admin: Api,
    addr: SocketAddr,
}

impl Server {
    async fn start(s: &TestStore) -> Server {
        Server::start_on(s, Arc::new(FixedClock(now()))).await
    }

    /// A server whose clock is `clock`.
    async fn start_on(s: &TestStore, clock: Arc<dyn Clock>) -> Server {
        put(&**s, "product", json!({"code": "PJ-1", "name": "Projector", "gtin": "10614141073464", "tracking": "serial"})).await;
        for (code, name) in [("0614141073467", "DC"), ("DG", "Dongguan plant")] {
            put(
                &**s,
                "location",
                json!({"code": code, "name": name, "kind": "site"}),
            )
            .await;
        }
        let state = AppState {
            clock,
            ..AppState::new(s.store.clone())
        };
        let auth = format!("Bearer {}", token(&**s, "ws-admin", &[Role::Admin]).await);
        let router = app(state);
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let served = router
            .clone()
            .into_make_service_with_connect_info::<SocketAddr>();
        tokio::spawn(async move { axum::serve(listener, served).await });
        Server {
            admin: Api { router, auth },
            addr,
        }
    }

    /// Commissions one serial through EPCIS at `place`.
    async fn commission(&self, serial: &str, place: &str) {
        let ev = json!({"@context": [CONTEXT], "type": "ObjectEvent",
            "eventTime": "2022-02-16T08:00:00-06:00", "eventTimeZoneOffset": "-06:00",
            "epcList": [format!("https://id.gs1.org/01/10614141073464/21/{serial}")],
            "action": "ADD", "bizStep": "commissioning", "disposition": "active",
            "bizLocation": {"id": place}});
        let r = self.admin.post("/epcis/events", ev).await;
        assert_eq!(r.status, StatusCode::CREATED, "{:?}", r.body);
    }

    /// Opens a WebSocket to `path` with `auth` (none when empty).
    async fn connect(&self, path: &str, auth: &str) -> Result<Socket, tungstenite::Error> {
        self.connect_with(path, auth, None).await.map(|(ws, _)| ws)
    }

    /// [`Server::connect`], asking for `accept` (`Accept`), with the upgrade's answer.
    async fn connect_with(
        &self,
        path: &str,
        auth: &str,
        accept: Option<&str>,
    ) -> Result<(Socket, tungstenite::handshake::client::Response), tungstenite::Error> {
        let mut req = format!("ws://{}{path}", self.addr)
            .into_client_request()
            .unwrap();
        if !auth.is_empty() {
            req.headers_mut()
                .insert("authorization", auth.parse().unwrap());
        }
        if let Some(a) = accept {
            req.headers_mut().insert("accept", a.parse().unwrap());
        }
        tokio_tungstenite::connect_async(req).await
    }
}

type Socket =
    tokio_tungstenite::WebSocketStream<tokio_tungstenite::MaybeTlsStream<tokio::net::TcpStream>>;

/// The next EPCISQueryDocument on the socket, or `None` when nothing comes within `wait`.
async fn next_document(ws: &mut Socket, wait: Duration) -> Option<Value> {
    next_frame(ws, wait)
        .await
        .map(|t| serde_json::from_str(&t).unwrap())
}

/// The next text frame on the socket, or `None` when nothing comes within `wait`.
async fn next_frame(ws: &mut Socket, wait: Duration) -> Option<String> {
    loop {
        match tokio::time::timeout(wait, ws.next()).await {
            Err(_) => return None,
            Ok(Some(Ok(tungstenite::Message::Text(t)))) => return Some(t.to_string()),
            Ok(Some(Ok(_))) => {}
            Ok(other) => panic!("the socket ended: {other:?}"),
        }
    }
}

/// The status and problem document of a refused upgrade.
fn refusal(e: tungstenite::Error) -> (StatusCode, Value) {
    match e {
        tungstenite::Error::Http(resp) => (
            StatusCode::from_u16(resp.status().as_u16()).unwrap(),
            resp.body()
                .as_deref()
                .and_then(|b| serde_json::from_slice(b).ok())
                .unwrap_or(Value::Null),
        ),
        other => panic!("expected an HTTP refusal, got {other:?}"),
    }
}

fn http_status(e: tungstenite::Error) -> StatusCode {
    match e {
        tungstenite::Error::Http(resp) => StatusCode::from_u16(resp.status().as_u16()).unwrap(),
        other => panic!("expected an HTTP refusal, got {other:?}"),
    }
}

store_test!(
    a_websocket_streams_what_the_named_query_matches_as_it_is_captured,
    |s: TestStore| async move {
        let server = Server::start(&s).await;
        let r = server.admin.post("/epcis/queries", json!({"name": "dc-commissioning",
                "query": {"EQ_bizStep": "commissioning", "EQ_bizLocation": "urn:epc:id:sgln:0614141.07346.0"}})).await;
        assert_eq!(r.status, StatusCode::CREATED, "{:?}", r.body);
        // Captured before the socket opened: not streamed.
        server
            .commission("100", "urn:epc:id:sgln:0614141.07346.0")
            .await;

        let path = "/epcis/queries/dc-commissioning/events?stream=true";
        let mut ws = server.connect(path, &server.admin.auth).await.unwrap();
        // Let the socket take its first look, then capture: one event it matches, one not.
        tokio::time::sleep(Duration::from_millis(300)).await;
        server
            .commission("101", "urn:epc:id:sgln:0614141.07346.0")
            .await;
        server.commission("102", "urn:threadline:loc:DG").await;
        let doc = next_document(&mut ws, Duration::from_secs(10))
            .await
            .expect("a document");
        assert_eq!(doc["type"], "EPCISQueryDocument");
        assert_eq!(
            doc["epcisBody"]["queryResults"]["queryName"],
            "dc-commissioning"
        );
        assert!(doc["epcisBody"]["queryResults"]["subscriptionID"].is_string());
        assert_eq!(serials(&doc), ["101"]);
        // Nothing more, until the next match.
        assert!(
            next_document(&mut ws, Duration::from_millis(600))
                .await
                .is_none()
        );
        server
            .commission("103", "urn:epc:id:sgln:0614141.07346.0")
            .await;
        let doc = next_document(&mut ws, Duration::from_secs(10))
            .await
            .unwrap();
        assert_eq!(serials(&doc), ["103"]);
        ws.close(None).await.unwrap();

        // Guarded like the query: no token 401, an unknown query 404, and a subscription
        // must ask for a stream (a schedule is a webhook's).
        assert_eq!(
            http_status(server.connect(path, "").await.unwrap_err()),
            StatusCode::UNAUTHORIZED
        );
        assert_eq!(
            http_status(
                server
                    .connect("/epcis/queries/nope/events?stream=true", &server.admin.auth)
                    .await
                    .unwrap_err()
            ),
            StatusCode::NOT_FOUND
        );
        for bad in [
            "",
            "?stream=false",
            "?stream=true&minute=5",
            "?stream=true&perPage=2",
        ] {
            assert_eq!(
                http_status(
                    server
                        .connect(
                            &format!("/epcis/queries/dc-commissioning/events{bad}"),
                            &server.admin.auth
                        )
                        .await
                        .unwrap_err()
                ),
                StatusCode::BAD_REQUEST,
                "{bad}"
            );
        }
    }
);

store_test!(
    a_site_account_streams_only_what_happened_at_its_site,
    |s: TestStore| async move {
        let server = Server::start(&s).await;
        let r = server
            .admin
            .post(
                "/epcis/queries",
                json!({"name": "commissioning",
                "query": {"EQ_bizStep": "commissioning"}}),
            )
            .await;
        assert_eq!(r.status, StatusCode::CREATED, "{:?}", r.body);
        let r = server
            .admin
            .post(
                "/api/v1/tokens",
                json!({"name": "dg-reader", "roles": ["auditor"], "site": "DG"}),
            )
            .await;
        assert_eq!(r.status, StatusCode::CREATED, "{:?}", r.body);
        let dg = format!("Bearer {}", r.body["secret"].as_str().unwrap());

        let path = "/epcis/queries/commissioning/events?stream=true";
        let mut all = server.connect(path, &server.admin.auth).await.unwrap();
        let mut mine = server.connect(path, &dg).await.unwrap();
        tokio::time::sleep(Duration::from_millis(300)).await;
        server
            .commission("201", "urn:epc:id:sgln:0614141.07346.0")
            .await;
        server.commission("202", "urn:threadline:loc:DG").await;

        let mut everything = Vec::new();
        while everything.len() < 2 {
            let doc = next_document(&mut all, Duration::from_secs(10))
                .await
                .unwrap();
            everything.extend(serials(&doc));
        }
        assert_eq!(everything, ["201", "202"]);
        let doc = next_document(&mut mine, Duration::from_secs(10))
            .await
            .unwrap();
        assert_eq!(serials(&doc), ["202"]);
        assert!(
            next_document(&mut mine, Duration::from_millis(600))
                .await
                .is_none()
        );
    }
);

/// Creates the named query `commissioning` (every commissioning).
async fn commissioning_query(server: &Server) {
    let r = server
        .admin
        .post(
            "/epcis/queries",
            json!({"name": "commissioning", "query": {"EQ_bizStep": "commissioning"}}),
        )
        .await;
    assert_eq!(r.status, StatusCode::CREATED, "{:?}", r.body);
}

store_test!(
    initial_record_time_replays_what_was_recorded_since_then_goes_on_live,
    |s: TestStore| async move {
        let server = Server::start(&s).await;
        commissioning_query(&server).await;
        // Two units recorded two hours and one hour ago (by servers whose clocks said so).
        for (serial, hours) in [("300", 2), ("301", 1)] {
            let earlier = common::Api {
                router: app(AppState {
                    clock: Arc::new(FixedClock(now() - chrono::Duration::hours(hours))),
                    ..AppState::new(s.store.clone())
                }),
                auth: server.admin.auth.clone(),
            };
            let ev = json!({"@context": [CONTEXT], "type": "ObjectEvent",
                "eventTime": "2022-02-16T08:00:00-06:00", "eventTimeZoneOffset": "-06:00",
                "epcList": [format!("https://id.gs1.org/01/10614141073464/21/{serial}")],
                "action": "ADD", "bizStep": "commissioning", "disposition": "active",
                "bizLocation": {"id": "urn:threadline:loc:DG"}});
            let r = earlier.post("/epcis/events", ev).await;
            assert_eq!(r.status, StatusCode::CREATED, "{:?}", r.body);
        }
        let since = (now() - chrono::Duration::minutes(90))
            .to_rfc3339_opts(chrono::SecondsFormat::Millis, true);
        let path = format!(
            "/epcis/queries/commissioning/events?stream=true&initialRecordTime={}",
            since.replace(':', "%3A")
        );
        let (mut ws, resp) = server
            .connect_with(&path, &server.admin.auth, None)
            .await
            .unwrap();
        assert_eq!(resp.headers()["gs1-query-min-record-time"], since.as_str());
        // First what was recorded since then (301, not 300), then what comes.
        let doc = next_document(&mut ws, Duration::from_secs(10))
            .await
            .expect("the replay");
        assert_eq!(serials(&doc), ["301"]);
        server.commission("302", "urn:threadline:loc:DG").await;
        let doc = next_document(&mut ws, Duration::from_secs(10))
            .await
            .expect("a live document");
        assert_eq!(serials(&doc), ["302"]);

        // The same in XML, for a client that accepts XML.
        let (mut xml, _) = server
            .connect_with(&path, &server.admin.auth, Some("application/xml"))
            .await
            .unwrap();
        let frame = next_frame(&mut xml, Duration::from_secs(10))
            .await
            .expect("an XML document");
        assert!(frame.starts_with("<?xml"), "{frame}");
        assert!(frame.contains("EPCISQueryDocument"), "{frame}");
        assert!(
            frame.contains("<queryName>commissioning</queryName>"),
            "{frame}"
        );
        for serial in ["301", "302"] {
            assert!(
                frame.contains(&format!("/21/{serial}<")),
                "{serial}: {frame}"
            );
        }
        assert!(!frame.contains("/21/300<"), "{frame}");
        // Read back by the XML binding's own reader: two events.
        let read = threadline_epcis::xml::parse_document(frame.as_bytes()).unwrap();
        assert_eq!(read.events.len(), 2);
    }
);

store_test!(
    a_scheduled_socket_reports_at_its_query_times_and_when_empty_only_if_asked,
    |s: TestStore| async move {
        let clock = Arc::new(ManualClock::new(now()));
        let server = Server::start_on(&s, clock.clone()).await;
        commissioning_query(&server).await;
        // On the hour, every hour (now is 12:00:00: the first query time is 13:00:00).
        let base = "/epcis/queries/commissioning/events?second=0&minute=0";
        let mut quiet = server.connect(base, &server.admin.auth).await.unwrap();
        let mut eager = server
            .connect(&format!("{base}&reportIfEmpty=true"), &server.admin.auth)
            .await
            .unwrap();
        tokio::time::sleep(Duration::from_millis(300)).await;
        server.commission("401", "urn:threadline:loc:DG").await;
        server.commission("402", "urn:threadline:loc:DG").await;
        // Not yet the query time: nothing.
        assert!(
            next_document(&mut quiet, Duration::from_millis(600))
                .await
                .is_none()
        );
        clock.advance(chrono::Duration::hours(1));
        for ws in [&mut quiet, &mut eager] {
            let doc = next_document(ws, Duration::from_secs(10))
                .await
                .expect("the 13:00 report");
            assert_eq!(serials(&doc), ["401", "402"]);
            assert!(doc["epcisBody"]["queryResults"]["subscriptionID"].is_string());
        }
        // 14:00 with nothing new: an empty report for the socket that asked, none otherwise.
        clock.advance(chrono::Duration::hours(1));
        let doc = next_document(&mut eager, Duration::from_secs(10))
            .await
            .expect("the empty 14:00 report");
        assert_eq!(doc["type"], "EPCISQueryDocument");
        assert!(serials(&doc).is_empty());
        assert!(
            next_document(&mut quiet, Duration::from_millis(600))
                .await
                .is_none()
        );
        // Between query times, nothing, even when something is captured.
        server.commission("403", "urn:threadline:loc:DG").await;
        assert!(
            next_document(&mut eager, Duration::from_millis(600))
                .await
                .is_none()
        );
    }
);

store_test!(
    a_socket_s_controls_are_refused_by_parameter,
    |s: TestStore| async move {
        let server = Server::start(&s).await;
        commissioning_query(&server).await;
        for (bad, field) in [
            ("minute=61", "minute"),
            ("second=x", "second"),
            ("stream=true&minute=5", "stream"),
            ("stream=true&reportIfEmpty=true", "reportIfEmpty"),
            ("minute=5&reportIfEmpty=maybe", "reportIfEmpty"),
            (
                "stream=true&initialRecordTime=yesterday",
                "initialRecordTime",
            ),
            ("reportIfEmpty=true", "stream"),
            ("stream=true&perPage=2", "perPage"),
        ] {
            let (status, body) = refusal(
                server
                    .connect(
                        &format!("/epcis/queries/commissioning/events?{bad}"),
                        &server.admin.auth,
                    )
                    .await
                    .unwrap_err(),
            );
            assert_eq!(status, StatusCode::BAD_REQUEST, "{bad}: {body}");
            assert_eq!(body["errors"][0]["field"], field, "{bad}: {body}");
        }
    }
);
