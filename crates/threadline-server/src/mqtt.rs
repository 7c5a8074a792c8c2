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
//!
//! The broker may ask for a user name and password, and the link may be TLS ([`Tls`]): the
//! broker's certificate checked against the plant's CA (or the public web's), and the bridge's
//! own certificate shown to a broker that requires one (mutual TLS). Why a connection fails —
//! credentials refused, a certificate not trusted, a broker not reachable — is logged and
//! published on the bridge's [`Link`] as a sentence an operator can act on.

use std::sync::Arc;
use std::time::Duration;

use axum::body::Body;
use axum::http::{Method, Request, header};
use rumqttc::{
    AsyncClient, ConnectReturnCode, ConnectionError, Event, EventLoop, MqttOptions, Packet,
    Publish, QoS, TlsConfiguration, Transport,
};
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer};
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
    /// Broker credentials (user name, password), if the broker asks for them.
    pub credentials: Option<(String, String)>,
    /// TLS to the broker; `None` is plain TCP.
    pub tls: Option<Tls>,
}

/// A TLS client configuration for the broker link, built once from PEM: the CAs trusted to
/// sign the broker's certificate, and the bridge's own certificate and key when the broker
/// requires client certificates. The broker is named as `host` is (a DNS name or an IP
/// address), and its certificate must be for that name.
#[derive(Clone)]
pub struct Tls(Arc<rustls::ClientConfig>);

/// A TLS setting that cannot be used; `field` names the configuration key at fault.
#[derive(Debug, thiserror::Error)]
#[error("{field}: {message}")]
pub struct TlsError {
    pub field: &'static str,
    pub message: String,
}

fn tls_error(field: &'static str, message: impl std::fmt::Display) -> TlsError {
    TlsError {
        field,
        message: message.to_string(),
    }
}

impl Tls {
    /// `ca`: the PEM certificates of the CAs that may sign the broker's certificate (`None`:
    /// the public web's CAs, as webhook deliveries trust). `client`: a PEM certificate chain and
    /// its PEM private key (PKCS#8, PKCS#1 or SEC1), for mutual TLS.
    pub fn new(ca: Option<&[u8]>, client: Option<(&[u8], &[u8])>) -> Result<Tls, TlsError> {
        let mut roots = rustls::RootCertStore::empty();
        match ca {
            Some(pem) => {
                let mut n = 0;
                for cert in CertificateDer::pem_slice_iter(pem) {
                    let cert = cert.map_err(|e| tls_error("mqtt.ca_file", e))?;
                    roots.add(cert).map_err(|e| tls_error("mqtt.ca_file", e))?;
                    n += 1;
                }
                if n == 0 {
                    return Err(tls_error(
                        "mqtt.ca_file",
                        "holds no PEM certificate (-----BEGIN CERTIFICATE-----)",
                    ));
                }
            }
            None => roots.extend(webpki_roots::TLS_SERVER_ROOTS.iter().cloned()),
        }
        let builder = rustls::ClientConfig::builder_with_provider(Arc::new(
            rustls::crypto::ring::default_provider(),
        ))
        .with_safe_default_protocol_versions()
        .map_err(|e| tls_error("mqtt.tls", e))?
        .with_root_certificates(roots);
        let config = match client {
            None => builder.with_no_client_auth(),
            Some((cert, key)) => {
                let chain = CertificateDer::pem_slice_iter(cert)
                    .collect::<Result<Vec<_>, _>>()
                    .map_err(|e| tls_error("mqtt.client_cert_file", e))?;
                if chain.is_empty() {
                    return Err(tls_error(
                        "mqtt.client_cert_file",
                        "holds no PEM certificate (-----BEGIN CERTIFICATE-----)",
                    ));
                }
                let key = PrivateKeyDer::from_pem_slice(key).map_err(|e| {
                    tls_error(
                        "mqtt.client_key_file",
                        format!("holds no usable PEM private key: {e}"),
                    )
                })?;
                builder
                    .with_client_auth_cert(chain, key)
                    .map_err(|e| tls_error("mqtt.client_key_file", e))?
            }
        };
        Ok(Tls(Arc::new(config)))
    }
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
            .field("user", &self.credentials.as_ref().map(|(u, _)| u))
            .field("tls", &self.tls.is_some())
            .finish()
    }
}

/// The bridge's connection, as the rest of the process sees it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Link {
    Connecting,
    /// Connected and subscribed: messages published from now on are received.
    Subscribed,
    /// The last attempt failed, for the reason given (see [`explain`]); the bridge tries
    /// again with back-off.
    Down(String),
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
    if let Some(Tls(config)) = &settings.tls {
        opts.set_transport(Transport::tls_with_config(TlsConfiguration::Rustls(
            config.clone(),
        )));
    }
    let (client, events) = AsyncClient::new(opts, 64);
    let (tx, rx) = mpsc::channel(64);
    tokio::spawn(connection(
        events,
        client.clone(),
        settings.topics.clone(),
        format!("{}:{}", settings.host, settings.port),
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
    broker: String,
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
                let reason = explain(&e, &broker);
                if matches!(e, ConnectionError::ConnectionRefused(_)) {
                    tracing::error!(%reason, retry_in = ?wait, "mqtt broker refused the bridge");
                } else {
                    tracing::warn!(%reason, retry_in = ?wait, "mqtt connection failed");
                }
                link.send_replace(Link::Down(reason));
                tokio::time::sleep(wait).await;
                wait = (wait * 2).min(Duration::from_secs(60));
            }
        }
    }
}

/// Why the link to `broker` failed, in words an operator can act on.
pub fn explain(e: &ConnectionError, broker: &str) -> String {
    use rustls::AlertDescription as Alert;
    match tls_failure(e) {
        Some(rustls::Error::AlertReceived(
            Alert::CertificateRequired | Alert::BadCertificate | Alert::UnknownCA,
        )) => {
            return format!(
                "the MQTT broker at {broker} wants a client certificate it trusts: check mqtt.client_cert_file and mqtt.client_key_file ({e})"
            );
        }
        Some(t) if !matches!(e, ConnectionError::Tls(_)) => {
            return format!(
                "TLS with the MQTT broker at {broker} failed ({t}): check mqtt.ca_file, the broker's certificate name and the client certificate"
            );
        }
        _ => {}
    }
    match e {
        ConnectionError::ConnectionRefused(
            ConnectReturnCode::BadUserNamePassword | ConnectReturnCode::NotAuthorized,
        ) => format!(
            "the MQTT broker at {broker} refused the bridge's credentials (user name or password wrong, or not allowed): check mqtt.username and the password"
        ),
        ConnectionError::ConnectionRefused(code) => {
            format!("the MQTT broker at {broker} refused the connection ({code:?})")
        }
        ConnectionError::Tls(e) => format!(
            "TLS with the MQTT broker at {broker} failed ({e}): check mqtt.ca_file, the broker's certificate name and the client certificate"
        ),
        ConnectionError::Io(e) => format!("the MQTT broker at {broker} cannot be reached: {e}"),
        e => format!("the link to the MQTT broker at {broker} failed: {e}"),
    }
}

/// The TLS error somewhere in `e`'s chain of causes (rumqttc wraps an alert received after
/// the handshake as a read error of the MQTT state).
fn tls_failure(e: &ConnectionError) -> Option<&rustls::Error> {
    let mut cause: Option<&(dyn std::error::Error + 'static)> = Some(e);
    while let Some(c) = cause {
        if let Some(t) = c.downcast_ref::<rustls::Error>() {
            return Some(t);
        }
        if let Some(t) = c
            .downcast_ref::<std::io::Error>()
            .and_then(std::io::Error::get_ref)
            .and_then(|inner| inner.downcast_ref::<rustls::Error>())
        {
            return Some(t);
        }
        cause = c.source();
    }
    None
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
