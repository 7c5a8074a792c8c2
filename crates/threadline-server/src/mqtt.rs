//! MQTT ingestion: scanners and PLC gateways publish JSON to the plant's broker; each message is
//! recorded exactly as the same request to the API would be, because it *is* that request —
//! handed to the in-process router ([`crate::app`]) with the bridge's API token, so
//! authentication, permissions, validation, capture and idempotency are the API's own.
//!
//! A message is an envelope with a `message_id` (the idempotency key, `mqtt:{message_id}`: a
//! redelivered message records nothing twice) and one of
//! - `"event": {…}` or `"events": [{…}, …]` — `POST /api/v1/events`;
//! - `"operation": "move", "body": {…}` — `POST /api/v1/ops/move` (any operation).
//!
//! Every message whose id can be read is answered on the reply topic
//! (`{"message_id", "topic", "status", "ok", "replayed", "response"}` — the API's status and
//! body). A message that is not recorded — unreadable, or refused — is also published, with the
//! reason and the original payload, to the dead-letter topic: nothing is lost silently. The
//! bridge subscribes with QoS 1 and a persistent session, and acknowledges a message only after
//! it was handled, so a crash in between means the broker sends it again (at least once), and
//! the idempotency key makes that harmless. It reconnects with back-off (1 s doubling to 60 s).

use std::time::Duration;

use axum::body::Body;
use axum::http::{Method, Request, header};
use rumqttc::{AsyncClient, Event, EventLoop, MqttOptions, Packet, Publish, QoS};
use serde_json::{Value, json};
use tokio::sync::{mpsc, watch};
use tower::ServiceExt;

use crate::AppState;

/// Where the bridge connects and what it listens to.
#[derive(Clone)]
pub struct MqttSettings {
    pub host: String,
    pub port: u16,
    /// Stable across restarts: the broker keeps the session's queued messages under it.
    pub client_id: String,
    /// Topic filters to subscribe to (`plant/+/scans`).
    pub topics: Vec<String>,
    pub reply_topic: String,
    pub dead_letter_topic: String,
    /// The API token (`tlt_…`) messages are recorded as: its roles decide what they may do.
    pub token: String,
    /// Broker credentials, if the broker asks for them.
    pub credentials: Option<(String, String)>,
}

impl std::fmt::Debug for MqttSettings {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("MqttSettings")
            .field("host", &self.host)
            .field("port", &self.port)
            .field("client_id", &self.client_id)
            .field("topics", &self.topics)
            .field("reply_topic", &self.reply_topic)
            .field("dead_letter_topic", &self.dead_letter_topic)
            .field("token", &"<secret>")
            .finish()
    }
}

/// The bridge's connection, as the rest of the process sees it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Link {
    Connecting,
    /// Connected and subscribed: messages published from now on are received.
    Subscribed,
}

/// Largest message accepted (and published): 1 MiB.
const MAX_PACKET: usize = 1 << 20;

/// Starts the bridge; the returned watch says when it is subscribed.
pub fn spawn(app: AppState, settings: MqttSettings) -> watch::Receiver<Link> {
    let (link_tx, link_rx) = watch::channel(Link::Connecting);
    let mut opts = MqttOptions::new(&settings.client_id, &settings.host, settings.port);
    opts.set_keep_alive(Duration::from_secs(30));
    opts.set_clean_session(false);
    opts.set_manual_acks(true);
    opts.set_max_packet_size(MAX_PACKET, MAX_PACKET);
    if let Some((u, p)) = &settings.credentials {
        opts.set_credentials(u, p);
    }
    let (client, events) = AsyncClient::new(opts, 64);
    let (tx, rx) = mpsc::channel(64);
    tokio::spawn(connection(
        events,
        client.clone(),
        settings.topics.clone(),
        tx,
        link_tx,
    ));
    tokio::spawn(handler(app, client, settings, rx));
    link_rx
}

/// Polls the connection: forwards messages, subscribes on every connect, backs off on errors.
async fn connection(
    mut events: EventLoop,
    client: AsyncClient,
    topics: Vec<String>,
    tx: mpsc::Sender<Publish>,
    link: watch::Sender<Link>,
) {
    let mut wait = Duration::from_secs(1);
    loop {
        match events.poll().await {
            Ok(Event::Incoming(Packet::ConnAck(_))) => {
                wait = Duration::from_secs(1);
                for t in &topics {
                    if let Err(e) = client.try_subscribe(t, QoS::AtLeastOnce) {
                        tracing::warn!(topic = %t, error = %e, "mqtt subscribe failed");
                    }
                }
            }
            Ok(Event::Incoming(Packet::SubAck(_))) => {
                link.send_replace(Link::Subscribed);
            }
            Ok(Event::Incoming(Packet::Publish(p))) => {
                if tx.send(p).await.is_err() {
                    return;
                }
            }
            Ok(_) => {}
            Err(e) => {
                link.send_replace(Link::Connecting);
                tracing::warn!(error = %e, retry_in = ?wait, "mqtt connection lost");
                tokio::time::sleep(wait).await;
                wait = (wait * 2).min(Duration::from_secs(60));
            }
        }
    }
}

/// Handles messages in the order they arrive; acknowledges each once answered.
async fn handler(
    app: AppState,
    client: AsyncClient,
    settings: MqttSettings,
    mut rx: mpsc::Receiver<Publish>,
) {
    let router = crate::app(app);
    while let Some(p) = rx.recv().await {
        let outcome = handle(&router, &settings.token, &p.topic, &p.payload).await;
        if let Some(reply) = &outcome.reply {
            publish(&client, &settings.reply_topic, reply).await;
        }
        if let Some(dead) = &outcome.dead_letter {
            publish(&client, &settings.dead_letter_topic, dead).await;
        }
        if let Err(e) = client.ack(&p).await {
            tracing::warn!(error = %e, "mqtt ack failed");
        }
    }
}

async fn publish(client: &AsyncClient, topic: &str, body: &Value) {
    if let Err(e) = client
        .publish(topic, QoS::AtLeastOnce, false, body.to_string())
        .await
    {
        tracing::warn!(topic, error = %e, "mqtt publish failed");
    }
}

/// What a message leads to: the reply, and (if it was not recorded) the dead letter.
#[derive(Debug, Default)]
pub struct Outcome {
    pub reply: Option<Value>,
    pub dead_letter: Option<Value>,
}

fn dead(topic: &str, payload: &[u8], message_id: Option<&str>, reason: Value) -> Value {
    json!({
        "topic": topic,
        "message_id": message_id,
        "reason": reason,
        "payload": String::from_utf8_lossy(payload),
    })
}

/// Handles one message through `router` as the holder of `token`.
pub async fn handle(router: &axum::Router, token: &str, topic: &str, payload: &[u8]) -> Outcome {
    let unreadable = |id: Option<&str>, why: &str| Outcome {
        reply: id.map(|id| {
            json!({"message_id": id, "topic": topic, "status": 400, "ok": false,
                   "response": {"error": {"code": "malformed", "message": why}}})
        }),
        dead_letter: Some(dead(
            topic,
            payload,
            id,
            json!({"code": "malformed", "message": why}),
        )),
    };
    let envelope: Value = match serde_json::from_slice(payload) {
        Ok(v) => v,
        Err(e) => return unreadable(None, &format!("the message is not JSON: {e}")),
    };
    let Some(id) = envelope
        .get("message_id")
        .and_then(Value::as_str)
        .filter(|s| !s.is_empty() && s.len() <= 200)
    else {
        return unreadable(
            None,
            "message_id (a string of 1–200 characters) is required",
        );
    };
    let (path, body) = match (
        envelope.get("event"),
        envelope.get("events"),
        envelope.get("operation"),
    ) {
        (Some(e), None, None) | (None, Some(e), None) => ("/api/v1/events".to_owned(), e.clone()),
        (None, None, Some(op)) => {
            let Some(op) = op
                .as_str()
                .filter(|o| !o.is_empty() && o.chars().all(|c| c.is_ascii_lowercase() || c == '-'))
            else {
                return unreadable(
                    Some(id),
                    "operation must be an operation name such as `move`",
                );
            };
            (
                format!("/api/v1/ops/{op}"),
                envelope.get("body").cloned().unwrap_or(Value::Null),
            )
        }
        _ => {
            return unreadable(
                Some(id),
                "a message holds exactly one of event, events or operation (with body)",
            );
        }
    };
    let req = Request::builder()
        .method(Method::POST)
        .uri(&path)
        .header(header::AUTHORIZATION, format!("Bearer {token}"))
        .header(header::CONTENT_TYPE, "application/json")
        .header("idempotency-key", format!("mqtt:{id}"))
        .body(Body::from(body.to_string()));
    let req = match req {
        Ok(r) => r,
        Err(e) => return unreadable(Some(id), &format!("the message cannot be sent on: {e}")),
    };
    let resp = match router.clone().oneshot(req).await {
        Ok(r) => r,
        Err(e) => match e {},
    };
    let status = resp.status();
    let replayed = resp.headers().contains_key("idempotent-replayed");
    let bytes = axum::body::to_bytes(resp.into_body(), MAX_PACKET)
        .await
        .unwrap_or_default();
    let response: Value = serde_json::from_slice(&bytes).unwrap_or(Value::Null);
    let ok = status.is_success();
    let reply = json!({
        "message_id": id, "topic": topic, "status": status.as_u16(), "ok": ok,
        "replayed": replayed, "response": response,
    });
    Outcome {
        dead_letter: (!ok).then(|| dead(topic, payload, Some(id), response.clone())),
        reply: Some(reply),
    }
}
