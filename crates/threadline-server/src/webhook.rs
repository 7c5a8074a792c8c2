//! Webhooks: the admin API for subscriptions and their delivery log, and the worker that sends
//! what `Store::capture` queued (the outbox; see `threadline_store::webhook`).
//!
//! A delivery is signed the Standard Webhooks way, so receivers can use any library for it:
//!
//! - `webhook-id`: the delivery's id (the same on every retry: deduplicate on it);
//! - `webhook-timestamp`: seconds since the Unix epoch when this attempt was sent;
//! - `webhook-signature`: `v1,` and the Base64 HMAC-SHA256 of `{id}.{timestamp}.{body}`, keyed
//!   with the secret's bytes (the Base64 after `whsec_`), see [`signature`].
//!
//! DingTalk and WeCom group robots get their own markdown messages instead; a DingTalk robot
//! with a signing secret gets the signed-URL scheme ([`dingtalk_url`]). Destinations on
//! loopback, private, link-local and other non-public addresses are refused — when a
//! subscription is saved and again when each delivery's host is resolved — unless the server
//! runs with `webhooks_allow_private` (tests, or a receiver inside the plant's network).

use std::collections::HashMap;
use std::net::{IpAddr, SocketAddr};
use std::sync::Arc;
use std::time::{Duration, Instant};

use axum::Json;
use axum::body::Bytes;
use axum::extract::{Path, Query, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};
use base64::Engine;
use base64::engine::general_purpose::STANDARD as BASE64;
use chrono::{DateTime, Utc};
use hmac::{Hmac, Mac};
use rand::Rng;
use serde::Deserialize;
use serde_json::json;
use sha2::Sha256;
use threadline_domain::error::FieldError;
use threadline_domain::mask::{Visibility, masked};
use threadline_store::StoredEvent;
use threadline_store::authenticity::AuthenticityCheck;
use threadline_store::webhook::{
    AttemptOutcome, Delivery, DeliveryQuery, DeliveryStatus, Topic, Webhook, WebhookFilter,
    WebhookFormat, WebhookWrite,
};
use uuid::Uuid;

use crate::AppState;
use crate::api::if_match;
use crate::audit::{AuditNote, Pending};
use crate::auth::Actor;
use crate::body::{parse, require_json};
use crate::error::AppError;
use crate::i18n::{Alert, Lang, alert, check_word};

/// How the worker sends.
#[derive(Debug, Clone, Copy)]
pub struct WebhookSettings {
    /// Allow destinations on loopback and private addresses.
    pub allow_private: bool,
    /// Per attempt: connect, send and read the answer.
    pub timeout: Duration,
    /// The wait before the second attempt; it doubles per attempt (with jitter).
    pub first_retry: Duration,
    /// The longest wait between attempts.
    pub max_retry: Duration,
    /// After this many failed attempts a delivery is dead until redelivered.
    pub max_attempts: u32,
    /// How often the worker looks for due deliveries when there were none.
    pub poll: Duration,
}

impl Default for WebhookSettings {
    fn default() -> Self {
        WebhookSettings {
            allow_private: false,
            timeout: Duration::from_secs(10),
            first_retry: Duration::from_secs(30),
            max_retry: Duration::from_secs(6 * 3600),
            max_attempts: 10,
            poll: Duration::from_secs(1),
        }
    }
}

type HmacSha256 = Hmac<Sha256>;

fn hmac_sha256(key: &[u8], parts: &[&[u8]]) -> [u8; 32] {
    #[allow(clippy::expect_used)] // HMAC takes a key of any length
    let mut mac = HmacSha256::new_from_slice(key).expect("HMAC accepts any key length");
    for p in parts {
        mac.update(p);
    }
    mac.finalize().into_bytes().into()
}

/// The key a secret stands for: the bytes after `whsec_` (Base64), else the text itself.
pub fn signing_key(secret: &str) -> Vec<u8> {
    secret
        .strip_prefix("whsec_")
        .and_then(|b| BASE64.decode(b).ok())
        .unwrap_or_else(|| secret.as_bytes().to_vec())
}

/// The `webhook-signature` value of a delivery: `v1,` + Base64(HMAC-SHA256(key,
/// `{id}.{timestamp}.{body}`)).
pub fn signature(key: &[u8], id: &str, timestamp: i64, body: &[u8]) -> String {
    let ts = timestamp.to_string();
    let mac = hmac_sha256(key, &[id.as_bytes(), b".", ts.as_bytes(), b".", body]);
    format!("v1,{}", BASE64.encode(mac))
}

/// A new signing secret: `whsec_` + Base64 of 24 random bytes.
pub fn new_secret() -> String {
    let bytes: [u8; 24] = rand::rng().random();
    format!("whsec_{}", BASE64.encode(bytes))
}

/// A DingTalk robot URL signed with its secret (`SEC…`) at `timestamp_ms`: `timestamp` and
/// `sign` = URL-encoded Base64(HMAC-SHA256(secret, `{timestamp}\n{secret}`)) appended.
pub fn dingtalk_url(url: &str, secret: &str, timestamp_ms: i64) -> String {
    let ts = timestamp_ms.to_string();
    let mac = hmac_sha256(
        secret.as_bytes(),
        &[ts.as_bytes(), b"\n", secret.as_bytes()],
    );
    let b64 = BASE64.encode(mac);
    let sign = percent_encoding::utf8_percent_encode(&b64, percent_encoding::NON_ALPHANUMERIC);
    let sep = if url.contains('?') { '&' } else { '?' };
    format!("{url}{sep}timestamp={ts}&sign={sign}")
}

/// Is this address one a webhook may not reach without `allow_private`?
pub fn is_private(ip: IpAddr) -> bool {
    match ip {
        IpAddr::V4(v4) => {
            let o = v4.octets();
            v4.is_private()
                || v4.is_loopback()
                || v4.is_link_local()
                || v4.is_unspecified()
                || v4.is_broadcast()
                || v4.is_multicast()
                || v4.is_documentation()
                || o[0] == 0
                || (o[0] == 100 && (64..128).contains(&o[1]))
                || (o[0] == 198 && (o[1] == 18 || o[1] == 19))
                || o[0] >= 240
        }
        IpAddr::V6(v6) => {
            if let Some(v4) = v6.to_ipv4_mapped() {
                return is_private(IpAddr::V4(v4));
            }
            let first = v6.segments()[0];
            v6.is_loopback()
                || v6.is_unspecified()
                || v6.is_multicast()
                || (first & 0xfe00) == 0xfc00
                || (first & 0xffc0) == 0xfe80
        }
    }
}

fn private_refusal(url: &str) -> FieldError {
    FieldError::new(
        "private_destination",
        format!(
            "{url} is on a loopback or private address; webhooks may reach it only when the server runs with webhooks_allow_private"
        ),
    )
    .at("url")
}

/// Checks a destination URL: http(s), a host, and (unless allowed) not a private address
/// written as an IP or `localhost`. Names are checked again when they are resolved.
pub fn check_url(url: &str, allow_private: bool) -> Result<reqwest::Url, FieldError> {
    let parsed = reqwest::Url::parse(url).map_err(|e| {
        FieldError::new("invalid_url", format!("`{url}` is not a URL: {e}")).at("url")
    })?;
    if !matches!(parsed.scheme(), "http" | "https") {
        return Err(
            FieldError::new("invalid_url", "a webhook URL must be http or https").at("url"),
        );
    }
    let Some(host) = parsed.host_str() else {
        return Err(FieldError::new("invalid_url", "a webhook URL needs a host").at("url"));
    };
    let bare = host.trim_start_matches('[').trim_end_matches(']');
    let private = match bare.parse::<IpAddr>() {
        Ok(ip) => is_private(ip),
        Err(_) => {
            let d = bare.trim_end_matches('.').to_ascii_lowercase();
            d == "localhost" || d.ends_with(".localhost")
        }
    };
    if private && !allow_private {
        return Err(private_refusal(url));
    }
    Ok(parsed)
}

/// Resolves names for the sender, refusing private addresses unless allowed: a public name
/// that resolves to an inside address (DNS rebinding) is caught here, at connect time.
struct GuardedResolver {
    allow_private: bool,
}

impl reqwest::dns::Resolve for GuardedResolver {
    fn resolve(&self, name: reqwest::dns::Name) -> reqwest::dns::Resolving {
        let allow_private = self.allow_private;
        Box::pin(async move {
            let host = name.as_str().to_owned();
            let addrs: Vec<SocketAddr> =
                tokio::net::lookup_host((host.as_str(), 0)).await?.collect();
            if !allow_private && addrs.iter().any(|a| is_private(a.ip())) {
                return Err(format!("{host} resolves to a loopback or private address").into());
            }
            let out: reqwest::dns::Addrs = Box::new(addrs.into_iter());
            Ok(out)
        })
    }
}

/// The HTTP client deliveries go through: no redirects (a redirect could point inside), the
/// guarded resolver, the attempt timeout.
pub fn sender(settings: &WebhookSettings) -> Result<reqwest::Client, reqwest::Error> {
    reqwest::Client::builder()
        .timeout(settings.timeout)
        .connect_timeout(settings.timeout)
        .redirect(reqwest::redirect::Policy::none())
        .user_agent(concat!("threadline-webhooks/", env!("CARGO_PKG_VERSION")))
        .dns_resolver(Arc::new(GuardedResolver {
            allow_private: settings.allow_private,
        }))
        .build()
}

/// The wait after `attempts` failed attempts: `first_retry · 2^(attempts-1)`, at most
/// `max_retry`, of which a random half (jitter, so receivers coming back are not hit by every
/// retry at once).
pub fn backoff(settings: &WebhookSettings, attempts: u32) -> Duration {
    let exp = attempts.saturating_sub(1).min(30);
    let full = settings
        .first_retry
        .saturating_mul(1u32 << exp)
        .min(settings.max_retry);
    let half = full / 2;
    let jitter = rand::rng().random_range(0..=half.as_millis().min(u128::from(u64::MAX)) as u64);
    half + Duration::from_millis(jitter)
}

/// Starts the delivery worker on the runtime; it runs until the process ends.
pub fn spawn_worker(app: AppState) -> tokio::task::JoinHandle<()> {
    tokio::spawn(async move {
        let settings = app.webhooks;
        let client = match sender(&settings) {
            Ok(c) => c,
            Err(e) => {
                tracing::error!(error = %e, "webhook sender could not start");
                return;
            }
        };
        loop {
            let sent = match work_once(&app, &client).await {
                Ok(n) => n,
                Err(e) => {
                    tracing::warn!(error = %e, "webhook worker: store failed");
                    0
                }
            };
            if sent == 0 {
                tokio::time::sleep(settings.poll).await;
            }
        }
    })
}

/// Claims the due deliveries and sends them, concurrently; returns how many were tried.
pub async fn work_once(
    app: &AppState,
    client: &reqwest::Client,
) -> Result<usize, threadline_store::StoreError> {
    let settings = app.webhooks;
    if let Err(e) = crate::epcis::subscriptions::run(app).await {
        tracing::warn!(error = %e, "EPCIS subscriptions: store failed");
    }
    let now = app.clock.now();
    let lease = chrono::Duration::from_std(settings.timeout + Duration::from_secs(60))
        .unwrap_or_else(|_| chrono::Duration::minutes(5));
    let due = app.store.claim_deliveries(now, now + lease, 32).await?;
    if due.is_empty() {
        return Ok(0);
    }
    let hooks: HashMap<Uuid, Webhook> = app
        .store
        .webhooks()
        .await?
        .into_iter()
        .map(|h| (h.id, h))
        .collect();
    let n = due.len();
    let sends = due.into_iter().filter_map(|d| {
        let hook = hooks.get(&d.webhook)?.clone();
        Some(async move {
            let outcome = attempt(app, client, &hook, &d).await;
            if let Err(e) = app.store.finish_delivery(d.id, outcome).await {
                tracing::warn!(delivery = %d.id, error = %e, "webhook attempt not recorded");
            }
        })
    });
    futures_util::future::join_all(sends).await;
    Ok(n)
}

async fn attempt(
    app: &AppState,
    client: &reqwest::Client,
    hook: &Webhook,
    d: &Delivery,
) -> AttemptOutcome {
    let settings = app.webhooks;
    let at = app.clock.now();
    let started = Instant::now();
    let result = send(app, client, hook, d, at).await;
    let duration_ms = u32::try_from(started.elapsed().as_millis()).unwrap_or(u32::MAX);
    let attempts = d.attempts + 1;
    let (status, error) = match &result {
        Ok(code) => (Some(*code), None),
        Err((code, e)) => (*code, Some(e.clone())),
    };
    let (state, next) = if result.is_ok() {
        (DeliveryStatus::Delivered, at)
    } else if attempts >= settings.max_attempts {
        (DeliveryStatus::Dead, at)
    } else {
        let wait = chrono::Duration::from_std(backoff(&settings, attempts))
            .unwrap_or_else(|_| chrono::Duration::hours(6));
        (DeliveryStatus::Pending, at + wait)
    };
    if let Some(e) = &error {
        tracing::info!(webhook = %hook.name, delivery = %d.id, attempts, error = %e, "webhook attempt failed");
    }
    AttemptOutcome {
        attempt: threadline_store::webhook::Attempt {
            delivery: d.id,
            at,
            status,
            error,
            duration_ms,
        },
        status: state,
        next_attempt_at: next,
    }
}

/// One HTTP attempt: the receiver's status, or (its status if any, why it failed).
async fn send(
    app: &AppState,
    client: &reqwest::Client,
    hook: &Webhook,
    d: &Delivery,
    at: DateTime<Utc>,
) -> Result<u16, (Option<u16>, String)> {
    let url = check_url(&hook.url, app.webhooks.allow_private).map_err(|e| (None, e.message))?;
    let body = if hook.format.is_epcis() {
        crate::epcis::subscriptions::body(app, hook, d, at)
            .await
            .map_err(|e| (None, e))?
    } else {
        serde_json::to_vec(&payload(hook, d, &subject_of(app, d).await?))
            .map_err(|e| (None, e.to_string()))?
    };
    let mut req = match hook.format {
        WebhookFormat::Dingtalk if !hook.secret.is_empty() => client.post(dingtalk_url(
            url.as_str(),
            &hook.secret,
            at.timestamp_millis(),
        )),
        _ => client.post(url),
    };
    let id = d.id.to_string();
    let content_type = match hook.format {
        WebhookFormat::Epcis => "application/ld+json",
        WebhookFormat::EpcisXml => "application/xml",
        _ => "application/json",
    };
    req = req
        .header(header::CONTENT_TYPE, content_type)
        .header("webhook-id", &id)
        .header("webhook-timestamp", at.timestamp().to_string());
    if hook.format == WebhookFormat::Json || hook.format.is_epcis() {
        let key = signing_key(&hook.secret);
        req = req.header(
            "webhook-signature",
            signature(&key, &id, at.timestamp(), &body),
        );
        if hook.format.is_epcis() {
            req = req
                .header("GS1-Signature", gs1_signature(&key, &body))
                .header("GS1-EPCIS-Version", "2.0.0");
        }
    }
    let resp = req.body(body).send().await.map_err(|e| {
        let mut text = e.to_string();
        let mut source = std::error::Error::source(&e);
        while let Some(s) = source {
            text = format!("{text}: {s}");
            source = s.source();
        }
        (None, text)
    })?;
    let code = resp.status().as_u16();
    let text = resp.text().await.unwrap_or_default();
    let excerpt: String = text.chars().take(500).collect();
    if !(200..300).contains(&code) {
        return Err((
            Some(code),
            format!("the receiver answered {code}: {excerpt}"),
        ));
    }
    // Chat robots answer 200 with an error code in the body.
    if matches!(hook.format, WebhookFormat::Dingtalk | WebhookFormat::Wecom)
        && let Ok(v) = serde_json::from_str::<serde_json::Value>(&text)
        && let Some(errcode) = v.get("errcode").and_then(|c| c.as_i64())
        && errcode != 0
    {
        return Err((
            Some(code),
            format!("the robot refused the message ({errcode}): {excerpt}"),
        ));
    }
    Ok(code)
}

/// `GS1-Signature` of an EPCIS subscription's delivery: the Base64 HMAC-SHA256 of the body,
/// keyed with the subscription's `signatureToken` (its bytes; the Base64 after `whsec_` for a
/// token the server made).
pub fn gs1_signature(key: &[u8], body: &[u8]) -> String {
    BASE64.encode(hmac_sha256(key, &[body]))
}

/// What a JSON or chat delivery is about, read from the store.
async fn subject_of(app: &AppState, d: &Delivery) -> Result<Subject, (Option<u16>, String)> {
    Ok(match (d.event, d.check) {
        (Some(event), _) => Subject::Event(
            app.store
                .event(event)
                .await
                .map_err(|e| (None, format!("the event could not be read: {e}")))?
                .ok_or_else(|| (None, format!("event {event} is not in the ledger")))?,
        ),
        (None, Some(check)) => Subject::Check(
            app.store
                .check(check)
                .await
                .map_err(|e| (None, format!("the check could not be read: {e}")))?
                .ok_or_else(|| (None, format!("authenticity check {check} does not exist")))?,
        ),
        (None, None) => return Err((None, "the delivery names no event or check".into())),
    })
}

/// What a delivery carries: a ledger event, or an authenticity check (topic
/// `suspicious_check`; checks are rows beside the ledger).
#[derive(Debug, Clone)]
#[allow(clippy::large_enum_variant)] // one per attempt, never stored in bulk
pub enum Subject {
    Event(StoredEvent),
    Check(AuthenticityCheck),
}

/// The body of a delivery. A receiver is no actor holding permissions, so customers' personal
/// data and commercial fields are always masked; it reads them through the API with a token
/// that may. A check carries none of those.
pub fn payload(hook: &Webhook, d: &Delivery, subject: &Subject) -> serde_json::Value {
    let stored = match subject {
        Subject::Event(stored) => &masked(stored.clone(), Visibility::NONE),
        Subject::Check(check) => return check_payload(hook, d, check),
    };
    match hook.format {
        // An EPCIS subscription's body is its query document (`epcis::subscriptions`).
        WebhookFormat::Json | WebhookFormat::Epcis | WebhookFormat::EpcisXml => json!({
            "id": d.id,
            "webhook": hook.name,
            "topics": d.topics,
            "seq": d.seq,
            "event": stored,
        }),
        WebhookFormat::Dingtalk => {
            let (title, text) = chat_message(lang_of(hook), &d.topics, stored);
            json!({"msgtype": "markdown", "markdown": {"title": title, "text": text}})
        }
        WebhookFormat::Wecom => {
            let (_, text) = chat_message(lang_of(hook), &d.topics, stored);
            json!({"msgtype": "markdown", "markdown": {"content": text}})
        }
    }
}

fn check_payload(hook: &Webhook, d: &Delivery, check: &AuthenticityCheck) -> serde_json::Value {
    match hook.format {
        // An EPCIS subscription hears of no checks; its deliveries are written elsewhere.
        WebhookFormat::Json | WebhookFormat::Epcis | WebhookFormat::EpcisXml => json!({
            "id": d.id,
            "webhook": hook.name,
            "topics": d.topics,
            "seq": d.seq,
            "check": check,
        }),
        WebhookFormat::Dingtalk => {
            let (title, text) = check_message(lang_of(hook), check);
            json!({"msgtype": "markdown", "markdown": {"title": title, "text": text}})
        }
        WebhookFormat::Wecom => {
            let (_, text) = check_message(lang_of(hook), check);
            json!({"msgtype": "markdown", "markdown": {"content": text}})
        }
    }
}

/// A team-chat alert about a suspicious authenticity check: a title and markdown lines.
pub fn check_message(lang: Lang, check: &AuthenticityCheck) -> (String, String) {
    let title = alert(lang, Alert::SuspiciousCheck).to_owned();
    let mut lines = vec![format!("### {title}")];
    let mut line = |k: Alert, v: String| lines.push(format!("- **{}**: {v}", alert(lang, k)));
    line(Alert::Verdict, check_word(lang, &check.verdict));
    if let (Some(p), Some(s)) = (&check.product, &check.serial) {
        line(Alert::Units, format!("{p} {s}"));
    }
    if !check.reasons.is_empty() {
        line(
            Alert::Reason,
            check
                .reasons
                .iter()
                .map(|r| check_word(lang, r))
                .collect::<Vec<_>>()
                .join(", "),
        );
    }
    if let Some(r) = &check.region {
        line(Alert::Region, r.clone());
    }
    if let Some(c) = &check.channel {
        line(Alert::Channel, c.clone());
    }
    line(Alert::Code, format!("`{}`", check.code.replace('`', "'")));
    line(
        Alert::When,
        check.at.format("%Y-%m-%d %H:%M:%S UTC").to_string(),
    );
    if let Some(id) = check.id {
        line(Alert::Check, format!("#{id}"));
    }
    (title, lines.join("\n"))
}

fn lang_of(hook: &Webhook) -> Lang {
    if hook.language.starts_with("en") {
        Lang::En
    } else {
        Lang::Zh
    }
}

/// A team-chat message about an event: a title and markdown lines.
pub fn chat_message(lang: Lang, topics: &[Topic], stored: &StoredEvent) -> (String, String) {
    let e = &stored.event;
    let headline = if topics.contains(&Topic::Recall) {
        Alert::RecallHold
    } else if topics.contains(&Topic::PastHold) {
        Alert::PastHold
    } else if topics.contains(&Topic::QcFailed) {
        Alert::QcFailed
    } else if topics.contains(&Topic::Diversion) {
        Alert::Diversion
    } else if topics.contains(&Topic::Hold) {
        Alert::HoldPlaced
    } else if topics.contains(&Topic::Release) {
        Alert::HoldReleased
    } else {
        Alert::EventRecorded
    };
    let title = alert(lang, headline).to_owned();
    let mut lines = vec![format!("### {title}")];
    let mut line = |k: Alert, v: String| lines.push(format!("- **{}**: {v}", alert(lang, k)));
    if let Some(step) = &e.biz_step {
        line(Alert::Step, step.as_str().to_owned());
    }
    if let Some(code) = e.fields.get("recall").and_then(|v| v.as_str()) {
        line(Alert::Recall, code.to_owned());
    }
    if let Some(d) = e.fields.get("diversion") {
        if let Some(seller) = d["seller"].as_str() {
            line(Alert::Seller, seller.to_owned());
        }
        if let Some(region) = d["region"].as_str() {
            line(Alert::Region, region.to_owned());
        }
    }
    if let Some(place) = e.biz_location.as_ref().or(e.read_point.as_ref()) {
        line(Alert::Location, place.as_str().to_owned());
    }
    let mut named: Vec<String> = e
        .items
        .iter()
        .chain(&e.children)
        .chain(&e.outputs)
        .chain(&e.parent)
        .map(|k| format!("{} {}", k.product.as_str(), k.serial.as_str()))
        .collect();
    named.extend(
        e.lots
            .iter()
            .chain(&e.output_lots)
            .map(|l| match l.quantity {
                Some(q) => format!("{} {} × {q}", l.product.as_str(), l.lot.as_str()),
                None => format!("{} {}", l.product.as_str(), l.lot.as_str()),
            }),
    );
    if !named.is_empty() {
        let total = named.len();
        let mut shown: Vec<String> = named.into_iter().take(10).collect();
        if total > 10 {
            shown.push(format!("… (+{})", total - 10));
        }
        line(Alert::Units, shown.join(", "));
    }
    for key in ["reason", "defect", "defect_code", "note"] {
        if let Some(v) = e.fields.get(key).and_then(|v| v.as_str()) {
            line(Alert::Reason, v.to_owned());
            break;
        }
    }
    line(Alert::Who, e.actor.clone());
    line(
        Alert::When,
        e.event_time.format("%Y-%m-%d %H:%M:%S UTC").to_string(),
    );
    line(Alert::Event, format!("{} (#{})", e.id, stored.seq));
    (title, lines.join("\n"))
}

// The admin API.

/// A subscription as a client sends it.
#[derive(Debug, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct WebhookRequest {
    /// Letters, digits, `.`, `_`, `-`; at most 64. Only on create (the path names it on PUT).
    #[serde(default)]
    pub name: Option<String>,
    pub url: String,
    #[serde(default)]
    pub format: Option<WebhookFormat>,
    /// JSON: the signing secret (made for you when absent). DingTalk: the robot's `SEC…`
    /// secret, if it signs. On PUT, absent keeps the stored one.
    #[serde(default)]
    pub secret: Option<String>,
    #[serde(default)]
    pub filter: WebhookFilter,
    /// `zh-CN` (default) or `en`, for chat messages.
    #[serde(default)]
    pub language: Option<String>,
    #[serde(default = "yes")]
    pub active: bool,
}

fn yes() -> bool {
    true
}

fn check_name(name: &str) -> Result<(), FieldError> {
    let ok = !name.is_empty()
        && name.len() <= 64
        && name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | '-'));
    if ok {
        Ok(())
    } else {
        Err(FieldError::new(
            "invalid_name",
            "a webhook name is 1–64 letters, digits, `.`, `_` or `-`",
        )
        .at("name"))
    }
}

/// Checks a request into a subscription; every problem is reported.
fn checked(
    app: &AppState,
    actor: &Actor,
    name: String,
    req: WebhookRequest,
    existing: Option<&Webhook>,
) -> Result<(Webhook, bool), AppError> {
    let mut errors = Vec::new();
    if let Err(e) = check_name(&name) {
        errors.push(e);
    }
    if let Err(e) = check_url(&req.url, app.webhooks.allow_private) {
        errors.push(e);
    }
    let language = req.language.unwrap_or_else(|| "zh-CN".into());
    if !matches!(language.as_str(), "zh-CN" | "en") {
        errors.push(FieldError::new("invalid_language", "language is zh-CN or en").at("language"));
    }
    let format = req.format.unwrap_or(WebhookFormat::Json);
    // An EPCIS subscription is made and removed through EPCIS; here it may be pointed
    // elsewhere, disabled and enabled, but no webhook becomes one or stops being one.
    let was_epcis = existing.map(|h| h.format).filter(|f| f.is_epcis());
    if (format.is_epcis() || was_epcis.is_some()) && Some(format) != was_epcis {
        errors.push(
            FieldError::new(
                "epcis_subscription",
                "EPCIS subscriptions are made and removed at /epcis/queries/{name}/subscriptions",
            )
            .at("format"),
        );
    }
    for (i, step) in req.filter.biz_steps.iter().enumerate() {
        if let Err(e) = threadline_domain::event::BizStep::parse(step) {
            errors.push(e.at(format!("filter.biz_steps[{i}]")));
        }
    }
    if let Some(s) = &req.secret
        && (s.is_empty() || s.len() > 200)
    {
        errors.push(FieldError::new("invalid_secret", "a secret is 1–200 characters").at("secret"));
    }
    if !errors.is_empty() {
        return Err(AppError::Rule(errors));
    }
    let made = req.secret.is_none() && existing.is_none() && format == WebhookFormat::Json;
    let secret = match (req.secret, existing) {
        (Some(s), _) => s,
        (None, Some(h)) => h.secret.clone(),
        (None, None) if format == WebhookFormat::Json => new_secret(),
        (None, None) => String::new(),
    };
    let now = app.clock.now();
    Ok((
        Webhook {
            id: existing.map(|h| h.id).unwrap_or_else(Uuid::now_v7),
            name,
            url: req.url,
            format,
            secret,
            filter: req.filter,
            language,
            active: req.active,
            version: existing.map(|h| h.version).unwrap_or(0),
            created_at: existing.map(|h| h.created_at).unwrap_or(now),
            updated_at: now,
            updated_by: actor.name(),
        },
        made,
    ))
}

/// Every change to a subscription goes through here (one place to log or audit it): it is
/// stored with its audit record — what it was `before`, what was stored — answered with
/// `status`, and the note says so.
async fn save(
    app: &AppState,
    actor: &Actor,
    pending: &Pending,
    status: StatusCode,
    write: WebhookWrite,
    before: Option<&Webhook>,
) -> Result<(Webhook, AuditNote), AppError> {
    let note = AuditNote::object(format!("webhooks/{}", write.webhook.name)).before(before);
    let audit = pending.record_of(app, status, {
        let note = note.clone();
        move |saved: &Webhook| note.after(saved)
    });
    let saved = app.store.put_webhook(write, Some(audit)).await?;
    tracing::info!(webhook = %saved.name, version = saved.version, actor = %actor.name(), "webhook saved");
    let note = note.after(&saved).recorded();
    Ok((saved, note))
}

fn hook_response(status: StatusCode, hook: &Webhook, secret: Option<&str>) -> Response {
    let mut body = json!(hook);
    if let Some(s) = secret {
        body["secret"] = json!(s);
    }
    crate::api::with_etag(status, body, hook.version)
}

/// `GET /api/v1/webhooks`
pub async fn list(State(app): State<AppState>) -> Result<Response, AppError> {
    Ok(Json(json!({ "webhooks": app.store.webhooks().await? })).into_response())
}

/// `POST /api/v1/webhooks`: 201; a secret made for the subscription is shown once, here.
pub async fn create(
    State(app): State<AppState>,
    actor: Actor,
    pending: Pending,
    headers: HeaderMap,
    body: Bytes,
) -> Result<Response, AppError> {
    require_json(&headers)?;
    let mut req: WebhookRequest = parse(&body, "")?;
    let name = req.name.take().ok_or_else(|| {
        AppError::malformed("missing_field", "name is required", Some("name".into()))
    })?;
    let (hook, made) = checked(&app, &actor, name, req, None)?;
    let secret = made.then(|| hook.secret.clone());
    let (saved, note) = save(
        &app,
        &actor,
        &pending,
        StatusCode::CREATED,
        WebhookWrite {
            webhook: hook,
            replaces: None,
        },
        None,
    )
    .await?;
    Ok(note.on(hook_response(
        StatusCode::CREATED,
        &saved,
        secret.as_deref(),
    )))
}

async fn find(app: &AppState, name: &str) -> Result<Webhook, AppError> {
    app.store
        .webhook(name)
        .await?
        .ok_or_else(|| AppError::NotFound(format!("webhook {name} does not exist")))
}

/// `GET /api/v1/webhooks/{name}`
pub async fn get(
    State(app): State<AppState>,
    Path(name): Path<String>,
) -> Result<Response, AppError> {
    Ok(hook_response(
        StatusCode::OK,
        &find(&app, &name).await?,
        None,
    ))
}

/// `PUT /api/v1/webhooks/{name}` with `If-Match`.
pub async fn replace(
    State(app): State<AppState>,
    actor: Actor,
    pending: Pending,
    Path(name): Path<String>,
    headers: HeaderMap,
    body: Bytes,
) -> Result<Response, AppError> {
    require_json(&headers)?;
    let version = if_match(&headers)?;
    let req: WebhookRequest = parse(&body, "")?;
    if req.name.as_deref().is_some_and(|n| n != name) {
        return Err(AppError::Rule(vec![
            FieldError::new("name_mismatch", "the name cannot be changed").at("name"),
        ]));
    }
    let existing = find(&app, &name).await?;
    let (hook, _) = checked(&app, &actor, name, req, Some(&existing))?;
    let (saved, note) = save(
        &app,
        &actor,
        &pending,
        StatusCode::OK,
        WebhookWrite {
            webhook: hook,
            replaces: Some(version),
        },
        Some(&existing),
    )
    .await?;
    Ok(note.on(hook_response(StatusCode::OK, &saved, None)))
}

/// `DELETE /api/v1/webhooks/{name}`: the subscription, its deliveries and their log.
pub async fn delete(
    State(app): State<AppState>,
    actor: Actor,
    pending: Pending,
    Path(name): Path<String>,
) -> Result<Response, AppError> {
    let existing = find(&app, &name).await?;
    let note = AuditNote::object(format!("webhooks/{name}")).before(&existing);
    let audit = pending.record_of(&app, StatusCode::NO_CONTENT, {
        let note = note.clone();
        move |(): &()| note
    });
    app.store.delete_webhook(&name, Some(audit)).await?;
    tracing::info!(webhook = %name, actor = %actor.name(), "webhook deleted");
    Ok(note.recorded().on(StatusCode::NO_CONTENT.into_response()))
}

#[derive(Debug, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct DeliveriesParams {
    #[serde(default)]
    pub status: Option<String>,
    #[serde(default)]
    pub limit: Option<u32>,
}

/// `GET /api/v1/webhooks/{name}/deliveries?status=&limit=`: the delivery log, newest first.
pub async fn deliveries(
    State(app): State<AppState>,
    Path(name): Path<String>,
    Query(p): Query<DeliveriesParams>,
) -> Result<Response, AppError> {
    let hook = find(&app, &name).await?;
    let status = p
        .status
        .map(|s| {
            DeliveryStatus::parse(&s).ok_or_else(|| {
                AppError::malformed(
                    "invalid_status",
                    format!("`{s}` is not a delivery status (pending, delivered, dead)"),
                    Some("status".into()),
                )
            })
        })
        .transpose()?;
    let limit = p.limit.unwrap_or(100).clamp(1, 1000);
    let list = app
        .store
        .deliveries(&DeliveryQuery {
            webhook: Some(hook.id),
            status,
            limit,
        })
        .await?;
    Ok(Json(json!({ "deliveries": list })).into_response())
}

fn delivery_id(id: &str) -> Result<Uuid, AppError> {
    Uuid::parse_str(id).map_err(|_| {
        AppError::malformed(
            "invalid_id",
            format!("`{id}` is not a delivery id (UUID)"),
            Some("id".into()),
        )
    })
}

/// `GET /api/v1/webhook-deliveries/{id}`: a delivery and every attempt at it.
pub async fn get_delivery(
    State(app): State<AppState>,
    Path(id): Path<String>,
) -> Result<Response, AppError> {
    let id = delivery_id(&id)?;
    let d = app
        .store
        .delivery(id)
        .await?
        .ok_or_else(|| AppError::NotFound(format!("delivery {id} does not exist")))?;
    let attempts = app.store.delivery_attempts(id).await?;
    let mut body = json!(d);
    body["attempts_log"] = json!(attempts);
    Ok(Json(body).into_response())
}

/// `POST /api/v1/webhook-deliveries/{id}/redeliver`: send it again now, with a fresh set of
/// attempts (a dead delivery comes back to life).
pub async fn redeliver(
    State(app): State<AppState>,
    actor: Actor,
    pending: Pending,
    Path(id): Path<String>,
) -> Result<Response, AppError> {
    let id = delivery_id(&id)?;
    let before = app.store.delivery(id).await?;
    let note = AuditNote::object(format!("webhook-deliveries/{id}")).before(before);
    let audit = pending.record_of(&app, StatusCode::OK, {
        let note = note.clone();
        move |d: &Delivery| note.after(d)
    });
    let d = app
        .store
        .redeliver(id, app.clock.now(), Some(audit))
        .await?;
    tracing::info!(delivery = %id, actor = %actor.name(), "webhook redelivery requested");
    Ok(note.after(&d).recorded().on(Json(d).into_response()))
}
